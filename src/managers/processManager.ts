import { type Actor, createActor } from 'xstate';
import type { IpcKernel } from '../actors/ipcKernel.ts';
import { bindMailbox } from '../actors/mailbox.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import type { Image } from '../cpu/image.ts';
import { attachConsole } from '../kernel/console.ts';
import type { Host } from '../kernel/host.ts';
import { spawn } from '../kernel/loader.ts';
import type { Task } from '../kernel/task.ts';
import { resumeTask, suspendTask, terminateTask } from '../kernel/taskOps.ts';
import { type ProcessManagerIo, processManager } from '../machines/processManager.ts';
import { MachError } from '../protocol/errors.ts';
import {
  PROCESS_MANAGER_NAME,
  type ProcessReply,
  type ProcessRequest,
  type ProcessStatus,
} from '../protocol/managers.ts';
import { PortRight } from '../protocol/rights.ts';
import type { HostManagers } from './hostManagers.ts';
import { releaseMessage, replyTo } from './rpc.ts';
import './traceEvents.ts';

/** A process as its host's process manager knows it. */
export interface ProcessRecord {
  readonly name: string;
  /** Where it was started (its home for the user). */
  readonly home: string;
  /** Started here for a user, or arrived by migration. */
  readonly origin: 'spawned' | 'arrived';
  /** The kernel task on this host (ended once the process ended or left). */
  readonly task: Task;
  /** The host it migrated to from here (the forwarding pointer), or null. */
  departedTo: string | null;
}

/** Status of a user's kill (as a shell reports a process killed by SIGKILL). */
export const KILLED_STATUS = 137;

/**
 * The runtime of a host's process manager: its service port (checked in with netmsg as
 * "process-manager"), the processManager chart reading it, and the io that acts on the kernel.
 */
export class ProcessManager {
  readonly host: Host;
  /** The kernel of the host's boot these managers belong to (a restart brings a new one). */
  readonly ipc: IpcKernel;
  readonly space: PortSpace;
  readonly port: number;
  readonly actor: Actor<typeof processManager>;
  readonly processes = new Map<string, ProcessRecord>();

  constructor(private readonly hm: HostManagers) {
    const host = hm.host;
    this.host = host;
    const ipc = host.ipc;
    this.ipc = ipc;
    this.space = ipc.createSpace(`${host.name}:process-manager`);
    this.port = ipc.allocate(this.space, PortRight.RECEIVE, `${host.name}:process-manager`);
    this.actor = createActor(processManager, {
      clock: host.world.clock,
      input: { io: this.io() },
    });
    bindMailbox(ipc, this.space, this.port, this.actor);
    this.actor.start();
    hm.netmsg().checkIn(PROCESS_MANAGER_NAME, this.space, this.port);
  }

  /**
   * Starts a process running `image` here, for a user: its console goes to this host's user
   * manager (this host is its home). Throws a MachError if it cannot be started.
   */
  spawn(image: Image, name: string): Task {
    const host = this.host;
    if (this.hm.stopped || !host.up)
      throw new MachError('KERN_INVALID_HOST', `host ${host.name} is down`);
    if (this.find(name) !== null)
      throw new MachError('KERN_NAME_EXISTS', `a process named ${name} runs on ${host.name}`);
    const task = spawn(host, image, name);
    attachConsole(task);
    const r: ProcessRecord = { name, home: host.name, origin: 'spawned', task, departedTo: null };
    this.processes.set(name, r);
    this.watchExit(r);
    this.actor.send({ type: 'spawned', task: name });
    this.hm.later(() => this.hm.migration.spawned(name));
    if (host.world.trace.enabled)
      host.world.trace.emit('process.spawn', { host: host.name, task: name });
    return task;
  }

  /** The live task of process `name` on this host (taking in one that arrived unannounced). */
  find(name: string): Task | null {
    const r = this.processes.get(name);
    if (r !== undefined && r.departedTo === null && !r.task.terminated) return r.task;
    if (r !== undefined && r.departedTo === null && r.task.exit !== null) return null;
    for (const t of this.host.tasks.values()) {
      // A task a migration is still building here (not committed, not started) is not here yet.
      const started = t.actor.getSnapshot().value !== 'created';
      if (t.name === name && started && !t.terminated && t.console !== null) {
        this.adopt(t);
        return t;
      }
    }
    return null;
  }

  /** Where process `name` is, for this host. */
  where(name: string): 'here' | 'migrating' | 'departed' | 'unknown' {
    const live = this.find(name);
    if (live !== null) return this.hm.migration.isMigrating(name) ? 'migrating' : 'here';
    const r = this.processes.get(name);
    if (r === undefined) return 'unknown';
    return r.departedTo !== null ? 'departed' : 'here';
  }

  status(name: string): ProcessStatus | null {
    const live = this.find(name);
    const r = this.processes.get(name);
    const task = live ?? (r?.departedTo === null ? r.task : null);
    if (task === null) return null;
    const exit = task.exit;
    return {
      task: name,
      host: this.host.name,
      home: r?.home ?? task.console?.home ?? this.host.name,
      state: exit !== null ? 'exited' : task.suspendCount > 0 ? 'suspended' : 'running',
      suspendCount: exit !== null ? 0 : task.suspendCount,
      exit: exit === null ? null : { status: exit.status, reason: exit.reason },
      writesHere: task.output.length,
    };
  }

  /** The migration manager's word that `name` left for `to` (the forwarding pointer). */
  departed(name: string, to: string): void {
    const r = this.processes.get(name);
    if (r !== undefined) r.departedTo = to;
  }

  private adopt(task: Task): ProcessRecord {
    const known = this.processes.get(task.name);
    if (known !== undefined && known.task === task) return known;
    const home = this.hm.migration.table.get(task.name)?.home ?? task.console?.home ?? '';
    const r: ProcessRecord = {
      name: task.name,
      home,
      origin: 'arrived',
      task,
      departedTo: null,
    };
    this.processes.set(task.name, r);
    this.watchExit(r);
    return r;
  }

  private watchExit(r: ProcessRecord): void {
    r.task.onExit((t) => {
      // Retired by the migration client after the commit: the process lives on over there.
      const moved = /^migrated to (.+)$/.exec(t.exit?.reason ?? '');
      if (moved && this.processes.get(r.name) === r) r.departedTo = moved[1]!;
      this.hm.later(() => this.actor.send({ type: 'ended', task: r.name }));
    });
  }

  private reply(m: Parameters<ProcessManagerIo['deliver']>[0], reply: ProcessReply): void {
    replyTo(this.ipc, this.space, m, reply);
  }

  private io(): ProcessManagerIo {
    const host = this.host;
    return {
      where: (task) => this.where(task),
      // Performed right after the chart's step (task control drives the task's own chart).
      deliver: (m, req) =>
        this.hm.later(() => {
          const reply = this.perform(req);
          if (host.world.trace.enabled)
            host.world.trace.emit('request.done', {
              host: host.name,
              task: req.task,
              op: req.request.op,
              ok: reply.ok,
              where: host.name,
            });
          this.reply(m, reply);
        }),
      redirect: (m, req) => {
        const r = this.processes.get(req.task);
        const known = this.hm.migration.table.get(req.task);
        const movedTo =
          r?.departedTo ?? (known !== undefined && known.host !== host.name ? known.host : null);
        this.reply(
          m,
          movedTo !== null
            ? { ok: false, error: `${req.task} moved to ${movedTo}`, movedTo }
            : { ok: false, error: `no process ${req.task} on ${host.name}`, unknown: true },
        );
      },
      busy: (m, req) =>
        this.reply(m, {
          ok: false,
          error: `${req.task} is being migrated: ${req.request.op} must wait until it has moved`,
        }),
      reject: (m, why) => {
        if (m.remoteRight === 18) this.reply(m, { ok: false, error: why });
        else releaseMessage(this.ipc, this.space, m);
      },
      adopt: (name) => {
        if (this.find(name) === null) return;
        this.hm.later(() => this.hm.user.actor.send({ type: 'process.arrived', task: name }));
      },
      ended: () => {},
      close: () => {
        if (this.space.active) this.ipc.destroySpace(this.space);
      },
    };
  }

  /** Performs a user request on a process here. */
  private perform(req: ProcessRequest): ProcessReply {
    const name = req.task;
    const task = this.find(name);
    try {
      if (req.request.op !== 'status') {
        if (task === null) throw new MachError('KERN_INVALID_TASK', `${name} has ended`);
        switch (req.request.op) {
          case 'suspend':
            suspendTask(task);
            break;
          case 'resume':
            resumeTask(task);
            break;
          case 'kill':
            terminateTask(task, req.request.status ?? KILLED_STATUS, 'killed by its user');
            break;
        }
      }
    } catch (e) {
      if (!(e instanceof MachError)) throw e;
      return { ok: false, error: e.message };
    }
    const status = this.status(name);
    return status === null
      ? { ok: false, error: `no process ${name} on ${this.host.name}`, unknown: true }
      : { ok: true, status };
  }
}
