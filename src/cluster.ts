import { Host } from './kernel/host.ts';
import { createHostMemory } from './memory/hostMemory.ts';
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
}

/**
 * A simulated cluster: one deterministic world, a network and the hosts on it. Host crashes and
 * restarts from the fault plan reach the hosts' kernels through the network's node events.
 */
export class Cluster {
  readonly world: World;
  readonly network: Network;
  readonly hosts = new Map<string, Host>();

  constructor(opts: ClusterOptions = {}) {
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

  installFaults(plan: FaultPlan): void {
    plan.install(this.world, this.network);
  }
}
