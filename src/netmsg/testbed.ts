import { checkIpcInvariants } from '../actors/invariants.ts';
import { IpcKernel } from '../actors/ipcKernel.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import { isMachError } from '../protocol/errors.ts';
import type { ReceivedMessage } from '../protocol/message.ts';
import type { Frame } from '../world/network.ts';
import { Network } from '../world/network.ts';
import { LINK_PROFILES, type LinkProfile } from '../world/profiles.ts';
import { World } from '../world/world.ts';
import type { NetmsgConfig } from './config.ts';
import { installNetmsg, type NetmsgInstallation } from './install.ts';
import type { LookupResult } from './lookups.ts';
import type { NetmsgServer } from './server.ts';

/** One host of a testbed: a bare IPC kernel and its netmsg server. */
export interface TestbedHost {
  readonly name: string;
  readonly ipc: IpcKernel;
  readonly netmsg: NetmsgServer;
  /** A new task space on this host's kernel. */
  space(label: string): PortSpace;
}

export interface NetmsgTestbed {
  readonly world: World;
  readonly network: Network;
  readonly netmsg: NetmsgInstallation;
  host(name: string): TestbedHost;
  readonly hostNames: readonly string[];
  /** Runs the world until nothing is pending (or `limitMs` of virtual time passed). */
  run(limitMs?: number): void;
  /**
   * netname_look_up from `host` into `into`, running the world until it answers. Returns the
   * send right's name there; throws the look-up's MachError.
   */
  lookUp(host: string, name: string, on: string | null, into: PortSpace): number;
  /**
   * Gives `to` (a space on host `toHost`) a send right to the port `portName` of `from` (on
   * `fromHost`) through the name service, as a task would get one. Returns its name in `to`.
   */
  connect(
    fromHost: string,
    from: PortSpace,
    portName: number,
    toHost: string,
    to: PortSpace,
  ): number;
  /** What is wrong anywhere: IPC invariant violations and netmsg internal errors, per host. */
  problems(): string[];
}

/** Receives every message queued on `port` of `space` now, without blocking. */
export function receiveAll(ipc: IpcKernel, space: PortSpace, port: number): ReceivedMessage[] {
  const out: ReceivedMessage[] = [];
  // Looking at the queue first spares a MachError (and its stack trace) per empty poll.
  const p = space.lookup(port)?.port;
  if (p && p.receiver === space && p.pset === null) {
    while (p.msgcount > 0) out.push(ipc.receive(space, port, { timeout: 0 })!);
    return out;
  }
  for (;;) {
    try {
      const m = ipc.receive(space, port, { timeout: 0 });
      if (m === null) return out;
      out.push(m);
    } catch (e) {
      if (isMachError(e, 'MACH_RCV_TIMED_OUT')) return out;
      throw e;
    }
  }
}

export interface TestbedOptions {
  readonly seed?: number;
  readonly link?: LinkProfile;
  readonly config?: Partial<NetmsgConfig>;
  /** Kernel time per message delivery (ms); 0 by default. */
  readonly deliveryLatencyMs?: number;
}

/**
 * N hosts without the rest of a Host: one world, one network, one IPC kernel per host and a netmsg
 * server on each. A crash (network.crash, or the fault plan) ends every space of the host's
 * kernel and stops its server; a restart boots an empty kernel and a new server.
 */
export function netmsgTestbed(names: readonly string[], opts: TestbedOptions = {}): NetmsgTestbed {
  const world = new World(opts.seed ?? 1);
  const network = new Network(world, opts.link ?? LINK_PROFILES.ethernet10);
  const kernels = new Map<string, IpcKernel>();
  const handlers = new Map<string, (f: Frame) => void>();
  const boot = (name: string) => {
    const k = new IpcKernel(world, name);
    k.deliveryLatencyMs = opts.deliveryLatencyMs ?? 0;
    kernels.set(name, k);
  };
  for (const name of names) {
    boot(name);
    network.attach(name, (f) => handlers.get(name)?.(f));
  }
  // The host's own crash handling comes first: its kernel dies, then its server stops.
  network.onNodeDown((name) => {
    const k = kernels.get(name)!;
    for (const s of [...k.spaces]) k.destroySpace(s);
  });
  network.onNodeUp((name) => boot(name));
  const netmsg = installNetmsg({
    world,
    network,
    hosts: names.map((name) => ({
      name,
      ipc: () => kernels.get(name)!,
      attach: (h: (f: Frame) => void) => handlers.set(name, h),
    })),
    ...(opts.config ? { config: opts.config } : {}),
  });
  const run = (limitMs?: number) => {
    if (limitMs === undefined) world.runUntilIdle();
    else world.runUntilTime(world.now() + limitMs);
  };
  let connections = 0;
  const lookUp = (host: string, name: string, on: string | null, into: PortSpace): number => {
    let result: LookupResult | null = null;
    netmsg.server(host).lookUp(name, on, into, (r) => {
      result = r;
    });
    world.runUntil(() => result !== null);
    const r = result as LookupResult | null;
    if (r === null) throw new Error(`look-up of "${name}" from ${host} never answered`);
    if (!r.ok) throw r.error;
    return r.name;
  };
  return {
    world,
    network,
    netmsg,
    hostNames: names,
    run,
    lookUp,
    connect: (fromHost, from, portName, toHost, to) => {
      const tag = `testbed.connect.${++connections}`;
      const server = netmsg.server(fromHost);
      server.checkIn(tag, from, portName);
      try {
        return lookUp(toHost, tag, fromHost, to);
      } finally {
        server.checkOut(tag);
      }
    },
    problems: () =>
      names.flatMap((h) => {
        const k = kernels.get(h)!;
        return [
          ...checkIpcInvariants(k).map((p) => `${h}: ${p}`),
          ...netmsg.server(h).errorLog.map((e) => `${h}: ${e}`),
        ];
      }),
    host: (name) => {
      const ipc = kernels.get(name);
      if (ipc === undefined) throw new RangeError(`no host "${name}" in the testbed`);
      return {
        name,
        ipc,
        netmsg: netmsg.server(name),
        space: (label) => ipc.createSpace(label),
      };
    },
  };
}
