import { IpcKernel } from '../actors/ipcKernel.ts';
import type { Frame } from '../world/network.ts';
import type { HostProfile } from '../world/profiles.ts';
import type { World } from '../world/world.ts';

/**
 * One simulated machine: its hardware profile and its kernel. A crash loses all kernel state
 * (every space and port dies, as with real memory); a restart boots an empty kernel.
 */
export class Host {
  ipc: IpcKernel;
  up = true;
  /** Incremented at each boot: lets servers tell a restarted host from the one they knew. */
  boots = 1;
  /** Where frames from the network go (the netmsg server attaches here). */
  frameHandler: ((frame: Frame) => void) | null = null;

  constructor(
    readonly world: World,
    readonly name: string,
    readonly profile: HostProfile,
  ) {
    this.ipc = this.bootKernel();
  }

  /** About 2,000 instructions of kernel work per message delivery (copy, lookup, switch). */
  private bootKernel(): IpcKernel {
    const k = new IpcKernel(this.world, this.name);
    k.deliveryLatencyMs = (2000 / this.profile.instructionsPerSecond) * 1000;
    return k;
  }

  crash(): void {
    if (!this.up) return;
    this.up = false;
    for (const space of [...this.ipc.spaces]) this.ipc.destroySpace(space);
  }

  restart(): void {
    if (this.up) return;
    this.up = true;
    this.boots++;
    this.ipc = this.bootKernel();
  }
}
