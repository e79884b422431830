import type { AddressSpace } from './addressSpace.ts';
import type { VmObject } from './vmObject.ts';
import type { VmInherit } from './vmTypes.ts';

/**
 * One entry of an address map (Mach's vm_map_entry): virtual pages [start, end) mapping `object`
 * from page `offset`, with current and maximum protection and an inheritance attribute.
 */
export class Region {
  constructor(
    readonly space: AddressSpace,
    public start: number,
    public end: number,
    public object: VmObject,
    public offset: number,
    public protection: number,
    public maxProtection: number,
    public inheritance: VmInherit,
  ) {}

  /** The object page that virtual page `vpage` maps. */
  objectPage(vpage: number): number {
    return this.offset + (vpage - this.start);
  }
}

/**
 * The regions of one space, sorted by address and never overlapping. Look-ups are a binary search
 * with a one-entry cache (faults tend to hit the region of the previous one).
 */
export class RegionList {
  readonly list: Region[] = [];
  private last: Region | null = null;

  find(vpage: number): Region | undefined {
    const l = this.last;
    if (l !== null && vpage >= l.start && vpage < l.end) return l;
    const i = this.indexAfter(vpage) - 1;
    const r = this.list[i];
    if (r !== undefined && vpage < r.end) {
      this.last = r;
      return r;
    }
    return undefined;
  }

  /** Index of the first region starting after `vpage`. */
  indexAfter(vpage: number): number {
    const list = this.list;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.start <= vpage) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Regions overlapping [start, end), in order. */
  overlapping(start: number, end: number): Region[] {
    const out: Region[] = [];
    for (let i = Math.max(0, this.indexAfter(start) - 1); i < this.list.length; i++) {
      const r = this.list[i]!;
      if (r.start >= end) break;
      if (r.end > start) out.push(r);
    }
    return out;
  }

  /** Whether [start, end) is covered by regions with no hole. */
  covers(start: number, end: number): boolean {
    let at = start;
    for (const r of this.overlapping(start, end)) {
      if (r.start > at) return false;
      at = r.end;
    }
    return at >= end;
  }

  /** The first hole of at least `pages` pages at or after `from`, below `limit`; -1 if none. */
  findSpace(pages: number, from: number, limit: number): number {
    let at = from;
    for (let i = Math.max(0, this.indexAfter(from) - 1); i < this.list.length; i++) {
      const r = this.list[i]!;
      if (r.end <= at) continue;
      if (r.start - at >= pages) break;
      at = r.end;
    }
    return at + pages <= limit ? at : -1;
  }

  insert(r: Region): void {
    this.list.splice(this.indexAfter(r.start), 0, r);
  }

  remove(r: Region): void {
    const i = this.list.indexOf(r);
    if (i >= 0) this.list.splice(i, 1);
    if (this.last === r) this.last = null;
  }

  clear(): void {
    this.list.length = 0;
    this.last = null;
  }
}
