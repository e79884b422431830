import { type Actor, createActor } from 'xstate';
import type { IpcKernel } from '../actors/ipcKernel.ts';
import { bindMailbox } from '../actors/mailbox.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import type { Image } from '../cpu/image.ts';
import { redirectConsole, setHostConsole } from '../kernel/console.ts';
import type { Host } from '../kernel/host.ts';
import type { Task } from '../kernel/task.ts';
import { type UserManagerIo, userManager } from '../machines/userManager.ts';
import { MachError } from '../protocol/errors.ts';
import {
  type MigrateReply,
  type ProcessReply,
  USER_MANAGER_NAME,
  type UserRequest,
} from '../protocol/managers.ts';
import { Disposition, MACH_PORT_QLIMIT_MAX, PortRight, PortType } from '../protocol/rights.ts';
import type { HostManagers } from './hostManagers.ts';
import { releaseMessage } from './rpc.ts';
import './traceEvents.ts';

/** One console write as the user saw it. */
export interface ShownWrite {
  readonly seq: number;
  readonly text: string;
}

export type RelayReply = ProcessReply | MigrateReply;

/**
 * The runtime of a host's user manager: its console port (the host's console, and the console of
 * every process started here), the port its dead-name notifications come to, the userManager
 * chart reading both, and what the user sees: per process, the writes shown, in order.
 */
export class UserManager {
  readonly host: Host;
  /** The kernel of the host's boot these managers belong to (a restart brings a new one). */
  readonly ipc: IpcKernel;
  readonly space: PortSpace;
  readonly consolePort: number;
  readonly notifyPort: number;
  readonly actor: Actor<typeof userManager>;
  /** What the user at this host was shown, per process. */
  readonly shown = new Map<string, ShownWrite[]>();
  /** Home console ports watched for processes that arrived here: name in `space` to home host. */
  readonly watched = new Map<number, string>();
  /** Homes whose processes this host took over. */
  readonly tookOver = new Set<string>();
  private readonly answers = new Map<number, (r: RelayReply) => void>();
  private ids = 0;

  constructor(private readonly hm: HostManagers) {
    const host = hm.host;
    this.host = host;
    const ipc = host.ipc;
    this.ipc = ipc;
    this.space = ipc.createSpace(`${host.name}:user-manager`);
    this.consolePort = ipc.allocate(this.space, PortRight.RECEIVE, `${host.name}:console`);
    // Console writes of several processes may come at once: let them queue rather than wait.
    ipc.setQlimit(this.space, this.consolePort, MACH_PORT_QLIMIT_MAX);
    this.notifyPort = ipc.allocate(this.space, PortRight.RECEIVE, `${host.name}:console-notify`);
    this.actor = createActor(userManager, {
      clock: host.world.clock,
      input: { io: this.io() },
    });
    bindMailbox(ipc, this.space, this.consolePort, this.actor);
    bindMailbox(ipc, this.space, this.notifyPort, this.actor);
    this.actor.start();
    setHostConsole(host, this.space, this.consolePort);
    hm.netmsg().checkIn(USER_MANAGER_NAME, this.space, this.consolePort);
  }

  /** The output of process `task` as the user at this host sees it. */
  output(task: string): string {
    return (this.shown.get(task) ?? []).map((w) => w.text).join('');
  }

  /** Starts a process here (its home), through the process manager. */
  run(image: Image, name: string): Task {
    return this.hm.process.spawn(image, name);
  }

  /** Relays a request to a process, wherever it runs (through the migration manager). */
  request(task: string, request: UserRequest, done: (r: RelayReply) => void): void {
    const id = ++this.ids;
    this.answers.set(id, done);
    this.actor.send({ type: 'user.request', id, task, request });
  }

  /** Relays a migration request (through the migration manager). */
  migrate(task: string, to: string, strategy: string | undefined, done: (r: RelayReply) => void) {
    const id = ++this.ids;
    this.answers.set(id, done);
    this.actor.send({
      type: 'user.migrate',
      id,
      task,
      to,
      ...(strategy !== undefined ? { strategy } : {}),
    });
  }

  /** Watches the home console of process `task` (it arrived here); takes over if it is dead. */
  private watch(name: string): void {
    const task = this.hm.process.find(name);
    const c = task?.console ?? null;
    if (task === null || c === null || c.home === this.host.name) return;
    const e = task.space.lookup(c.name);
    if (e === undefined) return;
    if (e.bits & PortType.DEAD_NAME) return this.takeOverHome(c.home);
    if (!(e.bits & PortType.SEND)) return;
    const ipc = this.ipc;
    try {
      const n = ipc.extractRight(task.space, c.name, Disposition.COPY_SEND, this.space);
      if (this.watched.has(n)) {
        // Already watched (another process of the same home): one reference is enough.
        ipc.modRefs(this.space, n, PortRight.SEND, -1);
        return;
      }
      this.watched.set(n, c.home);
      ipc.requestNotification(
        this.space,
        n,
        'dead-name',
        0,
        this.notifyPort,
        Disposition.MAKE_SEND_ONCE,
      );
    } catch (e) {
      // The right changed under us (the task is leaving, or the port just died): the kernel
      // rebinds the console at the task's next write if its home is gone.
      if (!(e instanceof MachError)) throw e;
    }
  }

  /**
   * The home `home` failed: every process of that home on this host continues with its output
   * here. A live one is rebound to this host's console by the kernel (which sends again what it
   * wrote here); one that already ended here has what it wrote here shown from its record.
   */
  private takeOverHome(home: string): void {
    const host = this.host;
    // Tasks of that home running here that the process manager has not heard of yet.
    for (const t of [...host.tasks.values()])
      if (t.console?.home === home) this.hm.process.find(t.name);
    let n = 0;
    for (const r of this.hm.process.processes.values()) {
      const t = r.task;
      const c = t.console;
      if (r.departedTo !== null || c === null || c.home !== home) continue;
      n++;
      if (!t.terminated) {
        redirectConsole(t);
        continue;
      }
      // Ended here before the home was found dead: its writes here are all there is.
      t.output.forEach((text, i) => {
        this.actor.send({
          type: 'console.replay',
          write: {
            task: t.name,
            host: host.name,
            home: host.name,
            seq: c.since + i,
            start: c.since,
            text,
          },
        });
      });
    }
    this.tookOver.add(home);
    if (host.world.trace.enabled)
      host.world.trace.emit('console.takeover', { host: host.name, home, tasks: n });
  }

  private io(): UserManagerIo {
    const host = this.host;
    const ipc = this.ipc;
    return {
      host: host.name,
      gapMs: this.hm.options.gapMs,
      route: (id, task, request) =>
        this.hm.later(() =>
          this.hm.migration.route(task, request, (reply) =>
            this.hm.later(() => this.actor.send({ type: 'relay.done', id, reply })),
          ),
        ),
      migrate: (id, task, to, strategy) =>
        this.hm.later(() =>
          this.hm.migration.requestMigration(task, to, strategy, (reply) =>
            this.hm.later(() => this.actor.send({ type: 'relay.done', id, reply })),
          ),
        ),
      answer: (id, reply) => {
        const cb = this.answers.get(id);
        this.answers.delete(id);
        cb?.(reply);
      },
      streamIo: (task) => ({
        display: (seq, text) => {
          let list = this.shown.get(task);
          if (list === undefined) this.shown.set(task, (list = []));
          list.push({ seq, text });
          if (host.world.trace.enabled)
            host.world.trace.emit('console.show', { host: host.name, task, seq, text });
        },
        skipped: (from, to) => {
          if (host.world.trace.enabled)
            host.world.trace.emit('console.skip', { host: host.name, task, from, to });
        },
      }),
      watch: (task) => this.watch(task),
      takeOver: (deadName) => {
        const home = this.watched.get(deadName);
        this.watched.delete(deadName);
        if (this.space.active && this.space.lookup(deadName) !== undefined)
          ipc.destroy(this.space, deadName);
        if (home !== undefined) this.takeOverHome(home);
      },
      discard: (m) => releaseMessage(ipc, this.space, m),
      close: () => {
        if (this.space.active) ipc.destroySpace(this.space);
      },
    };
  }
}
