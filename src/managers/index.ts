import type { Cluster } from '../cluster.ts';
import type { Image } from '../cpu/image.ts';
import type { Task } from '../kernel/task.ts';
import { MachError } from '../protocol/errors.ts';
import type { Location, MigrateReply, ProcessReply, UserRequest } from '../protocol/managers.ts';
import type { Strategy } from '../protocol/migration.ts';
import { DEFAULT_MANAGER_OPTIONS, HostManagers, type ManagerOptions } from './hostManagers.ts';
import type { ShownWrite } from './userManager.ts';

export { DEFAULT_MANAGER_OPTIONS, HostManagers, type ManagerOptions } from './hostManagers.ts';
export { type MigrateReply, MigrationManager, summarize } from './migrationManager.ts';
export { KILLED_STATUS, ProcessManager, type ProcessRecord } from './processManager.ts';
export { type RelayReply, type ShownWrite, UserManager } from './userManager.ts';

/** An answer that comes later, in virtual time (run the world to get it). */
export interface Pending<T> {
  /** The answer, or null while it is on its way. */
  result(): T | null;
  onDone(cb: (r: T) => void): void;
}

function pending<T>(): { p: Pending<T>; settle: (r: T) => void } {
  let value: T | null = null;
  const listeners: ((r: T) => void)[] = [];
  return {
    p: {
      result: () => value,
      onDone(cb) {
        if (value !== null) cb(value);
        else listeners.push(cb);
      },
    },
    settle(r) {
      if (value !== null) return;
      value = r;
      for (const cb of listeners.splice(0)) cb(r);
    },
  };
}

/**
 * The I/O architecture of reference/seed section 4 on a whole cluster: a process manager, a user
 * manager and a migration manager on every host (restarted with their host), and the user's view
 * of them. A user sits at a host (by default a process's home, where it was started): processes
 * are started there, their output is shown there wherever they run, and requests and migrations
 * reach them wherever they run.
 */
export class Managers {
  private readonly current = new Map<string, HostManagers>();
  private readonly homes = new Map<string, string>();
  private readonly offs: (() => void)[] = [];

  constructor(
    readonly cluster: Cluster,
    readonly options: ManagerOptions = DEFAULT_MANAGER_OPTIONS,
  ) {
    // Netmsg first: the managers check in with it, and restart after it does.
    cluster.netmsg;
    for (const h of cluster.hosts.values())
      if (h.up) this.current.set(h.name, new HostManagers(cluster, h, options));
    this.offs.push(cluster.network.onNodeDown((n) => this.current.get(n)?.stop()));
    this.offs.push(
      cluster.network.onNodeUp((n) => {
        const h = cluster.hosts.get(n);
        if (h?.up) this.current.set(n, new HostManagers(cluster, h, options));
      }),
    );
  }

  /** The managers of host `name` (of its current boot; after a crash, until it restarts, the last). */
  host(name: string): HostManagers {
    const hm = this.current.get(name);
    if (hm === undefined) throw new RangeError(`no managers on host "${name}"`);
    return hm;
  }

  /**
   * Starts process `name` running `image` at its home host, through the home's user manager and
   * process manager. Process names are unique in the cluster.
   */
  run(image: Image, name: string, home: string): Task {
    this.cluster.host(home);
    const hm = this.host(home);
    if (hm.stopped || !hm.host.up) throw new MachError('KERN_INVALID_HOST', `host ${home} is down`);
    if (this.homes.has(name))
      throw new MachError('KERN_NAME_EXISTS', `a process named ${name} was already started`);
    const task = hm.user.run(image, name);
    this.homes.set(name, home);
    return task;
  }

  /** The host process `task` was started on. */
  homeOf(task: string): string {
    const h = this.homes.get(task);
    if (h === undefined) throw new RangeError(`no process named "${task}" was started`);
    return h;
  }

  /** Process `task`'s output as the user at `at` (default its home) sees it. */
  output(task: string, at = this.homeOf(task)): string {
    return this.host(at).user.output(task);
  }

  /** The writes the user at `at` (default the home) was shown, with their numbers. */
  shown(task: string, at = this.homeOf(task)): readonly ShownWrite[] {
    return this.host(at).user.shown.get(task) ?? [];
  }

  /**
   * Sends a user request to process `task` wherever it runs: the user manager at `from` (default
   * its home) relays it to its migration manager, which finds the process's host and delivers it
   * to the process manager there.
   */
  request(task: string, request: UserRequest, opts: { from?: string } = {}): Pending<ProcessReply> {
    const { p, settle } = pending<ProcessReply>();
    const hm = this.host(opts.from ?? this.homeOf(task));
    if (hm.stopped) settle({ ok: false, error: `host ${hm.host.name} is down` });
    else hm.user.request(task, request, (r) => settle(r as ProcessReply));
    return p;
  }

  /**
   * Migrates process `task` to host `to`, wherever it runs now: the user manager at `from`
   * (default its home) relays the request to its migration manager, which performs it or passes
   * it on to the migration manager of the process's host.
   */
  migrate(
    task: string,
    to: string,
    opts: { strategy?: Strategy; from?: string } = {},
  ): Pending<MigrateReply> {
    const { p, settle } = pending<MigrateReply>();
    const hm = this.host(opts.from ?? this.homeOf(task));
    if (hm.stopped) settle({ ok: false, error: `host ${hm.host.name} is down` });
    else hm.user.migrate(task, to, opts.strategy, (r) => settle(r as MigrateReply));
    return p;
  }

  /** Where process `task` runs according to the location table of host `at`'s migration manager. */
  locate(task: string, at: string): Location | null {
    return this.host(at).migration.table.get(task) ?? null;
  }

  /** The live kernel task of process `name`, on whichever host runs it now (for inspection). */
  task(name: string): Task | null {
    for (const h of this.cluster.hosts.values()) {
      if (!h.up) continue;
      for (const t of h.tasks.values()) if (t.name === name && !t.terminated) return t;
    }
    return null;
  }

  /** Stops following crashes and restarts; the managers stay as they are. */
  stop(): void {
    for (const off of this.offs.splice(0)) off();
  }
}

/** Starts the section 4 managers on every host of `cluster`. */
export function startManagers(cluster: Cluster, opts: Partial<ManagerOptions> = {}): Managers {
  return new Managers(cluster, { ...DEFAULT_MANAGER_OPTIONS, ...opts });
}
