import { type Actor, createActor } from 'xstate';
import type { IpcKernel } from '../actors/ipcKernel.ts';
import { bindMailbox } from '../actors/mailbox.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import type { Host } from '../kernel/host.ts';
import {
  type MigrationManagerIo,
  migrationManager,
  type RouteIo,
} from '../machines/migrationManager.ts';
import type { Migration, MigrationResult } from '../migration/migrate.ts';
import { MachError } from '../protocol/errors.ts';
import {
  type Location,
  locationMessage,
  ManagerId,
  MIGRATION_MANAGER_NAME,
  type MigrateReply,
  type MigrationManagerReply,
  type MigrationSummary,
  PROCESS_MANAGER_NAME,
  type ProcessReply,
  parseManagerReply,
  type UserRequest,
} from '../protocol/managers.ts';
import type { ReceivedMessage } from '../protocol/message.ts';
import { STRATEGIES, type Strategy } from '../protocol/migration.ts';
import { PortRight } from '../protocol/rights.ts';
import type { HostManagers } from './hostManagers.ts';
import { callManager, PeerRights, releaseMessage, replyTo } from './rpc.ts';
import './traceEvents.ts';

export type { MigrateReply };

/** A migration result, reduced to what crosses hosts in a reply. */
export function summarize(r: MigrationResult): MigrationSummary {
  return {
    task: r.task,
    from: r.from,
    to: r.to,
    strategy: r.strategy,
    outcome: r.outcome,
    reason: r.reason,
    startMs: r.startMs,
    endMs: r.endMs,
    freezeMs: r.freezeMs,
  };
}

/**
 * The runtime of a host's migration manager: its service port (checked in as
 * "migration-manager"), the migrationManager chart reading it, the location table, the
 * migrations it runs (through the cluster's migration client), and the routes of user requests.
 */
export class MigrationManager {
  readonly host: Host;
  /** The kernel of the host's boot these managers belong to (a restart brings a new one). */
  readonly ipc: IpcKernel;
  readonly space: PortSpace;
  readonly port: number;
  readonly actor: Actor<typeof migrationManager>;
  /** Where every task is, as far as this host knows. */
  readonly table = new Map<string, Location>();
  /** Migrations this host runs now, by task. */
  readonly running = new Map<string, Migration>();
  /** Results of the migrations this host performed, in order. */
  readonly performed: MigrationResult[] = [];
  private readonly managers: PeerRights;
  private readonly processManagers: PeerRights;
  private readonly held = new Map<number, ReceivedMessage>();
  private readonly callbacks = new Map<number, (r: never) => void>();
  private ids = 0;

  constructor(private readonly hm: HostManagers) {
    const host = hm.host;
    this.host = host;
    const ipc = host.ipc;
    this.ipc = ipc;
    this.space = ipc.createSpace(`${host.name}:migration-manager`);
    this.port = ipc.allocate(this.space, PortRight.RECEIVE, `${host.name}:migration-manager`);
    this.managers = new PeerRights(ipc, this.space, hm.netmsg, MIGRATION_MANAGER_NAME);
    this.processManagers = new PeerRights(ipc, this.space, hm.netmsg, PROCESS_MANAGER_NAME);
    this.actor = createActor(migrationManager, {
      clock: host.world.clock,
      input: { io: this.io(), maxHops: hm.options.maxHops, stepMs: hm.options.stepMs },
    });
    bindMailbox(ipc, this.space, this.port, this.actor);
    this.actor.start();
    hm.netmsg().checkIn(MIGRATION_MANAGER_NAME, this.space, this.port);
  }

  isMigrating(task: string): boolean {
    return this.running.has(task);
  }

  /** Asks for `task` to be migrated to `to`, wherever it runs now. */
  requestMigration(
    task: string,
    to: string,
    strategy: string | undefined,
    done: (r: MigrateReply) => void,
  ): void {
    const id = this.expect(done);
    this.actor.send({
      type: 'migrate',
      id,
      task,
      to,
      ...(strategy !== undefined ? { strategy } : {}),
      hops: 0,
    });
  }

  /** Sends a user request to process `task`, wherever it runs now. */
  route(task: string, request: UserRequest, done: (r: ProcessReply) => void): void {
    const id = this.expect(done);
    this.actor.send({ type: 'user.route', id, task, request });
  }

  /** A process was started here: the table, and every other host, learn it. */
  spawned(task: string): void {
    const l: Location = { task, host: this.host.name, home: this.host.name, at: this.now() };
    this.record(l);
    this.announce(l);
  }

  private now(): number {
    return this.host.world.now();
  }

  private expect<T>(done: (r: T) => void): number {
    const id = ++this.ids;
    this.callbacks.set(id, done as (r: never) => void);
    return id;
  }

  private settle(id: number, reply: unknown): void {
    const cb = this.callbacks.get(id) as ((r: unknown) => void) | undefined;
    this.callbacks.delete(id);
    cb?.(reply);
  }

  private record(l: Location): boolean {
    const known = this.table.get(l.task);
    if (known !== undefined && known.at >= l.at) return false;
    this.table.set(l.task, l);
    if (this.host.world.trace.enabled)
      this.host.world.trace.emit('location.update', {
        host: this.host.name,
        task: l.task,
        location: l.host,
        home: l.home,
      });
    return true;
  }

  /** Tells every other host's migration manager where a task is (one-way LOCATION notices). */
  private announce(l: Location): void {
    for (const peer of this.hm.peers()) {
      this.managers.get(peer, (r) => {
        if (typeof r === 'string' || !this.space.active) return;
        try {
          this.ipc.send(this.space, locationMessage(r, l), {}, (res) => {
            if (!res.ok) this.managers.forget(peer);
          });
        } catch (e) {
          if (!(e instanceof MachError)) throw e;
          this.managers.forget(peer);
        }
      });
    }
  }

  /** Where `task` runs now, if it runs on this host. */
  private hereNow(task: string): Location | null {
    const t = this.hm.process.find(task);
    if (t === null) return null;
    const home = this.table.get(task)?.home ?? this.hm.process.processes.get(task)?.home ?? '';
    return { task, host: this.host.name, home, at: this.now() };
  }

  /** Asks every other migration manager where `task` is; the latest answer wins. */
  private locateEverywhere(task: string, done: (l: Location | null) => void): void {
    const peers = this.hm.peers();
    let best: Location | null = this.hereNow(task);
    let waiting = peers.length;
    const settle = () => {
      if (--waiting > 0) return;
      if (best !== null) this.record(best);
      done(best);
    };
    if (waiting === 0) {
      waiting = 1;
      return settle();
    }
    const timeout = this.hm.options.stepMs / 2;
    for (const peer of peers) {
      this.managers.get(peer, (r) => {
        if (typeof r === 'string') return settle();
        callManager(
          this.ipc,
          this.space,
          r,
          ManagerId.MIGRATION,
          { op: 'locate', task },
          timeout,
          (res) => {
            if (!res.ok) {
              this.managers.forget(peer);
              return settle();
            }
            const reply = parseManagerReply<MigrationManagerReply>(
              res.message,
              ManagerId.MIGRATION,
            );
            const l = reply.ok ? reply.location : null;
            if (l && (best === null || l.at > best.at)) best = l;
            settle();
          },
        );
      });
    }
  }

  /** Where `task` runs: this host, the table, or (if neither knows) every migration manager. */
  private locate(task: string, everywhere: boolean, done: (l: Location | null) => void): void {
    const here = this.hereNow(task);
    if (here !== null) return done(here);
    const known = this.table.get(task);
    if (!everywhere && known !== undefined && known.host !== this.host.name) return done(known);
    this.locateEverywhere(task, done);
  }

  private startMigration(id: number, name: string, to: string, strategy: string | undefined) {
    const done = (result: MigrationSummary, home: string) => {
      this.running.delete(name);
      if (!this.hm.stopped) this.actor.send({ type: 'migration.done', id, home, result });
    };
    const refuse = (reason: string) => {
      this.running.delete(name);
      if (!this.hm.stopped) this.actor.send({ type: 'migration.refused', id, task: name, reason });
    };
    const task = this.hm.process.find(name);
    if (task === null) return refuse(this.notHere(name));
    if (strategy !== undefined && !STRATEGIES.includes(strategy as Strategy))
      return refuse(`unknown strategy "${strategy}" (known: ${STRATEGIES.join(', ')})`);
    const home = this.hm.process.processes.get(name)?.home ?? this.host.name;
    let migration: Migration;
    try {
      migration = this.hm.cluster.migrate(task, to, {
        ...(strategy !== undefined ? { strategy: strategy as Strategy } : {}),
        ...this.hm.options.migrate,
      });
    } catch (e) {
      if (!(e instanceof MachError)) throw e;
      return refuse(e.message);
    }
    this.running.set(name, migration);
    migration.onDone((r) => {
      this.performed.push(r);
      done(summarize(r), home);
    });
  }

  private forwardMigration(
    id: number,
    task: string,
    to: string,
    strategy: string | undefined,
    hops: number,
  ): void {
    const fail = (error: string) => this.settleMigration(id, { ok: false, error });
    this.locate(task, hops > 1, (l) => {
      if (l === null) return fail(`no migration manager knows task ${task}`);
      if (l.host === this.host.name) return fail(this.notHere(task));
      this.managers.get(l.host, (r) => {
        if (typeof r === 'string') return fail(r);
        const req = { op: 'migrate', task, to, hops, ...(strategy ? { strategy } : {}) };
        callManager(
          this.ipc,
          this.space,
          r,
          ManagerId.MIGRATION,
          req,
          this.hm.options.migrateTimeoutMs,
          (res) => {
            if (!res.ok) {
              this.managers.forget(l.host);
              return fail(`migration manager on ${l.host}: ${res.error}`);
            }
            const reply = parseManagerReply<MigrationManagerReply>(
              res.message,
              ManagerId.MIGRATION,
            );
            if (!reply.ok) return fail(reply.error);
            if (reply.result === undefined) return fail('the migration manager sent no result');
            this.settleMigration(id, { ok: true, result: reply.result });
          },
        );
      });
    });
  }

  private settleMigration(id: number, reply: MigrateReply): void {
    const m = this.held.get(id);
    if (m !== undefined) {
      this.held.delete(id);
      replyTo(this.ipc, this.space, m, reply satisfies MigrationManagerReply);
      return;
    }
    this.settle(id, reply);
  }

  /** Why `task` is not here to be migrated. */
  private notHere(task: string): string {
    const r = this.hm.process.processes.get(task);
    if (r !== undefined && r.departedTo === null && r.task.exit !== null)
      return `task ${task} has ended (${r.task.exit.reason})`;
    return `task ${task} is not on ${this.host.name}`;
  }

  private routeIo(): RouteIo {
    return {
      locate: (task, everywhere, done) =>
        this.locate(task, everywhere, (l) => done(l?.host ?? null)),
      deliver: (host, task, request, done, fail) => {
        this.processManagers.get(host, (r) => {
          if (typeof r === 'string') return fail(r);
          callManager(
            this.ipc,
            this.space,
            r,
            ManagerId.PROCESS,
            { task, request },
            this.hm.options.stepMs,
            (res) => {
              if (!res.ok) {
                this.processManagers.forget(host);
                return fail(`process manager on ${host}: ${res.error}`);
              }
              done(parseManagerReply<ProcessReply>(res.message, ManagerId.PROCESS));
            },
          );
        });
      },
      hint: (task, host) => {
        const w = this.host.world;
        if (w.trace.enabled)
          w.trace.emit('request.forward', { host: this.host.name, task, to: host });
        const known = this.table.get(task);
        if (known !== undefined && known.host !== host) this.table.set(task, { ...known, host });
      },
    };
  }

  private io(): MigrationManagerIo {
    const ipc = this.ipc;
    return {
      host: this.host.name,
      where: (task) =>
        this.running.has(task)
          ? 'migrating'
          : this.hm.process.find(task) !== null
            ? 'here'
            : 'elsewhere',
      hold: (m) => {
        const id = ++this.ids;
        this.held.set(id, m);
        return id;
      },
      startMigration: (id, task, to, strategy) =>
        this.hm.later(() => this.startMigration(id, task, to, strategy)),
      forwardMigration: (id, task, to, strategy, hops) =>
        this.hm.later(() => this.forwardMigration(id, task, to, strategy, hops)),
      answerMigration: (id, reply) => this.settleMigration(id, reply),
      answerLocate: (m, task) => {
        const l = this.hereNow(task) ?? this.table.get(task) ?? null;
        replyTo(ipc, this.space, m, { ok: true, location: l } satisfies MigrationManagerReply);
      },
      record: (l) => this.record(l),
      announce: (l) => this.hm.later(() => this.announce(l)),
      arrived: (task) => this.hm.later(() => this.hm.process.actor.send({ type: 'arrived', task })),
      departed: (task, to) => this.hm.process.departed(task, to),
      route: this.routeIo(),
      answerRoute: (id, reply) => {
        const h = this.host;
        if (h.world.trace.enabled && !reply.ok)
          h.world.trace.emit('request.done', {
            host: h.name,
            task: '',
            op: 'route',
            ok: false,
            where: reply.error,
          });
        this.settle(id, reply);
      },
      reject: (m, why) => {
        if (m.remoteRight === 18) replyTo(ipc, this.space, m, { ok: false, error: why });
        else releaseMessage(ipc, this.space, m);
      },
      close: () => {
        if (this.space.active) ipc.destroySpace(this.space);
      },
    };
  }
}
