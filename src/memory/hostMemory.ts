import { createActor, fromCallback } from 'xstate';
import type { IpcKernel } from '../actors/ipcKernel.ts';
import { bindMailbox, type MachMessageEvent } from '../actors/mailbox.ts';
import type { PagerStats, PagerTiming } from '../machines/pager.ts';
import { Disposition } from '../protocol/rights.ts';
import { type RunningPager, startPager } from '../servers/pager.ts';
import type { World } from '../world/world.ts';
import { AddressSpace } from './addressSpace.ts';
import { onControlMessage } from './pagerLink.ts';
import type { PhysicalMemory } from './physicalMemory.ts';
import { VmKernel, type VmStats } from './vmKernel.ts';

/** What host memory needs of a host: the lead's Host fits. */
export interface MemoryHost {
  readonly world: World;
  readonly name: string;
  readonly profile: { readonly pageSize: number; readonly memoryBytes: number };
  readonly ipc: IpcKernel;
}

export interface HostMemoryOptions {
  /** Page frames (default: the profile's memoryBytes / pageSize). */
  readonly frames?: number;
  /** The default pager's disk (default DEFAULT_PAGER_TIMING). */
  readonly pagerTiming?: PagerTiming;
}

export interface HostMemoryStats extends VmStats {
  frames: number;
  freeFrames: number;
  residentPages: number;
  /** Frames handed out beyond `frames` because every page was pinned (should stay 0). */
  overcommits: number;
  objects: number;
  pager: PagerStats;
  /** Pages the default pager holds on its disk. */
  pagerStoredPages: number;
}

/** One host's memory system: physical memory, the VM kernel and the default pager. */
export interface HostMemory {
  readonly vm: VmKernel;
  readonly physical: PhysicalMemory;
  readonly defaultPager: RunningPager;
  /** A new, empty address space (task_create without an inherited one). */
  createAddressSpace(label?: string): AddressSpace;
  readonly stats: HostMemoryStats;
  /** The host crashed: everything in memory is gone; nothing more is sent. */
  destroy(): void;
}

/**
 * Boots a host's memory at kernel start: the VM kernel with its port space, physical memory of
 * memoryBytes / pageSize frames, and the default pager (a statechart on its own port) to which
 * the kernel holds a send right. Control-port messages reach the kernel through one small actor.
 */
export function createHostMemory(host: MemoryHost, options: HostMemoryOptions = {}): HostMemory {
  const ipc = host.ipc;
  const { pageSize, memoryBytes } = host.profile;
  const vm = new VmKernel(ipc, pageSize, options.frames ?? Math.floor(memoryBytes / pageSize));
  const pager = startPager(ipc, {
    label: `${host.name}:default-pager`,
    timing: options.pagerTiming,
  });
  vm.defaultPager = ipc.extractRight(pager.space, pager.port, Disposition.MAKE_SEND, vm.space);
  const controlReceiver = createActor(
    fromCallback<MachMessageEvent>(({ receive }) => {
      receive((e) => onControlMessage(vm, e.port, e.message));
    }),
    { clock: host.world.clock },
  ).start();
  vm.bindControl = (name) => bindMailbox(ipc, vm.space, name, controlReceiver);
  let spaces = 0;
  return {
    vm,
    physical: vm.physical,
    defaultPager: pager,
    createAddressSpace: (label) => new AddressSpace(vm, label ?? `${host.name}:space${++spaces}`),
    get stats(): HostMemoryStats {
      const pm = vm.physical;
      return {
        ...vm.stats,
        frames: pm.frames,
        freeFrames: pm.free,
        residentPages: pm.resident,
        overcommits: pm.overcommits,
        objects: vm.objects,
        pager: pager.stats(),
        pagerStoredPages: pager.store.pageCount(),
      };
    },
    destroy() {
      if (vm.dead) return;
      vm.dead = true;
      pager.stop();
      controlReceiver.stop();
      for (const s of [...vm.spaces]) s.destroy();
      vm.physical.clear();
      for (const s of [vm.space, pager.space]) if (s.active) ipc.destroySpace(s);
    },
  };
}
