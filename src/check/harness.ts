import { Cluster } from '../cluster.ts';
import { assemble } from '../cpu/assembler.ts';
import type { Image } from '../cpu/image.ts';
import { MACH_MSG_TYPE } from '../cpu/syscalls.ts';
import type { Host } from '../kernel/host.ts';
import { spawn } from '../kernel/loader.ts';
import type { Task } from '../kernel/task.ts';
import { terminateTask } from '../kernel/taskOps.ts';
import type { MigrateOptions, Migration, MigrationResult } from '../migration/migrate.ts';
import type { MigrationServerOptions } from '../migration/server.ts';
import { sendTo } from '../netmsg/context.ts';
import { MachError } from '../protocol/errors.ts';
import { Disposition } from '../protocol/rights.ts';
import { HOST_PROFILES, type HostProfile } from '../world/profiles.ts';
import { receiverSource, tickerSource, workloadIncluder } from './workloads.ts';

/**
 * The real system a model path or a campaign seed runs against: a simulated cluster, the tasks it
 * runs (programs from workloads.ts), the senders that send numbered messages to receiver tasks,
 * and the migrations started on it. The harness watches every event of the world: it keeps every
 * copy of every task it ever saw (the original, its duplicate, partial and committed copies on
 * other hosts), so the invariants (invariants.ts) can be checked at any point, and it brings the
 * world to rest at the end (faults healed, crashed hosts restarted) to look for anything left
 * behind.
 */

export interface TickerSpec {
  readonly kind: 'ticker';
  readonly name: string;
  readonly host: string;
  readonly ticks: number;
  readonly pages: number;
  readonly sleepMs: number;
}

export interface SenderSpec {
  readonly host: string;
  readonly count: number;
  readonly everyMs: number;
  /** When it starts looking the receiver's name up (virtual ms). */
  readonly startMs: number;
}

export interface ReceiverSpec {
  readonly kind: 'receiver';
  readonly name: string;
  readonly host: string;
  readonly pages: number;
  readonly senders: readonly SenderSpec[];
}

export type WorkloadSpec = TickerSpec | ReceiverSpec;

export interface HarnessSpec {
  readonly seed: number;
  /** Host name to profile (a name from HOST_PROFILES, or a profile). Order matters: netmsg starts
   * with these hosts. */
  readonly hosts: Readonly<Record<string, string | HostProfile>>;
  readonly workloads: readonly WorkloadSpec[];
  readonly migrationServer?: MigrationServerOptions;
}

/** Small hosts for the checker: little memory, so a destination can run out of it. */
export const TINY_HOST: HostProfile = {
  name: 'tiny',
  description: 'an i486 with 24 KiB of memory (too small for the tasks of the checker)',
  instructionsPerSecond: 27_000_000,
  memoryBytes: 24 * 1024,
  pageSize: 4096,
};

/** Every copy of one task the harness has seen, in the order they appeared. */
export interface TrackedTask {
  readonly spec: WorkloadSpec;
  readonly name: string;
  /** Copies under the task's own name (original, partial and committed copies elsewhere). */
  readonly copies: Task[];
  /** Duplicates (`<name>.duplicate`) the migration client made. */
  readonly duplicates: Task[];
  /** Copies that have run (been runnable) at least once. */
  readonly ran: Set<Task>;
  /** Set when something legitimately may have lost messages or rights of this task. */
  lossy: string | null;
}

export interface SenderRecord {
  readonly spec: SenderSpec;
  /** Sender number among its receiver's senders (from 1): its values are id * 1000 + n. */
  readonly id: number;
  readonly receiver: string;
  /** Values handed to mach_msg successfully, in order. */
  readonly sent: number[];
  /** Why it stopped early, if it did. */
  stopped: string | null;
  /** Its host crashed while it ran: what it sent may be lost. */
  crashed: boolean;
  done: boolean;
}

export interface TrackedMigration {
  readonly task: string;
  readonly from: string;
  readonly to: string;
  readonly opts: MigrateOptions;
  readonly migration: Migration;
  readonly startedAt: number;
  /** Client states in the order entered (the client may pass several in one event). */
  readonly visited: string[];
}

export interface HostBaseline {
  /** Labels of the live ports, sorted. */
  readonly ports: string[];
  readonly spaces: string[];
}

const images = new Map<string, Image>();

function imageOf(spec: WorkloadSpec): Image {
  const key =
    spec.kind === 'ticker'
      ? `t:${spec.ticks}:${spec.pages}:${spec.sleepMs}`
      : `r:${spec.name}:${count(spec)}:${spec.pages}`;
  let image = images.get(key);
  if (image === undefined) {
    const source =
      spec.kind === 'ticker'
        ? tickerSource(spec)
        : receiverSource({ name: spec.name, count: count(spec), pages: spec.pages });
    image = assemble(source, { fileName: `${spec.name}.s`, include: workloadIncluder });
    images.set(key, image);
  }
  return image;
}

/** Messages a receiver waits for: everything its senders send. */
export function count(spec: ReceiverSpec): number {
  return spec.senders.reduce((n, s) => n + s.count, 0);
}

export const SENDER_STRIDE = 1000;

export class Harness {
  readonly cluster: Cluster;
  readonly tasks = new Map<string, TrackedTask>();
  readonly senders: SenderRecord[] = [];
  readonly migrations: TrackedMigration[] = [];
  /** Invariant violations seen while the world ran (checked after every event). */
  readonly violations: string[] = [];
  readonly baseline = new Map<string, HostBaseline>();
  /** Host crashes, in order. */
  readonly crashes: { host: string; at: number }[] = [];
  /** A short description of what was injected (for lossy-ness and reports). */
  readonly notes: string[] = [];
  /** Copies that died with their host, and when (whatever their exit says later). */
  readonly crashed = new Map<Task, number>();
  private readonly byHost = new Map<string, Host>();

  constructor(readonly spec: HarnessSpec) {
    const hosts: Record<string, HostProfile> = {};
    for (const [name, p] of Object.entries(spec.hosts))
      hosts[name] = typeof p === 'string' ? (p === 'tiny' ? TINY_HOST : profileOf(p)) : p;
    this.cluster = new Cluster({
      seed: spec.seed,
      hosts,
      ...(spec.migrationServer ? { migrationServer: spec.migrationServer } : {}),
    });
    for (const [name, h] of this.cluster.hosts) this.byHost.set(name, h);
    // Start netmsg and the migration servers with every host present.
    void this.cluster.netmsg;
    for (const [name, h] of this.cluster.hosts) this.baseline.set(name, baselineOf(h));
    // Registered after the cluster's own handler: the host has crashed when this runs.
    this.cluster.network.onNodeDown((host) => {
      const now = this.cluster.world.now();
      this.crashes.push({ host, at: now });
      // A sender's messages may still be on its host (in netmsg's queues) after it sent them.
      for (const s of this.senders) {
        const r = this.tasks.get(s.receiver);
        const received = r?.copies.some((c) => c.exit?.reason === 'exit') ?? false;
        if (s.spec.host === host && !received) s.crashed = true;
      }
      for (const t of this.tasks.values()) {
        for (const c of [...t.copies, ...t.duplicates]) {
          if (c.host.name !== host || c.exit === null || c.exit.time !== now) continue;
          if (!/crashed/.test(c.exit.reason)) continue;
          this.crashed.set(c, now);
          // The first copy holds the task from its spawn, even while its program still loads.
          if (t.ran.has(c) || c === t.copies[0]) t.lossy ??= `host ${host} crashed holding a copy`;
        }
        // Rights on their way to the destination with the commit request die with either end.
        for (const m of this.migrations) {
          if (m.task !== t.name || m.migration.result() !== null) continue;
          if ((m.from === host || m.to === host) && m.visited.includes('committing'))
            t.lossy ??= `host ${host} crashed during the commit of a migration`;
        }
      }
    });
    for (const w of spec.workloads) this.start(w);
  }

  get world() {
    return this.cluster.world;
  }

  host(name: string): Host {
    return this.cluster.host(name);
  }

  private start(w: WorkloadSpec): void {
    const tracked: TrackedTask = {
      spec: w,
      name: w.name,
      copies: [],
      duplicates: [],
      ran: new Set(),
      lossy: null,
    };
    this.tasks.set(w.name, tracked);
    const task = spawn(this.host(w.host), imageOf(w), w.name);
    tracked.copies.push(task);
    if (w.kind === 'receiver') {
      this.publish(w);
      w.senders.forEach((s, i) => {
        const rec: SenderRecord = {
          spec: s,
          id: i + 1,
          receiver: w.name,
          sent: [],
          stopped: null,
          crashed: false,
          done: false,
        };
        this.senders.push(rec);
        this.world.schedule(s.startMs, () => this.runSender(rec), 'check.sender');
      });
    }
  }

  /**
   * Publishes a receiver's name network-wide once the program has checked it in with its host's
   * name service (the kernel's table answers only for its own host).
   */
  private publish(w: ReceiverSpec): void {
    const h = this.host(w.host);
    const attempt = () => {
      if (!h.up) return;
      if (!h.names.names().includes(w.name)) {
        this.world.schedule(1, attempt, 'check.publish');
        return;
      }
      const ipc = h.ipc;
      const space = ipc.createSpace(`check:publish:${w.name}`);
      try {
        const right = h.names.lookUp(w.name, null, space);
        this.cluster.netmsg.server(h.name).checkIn(w.name, space, right);
      } catch (e) {
        if (!(e instanceof MachError)) throw e;
      }
      ipc.destroySpace(space);
    };
    this.world.schedule(0, attempt, 'check.publish');
  }

  private runSender(rec: SenderRecord): void {
    const h = this.host(rec.spec.host);
    if (!h.up) {
      rec.stopped = 'its host was down';
      rec.done = true;
      return;
    }
    const ipc = h.ipc;
    const boots = h.boots;
    const space = ipc.createSpace(`check:sender:${rec.receiver}:${rec.id}`);
    const finish = (why: string | null) => {
      rec.stopped = why;
      rec.done = true;
      if (h.boots === boots && h.up && space.active) ipc.destroySpace(space);
    };
    const lookUp = (tries: number) => {
      if (h.boots !== boots || !h.up) return finish('its host crashed');
      this.cluster.netmsg.server(h.name).lookUp(rec.receiver, null, space, (r) => {
        if (h.boots !== boots || !h.up || !space.active) return finish('its host crashed');
        if (!r.ok) {
          if (tries > 200) return finish(`cannot look up ${rec.receiver}: ${r.error.message}`);
          this.world.schedule(5, () => lookUp(tries + 1), 'check.sender');
          return;
        }
        next(r.name, 0);
      });
    };
    const next = (dest: number, n: number) => {
      if (h.boots !== boots || !h.up || !space.active) return finish('its host crashed');
      if (n >= rec.spec.count) return finish(null);
      const value = rec.id * SENDER_STRIDE + n;
      const data = new Uint8Array(4);
      new DataView(data.buffer).setInt32(0, value, true);
      let queued = false;
      try {
        queued = ipc.send(
          space,
          {
            remotePort: dest,
            remoteDisposition: Disposition.COPY_SEND,
            id: 7,
            body: [{ type: 'inline', data, msgtName: MACH_MSG_TYPE.INTEGER_32, msgtSize: 32 }],
          },
          {},
          (o) => {
            if (!o.ok) return finish(`send of ${value} failed: ${o.error.message}`);
            rec.sent.push(value);
            this.world.schedule(rec.spec.everyMs, () => next(dest, n + 1), 'check.sender');
          },
        );
      } catch (e) {
        if (!(e instanceof MachError)) throw e;
        return finish(`send of ${value} refused: ${e.message}`);
      }
      if (queued) {
        rec.sent.push(value);
        this.world.schedule(rec.spec.everyMs, () => next(dest, n + 1), 'check.sender');
      }
    };
    lookUp(0);
  }

  /** Starts a migration of the task's live copy; records the client's states as it enters them. */
  migrate(taskName: string, to: string, opts: MigrateOptions = {}): TrackedMigration {
    const t = this.tasks.get(taskName);
    const copy = t?.copies.find((c) => alive(c) && c.host.tasks.get(c.id) === c && c.runnable);
    if (t === undefined || copy === undefined)
      throw new MachError('KERN_INVALID_TASK', `no running copy of ${taskName}`);
    const migration = this.cluster.migrate(copy, to, opts);
    const tracked: TrackedMigration = {
      task: taskName,
      from: copy.host.name,
      to,
      opts,
      migration,
      startedAt: this.world.now(),
      visited: [String(migration.actor.getSnapshot().value)],
    };
    migration.actor.subscribe((s) => {
      const v = String(s.value);
      if (tracked.visited[tracked.visited.length - 1] !== v) tracked.visited.push(v);
    });
    this.migrations.push(tracked);
    return tracked;
  }

  /**
   * Runs the world until `done()` holds or `maxMs` of virtual time pass; after every event it
   * looks for new copies of tasks and checks that no task runs twice. Returns whether `done` held.
   */
  run(done: () => boolean, maxMs = 120_000): boolean {
    const world = this.world;
    const until = world.now() + maxMs;
    const reached = world.runUntil(
      () => {
        this.observe();
        return done();
      },
      { until, maxEvents: 5_000_000 },
    );
    // Not reached: the time still passed (the next event, if any, is later).
    if (!reached && world.now() < until) world.clock.advanceTo(until);
    return reached;
  }

  runFor(ms: number): void {
    this.run(() => false, ms);
  }

  /** Per event: new copies, copies that ran, and at most one running copy of each task. */
  observe(): void {
    for (const h of this.byHost.values()) {
      if (!h.up) continue;
      for (const task of h.tasks.values()) {
        const base = task.name.endsWith('.duplicate') ? task.name.slice(0, -10) : task.name;
        const t = this.tasks.get(base);
        if (t === undefined) continue;
        const list = task.name === base ? t.copies : t.duplicates;
        if (!list.includes(task)) list.push(task);
        if (task.runnable) t.ran.add(task);
      }
    }
    for (const t of this.tasks.values()) {
      let running = 0;
      for (const c of t.copies) if (alive(c) && c.runnable) running++;
      for (const c of t.duplicates) if (alive(c) && c.runnable) running++;
      if (running > 1)
        this.violation(`${t.name}: ${running} copies running at once (at ${this.world.now()} ms)`);
    }
  }

  violation(text: string): void {
    if (!this.violations.includes(text)) this.violations.push(text);
  }

  /**
   * Brings the world to rest: impairments and partitions go, crashed hosts restart, then it runs
   * until nothing is pending (or `maxMs` pass). Returns whether it came to rest.
   */
  quiesce(maxMs = 400_000): boolean {
    const net = this.cluster.network;
    net.clearImpairments();
    net.heal();
    for (const name of net.nodes()) if (!net.isUp(name)) net.restart(name);
    const world = this.world;
    const until = world.now() + maxMs;
    const settle = () =>
      world.runUntil(
        () => {
          this.observe();
          return world.idle;
        },
        { until, maxEvents: 10_000_000 },
      );
    settle();
    // One round of port checkups (mach-network-server.txt 8.1; the servers run them only when
    // configured to): a host that gave up on a peer while the peer did not give up on it is
    // found out, and each side forgets the other's ports, as they would in time.
    for (const s of this.cluster.netmsg.servers())
      for (const peer of s.transport.peers())
        if (peer !== s.host && net.isUp(peer)) sendTo(s, peer, { k: 'checkup' });
    settle();
    return world.idle;
  }

  /** Ends every copy still alive (after quiesce: tasks that can no longer finish). */
  killRemaining(): string[] {
    const killed: string[] = [];
    for (const t of this.tasks.values()) {
      for (const c of [...t.copies, ...t.duplicates]) {
        if (!alive(c)) continue;
        killed.push(`${c.name}@${c.host.name}`);
        terminateTask(c, -1, 'killed by the checker');
      }
    }
    if (killed.length > 0) this.quiesce();
    return killed;
  }

  results(): MigrationResult[] {
    return this.migrations.flatMap((m) => {
      const r = m.migration.result();
      return r ? [r] : [];
    });
  }
}

/** A copy that has not ended and whose host still holds it. */
export function alive(t: Task): boolean {
  return t.exit === null && !t.terminated && t.host.up && t.host.tasks.get(t.id) === t;
}

function baselineOf(h: Host): HostBaseline {
  return {
    ports: [...h.ipc.ports].map((p) => p.label).sort(),
    spaces: [...h.ipc.spaces].map((s) => s.label).sort(),
  };
}

function profileOf(name: string): HostProfile {
  const p = (HOST_PROFILES as Record<string, HostProfile>)[name];
  if (!p) throw new RangeError(`unknown host profile "${name}"`);
  return p;
}
