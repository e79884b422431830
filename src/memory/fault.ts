import type { PageFaultKind } from '../cpu/memory.ts';
import { MachError } from '../protocol/errors.ts';
import type { AddressSpace } from './addressSpace.ts';
import { requestPage } from './pagerLink.ts';
import type { Region } from './regions.ts';
import type { ResidentPage, VmObject } from './vmObject.ts';
import { protName, VM_PROT_EXECUTE, VM_PROT_READ, VM_PROT_WRITE } from './vmTypes.ts';

/**
 * Page translation and page faults (Mach's vm_fault). A virtual page maps page `off` of its
 * region's object; the data is the first resident page along the object's shadow chain, unless an
 * object on the way owns the page at its pager (then it must be paged in from there). A write to a
 * page found below the top object copies it into the top object: copy-on-write.
 */

/** Reads need read or execute permission (the interpreter fetches instructions as reads). */
export function permits(protection: number, write: boolean): boolean {
  return (protection & (write ? VM_PROT_WRITE : VM_PROT_READ | VM_PROT_EXECUTE)) !== 0;
}

/** The resident page that backs page `off` of `top`, or null if it must be faulted in. */
export function lookup(top: VmObject, off: number): ResidentPage | null {
  let o = top;
  let x = off;
  for (;;) {
    const p = o.pages.get(x);
    if (p !== undefined) return p;
    if (o.pending.has(x) || o.asksPager(x)) return null;
    x += o.shadowOffset;
    o = o.shadow!;
  }
}

/** The object (and its page) whose pager a fault on page `off` of `top` must ask. */
function faultTarget(top: VmObject, off: number): { object: VmObject; offset: number } {
  let o = top;
  let x = off;
  while (!o.pending.has(x) && !o.asksPager(x)) {
    x += o.shadowOffset;
    o = o.shadow!;
  }
  return { object: o, offset: x };
}

/**
 * The slow path of `page()`: translates through the regions and objects and enters the result in
 * the space's translation maps. Never waits and never evicts (the interpreter may still hold pages
 * it translated earlier in this run); a copy-on-write copy with no free frame reports
 * `notResident`, and faultIn makes room. `privileged` (the kernel loading a program) ignores
 * protection but never leaves a write translation the task itself could not have.
 */
export function translate(
  space: AddressSpace,
  vpage: number,
  write: boolean,
  privileged = false,
): Uint8Array | PageFaultKind {
  const r = space.regions.find(vpage);
  if (r === undefined) return 'unmapped';
  if (!privileged && !permits(r.protection, write)) return 'protection';
  const top = r.object;
  const off = r.objectPage(vpage);
  const p = lookup(top, off);
  if (p === null) return 'notResident';
  if (!write) {
    space.pmap.enterRead(vpage, p);
    return p.data;
  }
  const target = p.object === top ? p : copyOnWrite(space, vpage, top, off, p, false);
  if (target === null) return 'notResident';
  space.vm.ownFrame(target);
  space.pmap.enterWrite(vpage, target, permits(r.protection, true));
  return target.data;
}

/** Gives `top` its own copy of `src` for page `off`; null when no frame is free and `mayEvict` is not set. */
function copyOnWrite(
  space: AddressSpace,
  vpage: number,
  top: VmObject,
  off: number,
  src: ResidentPage,
  mayEvict: boolean,
): ResidentPage | null {
  const vm = space.vm;
  src.pinned++;
  const frame = vm.allocateFrame(mayEvict);
  src.pinned--;
  if (frame === null) return null;
  frame.set(src.data);
  const p = vm.install(top, off, frame, true);
  vm.stats.cowCopies++;
  // Whoever read the shared page through `top` must now see the copy: drop their translations.
  vm.unmap(src);
  if (vm.world.trace.enabled)
    vm.world.trace.emit('vm.cow', {
      host: vm.host,
      space: space.label,
      page: vpage,
      object: top.id,
    });
  return p;
}

/** A fault that loses its page this many times in a row gives up (memory is thrashing). */
const MAX_ATTEMPTS = 16;

/**
 * Resolves a page fault: waits for the page through the pager protocol (data_request, then
 * data_supply or data_unavailable on the control port), or makes the copy-on-write copy, and enters
 * the translation. `done` never runs before faultIn returns; it gets KERN_INVALID_ADDRESS,
 * KERN_PROTECTION_FAILURE, KERN_MEMORY_ERROR (the pager failed) or KERN_TERMINATED.
 */
export function faultIn(
  space: AddressSpace,
  vpage: number,
  write: boolean,
  done: (error?: MachError) => void,
): void {
  const vm = space.vm;
  vm.stats.faults++;
  if (vm.world.trace.enabled)
    vm.world.trace.emit('vm.fault', { host: vm.host, space: space.label, page: vpage, write });
  attempt(space, vpage, write, done, 0, true);
}

function attempt(
  space: AddressSpace,
  vpage: number,
  write: boolean,
  done: (error?: MachError) => void,
  tries: number,
  sync: boolean,
): void {
  const vm = space.vm;
  const finish = (error?: MachError) => {
    if (sync) vm.world.schedule(0, () => done(error), 'vm.fault-done');
    else done(error);
  };
  const r = check(space, vpage, write);
  if (r instanceof MachError) return finish(r);
  const top = r.object;
  const off = r.objectPage(vpage);
  const p = lookup(top, off);
  if (p !== null) {
    if (!write) space.pmap.enterRead(vpage, p);
    else {
      const target = p.object === top ? p : copyOnWrite(space, vpage, top, off, p, true)!;
      vm.ownFrame(target);
      space.pmap.enterWrite(vpage, target, true);
    }
    return finish();
  }
  if (tries >= MAX_ATTEMPTS) {
    const why = `page ${vpage} of ${space.label} was evicted ${tries} times before it could be used`;
    return finish(new MachError('KERN_RESOURCE_SHORTAGE', why));
  }
  const t = faultTarget(top, off);
  requestPage(vm, t.object, t.offset, (error) => {
    if (error) done(error);
    else attempt(space, vpage, write, done, tries + 1, false);
  });
}

/** The region of a fault, or why it cannot be resolved. */
function check(space: AddressSpace, vpage: number, write: boolean): Region | MachError {
  if (space.destroyed)
    return new MachError('KERN_TERMINATED', `address space ${space.label} was destroyed`);
  const address = `0x${(vpage * space.pageSize).toString(16)}`;
  if (!Number.isSafeInteger(vpage) || vpage < 0 || vpage >= space.pageCount)
    return new MachError(
      'KERN_INVALID_ADDRESS',
      `page ${String(vpage)} is outside the address space`,
    );
  const r = space.regions.find(vpage);
  if (r === undefined)
    return new MachError('KERN_INVALID_ADDRESS', `${address} is not allocated in ${space.label}`);
  if (!permits(r.protection, write))
    return new MachError(
      'KERN_PROTECTION_FAILURE',
      `${write ? 'write to' : 'read of'} ${address} in ${space.label}: protection is ${protName(r.protection)}`,
    );
  return r;
}
