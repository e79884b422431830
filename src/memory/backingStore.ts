/**
 * The default pager's backing store (its paging file, mach-default-memory-manager.txt section
 * 5.2): the pages written back to it, per memory object. Only pages that were written exist; the
 * rest of an object reads as zeros. Plain data, driven by the pager machine.
 */
export class BackingStore {
  private readonly objects = new Map<number, Map<number, Uint8Array>>();

  /** Starts keeping pages for `object` (memory_object_init); keeps any it already has. */
  open(object: number): void {
    if (!this.objects.has(object)) this.objects.set(object, new Map());
  }

  has(object: number): boolean {
    return this.objects.has(object);
  }

  /** Frees every page of `object` (memory_object_terminate); returns how many there were. */
  drop(object: number): number {
    const pages = this.objects.get(object);
    this.objects.delete(object);
    return pages?.size ?? 0;
  }

  /** Stores `data` (whole pages of `pageSize`) at byte `offset`; each page is kept separately. */
  write(object: number, offset: number, data: Uint8Array, pageSize: number): void {
    const pages = this.objects.get(object);
    if (pages === undefined) return;
    for (let at = 0; at < data.length; at += pageSize)
      pages.set(offset + at, data.slice(at, at + pageSize));
  }

  /** Whether any page of [offset, offset + length) was stored. */
  holds(object: number, offset: number, length: number, pageSize: number): boolean {
    const pages = this.objects.get(object);
    if (pages === undefined) return false;
    for (let at = 0; at < length; at += pageSize) if (pages.has(offset + at)) return true;
    return false;
  }

  /** A copy of [offset, offset + length); pages never stored read as zeros. */
  read(object: number, offset: number, length: number, pageSize: number): Uint8Array {
    const out = new Uint8Array(length);
    const pages = this.objects.get(object);
    if (pages === undefined) return out;
    for (let at = 0; at < length; at += pageSize) {
      const p = pages.get(offset + at);
      if (p !== undefined) out.set(p.subarray(0, Math.min(pageSize, length - at)), at);
    }
    return out;
  }

  /** Pages stored for `object`, or for every object. */
  pageCount(object?: number): number {
    if (object !== undefined) return this.objects.get(object)?.size ?? 0;
    let n = 0;
    for (const pages of this.objects.values()) n += pages.size;
    return n;
  }

  /** Objects the store keeps pages for. */
  objectCount(): number {
    return this.objects.size;
  }
}
