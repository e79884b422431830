import type { Cluster } from '../cluster.ts';
import type { Host } from '../kernel/host.ts';
import type { MigrateOptions } from '../migration/migrate.ts';
import type { NetmsgServer } from '../netmsg/server.ts';
import { MigrationManager } from './migrationManager.ts';
import { ProcessManager } from './processManager.ts';
import { UserManager } from './userManager.ts';

export interface ManagerOptions {
  /** How long a console stream waits for a missing write before skipping it (ms, default 10 s). */
  readonly gapMs: number;
  /** Timeout of each remote step of a user request (ms, default 3 s). */
  readonly stepMs: number;
  /** Forwarding pointers a request follows at most (default 4). */
  readonly maxHops: number;
  /** How long a migration manager waits for another to perform a migration (ms, default 120 s). */
  readonly migrateTimeoutMs: number;
  /** Options for every migration the managers perform (timeouts, pre-copy limits). */
  readonly migrate: Omit<MigrateOptions, 'strategy'>;
}

export const DEFAULT_MANAGER_OPTIONS: ManagerOptions = {
  gapMs: 10_000,
  stepMs: 3_000,
  maxHops: 4,
  migrateTimeoutMs: 120_000,
  migrate: {},
};

/**
 * The three managers of one host (reference/seed section 4), for one boot of it: a crash ends
 * them with the host's kernel, and a restart starts new ones. The user manager starts first: its
 * console port becomes the host's console.
 */
export class HostManagers {
  readonly user: UserManager;
  readonly process: ProcessManager;
  readonly migration: MigrationManager;
  stopped = false;

  constructor(
    readonly cluster: Cluster,
    readonly host: Host,
    readonly options: ManagerOptions,
  ) {
    this.user = new UserManager(this);
    this.process = new ProcessManager(this);
    this.migration = new MigrationManager(this);
  }

  /** The host's current netmsg server. */
  readonly netmsg = (): NetmsgServer => this.cluster.netmsg.server(this.host.name);

  /**
   * Runs `fn` as the next thing at this virtual instant, unless the host has crashed meanwhile.
   * What one manager does to another actor (an event to a sibling, a task created or controlled,
   * a migration started) runs so, outside the chart action that decided it: an actor's action
   * must not drive other actors' transitions from inside its own.
   */
  later(fn: () => void): void {
    this.host.world.schedule(
      0,
      () => {
        if (!this.stopped) fn();
      },
      'managers',
    );
  }

  /** The other hosts of the cluster that are up. */
  peers(): string[] {
    return [...this.cluster.hosts.values()]
      .filter((h) => h !== this.host && h.up)
      .map((h) => h.name);
  }

  /**
   * The host crashed: the managers end with it (their ports died with its kernel). What the
   * user manager had shown stays readable.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.user.actor.stop();
    this.process.actor.stop();
    this.migration.actor.stop();
  }
}
