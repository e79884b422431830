import type { IpcKernel } from '../actors/ipcKernel.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import { MachError } from '../protocol/errors.ts';
import type { MachMessage } from '../protocol/message.ts';
import { PortRight } from '../protocol/rights.ts';
import type { World } from '../world/world.ts';
import type { AddressSpace } from './addressSpace.ts';
import { sendReturn, sendTerminate } from './pagerLink.ts';
import { PhysicalMemory } from './physicalMemory.ts';
import type { Region } from './regions.ts';
import { ResidentPage, VmObject } from './vmObject.ts';
import './traceEvents.ts';

/** Counters of one host's virtual memory system. */
export interface VmStats {
  /** faultIn calls. */
  faults: number;
  /** Pages that came back from a pager with data_supply. */
  pageIns: number;
  /** Pages zero-filled after data_unavailable. */
  zeroFills: number;
  /** Pages evicted (clean or dirty) to reuse their frames. */
  evictions: number;
  /** Dirty or precious pages written to a pager with data_return (eviction, flush or clean). */
  pageOuts: number;
  cowCopies: number;
  /** Lent frames copied because their page was written while a message held them. */
  loanCopies: number;
  dataRequests: number;
  inits: number;
  terminates: number;
  lockRequests: number;
  /** Malformed pager messages refused by the kernel. */
  rejected: number;
  /** data_supply for a page already resident (Mach keeps the live page). */
  suppliesIgnored: number;
  /** Dirty pages dropped because their pager could not be reached. */
  pagesLost: number;
}

/**
 * The machine-independent VM layer of one host's kernel: the context address spaces, memory
 * objects, physical memory and the pager link share (as IpcKernel is for IPC). It owns a port
 * space of its own holding each object's memory control port (receive right) and the send right
 * to the default pager.
 */
export class VmKernel {
  readonly world: World;
  readonly host: string;
  readonly shift: number;
  readonly physical: PhysicalMemory;
  readonly space: PortSpace;
  /** Send right (in `space`) to the default pager; 0 until one runs. */
  defaultPager = 0;
  /** Objects by the name of their control port. */
  readonly byControl = new Map<number, VmObject>();
  readonly spaces = new Set<AddressSpace>();
  /** Set when the host crashed: nothing is sent any more. */
  dead = false;
  /** Delivers a control port's messages to the kernel (set by hostMemory). */
  bindControl: (name: number) => () => void = () => () => {};
  /**
   * Where dead-name notifications for the rights of pagers other than the default pager arrive
   * (a receive right in `space`, made on first need; 0 before): a pager that dies (its host
   * crashed, netmsg gave up on it) fails the page faults waiting on it instead of leaving them
   * waiting for ever.
   */
  deathPort = 0;
  /** Pager rights (names in `space`) with a dead-name request on them. */
  readonly watchedPagers = new Set<number>();
  private readonly unbinders = new Map<number, () => void>();
  readonly stats: VmStats = {
    faults: 0,
    pageIns: 0,
    zeroFills: 0,
    evictions: 0,
    pageOuts: 0,
    cowCopies: 0,
    loanCopies: 0,
    dataRequests: 0,
    inits: 0,
    terminates: 0,
    lockRequests: 0,
    rejected: 0,
    suppliesIgnored: 0,
    pagesLost: 0,
  };
  private nextObjectId = 1;
  objects = 0;

  constructor(
    readonly ipc: IpcKernel,
    readonly pageSize: number,
    frames: number,
  ) {
    if (!(pageSize >= 8 && (pageSize & (pageSize - 1)) === 0))
      throw new RangeError(`page size must be a power of two >= 8, got ${pageSize}`);
    this.world = ipc.world;
    this.host = ipc.host;
    this.shift = 31 - Math.clz32(pageSize);
    this.physical = new PhysicalMemory(frames, pageSize);
    this.space = ipc.createSpace(`${ipc.host}:vm`);
  }

  /** No pager is watched any more: the port goes (it is made again on the next need). */
  dropPagerDeathPort(): void {
    const name = this.deathPort;
    if (name === 0) return;
    this.deathPort = 0;
    this.unbindControl(name);
    if (!this.dead && this.space.active && this.space.lookup(name) !== undefined)
      this.ipc.destroy(this.space, name);
  }

  /** The port pager deaths are reported on (see `deathPort`). */
  pagerDeathPort(): number {
    if (this.deathPort === 0) {
      this.deathPort = this.ipc.allocate(this.space, PortRight.RECEIVE, `${this.host}:pager-death`);
      this.listenOnControl(this.deathPort);
    }
    return this.deathPort;
  }

  /** A new memory object of `size` pages (anonymous unless it shadows another). */
  createObject(size: number, shadow: VmObject | null = null, shadowOffset = 0): VmObject {
    const o = new VmObject(this.nextObjectId++, size, shadow, shadowOffset);
    if (shadow !== null) shadow.shadowedBy++;
    this.objects++;
    return o;
  }

  /**
   * The object a pager serves as `key` at `port` (a send right in `space`): one per pair while it
   * is mapped, so every mapping shares its pages (vm_map). It is not temporary: its data belongs
   * to the pager, which is asked for every page not in memory.
   */
  externalObject(port: number, key: number, size: number): VmObject {
    const id = `${port}:${key}`;
    let o = this.external.get(id);
    if (o === undefined || o.terminated) {
      o = new VmObject(this.nextObjectId++, size, null, 0, false);
      o.pagerPort = port;
      o.pagerKey = key;
      this.objects++;
      this.external.set(id, o);
    }
    return o;
  }

  private readonly external = new Map<string, VmObject>();

  // ---- mappings and object lifetime ------------------------------------------------------------

  attach(r: Region): void {
    r.object.regions.add(r);
  }

  /** The region no longer maps its object; an object nobody references any more terminates. */
  detach(r: Region): void {
    const o = r.object;
    o.regions.delete(r);
    this.releaseIfUnused(o);
  }

  releaseIfUnused(o: VmObject): void {
    if (o.regions.size === 0 && o.shadowedBy === 0 && !o.terminated) this.terminate(o);
  }

  /**
   * The last reference went: resident pages are freed without write-back (a temporary object's
   * data dies with it) and the pager is told with memory_object_terminate, so it frees its
   * storage (mach3-kernel-interfaces.txt, memory_object_terminate).
   */
  terminate(o: VmObject): void {
    o.terminated = true;
    this.objects--;
    if (!o.temporary) this.external.delete(`${o.pagerPort}:${o.pagerKey}`);
    for (const p of [...o.pages.values()]) this.freePage(p);
    sendTerminate(this, o);
    // Waiters retry (later, not inside this call) and find their region or space gone.
    for (const [off, ws] of [...o.pending]) {
      o.pending.delete(off);
      for (const w of ws) this.world.schedule(0, () => w(), 'vm.fault-retry');
    }
    const s = o.shadow;
    o.shadow = null;
    if (s !== null) {
      s.shadowedBy--;
      this.releaseIfUnused(s);
    }
  }

  // ---- frames ----------------------------------------------------------------------------------

  /**
   * A free frame, evicting pages if `mayEvict`. Never evict from inside `page()`: the interpreter
   * may hold any page it translated earlier in the same run.
   */
  allocateFrame(mayEvict: boolean): Uint8Array | null {
    return this.takeFrame(mayEvict) ? new Uint8Array(this.physical.pageSize) : null;
  }

  /**
   * `bytes` (one page the caller owns outright, such as received out-of-line data) becomes a frame
   * without a copy; it may evict, like `allocateFrame(true)`.
   */
  adoptFrame(bytes: Uint8Array): Uint8Array {
    if (bytes.length !== this.physical.pageSize)
      throw new MachError(
        'KERN_INVALID_ARGUMENT',
        `a frame is ${this.physical.pageSize} bytes, not ${bytes.length}`,
      );
    this.takeFrame(true);
    // The interpreter reads a frame as 32-bit words: a misaligned view gets copied instead.
    return (bytes.byteOffset & 7) === 0 ? bytes : bytes.slice();
  }

  /** Accounts a frame, evicting first if none is free and `mayEvict`; false if none was taken. */
  private takeFrame(mayEvict: boolean): boolean {
    const pm = this.physical;
    if (pm.tryTake()) return true;
    if (!mayEvict) return false;
    for (;;) {
      const v = pm.victim();
      if (v === null) {
        pm.forceTake();
        return true;
      }
      this.evict(v, 'evict');
      if (pm.tryTake()) return true;
    }
  }

  /**
   * Lends `p`'s frame to an out-of-line message without copying it: Mach's virtual copy. Write
   * translations to the page go, so the next write comes through a fault and `ownFrame`; the
   * message keeps the bytes as they were when lent.
   */
  lendFrame(p: ResidentPage): Uint8Array {
    if (!p.loaned) {
      p.loaned = true;
      this.writeProtect(p);
    }
    return p.data;
  }

  /**
   * Called before anything writes `p`'s frame in place: a lent frame is left to the message and
   * the page gets a copy; every translation to the old frame goes. Frame accounting is unchanged
   * (the page still holds one frame).
   */
  ownFrame(p: ResidentPage): void {
    if (!p.loaned) return;
    p.loaned = false;
    p.data = p.data.slice();
    this.unmap(p);
    this.stats.loanCopies++;
  }

  /** Makes `frame` page `offset` of `o`. */
  install(o: VmObject, offset: number, frame: Uint8Array, dirty: boolean): ResidentPage {
    const p = new ResidentPage(frame, o, offset);
    p.dirty = dirty;
    o.pages.set(offset, p);
    this.physical.insert(p);
    return p;
  }

  /** Takes a page out of memory with no write-back. */
  freePage(p: ResidentPage): void {
    this.unmap(p);
    if (p.object.pages.get(p.offset) === p) p.object.pages.delete(p.offset);
    this.physical.release(p);
  }

  /** Page replacement: a dirty (or precious) page goes back to its pager first. */
  evict(p: ResidentPage, reason: 'evict' | 'flush'): void {
    const writeBack = p.dirty || p.precious;
    this.unmap(p);
    if (writeBack) sendReturn(this, p, false);
    if (reason === 'evict') this.stats.evictions++;
    if (this.world.trace.enabled)
      this.world.trace.emit('vm.pageout', {
        host: this.host,
        object: p.object.id,
        page: p.offset,
        dirty: writeBack,
        reason,
      });
    if (p.object.pages.get(p.offset) === p) p.object.pages.delete(p.offset);
    this.physical.release(p);
  }

  // ---- pmap maintenance ------------------------------------------------------------------------

  /** Bumped whenever translations to a page are taken away: a running CPU flushes its TLB. */
  shootdowns = 0;

  /** Removes every translation to `p` (pmap_page_protect to none). */
  unmap(p: ResidentPage): void {
    const ss = p.pmaps;
    if (ss.length > 0) this.shootdowns++;
    for (let i = 0; i < ss.length; i++) ss[i]!.drop(p.vpages[i]!, p);
    ss.length = 0;
    p.vpages.length = 0;
  }

  /** Removes write translations to `p`, so the next write is seen (it is clean again). */
  writeProtect(p: ResidentPage): void {
    const ss = p.pmaps;
    if (ss.length > 0) this.shootdowns++;
    for (let i = 0; i < ss.length; i++) ss[i]!.dropWrite(p.vpages[i]!, p);
  }

  listenOnControl(name: number): void {
    this.unbinders.set(name, this.bindControl(name));
  }

  unbindControl(name: number): void {
    this.unbinders.get(name)?.();
    this.unbinders.delete(name);
  }

  // ---- messages --------------------------------------------------------------------------------

  /** Sends from the VM space; a queue that is full makes the send wait, in order. */
  send(m: MachMessage): boolean {
    if (this.dead || !this.space.active) return false;
    try {
      this.ipc.send(this.space, m, {}, () => {});
      return true;
    } catch {
      return false;
    }
  }
}
