import { Host } from './kernel/host.ts';
import type { Task } from './kernel/task.ts';
import { createHostMemory } from './memory/hostMemory.ts';
import { type MigrateOptions, type Migration, migrate } from './migration/migrate.ts';
import {
  type MigrationServerOptions,
  type RunningMigrationServer,
  startMigrationServer,
} from './migration/server.ts';
import { installNetmsg, type NetmsgInstallation } from './netmsg/install.ts';
import type { FaultPlan } from './world/faults.ts';
import { Network } from './world/network.ts';
import {
  HOST_PROFILES,
  type HostProfile,
  hostProfile,
  LINK_PROFILES,
  type LinkProfile,
} from './world/profiles.ts';
import { World } from './world/world.ts';

export interface ClusterOptions {
  readonly seed?: number;
  readonly link?: LinkProfile;
  /** Host name to profile (or profile name). */
  readonly hosts?: Readonly<Record<string, HostProfile | string>>;
  /** Options of every host's migration server (timeouts; test switches). */
  readonly migrationServer?: MigrationServerOptions;
}

/**
 * A simulated cluster: one deterministic world, a network and the hosts on it. Host crashes and
 * restarts from the fault plan reach the hosts' kernels through the network's node events.
 */
export class Cluster {
  readonly world: World;
  readonly network: Network;
  readonly hosts = new Map<string, Host>();
  readonly migrationServers = new Map<string, RunningMigrationServer>();
  private services: NetmsgInstallation | null = null;
  private readonly serverOptions: MigrationServerOptions;

  constructor(opts: ClusterOptions = {}) {
    this.serverOptions = opts.migrationServer ?? {};
    this.world = new World(opts.seed ?? 1);
    this.network = new Network(this.world, opts.link ?? LINK_PROFILES.ethernet10);
    this.network.onNodeDown((n) => this.hosts.get(n)?.crash());
    this.network.onNodeUp((n) => this.hosts.get(n)?.restart());
    for (const [name, p] of Object.entries(opts.hosts ?? {})) {
      this.addHost(name, typeof p === 'string' ? hostProfile(p) : p);
    }
  }

  /** The paper's cluster: a Pentium 90 and an i486DX 33 on 10 Mbit/s Ethernet. */
  static paper(seed = 1): Cluster {
    return new Cluster({
      seed,
      link: LINK_PROFILES.ethernet10,
      hosts: { pentium: HOST_PROFILES.pentium90, i486: HOST_PROFILES.i486dx33 },
    });
  }

  addHost(name: string, profile: HostProfile): Host {
    if (this.hosts.has(name)) throw new RangeError(`host "${name}" already exists`);
    const h = new Host(this.world, name, profile, (host) => createHostMemory(host));
    this.hosts.set(name, h);
    this.network.attach(name, (frame) => h.frameHandler?.(frame));
    return h;
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h)
      throw new RangeError(`unknown host "${name}" (hosts: ${[...this.hosts.keys()].join(', ')})`);
    return h;
  }

  /**
   * The network message servers (one per host), started on first use with the hosts the cluster
   * has then, together with each host's migration server; both restart with their host.
   */
  get netmsg(): NetmsgInstallation {
    if (this.services === null) {
      const plugs = [...this.hosts.values()].map((h) => ({
        name: h.name,
        ipc: () => h.ipc,
        attach: (fn: (f: Parameters<NonNullable<Host['frameHandler']>>[0]) => void) => {
          h.frameHandler = fn;
        },
      }));
      const services = installNetmsg({ world: this.world, network: this.network, hosts: plugs });
      this.services = services;
      const start = (h: Host) =>
        this.migrationServers.set(
          h.name,
          startMigrationServer(h, services.server(h.name), this.serverOptions),
        );
      for (const h of this.hosts.values()) start(h);
      // The migration server and its sessions die with their host (their timers too).
      this.network.onNodeDown((n) => this.migrationServers.get(n)?.stop());
      this.network.onNodeUp((n) => {
        const h = this.hosts.get(n);
        if (h) start(h);
      });
    }
    return this.services;
  }

  /** Migrates `task` to host `to` (see migration/migrate.ts). */
  migrate(task: Task, to: string, opts?: MigrateOptions): Migration {
    return migrate(this, this.netmsg, task, to, opts);
  }

  installFaults(plan: FaultPlan): void {
    plan.install(this.world, this.network);
  }
}
