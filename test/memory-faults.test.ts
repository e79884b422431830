/**
 * Page faults through the external memory management protocol: a fault sends
 * memory_object_data_request to the object's pager, which answers data_unavailable (zero fill) or
 * data_supply (the bytes it was given back) on the object's control port. Every step is a real
 * mach_msg on the host's IPC, so it shows in the trace and costs virtual time.
 */
import { describe, expect, it } from 'vitest';
import { checkIpcInvariants } from '../src/actors/invariants.ts';
import { IpcKernel } from '../src/actors/ipcKernel.ts';
import { DEFAULT_PAGER_TIMING, diskTimeMs, type PagerTiming } from '../src/machines/pager.ts';
import { type AddressSpace, createHostMemory, VM_PROT_READ } from '../src/memory/index.ts';
import type { MachError } from '../src/protocol/errors.ts';
import {
  dataErrorMessage,
  dataSupplyMessage,
  MemoryObjectId,
} from '../src/protocol/memoryObject.ts';
import { Disposition } from '../src/protocol/rights.ts';
import { startPager } from '../src/servers/pager.ts';
import { HOST_PROFILES } from '../src/world/profiles.ts';
import type { TraceEvent, TraceEventOf } from '../src/world/trace.ts';
import { World } from '../src/world/world.ts';

const PAGE = 4096;
const BASE = 0x10000;
const VP = BASE / PAGE;

function makeHost(options: { frames?: number; pagerTiming?: PagerTiming } = {}) {
  const world = new World(1);
  const ipc = new IpcKernel(world, 'pentium');
  ipc.deliveryLatencyMs = (2000 / HOST_PROFILES.pentium90.instructionsPerSecond) * 1000;
  const host = { world, name: 'pentium', profile: HOST_PROFILES.pentium90, ipc };
  const memory = createHostMemory(host, options);
  return { world, ipc, memory, latency: ipc.deliveryLatencyMs };
}

type Host = ReturnType<typeof makeHost>;

/** Faults `vpage` in and runs the world until the fault is resolved; returns when and how. */
function fault(h: Host, space: AddressSpace, vpage: number, write: boolean) {
  let outcome: { error: MachError | undefined; at: number } | undefined;
  space.faultIn(vpage, write, (error) => {
    outcome = { error, at: h.world.now() };
  });
  h.world.runUntil(() => outcome !== undefined);
  return outcome!;
}

/** Writes bytes, faulting pages in as a thread would. */
function store(h: Host, space: AddressSpace, address: number, bytes: Uint8Array): void {
  for (let f = space.write(address, bytes); f !== undefined; f = space.write(address, bytes)) {
    expect(f.kind).toBe('notResident');
    expect(fault(h, space, Math.floor(f.address / PAGE), true).error).toBeUndefined();
  }
}

const sends = (events: TraceEvent[]) =>
  events.filter((e): e is TraceEventOf<'ipc.send'> => e.kind === 'ipc.send');

describe('a first touch of fresh memory', () => {
  it('asks the default pager, which answers data_unavailable, and the page is zero-filled', () => {
    const h = makeHost();
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, PAGE);
    expect(space.page(VP, false)).toBe('notResident');

    const trace = h.world.trace.record();
    expect(fault(h, space, VP, false).error).toBeUndefined();
    trace.stop();

    const page = space.page(VP, false);
    expect(page).toBeInstanceOf(Uint8Array);
    expect((page as Uint8Array).every((b) => b === 0)).toBe(true);
    // init goes out with the first request; the answer comes back on the control port.
    expect(sends(trace.events).map((e) => [e.id, e.portLabel])).toEqual([
      [MemoryObjectId.INIT, 'pentium:default-pager'],
      [MemoryObjectId.DATA_REQUEST, 'pentium:default-pager'],
      [MemoryObjectId.DATA_UNAVAILABLE, 'pentium:control#1'],
    ]);
    expect(trace.events.find((e) => e.kind === 'vm.fault')).toMatchObject({
      space: 'task',
      page: VP,
      write: false,
    });
    expect(trace.events.find((e) => e.kind === 'vm.pagein')).toMatchObject({ source: 'zero' });
    expect(h.memory.stats).toMatchObject({ faults: 1, zeroFills: 1, inits: 1, dataRequests: 1 });
  });

  it('costs two message deliveries of virtual time and no disk time', () => {
    const h = makeHost();
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, PAGE);
    const t0 = h.world.now();
    const { at } = fault(h, space, VP, true);
    expect(at - t0).toBeCloseTo(2 * h.latency, 9);
  });

  it('sends memory_object_init once per object, however many pages fault', () => {
    const h = makeHost();
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, 4 * PAGE);
    const trace = h.world.trace.record();
    for (let i = 0; i < 4; i++) fault(h, space, VP + i, false);
    const ids = sends(trace.events).map((e) => e.id);
    expect(ids.filter((id) => id === MemoryObjectId.INIT)).toHaveLength(1);
    expect(ids.filter((id) => id === MemoryObjectId.DATA_REQUEST)).toHaveLength(4);
  });
});

describe('a page the pager holds', () => {
  it('comes back with data_supply, the same bytes, after the disk has read it', () => {
    const h = makeHost();
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, PAGE);
    store(h, space, BASE + 100, new TextEncoder().encode('kept by the pager'));
    // Send the dirty page to the pager and forget it (memory_object_data_return).
    expect(space.flush(BASE, PAGE)).toEqual({ returned: 1, flushed: 1 });
    h.world.runUntilIdle();
    expect(space.page(VP, false)).toBe('notResident');
    expect(h.memory.defaultPager.store.pageCount()).toBe(1);

    h.world.runUntilTime(h.world.now() + 1000); // let the disk finish the write
    const trace = h.world.trace.record();
    const t0 = h.world.now();
    const { at, error } = fault(h, space, VP, false);
    expect(error).toBeUndefined();
    expect(at - t0).toBeCloseTo(2 * h.latency + diskTimeMs(DEFAULT_PAGER_TIMING, PAGE), 9);
    expect(sends(trace.events).map((e) => e.id)).toEqual([
      MemoryObjectId.DATA_REQUEST,
      MemoryObjectId.DATA_SUPPLY,
    ]);
    const text = space.read(BASE + 100, 17) as Uint8Array;
    expect(new TextDecoder().decode(text)).toBe('kept by the pager');
  });

  it('takes the disk time the pager was configured with', () => {
    const timing = { diskLatencyMs: 25, diskBytesPerSecond: 1_000_000 };
    const h = makeHost({ pagerTiming: timing });
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, PAGE);
    store(h, space, BASE, Uint8Array.of(7));
    space.flush(BASE, PAGE);
    h.world.runUntilTime(h.world.now() + 1000);
    const t0 = h.world.now();
    const { at } = fault(h, space, VP, false);
    expect(at - t0).toBeCloseTo(2 * h.latency + 25 + (PAGE * 1000) / 1_000_000, 9);
  });

  it('waits behind a disk still busy writing what was returned', () => {
    const h = makeHost();
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, PAGE);
    store(h, space, BASE, Uint8Array.of(1));
    const t0 = h.world.now();
    space.flush(BASE, PAGE);
    // The request queues behind the return on the pager's port, and its read behind the write.
    const { at } = fault(h, space, VP, false);
    expect(at - t0).toBeCloseTo(2 * h.latency + 2 * diskTimeMs(DEFAULT_PAGER_TIMING, PAGE), 9);
  });
});

describe('memory a pager other than the default one serves (vm_map)', () => {
  it('faults through that pager, and mappings of one object share its pages', () => {
    const h = makeHost();
    const remote = startPager(h.ipc, { label: 'memory-server' });
    remote.store.open(5);
    remote.store.write(5, PAGE, new TextEncoder().encode('served remotely'.padEnd(PAGE)), PAGE);
    const right = h.ipc.extractRight(
      remote.space,
      remote.port,
      Disposition.MAKE_SEND,
      h.memory.vm.space,
    );
    const a = h.memory.createAddressSpace('a');
    const b = h.memory.createAddressSpace('b');
    a.map(BASE, 2 * PAGE, right, 5);
    b.map('anywhere', PAGE, right, 5, PAGE);
    const trace = h.world.trace.record();
    expect(fault(h, a, VP + 1, false).error).toBeUndefined();
    expect(new TextDecoder().decode(a.read(BASE + PAGE, 15) as Uint8Array)).toBe('served remotely');
    expect(sends(trace.events).map((e) => [e.id, e.portLabel])).toEqual([
      [MemoryObjectId.INIT, 'memory-server'],
      [MemoryObjectId.DATA_REQUEST, 'memory-server'],
      [MemoryObjectId.DATA_SUPPLY, 'pentium:control#2'],
    ]);
    // b maps the same object at that page: already resident, no new request.
    const at = b.region(0).address;
    expect(new TextDecoder().decode(b.read(at, 15) as Uint8Array)).toBe('served remotely');
    expect(b.region(at).object).toBe(a.region(BASE).object);
    expect(h.memory.defaultPager.stats().requests).toBe(0);
  });

  it('refuses a pager name that is not a send right, changing nothing', () => {
    const h = makeHost();
    const space = h.memory.createAddressSpace('task');
    expect(() => space.map(BASE, PAGE, 0x999, 1)).toThrow(
      'KERN_INVALID_ARGUMENT: vm_map: 2457 is not a send right in pentium:vm',
    );
    expect(() => space.map(BASE, PAGE, h.memory.vm.defaultPager, 1, 100)).toThrow(
      'KERN_INVALID_ARGUMENT: vm_map: offset 100 is not a page-aligned byte offset',
    );
    expect(space.regionList()).toEqual([]);
  });
});

describe('concurrent faults on one page', () => {
  it('wait for a single data_request and all resume', () => {
    const h = makeHost();
    const a = h.memory.createAddressSpace('task');
    a.allocate(BASE, PAGE);
    const trace = h.world.trace.record();
    const resumed: string[] = [];
    a.faultIn(VP, false, (e) => resumed.push(`reader ${e?.codeName ?? 'ok'}`));
    a.faultIn(VP, true, (e) => resumed.push(`writer ${e?.codeName ?? 'ok'}`));
    a.faultIn(VP, false, (e) => resumed.push(`second reader ${e?.codeName ?? 'ok'}`));
    h.world.runUntilIdle();
    expect(resumed).toEqual(['reader ok', 'writer ok', 'second reader ok']);
    expect(sends(trace.events).filter((e) => e.id === MemoryObjectId.DATA_REQUEST)).toHaveLength(1);
    expect(a.page(VP, true)).toBeInstanceOf(Uint8Array);
  });
});

describe('translation', () => {
  it('hands back the same page array on every hit (the hot path allocates nothing)', () => {
    const h = makeHost();
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, PAGE);
    fault(h, space, VP, true);
    const first = space.page(VP, true);
    expect(first).toBeInstanceOf(Uint8Array);
    expect(space.page(VP, true)).toBe(first);
    expect(space.page(VP, false)).toBe(first);
    expect((first as Uint8Array).length).toBe(PAGE);
  });

  it('reports unmapped and protection faults without asking anyone', () => {
    const h = makeHost();
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, PAGE, VM_PROT_READ);
    expect(space.page(VP + 1, false)).toBe('unmapped');
    expect(space.page(VP, true)).toBe('protection');
    expect(h.memory.stats.dataRequests).toBe(0);
  });
});

describe('faults that cannot be resolved', () => {
  it('report KERN_INVALID_ADDRESS or KERN_PROTECTION_FAILURE, never before faultIn returns', () => {
    const h = makeHost();
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, PAGE, VM_PROT_READ);
    const errors: string[] = [];
    space.faultIn(VP + 5, false, (e) => errors.push(`${e?.codeName}: ${e?.detail}`));
    space.faultIn(VP, true, (e) => errors.push(`${e?.codeName}: ${e?.detail}`));
    expect(errors).toEqual([]);
    h.world.runUntilIdle();
    expect(errors).toEqual([
      'KERN_INVALID_ADDRESS: 0x15000 is not allocated in task',
      'KERN_PROTECTION_FAILURE: write to 0x10000 in task: protection is r--',
    ]);
  });

  it('report KERN_MEMORY_ERROR when the pager answers memory_object_data_error', () => {
    const h = makeHost();
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, PAGE);
    store(h, space, BASE, Uint8Array.of(1));
    space.flush(BASE, PAGE);
    h.world.runUntilIdle();
    let error: MachError | undefined;
    space.faultIn(VP, false, (e) => {
      error = e;
    });
    // While the pager's disk reads the page, a data_error for it reaches the control port.
    h.world.runUntilTime(h.world.now() + 1);
    const pager = h.memory.defaultPager;
    const ctl = pager.actor.getSnapshot().context.objects[1]!.control;
    h.ipc.send(pager.space, dataErrorMessage(ctl, { offset: 0, length: PAGE, reason: 5 }));
    h.world.runUntilIdle();
    expect(error?.codeName).toBe('KERN_MEMORY_ERROR');
    expect(error?.detail).toBe('pager reported error 5 for page 0 of object 1');
  });

  it('report KERN_TERMINATED once the address space is destroyed', () => {
    const h = makeHost();
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, PAGE);
    space.destroy();
    expect(fault(h, space, VP, false).error?.codeName).toBe('KERN_TERMINATED');
  });
});

describe('the kernel side of the protocol', () => {
  it('refuses malformed manager calls, counts them and changes nothing', () => {
    const h = makeHost();
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, 2 * PAGE);
    fault(h, space, VP, false);
    const pager = h.memory.defaultPager;
    const ctl = pager.actor.getSnapshot().context.objects[1]!.control;
    const trace = h.world.trace.record();
    const page = new Uint8Array(PAGE).fill(9);
    const bad = [
      dataSupplyMessage(ctl, { offset: 100, lockValue: 0, precious: false }, page),
      dataSupplyMessage(ctl, { offset: PAGE, lockValue: 0, precious: false }, page.subarray(0, 10)),
      dataSupplyMessage(ctl, { offset: 8 * PAGE, lockValue: 0, precious: false }, page),
      dataSupplyMessage(ctl, { offset: -1, lockValue: 0, precious: false } as never, page),
      { ...dataErrorMessage(ctl, { offset: 0, length: PAGE, reason: 1 }), id: 9999 },
    ];
    for (const m of bad) h.ipc.send(pager.space, m);
    h.world.runUntilIdle();
    expect(h.memory.stats.rejected).toBe(5);
    expect(trace.events.filter((e) => e.kind === 'vm.rejected').map((e) => e.reason)).toEqual([
      'data_supply.offset 100 is not a multiple of the page size 4096',
      'data_supply data length 10 is not a multiple of the page size 4096',
      'data_supply range [32768, 36864) exceeds object 1 (8192 bytes)',
      'data_supply.offset must be a non-negative integer, got -1',
      'message id 9999 is not a call of this interface',
    ]);
    expect(space.residentPageCount()).toBe(1);
    expect(space.page(VP + 1, false)).toBe('notResident');
    expect(checkIpcInvariants(h.ipc)).toEqual([]);
  });

  it('ends an object with memory_object_terminate, and the pager frees its storage', () => {
    const h = makeHost();
    const space = h.memory.createAddressSpace('task');
    space.allocate(BASE, PAGE);
    store(h, space, BASE, Uint8Array.of(1, 2, 3));
    space.flush(BASE, PAGE);
    h.world.runUntilIdle();
    expect(h.memory.defaultPager.store.pageCount()).toBe(1);
    const trace = h.world.trace.record();
    space.destroy();
    h.world.runUntilIdle();
    expect(sends(trace.events).map((e) => e.id)).toEqual([MemoryObjectId.TERMINATE]);
    expect(h.memory.defaultPager.store.pageCount()).toBe(0);
    expect(h.memory.defaultPager.stats().terminated).toBe(1);
    expect(h.memory.stats.objects).toBe(0);
    expect(h.memory.physical.used).toBe(0);
    // The control port went to the pager, which destroyed it: no right is left behind.
    expect(h.memory.vm.space.entries.size).toBe(1); // the send right to the pager
    expect(h.memory.defaultPager.space.entries.size).toBe(1); // the pager's own port
    expect(checkIpcInvariants(h.ipc)).toEqual([]);
  });
});
