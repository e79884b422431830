import type { MemoryAccessFault, PageFaultKind } from '../cpu/memory.ts';
import { MachError } from '../protocol/errors.ts';
import type { AddressSpace } from './addressSpace.ts';
import { lookup, permits, translate } from './fault.ts';
import { ADDRESS_SPACE_BYTES, VM_PROT_READ, VM_PROT_WRITE } from './vmTypes.ts';

/**
 * The kernel's access to a task's memory (copyin and copyout for system calls, vm_read and vm_write
 * for another task). They never wait: a page that is not resident is reported as a
 * `notResident` fault at its address, for the caller to fault in and retry.
 */

const hex = (n: number) => `0x${n.toString(16)}`;

function checkSpan(space: AddressSpace, address: number, length: number, call: string): void {
  if (space.destroyed)
    throw new MachError('KERN_INVALID_TASK', `${call}: address space ${space.label} was destroyed`);
  if (!Number.isSafeInteger(length) || length < 0)
    throw new MachError(
      'KERN_INVALID_ARGUMENT',
      `${call}: length ${String(length)} is not a byte count`,
    );
  if (!Number.isSafeInteger(address) || address < 0 || address + length > ADDRESS_SPACE_BYTES)
    throw new MachError(
      'KERN_INVALID_ADDRESS',
      `${call}: [${String(address)}, +${length}) is outside the 32-bit address space`,
    );
}

/** Each page's bytes for [address, address + length), or the first page that failed. */
function pagesOf(
  space: AddressSpace,
  address: number,
  length: number,
  write: boolean,
  privileged: boolean,
): Uint8Array[] | MemoryAccessFault {
  const out: Uint8Array[] = [];
  if (length === 0) return out;
  const ps = space.pageSize;
  const first = Math.floor(address / ps);
  const last = Math.floor((address + length - 1) / ps);
  for (let vp = first; vp <= last; vp++) {
    const r = privileged ? translate(space, vp, write, true) : space.page(vp, write);
    if (typeof r === 'string') return { kind: r, address: Math.max(address, vp * ps), write };
    out.push(r);
  }
  return out;
}

/** copyin: `length` bytes at `address`, with the task's read permission (or ignoring it). */
export function readBytes(
  space: AddressSpace,
  address: number,
  length: number,
  privileged = false,
): Uint8Array | MemoryAccessFault {
  checkSpan(space, address, length, 'read');
  const pages = pagesOf(space, address, length, false, privileged);
  if (!Array.isArray(pages)) return pages;
  const out = new Uint8Array(length);
  copyAcross(pages, address % space.pageSize, space.pageSize, length, (page, off, at, n) =>
    out.set(page.subarray(off, off + n), at),
  );
  return out;
}

/** copyout: writes `bytes` at `address`, all or nothing; `privileged` ignores protection (loading). */
export function writeBytes(
  space: AddressSpace,
  address: number,
  bytes: Uint8Array,
  privileged = false,
): MemoryAccessFault | undefined {
  checkSpan(space, address, bytes.length, 'write');
  const pages = pagesOf(space, address, bytes.length, true, privileged);
  if (!Array.isArray(pages)) return pages;
  copyAcross(pages, address % space.pageSize, space.pageSize, bytes.length, (page, off, at, n) =>
    page.set(bytes.subarray(at, at + n), off),
  );
  return undefined;
}

function copyAcross(
  pages: Uint8Array[],
  firstOffset: number,
  ps: number,
  length: number,
  move: (page: Uint8Array, offset: number, at: number, n: number) => void,
): void {
  let at = 0;
  let off = firstOffset;
  for (const page of pages) {
    const n = Math.min(ps - off, length - at);
    move(page, off, at, n);
    at += n;
    off = 0;
  }
}

/**
 * A virtual copy of one page for an out-of-line message (vm_read, as the migration client reads a
 * task): the resident frame itself, lent (VmKernel.lendFrame), so a later write to the page gets a
 * copy and the message keeps these bytes. It needs the task's read permission but enters no
 * translation in the task's pmap: only the task's own accesses need those.
 */
export function lendPage(space: AddressSpace, vpage: number): Uint8Array | PageFaultKind {
  const r = space.regions.find(vpage);
  if (r === undefined) return 'unmapped';
  if (!permits(r.protection, false)) return 'protection';
  const p = lookup(r.object, r.objectPage(vpage));
  return p === null ? 'notResident' : space.vm.lendFrame(p);
}

/** vm_read and vm_write take whole pages (KERN_INVALID_ARGUMENT otherwise). */
function checkPages(space: AddressSpace, address: number, size: number, call: string): void {
  checkSpan(space, address, size, call);
  const ps = space.pageSize;
  if (address % ps !== 0)
    throw new MachError(
      'KERN_INVALID_ARGUMENT',
      `${call}: address ${hex(address)} is not page aligned`,
    );
  if (size === 0 || size % ps !== 0)
    throw new MachError(
      'KERN_INVALID_ARGUMENT',
      `${call}: size ${size} is not a whole number of ${ps}-byte pages`,
    );
}

/** Throws vm_read/vm_write's errors for the first page that is unallocated or not permitted. */
function checkAccess(
  space: AddressSpace,
  address: number,
  size: number,
  write: boolean,
  call: string,
): void {
  const ps = space.pageSize;
  for (let vp = address / ps; vp < (address + size) / ps; vp++) {
    const r = space.regions.find(vp);
    if (r === undefined)
      throw new MachError('KERN_INVALID_ADDRESS', `${call}: ${hex(vp * ps)} is not allocated`);
    if (!(r.protection & (write ? VM_PROT_WRITE : VM_PROT_READ)))
      throw new MachError(
        'KERN_PROTECTION_FAILURE',
        `${call}: ${hex(vp * ps)} is protected against ${write ? 'writing' : 'reading'}`,
      );
  }
}

/**
 * vm_read (mach3-kernel-interfaces.txt): whole pages; returns the bytes, or a `notResident` fault
 * for the first page that must be faulted in first.
 */
export function vmRead(
  space: AddressSpace,
  address: number,
  size: number,
): Uint8Array | MemoryAccessFault {
  checkPages(space, address, size, 'vm_read');
  checkAccess(space, address, size, false, 'vm_read');
  return readBytes(space, address, size);
}

/**
 * vm_write (mach3-kernel-interfaces.txt): replaces whole pages, so it needs none of their old
 * contents and never faults: each page gets a new dirty frame in the region's top object.
 */
export function vmWrite(space: AddressSpace, address: number, data: Uint8Array): void {
  checkPages(space, address, data.length, 'vm_write');
  checkAccess(space, address, data.length, true, 'vm_write');
  installPages(space, address, data);
}

/**
 * Puts `data` (whole pages) at `address` as dirty resident pages, ignoring protection. With
 * `adopt`, the caller hands `data` over (received out-of-line data it will not touch again):
 * pages that need a new frame take theirs from it, with no copy.
 */
export function installPages(
  space: AddressSpace,
  address: number,
  data: Uint8Array,
  adopt = false,
): void {
  const vm = space.vm;
  const ps = space.pageSize;
  for (let i = 0; i < data.length / ps; i++) {
    const vp = address / ps + i;
    const r = space.regions.find(vp)!;
    const top = r.object;
    const off = r.objectPage(vp);
    const chunk = data.length === ps ? data : data.subarray(i * ps, (i + 1) * ps);
    const old = lookup(top, off);
    let p = old !== null && old.object === top ? old : null;
    if (p === null) {
      p = vm.install(top, off, adopt ? vm.adoptFrame(chunk) : vm.allocateFrame(true)!, true);
      // Readers of an older copy below must see this one; a pending page-in is now stale.
      if (old !== null) vm.unmap(old);
      const waiting = top.pending.get(off);
      if (waiting !== undefined) {
        top.pending.delete(off);
        for (const w of waiting) vm.world.schedule(0, () => w(), 'vm.fault-retry');
      }
    }
    if (p.data !== chunk) {
      vm.ownFrame(p);
      p.data.set(chunk);
    }
    p.dirty = true;
    space.pmap.markDirty(vp);
  }
}
