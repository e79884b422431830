import { type MemoryAccessFault, readMemory, writeMemory } from '../cpu/memory.ts';
import type { TaskMemory } from './taskMemory.ts';

/**
 * Kernel access to a task's memory for system calls (copyin/copyout): first every page of the
 * range is made resident, faulting through the pager as a thread would; then the bytes move.
 */
export function withResident(
  mem: TaskMemory,
  address: number,
  length: number,
  write: boolean,
  cont: (fault: MemoryAccessFault | null) => void,
): void {
  if (length <= 0) return cont(null);
  const shift = 31 - Math.clz32(mem.pageSize);
  const first = address >>> shift;
  const last = (address + length - 1) >>> shift;
  if (address < 0 || address + length > 0x1_0000_0000)
    return cont({ kind: 'unmapped', address, write });
  for (let p = first; p <= last; p++) {
    const r = mem.page(p, write);
    if (r === 'notResident') {
      // Fault it in, then check the whole range again (an earlier page may have been evicted).
      mem.faultIn(p, write, (err) => {
        if (err) cont({ kind: 'unmapped', address: p << shift, write });
        else withResident(mem, address, length, write, cont);
      });
      return;
    }
    if (typeof r === 'string')
      return cont({ kind: r, address: Math.max(address, p << shift), write });
  }
  cont(null);
}

/** Reads `length` bytes of task memory, faulting pages in as needed. */
export function copyinBytes(
  mem: TaskMemory,
  address: number,
  length: number,
  cont: (r: Uint8Array | MemoryAccessFault) => void,
): void {
  withResident(mem, address, length, false, (fault) =>
    cont(fault ?? readMemory(mem, address, length)),
  );
}

/** Writes bytes into task memory, faulting pages in as needed. */
export function copyoutBytes(
  mem: TaskMemory,
  address: number,
  bytes: Uint8Array,
  cont: (fault: MemoryAccessFault | null) => void,
): void {
  withResident(mem, address, bytes.length, true, (fault) => {
    if (fault) return cont(fault);
    cont(writeMemory(mem, address, bytes) ?? null);
  });
}
