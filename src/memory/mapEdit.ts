import type { AddressSpace } from './addressSpace.ts';
import type { Region } from './regions.ts';
import type { VmObject } from './vmObject.ts';

/**
 * Editing an address map's regions (Mach's vm_map_clip_start/_end, vm_map_simplify and
 * vm_map_entry_delete): what vm_deallocate, vm_protect and vm_inherit do to the region list.
 */

/** Splits regions at `start` and `end`; returns the regions inside, in order. */
export function clip(space: AddressSpace, start: number, end: number): Region[] {
  splitAt(space, start);
  splitAt(space, end);
  return space.regions.overlapping(start, end);
}

function splitAt(space: AddressSpace, vpage: number): void {
  const r = space.regions.find(vpage);
  if (r === undefined || r.start === vpage) return;
  const end = r.end;
  r.end = vpage;
  const { object, protection, maxProtection, inheritance } = r;
  space.adopt(vpage, end, object, r.objectPage(vpage), protection, maxProtection, inheritance);
}

/** Merges neighbours around [start, end) that map contiguous pages of one object alike. */
export function coalesce(space: AddressSpace, start: number, end: number): void {
  const list = space.regions.list;
  for (let i = Math.max(0, space.regions.indexAfter(start) - 2); i + 1 < list.length; i++) {
    const a = list[i]!;
    const b = list[i + 1]!;
    if (a.start > end) break;
    if (
      a.end === b.start &&
      a.object === b.object &&
      b.offset === a.offset + (a.end - a.start) &&
      a.protection === b.protection &&
      a.maxProtection === b.maxProtection &&
      a.inheritance === b.inheritance
    ) {
      a.end = b.end;
      space.regions.remove(b);
      b.object.regions.delete(b);
      i--;
    }
  }
}

/** Unmaps a region; its object terminates if nothing else references it. */
export function removeRegion(space: AddressSpace, r: Region): void {
  space.regions.remove(r);
  space.pmap.dropRange(r.start, r.end, false);
  space.pmap.forgetDirty(r.start, r.end);
  const o = r.object;
  space.vm.detach(r);
  if (!o.terminated && o.shadowedBy === 0)
    discardUnmapped(space, o, r.offset, r.offset + (r.end - r.start));
}

/** Frees pages of `o` in [from, to) that no region maps any more (nothing can reach them). */
function discardUnmapped(space: AddressSpace, o: VmObject, from: number, to: number): void {
  for (const p of [...o.pages.values()]) {
    if (p.offset < from || p.offset >= to) continue;
    let mapped = false;
    for (const r of o.regions)
      if (p.offset >= r.offset && p.offset < r.offset + (r.end - r.start)) mapped = true;
    if (!mapped) space.vm.freePage(p);
  }
}
