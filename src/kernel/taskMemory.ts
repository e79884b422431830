import type { Memory } from '../cpu/memory.ts';
import type { MachError } from '../protocol/errors.ts';

export interface Protection {
  readonly read: boolean;
  readonly write: boolean;
  readonly execute: boolean;
}

/**
 * What the kernel needs of a task's address space beyond the interpreter's page interface:
 * mapping memory, resolving a fault (asynchronously, through the pager) and tearing down.
 */
export interface TaskMemory extends Memory {
  /** vm_allocate at a fixed, page-aligned address: zero-filled memory. */
  allocate(address: number, size: number, protection: Protection): void;
  /** vm_protect (current protection). */
  protect(address: number, size: number, protection: Protection): void;
  /** vm_allocate anywhere: returns the address. */
  allocateAnywhere(size: number, protection: Protection): number;
  /** Brings page `pageIndex` in for reading or writing; `done` runs once it is (or cannot be). */
  faultIn(pageIndex: number, write: boolean, done: (error?: MachError) => void): void;
  /** Receives out-of-line data: new memory in this space holding `data`; returns its address. */
  allocateOol(data: Uint8Array): number;
  /** task_create with an inherited address space (inheritance decides share / copy / none). */
  fork(): TaskMemory;
  destroy(): void;
}
