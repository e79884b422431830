import type { IpcKernel } from '../actors/ipcKernel.ts';
import type { Frame, Network } from '../world/network.ts';
import type { World } from '../world/world.ts';
import type { NetmsgConfig } from './config.ts';
import { NetmsgServer } from './server.ts';

/** How the installer reaches one host. */
export interface NetmsgHostPlug {
  readonly name: string;
  /** The host's current kernel (a new one after a restart). */
  readonly ipc: () => IpcKernel;
  /** Routes frames the network delivers to this host to `handler` (replacing any earlier one). */
  readonly attach: (handler: (frame: Frame) => void) => void;
}

export interface NetmsgInstallation {
  /** The running server of `host` (a new one after each restart). */
  server(host: string): NetmsgServer;
  servers(): NetmsgServer[];
  /** Stops every server and stops following crashes and restarts. */
  uninstall(): void;
}

/**
 * Puts a netmsg server on every host of a cluster and keeps it there: a crash stops the host's
 * server (its state dies with the host), a restart starts a fresh one on the host's new kernel
 * with the next epoch. Register after the hosts' own crash and restart handlers, so that a
 * restarted server finds the new kernel already booted.
 */
export function installNetmsg(opts: {
  readonly world: World;
  readonly network: Network;
  readonly hosts: Iterable<NetmsgHostPlug>;
  readonly config?: Partial<NetmsgConfig>;
}): NetmsgInstallation {
  const { world, network, config } = opts;
  const plugs = new Map<string, NetmsgHostPlug>();
  const running = new Map<string, NetmsgServer>();
  const epochs = new Map<string, number>();
  const start = (plug: NetmsgHostPlug) => {
    const epoch = (epochs.get(plug.name) ?? 0) + 1;
    epochs.set(plug.name, epoch);
    const server = new NetmsgServer({
      world,
      network,
      hostName: plug.name,
      ipc: plug.ipc,
      attach: plug.attach,
      epoch,
      ...(config ? { config } : {}),
    });
    running.set(plug.name, server);
  };
  for (const plug of opts.hosts) {
    plugs.set(plug.name, plug);
    start(plug);
  }
  const offDown = network.onNodeDown((node) => running.get(node)?.stop());
  const offUp = network.onNodeUp((node) => {
    const plug = plugs.get(node);
    if (plug !== undefined) start(plug);
  });
  return {
    server: (host) => {
      const s = running.get(host);
      if (s === undefined) throw new RangeError(`no netmsg server on host "${host}"`);
      return s;
    },
    servers: () => [...running.values()],
    uninstall: () => {
      offDown();
      offUp();
      for (const s of running.values()) s.stop();
    },
  };
}
