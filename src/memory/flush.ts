import { MemoryObjectReturn } from '../protocol/memoryObject.ts';
import { sendReturn } from './pagerLink.ts';
import type { VmKernel } from './vmKernel.ts';
import type { ResidentPage, VmObject } from './vmObject.ts';

/** What a clean or flush did. */
export interface LockResult {
  /** Pages written back with memory_object_data_return. */
  returned: number;
  /** Pages taken out of memory. */
  flushed: number;
}

/**
 * memory_object_lock_request on pages [first, first + count) of `o` (mach3-kernel-interfaces.txt,
 * memory_object_lock_request): with should_return, dirty pages (and precious ones for RETURN_ALL)
 * go back to the pager with data_return; with should_flush, every cached page in the range is
 * invalidated, otherwise returned pages stay resident but clean. Access locks (lock_value) are not
 * modelled: pages not cached are untouched, as the call's NOTES say.
 */
export function lockObject(
  vm: VmKernel,
  o: VmObject,
  first: number,
  count: number,
  shouldReturn: MemoryObjectReturn,
  shouldFlush: boolean,
): LockResult {
  const result: LockResult = { returned: 0, flushed: 0 };
  for (const p of pagesIn(o, first, count)) {
    const back =
      shouldReturn === MemoryObjectReturn.ALL
        ? p.dirty || p.precious
        : shouldReturn === MemoryObjectReturn.DIRTY && p.dirty;
    if (back) {
      sendReturn(vm, p, !shouldFlush);
      result.returned++;
    }
    if (shouldFlush) {
      vm.freePage(p);
      result.flushed++;
    } else if (back) {
      p.dirty = false;
      p.precious = false;
      vm.writeProtect(p);
    }
    if ((back || shouldFlush) && vm.world.trace.enabled)
      vm.world.trace.emit('vm.pageout', {
        host: vm.host,
        object: o.id,
        page: p.offset,
        dirty: back,
        reason: shouldFlush ? 'flush' : 'clean',
      });
  }
  return result;
}

/** Resident pages of `o` in [first, first + count), in offset order. */
function pagesIn(o: VmObject, first: number, count: number): ResidentPage[] {
  const out: ResidentPage[] = [];
  if (count <= o.pages.size) {
    for (let off = first; off < first + count; off++) {
      const p = o.pages.get(off);
      if (p !== undefined) out.push(p);
    }
    return out;
  }
  for (const [off, p] of o.pages) if (off >= first && off < first + count) out.push(p);
  return out.sort((a, b) => a.offset - b.offset);
}
