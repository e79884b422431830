import { IpcKernel } from '../actors/ipcKernel.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import type { HostMemory } from '../memory/hostMemory.ts';
import type { Frame } from '../world/network.ts';
import type { HostProfile } from '../world/profiles.ts';
import type { World } from '../world/world.ts';
import { raiseException } from './exceptions.ts';
import { serveKernelPort } from './kernelServer.ts';
import { NameService } from './nameService.ts';
import { Scheduler } from './scheduler.ts';
import { handleTrap } from './syscalls.ts';
import type { Task } from './task.ts';
import { terminateThread } from './taskOps.ts';
import type { Thread } from './thread.ts';
import './traceEvents.ts';

/** Builds a host's memory system at boot (the virtual memory layer provides it). */
export type MemoryFactory = (host: Host) => HostMemory;

/**
 * One simulated machine: its hardware profile and its kernel: IPC, memory, a scheduler for its
 * one CPU, its tasks, and its name service. A crash loses all kernel state (every task, space and
 * port dies, as memory does); a restart boots an empty kernel.
 */
export class Host {
  ipc!: IpcKernel;
  /** The kernel's own port space: it holds the receive rights of task and thread ports. */
  kernelSpace!: PortSpace;
  scheduler!: Scheduler;
  memory!: HostMemory;
  names!: NameService;
  readonly tasks = new Map<number, Task>();
  up = true;
  /** Incremented at each boot: lets servers tell a restarted host from the one they knew. */
  boots = 0;
  /**
   * The host's console: a send right in the kernel's space to the local user manager's console
   * port (0: none). Tasks whose home console died continue their output here (console.ts).
   */
  consoleName = 0;
  /** Where frames from the network go (the netmsg server attaches here). */
  frameHandler: ((frame: Frame) => void) | null = null;
  private ids = 0;

  constructor(
    readonly world: World,
    readonly name: string,
    readonly profile: HostProfile,
    private readonly memoryFactory: MemoryFactory,
  ) {
    this.boot();
  }

  nextId(): number {
    return ++this.ids;
  }

  private boot(): void {
    this.boots++;
    const k = new IpcKernel(this.world, this.name);
    // About 2,000 instructions of kernel work per message delivery (copy, lookup, switch).
    k.deliveryLatencyMs = (2000 / this.profile.instructionsPerSecond) * 1000;
    this.ipc = k;
    this.kernelSpace = k.createSpace(`${this.name}:kernel`);
    this.consoleName = 0;
    this.scheduler = new Scheduler(this);
    this.scheduler.onStop = (t, stop) => this.onThreadStop(t, stop);
    this.names = new NameService(
      () => this.ipc,
      () => this.kernelSpace,
      this.name,
    );
    this.memory = this.memoryFactory(this);
  }

  serveKernelPort(name: number): void {
    serveKernelPort(this, name);
  }

  private onThreadStop(t: Thread, stop: Parameters<Scheduler['onStop']>[1]): void {
    if (t.terminated) return;
    switch (stop.reason) {
      case 'budget':
        return;
      case 'trap':
        return handleTrap(this, t, stop.number);
      case 'halt':
        return terminateThread(t);
      case 'exception':
        return raiseException(this, t, stop.kind, stop.detail);
      case 'pagefault': {
        const page = Math.floor((stop.address >>> 0) / this.profile.pageSize);
        t.send({ type: 'WAIT', reason: 'page' });
        t.task.memory.faultIn(page, stop.write, (error) => {
          if (t.terminated) return;
          if (error) {
            const kind =
              error.codeName === 'KERN_PROTECTION_FAILURE' ? 'protection' : 'bad_address';
            return raiseException(this, t, kind, error.detail);
          }
          t.send({ type: 'WAKE' });
          this.scheduler.kick();
        });
        return;
      }
    }
  }

  crash(): void {
    if (!this.up) return;
    this.up = false;
    for (const space of [...this.ipc.spaces]) this.ipc.destroySpace(space);
    for (const t of this.tasks.values()) {
      for (const th of t.threads) if (th.timer) this.world.cancel(th.timer);
      t.exit = { status: -1, reason: `host ${this.name} crashed`, time: this.world.now() };
    }
    this.tasks.clear();
    this.memory.destroy();
  }

  restart(): void {
    if (this.up) return;
    this.up = true;
    this.boot();
  }
}
