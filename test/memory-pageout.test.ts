/**
 * Finite physical memory: when frames run out the clock hand evicts a page; a dirty page goes to
 * its pager with memory_object_data_return first, and a later access pages it back in with
 * data_supply, same bytes. Clean pages are dropped without write-back. Also the dirty tracking that
 * pre-copy migration reads, and memory_object_lock_request (clean / flush) for the flush strategy.
 */
import { describe, expect, it } from 'vitest';
import { checkIpcInvariants } from '../src/actors/invariants.ts';
import { IpcKernel } from '../src/actors/ipcKernel.ts';
import { assemble, run } from '../src/cpu/index.ts';
import { createThreadState } from '../src/cpu/thread.ts';
import {
  type AddressSpace,
  createHostMemory,
  VM_PROT_EXECUTE,
  VM_PROT_READ,
} from '../src/memory/index.ts';
import { MemoryObjectId } from '../src/protocol/memoryObject.ts';
import { HOST_PROFILES } from '../src/world/profiles.ts';
import { type TraceEvent, traceDigest } from '../src/world/trace.ts';
import { World } from '../src/world/world.ts';

const PAGE = 4096;
const BASE = 0x10000;

function makeHost(frames: number) {
  const world = new World(1);
  const ipc = new IpcKernel(world, 'i486');
  ipc.deliveryLatencyMs = 0.07;
  const memory = createHostMemory(
    { world, name: 'i486', profile: HOST_PROFILES.i486dx33, ipc },
    { frames },
  );
  return { world, ipc, memory };
}

type Host = ReturnType<typeof makeHost>;

function faultOrThrow(h: Host, space: AddressSpace, address: number, write: boolean): void {
  let done = false;
  space.faultIn(Math.floor(address / PAGE), write, (e) => {
    if (e) throw e;
    done = true;
  });
  h.world.runUntil(() => done);
}

function put(h: Host, space: AddressSpace, address: number, bytes: Uint8Array): void {
  for (let f = space.write(address, bytes); f !== undefined; f = space.write(address, bytes)) {
    if (f.kind !== 'notResident') throw new Error(`${f.kind} at ${f.address}`);
    faultOrThrow(h, space, f.address, true);
  }
}

function get(h: Host, space: AddressSpace, address: number, length: number): Uint8Array {
  for (;;) {
    const r = space.read(address, length);
    if (r instanceof Uint8Array) return r;
    if (r.kind !== 'notResident') throw new Error(`${r.kind} at ${r.address}`);
    faultOrThrow(h, space, r.address, false);
  }
}

/** 64 bytes that differ for every page. */
const pattern = (page: number) => new Uint8Array(64).map((_, i) => (page * 37 + i * 11) & 0xff);

const sentIds = (events: TraceEvent[]) =>
  events.flatMap((e) => (e.kind === 'ipc.send' ? [e.id] : []));

describe('a host with fewer frames than pages in use', () => {
  it('pages dirty pages out with data_return and back in with the same bytes', () => {
    const h = makeHost(4);
    const space = h.memory.createAddressSpace('writer');
    space.allocate(BASE, 12 * PAGE);
    const trace = h.world.trace.record();
    for (let i = 0; i < 12; i++) put(h, space, BASE + i * PAGE + 8, pattern(i));
    h.world.runUntilIdle();
    // Every page was written, only four fit: the other eight went back to the pager.
    expect(sentIds(trace.events).filter((id) => id === MemoryObjectId.DATA_RETURN)).toHaveLength(8);
    expect(h.memory.defaultPager.store.pageCount()).toBe(8);
    expect(space.residentPageCount()).toBe(4);
    expect(h.memory.physical.used).toBe(4);

    for (let i = 0; i < 12; i++) expect(get(h, space, BASE + i * PAGE + 8, 64)).toEqual(pattern(i));
    // Reading pages 0-7 back evicts 8-11 (written back in turn), so all twelve come from the pager.
    expect(trace.events.filter((e) => e.kind === 'vm.pagein' && e.source === 'pager').length).toBe(
      12,
    );
    expect(h.memory.stats).toMatchObject({ overcommits: 0, pagesLost: 0 });
    expect(h.memory.physical.used).toBeLessThanOrEqual(4);
  });

  it('drops clean pages without writing them back', () => {
    const h = makeHost(4);
    const space = h.memory.createAddressSpace('reader');
    space.allocate(BASE, 12 * PAGE);
    const trace = h.world.trace.record();
    // Zero-filled pages that are only read are clean: evicting them costs no message.
    for (let i = 0; i < 12; i++)
      expect(get(h, space, BASE + i * PAGE, 4)).toEqual(new Uint8Array(4));
    for (let i = 0; i < 12; i++) get(h, space, BASE + i * PAGE, 4);
    h.world.runUntilIdle();
    const ids = sentIds(trace.events);
    expect(ids).not.toContain(MemoryObjectId.DATA_RETURN);
    expect(h.memory.stats.evictions).toBe(20);
    // Each re-read asked again and was zero-filled again.
    expect(ids.filter((id) => id === MemoryObjectId.DATA_UNAVAILABLE)).toHaveLength(24);
  });

  it('does not write back a page paged in from the pager and only read since', () => {
    const h = makeHost(4);
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, 8 * PAGE);
    for (let i = 0; i < 8; i++) put(h, space, BASE + i * PAGE, pattern(i));
    space.flush(BASE, 8 * PAGE);
    h.world.runUntilIdle();
    const trace = h.world.trace.record();
    for (let round = 0; round < 2; round++)
      for (let i = 0; i < 8; i++) expect(get(h, space, BASE + i * PAGE, 64)).toEqual(pattern(i));
    h.world.runUntilIdle();
    const ids = sentIds(trace.events);
    expect(ids).not.toContain(MemoryObjectId.DATA_RETURN);
    expect(ids.filter((id) => id === MemoryObjectId.DATA_SUPPLY)).toHaveLength(16);
  });

  it('replaces pages deterministically: the same run gives the same trace', () => {
    const digest = () => {
      const h = makeHost(3);
      const space = h.memory.createAddressSpace('task');
      space.allocate(BASE, 10 * PAGE);
      const trace = h.world.trace.record();
      for (const i of [0, 1, 2, 0, 3, 4, 0, 5, 9, 1, 2, 8])
        put(h, space, BASE + i * PAGE, pattern(i));
      h.world.runUntilIdle();
      return traceDigest(trace.events);
    };
    expect(digest()).toBe(digest());
  });

  it('runs a program that writes more pages than there are frames', () => {
    const h = makeHost(4);
    const image = assemble(`
        .equ PAGES, 12
        .text
_start: la    r1, buf
        li    r2, 0
        li    r3, PAGES
fill:   mul   r4, r2, 4096
        add   r4, r4, r1
        add   r5, r2, 100
        stw   r5, [r4 + 8]
        add   r2, r2, 1
        blt   r2, r3, fill
        li    r2, 0
        li    r6, 0
sum:    mul   r4, r2, 4096
        add   r4, r4, r1
        ldw   r5, [r4 + 8]
        add   r6, r6, r5
        add   r2, r2, 1
        blt   r2, r3, sum
        halt
        .bss
buf:    .space 12 * 4096
`);
    const space = h.memory.createAddressSpace('program');
    for (const seg of image.segments) {
      const size = Math.ceil(seg.size / PAGE) * PAGE;
      space.allocate(seg.address, size);
      if (seg.bytes.length > 0) {
        const pages = new Uint8Array(size);
        pages.set(seg.bytes);
        space.vmWrite(seg.address, pages);
      }
      if (!seg.writable) space.protect(seg.address, size, VM_PROT_READ | VM_PROT_EXECUTE);
    }
    const thread = createThreadState(image.entry, 0);
    let faults = 0;
    for (;;) {
      const stop = run(thread, space, 10_000);
      if (stop.reason === 'budget') continue;
      if (stop.reason !== 'pagefault') {
        expect(stop.reason).toBe('halt');
        break;
      }
      faults++;
      faultOrThrow(h, space, stop.address, stop.write);
    }
    expect(thread.regs[6]).toBe(12 * 100 + 66);
    expect(faults).toBeGreaterThan(12);
    expect(h.memory.stats.pageOuts).toBeGreaterThan(0);
    expect(h.memory.physical.used).toBeLessThanOrEqual(4);
  });
});

describe('dirty tracking between runs', () => {
  it('records written pages until they are taken, then notices the next write again', () => {
    const h = makeHost(16);
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, 4 * PAGE);
    const vp = BASE / PAGE;
    put(h, space, BASE, Uint8Array.of(1));
    put(h, space, BASE + 2 * PAGE, Uint8Array.of(1));
    get(h, space, BASE + 3 * PAGE, 1);
    expect(space.dirtyPages()).toEqual([vp, vp + 2]);
    expect(space.takeDirtyPages()).toEqual([vp, vp + 2]);
    expect(space.dirtyPages()).toEqual([]);
    // Reads leave the set alone; the first write after the take is seen, even on a page the
    // interpreter had translated for writing before.
    expect(space.page(vp, false)).toBeInstanceOf(Uint8Array);
    expect(space.dirtyPages()).toEqual([]);
    expect(space.page(vp + 2, true)).toBeInstanceOf(Uint8Array);
    expect(space.dirtyPages()).toEqual([vp + 2]);
    expect(space.residentPages()).toEqual([vp, vp + 2, vp + 3]);
    expect(space.residentPageCount()).toBe(3);
  });

  it('keeps a written page in the dirty set across page-out and page-in', () => {
    const h = makeHost(2);
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, 4 * PAGE);
    for (let i = 0; i < 4; i++) put(h, space, BASE + i * PAGE, Uint8Array.of(i));
    expect(space.dirtyPages()).toHaveLength(4);
    expect(space.residentPageCount()).toBe(2);
  });
});

describe('memory_object_lock_request from the pager', () => {
  it('flushes a range: dirty pages come back with data_return, and lock_completed answers', () => {
    const h = makeHost(16);
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, 3 * PAGE);
    for (let i = 0; i < 3; i++) put(h, space, BASE + i * PAGE, pattern(i));
    const object = space.region(BASE).object;
    const completed: number[][] = [];
    const pager = h.memory.defaultPager;
    pager.onLockCompleted = (o, offset, length) => completed.push([o, offset, length]);
    const trace = h.world.trace.record();
    pager.lockRequest(object, 0, 2 * PAGE, { flush: true });
    h.world.runUntilIdle();
    expect(sentIds(trace.events)).toEqual([
      MemoryObjectId.LOCK_REQUEST,
      MemoryObjectId.DATA_RETURN,
      MemoryObjectId.DATA_RETURN,
      MemoryObjectId.LOCK_COMPLETED,
    ]);
    expect(completed).toEqual([[object, 0, 2 * PAGE]]);
    expect(space.residentPages()).toEqual([BASE / PAGE + 2]);
    expect(pager.store.pageCount(object)).toBe(2);
    for (let i = 0; i < 3; i++) expect(get(h, space, BASE + i * PAGE, 64)).toEqual(pattern(i));
    expect(h.memory.stats.lockRequests).toBe(1);
    expect(checkIpcInvariants(h.ipc)).toEqual([]);
  });

  it('cleans without flushing: the pages stay, and need no write-back when evicted later', () => {
    const h = makeHost(2);
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, 4 * PAGE);
    put(h, space, BASE, pattern(0));
    put(h, space, BASE + PAGE, pattern(1));
    h.memory.defaultPager.lockRequest(space.region(BASE).object, 0, 2 * PAGE);
    h.world.runUntilIdle();
    expect(space.residentPageCount()).toBe(2);
    const trace = h.world.trace.record();
    get(h, space, BASE + 2 * PAGE, 1);
    get(h, space, BASE + 3 * PAGE, 1);
    expect(sentIds(trace.events)).not.toContain(MemoryObjectId.DATA_RETURN);
    expect(get(h, space, BASE, 64)).toEqual(pattern(0));
  });
});

describe('the kernel flush helper', () => {
  it('cleans a range without discarding it', () => {
    const h = makeHost(8);
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, 2 * PAGE);
    put(h, space, BASE, pattern(0));
    expect(space.flush(BASE, 2 * PAGE, { discard: false })).toEqual({ returned: 1, flushed: 0 });
    expect(space.flush(BASE, 2 * PAGE, { discard: false })).toEqual({ returned: 0, flushed: 0 });
    expect(space.residentPageCount()).toBe(1);
    h.world.runUntilIdle();
    expect(h.memory.defaultPager.store.pageCount()).toBe(1);
  });
});

describe('a host crash', () => {
  it('loses every page and sends nothing more', () => {
    const h = makeHost(4);
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, 8 * PAGE);
    for (let i = 0; i < 8; i++) put(h, space, BASE + i * PAGE, pattern(i));
    const trace = h.world.trace.record();
    h.memory.destroy();
    h.world.runUntilIdle();
    expect(trace.events.filter((e) => e.kind === 'ipc.send')).toEqual([]);
    expect(space.page(BASE / PAGE, false)).toBe('unmapped');
    expect(h.memory.physical.used).toBe(0);
    expect(h.memory.defaultPager.actor.getSnapshot().status).toBe('stopped');
  });
});
