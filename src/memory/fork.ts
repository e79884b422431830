import type { AddressSpace } from './addressSpace.ts';
import type { VmKernel } from './vmKernel.ts';
import type { VmObject } from './vmObject.ts';
import { VM_INHERIT_NONE, VM_INHERIT_SHARE } from './vmTypes.ts';

/**
 * task_create with an inherited address space (mach3-kernel-interfaces.txt, vm_inherit): each
 * region goes to the child by its inheritance. VM_INHERIT_SHARE maps the same object in both;
 * VM_INHERIT_NONE leaves the range unmapped; VM_INHERIT_COPY gives a copy-on-write copy.
 *
 * A copy freezes the object behind two new shadow objects: every mapping of it (the parent's, and
 * any task sharing it) moves to one, the child maps the other. Writes then copy pages up into the
 * writer's shadow, so neither side sees the other's later writes, and nothing is copied until it
 * is written.
 */
export function inheritInto(parent: AddressSpace, child: AddressSpace): void {
  const vm = parent.vm;
  // The child's object for each of the parent's objects copied so far (regions split from one
  // allocation share one object and must share one copy).
  const copies = new Map<VmObject, VmObject>();
  for (const r of [...parent.regions.list]) {
    if (r.inheritance === VM_INHERIT_NONE) continue;
    const object =
      r.inheritance === VM_INHERIT_SHARE
        ? r.object
        : (copies.get(r.object) ?? copyObject(vm, r.object, copies));
    child.adopt(r.start, r.end, object, r.offset, r.protection, r.maxProtection, r.inheritance);
  }
}

function copyObject(vm: VmKernel, o: VmObject, copies: Map<VmObject, VmObject>): VmObject {
  // Untouched anonymous memory: both sides just get zero-fill memory.
  if (o.shadow === null && o.temporary && o.pages.size === 0 && o.control === 0) {
    const fresh = vm.createObject(o.size);
    copies.set(o, fresh);
    return fresh;
  }
  const mine = vm.createObject(o.size, o, 0);
  const theirs = vm.createObject(o.size, o, 0);
  for (const r of [...o.regions]) {
    o.regions.delete(r);
    r.object = mine;
    mine.regions.add(r);
    // Writes through these mappings must now fault and copy.
    r.space.pmap.dropRange(r.start, r.end, true);
  }
  copies.set(mine, theirs);
  return theirs;
}
