import type { ResidentPage } from './vmObject.ts';

/**
 * One address space's translations (Mach's pmap): which resident page each virtual page reads
 * (`read`) and writes (`write`), the maps `page()` consults first. A page enters `write` only as
 * it is marked dirty, so after `takeDirty()` empties both, the next write to every page is seen:
 * dirty tracking by write protection, as pre-copy migration needs. Resident pages list the pmaps
 * that point at them, so eviction and copy-on-write can take translations away.
 */
export class Pmap {
  readonly read = new Map<number, ResidentPage>();
  readonly write = new Map<number, ResidentPage>();
  private readonly dirty = new Set<number>();

  enterRead(vpage: number, p: ResidentPage): void {
    this.read.set(vpage, p);
    p.referenced = true;
    p.addMapping(this, vpage);
  }

  /** A write is about to happen: the page is dirty; `writable` also caches the write translation. */
  enterWrite(vpage: number, p: ResidentPage, writable: boolean): void {
    this.read.set(vpage, p);
    if (writable) this.write.set(vpage, p);
    p.referenced = true;
    p.dirty = true;
    p.addMapping(this, vpage);
    this.dirty.add(vpage);
  }

  markDirty(vpage: number): void {
    this.dirty.add(vpage);
  }

  /** Takes the translations of `vpage` away if they still point at `p`. */
  drop(vpage: number, p: ResidentPage): void {
    if (this.read.get(vpage) === p) this.read.delete(vpage);
    if (this.write.get(vpage) === p) this.write.delete(vpage);
  }

  dropWrite(vpage: number, p: ResidentPage): void {
    if (this.write.get(vpage) === p) this.write.delete(vpage);
  }

  /** Forgets translations of pages [start, end) (write ones only if `writeOnly`). */
  dropRange(start: number, end: number, writeOnly: boolean): void {
    for (const map of writeOnly ? [this.write] : [this.read, this.write]) {
      if (end - start <= map.size) for (let vp = start; vp < end; vp++) map.delete(vp);
      else for (const vp of [...map.keys()]) if (vp >= start && vp < end) map.delete(vp);
    }
  }

  /** The range is no longer mapped: its pages are no longer this space's to report dirty. */
  forgetDirty(start: number, end: number): void {
    for (const vp of [...this.dirty]) if (vp >= start && vp < end) this.dirty.delete(vp);
  }

  /** Virtual pages written since the last `takeDirty()`, ascending. */
  dirtyPages(): number[] {
    return [...this.dirty].sort((a, b) => a - b);
  }

  takeDirty(): number[] {
    const pages = this.dirtyPages();
    this.dirty.clear();
    // Every write translation belongs to a dirty page: all must fault again to be seen.
    this.write.clear();
    return pages;
  }

  /** Unlinks every page this pmap points at and forgets everything (the space is destroyed). */
  clear(): void {
    this.read.forEach((p, vp) => {
      p.removeMapping(this, vp);
    });
    this.read.clear();
    this.write.clear();
    this.dirty.clear();
  }
}
