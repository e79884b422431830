/**
 * Virtual memory of simulated tasks: address spaces (vm_map) over memory objects, page faults
 * through the external memory management protocol to the default pager, copy-on-write for
 * inherited address spaces, and finite physical memory with page-out. Boot it with
 * `createHostMemory(host)`.
 */
export { AddressSpace, type AllocateOptions, type RegionInfo } from './addressSpace.ts';
export { BackingStore } from './backingStore.ts';
export type { LockResult } from './flush.ts';
export {
  createHostMemory,
  type HostMemory,
  type HostMemoryOptions,
  type HostMemoryStats,
  type MemoryHost,
} from './hostMemory.ts';
export { PhysicalMemory } from './physicalMemory.ts';
export { VmKernel, type VmStats } from './vmKernel.ts';
export * from './vmTypes.ts';

import './traceEvents.ts';
