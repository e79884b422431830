import { MachError } from '../protocol/errors.ts';
import type { ResidentPage } from './vmObject.ts';

/**
 * A host's physical memory: `frames` page frames (memoryBytes / pageSize) and the clock ring of
 * resident pages that page replacement sweeps. Frames are accounted, not preallocated: each page
 * gets a fresh zeroed array (or bytes the kernel hands over whole, see `tryTake`), so an evicted
 * page's bytes can never alias a newer page's.
 *
 * Replacement is the clock (second-chance) algorithm: the hand skips and clears pages referenced
 * since it last passed, skips pinned ones, and picks the first other page. It depends only on the
 * order of events, so it is deterministic.
 */
export class PhysicalMemory {
  /** Frames in use (may exceed `frames` only when nothing could be evicted; see `overcommits`). */
  used = 0;
  overcommits = 0;
  private hand: ResidentPage | null = null;
  private count = 0;

  constructor(
    readonly frames: number,
    readonly pageSize: number,
  ) {
    if (!Number.isSafeInteger(frames) || frames < 2)
      throw new MachError(
        'KERN_INVALID_ARGUMENT',
        `a host needs at least 2 page frames, got ${frames}`,
      );
  }

  get free(): number {
    return Math.max(0, this.frames - this.used);
  }

  /** Resident pages in the ring. */
  get resident(): number {
    return this.count;
  }

  /**
   * Counts one frame in use if one is free, else false (the caller decides whether to evict).
   * The caller supplies the bytes: a fresh zeroed page, or a page of received out-of-line data
   * that nobody else holds (adopting it saves a copy, as Mach maps such data instead of copying).
   */
  tryTake(): boolean {
    if (this.used >= this.frames) return false;
    this.used++;
    return true;
  }

  /** Counts a frame even when none is free: for when every resident page is pinned. */
  forceTake(): void {
    this.used++;
    this.overcommits++;
  }

  /** Adds a page to the ring just behind the hand (it is the last the hand will reach). */
  insert(p: ResidentPage): void {
    if (p.inRing) return;
    p.inRing = true;
    p.referenced = true;
    this.count++;
    const h = this.hand;
    if (h === null) {
      p.prev = p.next = p;
      this.hand = p;
      return;
    }
    p.next = h;
    p.prev = h.prev;
    h.prev.next = p;
    h.prev = p;
  }

  /** Takes a page out of the ring and frees its frame. */
  release(p: ResidentPage): void {
    if (!p.inRing) return;
    p.inRing = false;
    this.count--;
    this.used--;
    if (p.next === p) this.hand = null;
    else {
      p.prev.next = p.next;
      p.next.prev = p.prev;
      if (this.hand === p) this.hand = p.next;
    }
    p.prev = p.next = p;
  }

  /** The page the clock hand picks for eviction, or null when every page is pinned. */
  victim(): ResidentPage | null {
    const start = this.hand;
    if (start === null) return null;
    let p: ResidentPage = start;
    // Two sweeps: the first may only clear reference bits.
    for (let i = 0; i < 2 * this.count + 1; i++) {
      const next: ResidentPage = p.next;
      if (p.pinned === 0) {
        if (!p.referenced) {
          this.hand = next;
          return p;
        }
        p.referenced = false;
      }
      p = next;
    }
    this.hand = p;
    return null;
  }

  /** Forgets every page (the host crashed). */
  clear(): void {
    this.hand = null;
    this.count = 0;
    this.used = 0;
  }
}
