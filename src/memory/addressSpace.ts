import type { Memory, MemoryAccessFault, PageFaultKind } from '../cpu/memory.ts';
import { MachError } from '../protocol/errors.ts';
import { MemoryObjectReturn } from '../protocol/memoryObject.ts';
import { PortType } from '../protocol/rights.ts';
import { faultIn, lookup, translate } from './fault.ts';
import { type LockResult, lockObject } from './flush.ts';
import { inheritInto } from './fork.ts';
import { installPages, readBytes, vmRead, vmWrite, writeBytes } from './kernelAccess.ts';
import { clip, coalesce, removeRegion } from './mapEdit.ts';
import { Pmap } from './pmap.ts';
import { Region, RegionList } from './regions.ts';
import type { VmKernel } from './vmKernel.ts';
import type { VmObject } from './vmObject.ts';
import {
  ADDRESS_SPACE_BYTES,
  checkInherit,
  type ProtectionLike,
  protBits,
  protName,
  VM_INHERIT_COPY,
  VM_PROT_ALL,
  type VmInherit,
} from './vmTypes.ts';

/** What vm_region reports about one region (mach3-kernel-interfaces.txt, vm_region). */
export interface RegionInfo {
  readonly address: number;
  readonly size: number;
  readonly protection: number;
  readonly maxProtection: number;
  readonly inheritance: VmInherit;
  /** Another address space maps the same object. */
  readonly shared: boolean;
  /** The memory object's number (in place of Mach's memory object name port). */
  readonly object: number;
  /** Byte offset of the region in the object. */
  readonly offset: number;
}

export interface AllocateOptions {
  readonly maxProtection?: ProtectionLike;
  readonly inheritance?: VmInherit;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * A task's address space (Mach's vm_map) and the interpreter's `Memory`: regions of memory
 * objects with protection and inheritance, over a pmap (pmap.ts) that `page()` reads first and
 * that doubles as dirty tracking between runs.
 */
export class AddressSpace implements Memory {
  readonly pageSize: number;
  /** Pages in the 32-bit address space. */
  readonly pageCount: number;
  readonly regions = new RegionList();
  readonly pmap = new Pmap();
  // The pmap's maps, held directly for the hot path.
  private readonly rmap = this.pmap.read;
  private readonly wmap = this.pmap.write;
  destroyed = false;
  /** Lowest page vm_allocate(anywhere) hands out: page 0 stays unmapped to catch null pointers. */
  minAnywherePage = 1;
  private forks = 0;

  constructor(
    readonly vm: VmKernel,
    readonly label: string,
  ) {
    this.pageSize = vm.pageSize;
    this.pageCount = ADDRESS_SPACE_BYTES / vm.pageSize;
    vm.spaces.add(this);
  }

  /** The hot path: one map look-up when the page is already translated. */
  page(pageIndex: number, write: boolean): Uint8Array | PageFaultKind {
    const p = write ? this.wmap.get(pageIndex) : this.rmap.get(pageIndex);
    if (p !== undefined) {
      p.referenced = true;
      return p.data;
    }
    return translate(this, pageIndex, write);
  }

  /** See Memory.shootdowns: the host's VM counts them for every space. */
  get shootdowns(): number {
    return this.vm.shootdowns;
  }

  /** Resolves a `notResident` page through the pager; see fault.ts. */
  faultIn(pageIndex: number, write: boolean, done: (error?: MachError) => void): void {
    faultIn(this, pageIndex, write, done);
  }

  // ---- vm_allocate, vm_deallocate, vm_protect, vm_inherit, vm_region -----------------------------

  /**
   * vm_allocate: zero-filled memory, at `address` (rounded out to whole pages, as Mach rounds) or
   * wherever it fits. New memory has no access restrictions by default and is inherited as a copy.
   * Returns the start address. Throws, changing nothing, on a bad range (KERN_INVALID_ADDRESS), an
   * overlap or no room (KERN_NO_SPACE), or a protection above the maximum.
   */
  allocate(
    address: number | 'anywhere',
    size: number,
    protection: ProtectionLike = VM_PROT_ALL,
    options: AllocateOptions = {},
  ): number {
    this.checkLive('vm_allocate');
    const prot = protBits(protection);
    const max = protBits(options.maxProtection ?? VM_PROT_ALL, 'maximum protection');
    const inh = checkInherit(options.inheritance ?? VM_INHERIT_COPY);
    if (prot & ~max)
      throw new MachError(
        'KERN_PROTECTION_FAILURE',
        `vm_allocate: protection ${protName(prot)} exceeds the maximum ${protName(max)}`,
      );
    let start: number;
    let end: number;
    if (address === 'anywhere') {
      if (!Number.isSafeInteger(size) || size <= 0)
        throw new MachError(
          'KERN_INVALID_ARGUMENT',
          `vm_allocate: size ${String(size)} is not a positive byte count`,
        );
      const pages = Math.ceil(size / this.pageSize);
      start = this.regions.findSpace(pages, this.minAnywherePage, this.pageCount);
      if (start < 0)
        throw new MachError(
          'KERN_NO_SPACE',
          `vm_allocate: no room for ${pages} pages in ${this.label}`,
        );
      end = start + pages;
    } else {
      [start, end] = this.pageRange(address, size, 'vm_allocate');
      const clash = this.regions.overlapping(start, end)[0];
      if (clash !== undefined)
        throw new MachError(
          'KERN_NO_SPACE',
          `vm_allocate: [${hex(start * this.pageSize)}, ${hex(end * this.pageSize)}) overlaps the region at ${hex(clash.start * this.pageSize)}`,
        );
    }
    this.adopt(start, end, this.vm.createObject(end - start), 0, prot, max, inh);
    return start * this.pageSize;
  }

  /**
   * vm_map of a memory object served by another pager: `pager` is a send right in the VM kernel's
   * space (`vm.space`), `object` the pager's number for the object, `offset` a page-aligned byte
   * offset in it. Every page not in memory is asked of that pager (memory_object_init on first
   * use). Mappings of the same (pager, object) share pages. Returns the start address.
   */
  map(
    address: number | 'anywhere',
    size: number,
    pager: number,
    object: number,
    offset = 0,
    protection: ProtectionLike = VM_PROT_ALL,
    options: AllocateOptions = {},
  ): number {
    this.checkLive('vm_map');
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % this.pageSize !== 0)
      throw new MachError(
        'KERN_INVALID_ARGUMENT',
        `vm_map: offset ${String(offset)} is not a page-aligned byte offset`,
      );
    if (!Number.isSafeInteger(object) || object < 0)
      throw new MachError(
        'KERN_INVALID_ARGUMENT',
        `vm_map: object ${String(object)} is not an object number`,
      );
    const e = this.vm.space.lookup(pager);
    if (e === undefined || !(e.bits & PortType.SEND))
      throw new MachError(
        'KERN_INVALID_ARGUMENT',
        `vm_map: ${String(pager)} is not a send right in ${this.vm.space.label}`,
      );
    const start = this.allocate(address, size, protection, options);
    const r = this.regions.find(start / this.pageSize)!;
    this.vm.detach(r);
    r.object = this.vm.externalObject(pager, object, this.pageCount + offset / this.pageSize);
    r.offset = offset / this.pageSize;
    this.vm.attach(r);
    return start;
  }

  /** vm_allocate with anywhere = true. */
  allocateAnywhere(size: number, protection: ProtectionLike = VM_PROT_ALL): number {
    return this.allocate('anywhere', size, protection);
  }

  /** Maps [start, end) pages to `object` from page `offset` (fork and vm_allocate use it). */
  adopt(
    start: number,
    end: number,
    object: VmObject,
    offset: number,
    protection: number,
    maxProtection: number,
    inheritance: VmInherit,
  ): Region {
    const r = new Region(this, start, end, object, offset, protection, maxProtection, inheritance);
    this.regions.insert(r);
    this.vm.attach(r);
    return r;
  }

  /**
   * vm_deallocate: the range (rounded out to pages) must be allocated throughout, else
   * KERN_INVALID_ADDRESS and nothing changes. Other tasks sharing the memory keep it.
   */
  deallocate(address: number, size: number): void {
    this.checkLive('vm_deallocate');
    const [start, end] = this.allocatedRange(address, size, 'vm_deallocate');
    for (const r of clip(this, start, end)) removeRegion(this, r);
  }

  /**
   * vm_protect: sets the current protection, or with `setMaximum` the maximum (lowering the
   * current one with it). Raising either above the maximum is KERN_PROTECTION_FAILURE.
   */
  protect(address: number, size: number, protection: ProtectionLike, setMaximum = false): void {
    this.checkLive('vm_protect');
    const prot = protBits(protection);
    const [start, end] = this.allocatedRange(address, size, 'vm_protect');
    for (const r of this.regions.overlapping(start, end)) {
      if (prot & ~r.maxProtection)
        throw new MachError(
          'KERN_PROTECTION_FAILURE',
          `vm_protect: ${protName(prot)} exceeds the maximum ${protName(r.maxProtection)} of the region at ${hex(r.start * this.pageSize)}`,
        );
    }
    for (const r of clip(this, start, end)) {
      if (setMaximum) {
        r.maxProtection = prot;
        r.protection &= prot;
      } else r.protection = prot;
    }
    this.pmap.dropRange(start, end, false);
    coalesce(this, start, end);
  }

  /** vm_inherit: what a child created by `fork()` gets of the range. */
  inherit(address: number, size: number, inheritance: VmInherit): void {
    this.checkLive('vm_inherit');
    const inh = checkInherit(inheritance);
    const [start, end] = this.allocatedRange(address, size, 'vm_inherit');
    for (const r of clip(this, start, end)) r.inheritance = inh;
    coalesce(this, start, end);
  }

  /** vm_region: the first region at or above `address`; KERN_NO_SPACE if there is none. */
  region(address: number): RegionInfo {
    if (!Number.isSafeInteger(address) || address < 0 || address >= ADDRESS_SPACE_BYTES)
      throw new MachError(
        'KERN_INVALID_ADDRESS',
        `vm_region: ${String(address)} is not an address`,
      );
    const vp = Math.floor(address / this.pageSize);
    const list = this.regions.list;
    const i = this.regions.indexAfter(vp) - 1;
    const r = list[i] !== undefined && list[i]!.end > vp ? list[i] : list[i + 1];
    if (r === undefined)
      throw new MachError('KERN_NO_SPACE', `vm_region: no region at or above ${hex(address)}`);
    return this.info(r);
  }

  /** Every region, in address order. */
  regionList(): RegionInfo[] {
    return this.regions.list.map((r) => this.info(r));
  }

  private info(r: Region): RegionInfo {
    let shared = false;
    for (const other of r.object.regions) if (other.space !== this) shared = true;
    return {
      address: r.start * this.pageSize,
      size: (r.end - r.start) * this.pageSize,
      protection: r.protection,
      maxProtection: r.maxProtection,
      inheritance: r.inheritance,
      shared,
      object: r.object.id,
      offset: r.offset * this.pageSize,
    };
  }

  // ---- kernel access (see kernelAccess.ts) ------------------------------------------------------

  /** copyin: bytes at `address`, or the first page that is not resident / not allowed. */
  read(address: number, length: number, privileged = false): Uint8Array | MemoryAccessFault {
    return readBytes(this, address, length, privileged);
  }

  /** copyout, all or nothing; `privileged` writes read-only pages too (program loading). */
  write(address: number, bytes: Uint8Array, privileged = false): MemoryAccessFault | undefined {
    return writeBytes(this, address, bytes, privileged);
  }

  vmRead(address: number, size: number): Uint8Array | MemoryAccessFault {
    return vmRead(this, address, size);
  }

  vmWrite(address: number, data: Uint8Array): void {
    vmWrite(this, address, data);
  }

  /** Out-of-line data received in a message: new memory holding `data`; returns its address. */
  allocateOol(data: Uint8Array): number {
    const ps = this.pageSize;
    const size = Math.max(ps, Math.ceil(data.length / ps) * ps);
    const address = this.allocate('anywhere', size);
    const pages = new Uint8Array(size);
    pages.set(data);
    installPages(this, address, pages);
    return address;
  }

  // ---- task_create, task_terminate ---------------------------------------------------------------

  /** task_create with an inherited address space: see fork.ts. */
  fork(label = `${this.label}.child${++this.forks}`): AddressSpace {
    this.checkLive('task_create');
    const child = new AddressSpace(this.vm, label);
    inheritInto(this, child);
    return child;
  }

  /** Task termination: every mapping goes; objects nobody else maps are terminated. */
  destroy(): void {
    if (this.destroyed) return;
    this.pmap.clear();
    for (const r of [...this.regions.list]) removeRegion(this, r);
    this.destroyed = true;
    this.vm.spaces.delete(this);
  }

  // ---- paging state for migration ---------------------------------------------------------------

  /** Virtual pages written since the last `takeDirtyPages()`, ascending. */
  dirtyPages(): number[] {
    return this.pmap.dirtyPages();
  }

  /** Returns and clears the dirty set; each page's next write is noticed again. */
  takeDirtyPages(): number[] {
    return this.pmap.takeDirty();
  }

  /** Virtual pages whose data is in memory now (through copy-on-write sharing too), ascending. */
  residentPages(): number[] {
    const out: number[] = [];
    for (const r of this.regions.list) {
      let o: VmObject | null = r.object;
      let delta = 0;
      while (o !== null) {
        for (const [x, p] of o.pages) {
          const vp = r.start + (x - delta - r.offset);
          if (vp >= r.start && vp < r.end && lookup(r.object, r.objectPage(vp)) === p) out.push(vp);
        }
        delta += o.shadowOffset;
        o = o.shadow;
      }
    }
    return out.sort((a, b) => a - b);
  }

  residentPageCount(): number {
    return this.residentPages().length;
  }

  /**
   * Cleans or flushes the range (rounded out to pages) through every object that backs it, as a
   * memory_object_lock_request on each would: dirty pages go to their pagers with data_return;
   * with `discard` (the default) the pages also leave memory, so the next access pages them back in.
   */
  flush(address: number, size: number, options: { discard?: boolean } = {}): LockResult {
    this.checkLive('flush');
    const [start, end] = this.allocatedRange(address, size, 'flush');
    const total: LockResult = { returned: 0, flushed: 0 };
    for (const r of this.regions.overlapping(start, end)) {
      const s = Math.max(start, r.start);
      const n = Math.min(end, r.end) - s;
      let o: VmObject | null = r.object;
      let off = r.objectPage(s);
      while (o !== null) {
        const done = lockObject(
          this.vm,
          o,
          off,
          n,
          MemoryObjectReturn.DIRTY,
          options.discard ?? true,
        );
        total.returned += done.returned;
        total.flushed += done.flushed;
        off += o.shadowOffset;
        o = o.shadow;
      }
    }
    return total;
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private checkLive(call: string): void {
    if (this.destroyed)
      throw new MachError(
        'KERN_INVALID_TASK',
        `${call}: address space ${this.label} was destroyed`,
      );
  }

  /** [first page, end page) of a byte range, rounded out as vm_allocate rounds. */
  private pageRange(address: number, size: number, call: string): [number, number] {
    if (!Number.isSafeInteger(address) || address < 0 || address >= ADDRESS_SPACE_BYTES)
      throw new MachError(
        'KERN_INVALID_ADDRESS',
        `${call}: address ${String(address)} is outside the 32-bit address space`,
      );
    if (!Number.isSafeInteger(size) || size <= 0)
      throw new MachError(
        'KERN_INVALID_ARGUMENT',
        `${call}: size ${String(size)} is not a positive byte count`,
      );
    if (address + size > ADDRESS_SPACE_BYTES)
      throw new MachError(
        'KERN_INVALID_ADDRESS',
        `${call}: ${hex(address)} + ${size} runs past the end of the address space`,
      );
    return [Math.floor(address / this.pageSize), Math.ceil((address + size) / this.pageSize)];
  }

  /** A page range that must be allocated throughout (the calls' KERN_INVALID_ADDRESS case). */
  private allocatedRange(address: number, size: number, call: string): [number, number] {
    const [start, end] = this.pageRange(address, size, call);
    if (!this.regions.covers(start, end))
      throw new MachError(
        'KERN_INVALID_ADDRESS',
        `${call}: [${hex(start * this.pageSize)}, ${hex(end * this.pageSize)}) is not allocated throughout`,
      );
    return [start, end];
  }
}
