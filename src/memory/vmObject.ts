import type { MachError } from '../protocol/errors.ts';
import type { Pmap } from './pmap.ts';
import type { Region } from './regions.ts';

/** Shared and never written (only addMapping adds, and it first gives the page its own). */
const NO_PMAPS: Pmap[] = [];
const NO_VPAGES: number[] = [];

/**
 * One resident page (Mach's vm_page): a physical frame holding page `offset` of `object`.
 * `dirty` means the frame differs from what the object's pager holds. The pmap entries that point
 * here are listed in `pmaps`/`vpages` so eviction can remove them (stale pairs are harmless:
 * removal checks that the entry still points at this page).
 */
export class ResidentPage {
  dirty = false;
  /** The manager keeps no copy (data_supply precious): return it even when clean. */
  precious = false;
  /** Clock bit: set on every translation hit, cleared by the page-replacement hand. */
  referenced = true;
  /** > 0 while the kernel copies from it: not evictable. */
  pinned = 0;
  /**
   * The frame is lent to an out-of-line message (a virtual copy): it must not be written in place,
   * so the next write gets the page a copy first (VmKernel.ownFrame).
   */
  loaned = false;
  /** Empty ones are shared until the first mapping: most pages of a big space are never mapped. */
  pmaps: Pmap[] = NO_PMAPS;
  vpages: number[] = NO_VPAGES;
  /** Links of the physical memory's clock ring. */
  prev: ResidentPage = this;
  next: ResidentPage = this;
  inRing = false;

  constructor(
    /** The frame; replaced only when a lent frame is written (VmKernel.ownFrame). */
    public data: Uint8Array,
    readonly object: VmObject,
    readonly offset: number,
  ) {}

  /** Records that `pmap` maps this page at `vpage` (once per pair). */
  addMapping(pmap: Pmap, vpage: number): void {
    if (this.pmaps === NO_PMAPS) {
      this.pmaps = [];
      this.vpages = [];
    }
    const ss = this.pmaps;
    for (let i = 0; i < ss.length; i++) if (ss[i] === pmap && this.vpages[i] === vpage) return;
    ss.push(pmap);
    this.vpages.push(vpage);
  }

  removeMapping(pmap: Pmap, vpage: number): void {
    const ss = this.pmaps;
    if (ss.length === 1) {
      // The usual case (one space maps the page): back to the shared empty lists.
      if (ss[0] === pmap && this.vpages[0] === vpage) {
        this.pmaps = NO_PMAPS;
        this.vpages = NO_VPAGES;
      }
      return;
    }
    for (let i = 0; i < ss.length; i++) {
      if (ss[i] === pmap && this.vpages[i] === vpage) {
        ss.splice(i, 1);
        this.vpages.splice(i, 1);
        return;
      }
    }
  }
}

/** Who waits for a page of an object to arrive from its pager. */
export type PageWaiter = (error?: MachError) => void;

/**
 * A memory object as the kernel caches it (Mach's vm_object): resident pages by page offset, an
 * optional shadow (the object it copies-on-write from, mach3-kernel-interfaces.txt
 * memory_object_change_attributes, MEMORY_OBJECT_COPY_DELAY), and its link to a pager.
 */
export class VmObject {
  readonly pages = new Map<number, ResidentPage>();
  /** Regions that map this object directly. */
  readonly regions = new Set<Region>();
  /** How many objects shadow this one. */
  shadowedBy = 0;
  /** Page offsets whose data the pager holds (Mach's existence map): returned pages. */
  readonly existence = new Set<number>();
  /** Outstanding memory_object_data_request calls, by page offset. */
  readonly pending = new Map<number, PageWaiter[]>();
  /** The pager's port (a send right in the VM kernel's space); 0 until the object gets a pager. */
  pagerPort = 0;
  /** The object's number at its pager. */
  pagerKey: number;
  /** The memory control port (receive right in the VM kernel's space) once initialised. */
  control = 0;
  terminated = false;

  constructor(
    readonly id: number,
    /** Size in pages. */
    readonly size: number,
    /** The object this one copies-on-write from, at `shadowOffset` pages. */
    public shadow: VmObject | null = null,
    readonly shadowOffset = 0,
    /** Temporary objects die with their last mapping (MEMORY_OBJECT_COPY_TEMPORARY). */
    readonly temporary = true,
  ) {
    this.pagerKey = id;
  }

  /** Whether a fault on `offset` must ask this object's pager rather than its shadow. */
  asksPager(offset: number): boolean {
    return this.shadow === null || this.existence.has(offset);
  }
}
