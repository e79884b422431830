/**
 * task_create with an inherited address space (`fork()`): VM_INHERIT_SHARE shares the pages,
 * VM_INHERIT_COPY gives a copy-on-write copy (each side's later writes stay its own),
 * VM_INHERIT_NONE leaves the range unmapped in the child.
 */
import { describe, expect, it } from 'vitest';
import { checkIpcInvariants } from '../src/actors/invariants.ts';
import { IpcKernel } from '../src/actors/ipcKernel.ts';
import {
  type AddressSpace,
  createHostMemory,
  VM_INHERIT_NONE,
  VM_INHERIT_SHARE,
} from '../src/memory/index.ts';
import { MemoryObjectId } from '../src/protocol/memoryObject.ts';
import { HOST_PROFILES } from '../src/world/profiles.ts';
import { World } from '../src/world/world.ts';

const PAGE = 4096;
const BASE = 0x10000;

function makeHost(frames?: number) {
  const world = new World(1);
  const ipc = new IpcKernel(world, 'host');
  ipc.deliveryLatencyMs = 0.02;
  const memory = createHostMemory(
    { world, name: 'host', profile: HOST_PROFILES.pentium90, ipc },
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

/** Writes a string as a thread would: faulting pages in (and copying them) as needed. */
function put(h: Host, space: AddressSpace, address: number, text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let f = space.write(address, bytes); f !== undefined; f = space.write(address, bytes)) {
    if (f.kind !== 'notResident') throw new Error(`${f.kind} at ${f.address}`);
    faultOrThrow(h, space, f.address, true);
  }
}

function get(h: Host, space: AddressSpace, address: number, length: number): string {
  for (;;) {
    const r = space.read(address, length);
    if (r instanceof Uint8Array) return new TextDecoder().decode(r);
    if (r.kind !== 'notResident') return r.kind;
    faultOrThrow(h, space, r.address, false);
  }
}

describe('VM_INHERIT_COPY (the default)', () => {
  it('gives the child the parent’s data, then keeps later writes apart both ways', () => {
    const h = makeHost();
    const parent = h.memory.createAddressSpace('parent');
    parent.allocate(BASE, 2 * PAGE);
    put(h, parent, BASE, 'before fork');
    const child = parent.fork('child');
    expect(get(h, child, BASE, 11)).toBe('before fork');

    put(h, parent, BASE, 'parent wrote');
    expect(get(h, child, BASE, 11)).toBe('before fork');
    put(h, child, BASE, 'child wrote!');
    expect(get(h, parent, BASE, 12)).toBe('parent wrote');
    expect(get(h, child, BASE, 12)).toBe('child wrote!');
  });

  it('copies a page only when it is written, and says so in the trace', () => {
    const h = makeHost();
    const parent = h.memory.createAddressSpace('parent');
    parent.allocate(BASE, 3 * PAGE);
    for (let i = 0; i < 3; i++) put(h, parent, BASE + i * PAGE, `page ${i}`);
    const child = parent.fork('child');
    const trace = h.world.trace.record();
    for (let i = 0; i < 3; i++) expect(get(h, child, BASE + i * PAGE, 6)).toBe(`page ${i}`);
    expect(h.memory.stats.cowCopies).toBe(0);
    put(h, child, BASE + PAGE, 'PAGE 1');
    expect(h.memory.stats.cowCopies).toBe(1);
    expect(trace.events.filter((e) => e.kind === 'vm.cow')).toMatchObject([
      { space: 'child', page: BASE / PAGE + 1 },
    ]);
    // Reading shared pages asked no pager anything: the data was resident.
    expect(trace.events.some((e) => e.kind === 'ipc.send')).toBe(false);
  });

  it('makes the copy within page() when a frame is free, as the interpreter needs', () => {
    const h = makeHost();
    const parent = h.memory.createAddressSpace('parent');
    parent.allocate(BASE, PAGE);
    put(h, parent, BASE, 'x');
    const child = parent.fork('child');
    const shared = child.page(BASE / PAGE, false);
    const own = child.page(BASE / PAGE, true);
    expect(own).toBeInstanceOf(Uint8Array);
    expect(own).not.toBe(shared);
    expect(child.page(BASE / PAGE, false)).toBe(own);
    expect(parent.page(BASE / PAGE, false)).toBe(shared);
  });

  it('copies data the pager holds: the child pages it in, then copies it on write', () => {
    const h = makeHost();
    const parent = h.memory.createAddressSpace('parent');
    parent.allocate(BASE, PAGE);
    put(h, parent, BASE, 'on disk');
    parent.flush(BASE, PAGE);
    h.world.runUntilIdle();
    const child = parent.fork('child');
    expect(get(h, child, BASE, 7)).toBe('on disk');
    put(h, child, BASE, 'child');
    expect(get(h, parent, BASE, 7)).toBe('on disk');
    expect(get(h, child, BASE, 7)).toBe('childsk');
  });

  it('keeps pages a shadow returned to the pager apart from the data below it', () => {
    const h = makeHost();
    const parent = h.memory.createAddressSpace('parent');
    parent.allocate(BASE, PAGE);
    put(h, parent, BASE, 'original');
    const child = parent.fork('child');
    put(h, child, BASE, 'childs own');
    // The child's copy goes to the pager and comes back from its own object, not the parent's.
    child.flush(BASE, PAGE);
    h.world.runUntilIdle();
    expect(get(h, child, BASE, 10)).toBe('childs own');
    expect(get(h, parent, BASE, 8)).toBe('original');
  });

  it('gives untouched memory to the child as fresh zero-fill memory', () => {
    const h = makeHost();
    const parent = h.memory.createAddressSpace('parent');
    parent.allocate(BASE, PAGE);
    const child = parent.fork('child');
    expect(child.region(BASE).object).not.toBe(parent.region(BASE).object);
    put(h, parent, BASE, 'p');
    expect(get(h, child, BASE, 1)).toBe('\0');
  });

  it('isolates grandchildren too', () => {
    const h = makeHost();
    const a = h.memory.createAddressSpace('a');
    a.allocate(BASE, PAGE);
    put(h, a, BASE, 'a1');
    const b = a.fork('b');
    put(h, b, BASE, 'b1');
    const c = b.fork('c');
    put(h, b, BASE, 'b2');
    put(h, a, BASE, 'a2');
    expect([get(h, a, BASE, 2), get(h, b, BASE, 2), get(h, c, BASE, 2)]).toEqual([
      'a2',
      'b2',
      'b1',
    ]);
  });

  it('keeps the child’s copy alive after the parent terminates, and frees all at the end', () => {
    const h = makeHost();
    const parent = h.memory.createAddressSpace('parent');
    parent.allocate(BASE, PAGE);
    put(h, parent, BASE, 'inherited');
    const child = parent.fork('child');
    parent.destroy();
    expect(get(h, child, BASE, 9)).toBe('inherited');
    const trace = h.world.trace.record();
    child.destroy();
    h.world.runUntilIdle();
    expect(h.memory.stats.objects).toBe(0);
    expect(h.memory.physical.used).toBe(0);
    expect(
      trace.events.filter((e) => e.kind === 'ipc.send' && e.id === MemoryObjectId.TERMINATE),
    ).toHaveLength(1);
    expect(checkIpcInvariants(h.ipc)).toEqual([]);
  });
});

describe('VM_INHERIT_SHARE', () => {
  it('lets parent and child see each other’s writes', () => {
    const h = makeHost();
    const parent = h.memory.createAddressSpace('parent');
    parent.allocate(BASE, PAGE, undefined, { inheritance: VM_INHERIT_SHARE });
    put(h, parent, BASE, 'hello');
    const child = parent.fork('child');
    put(h, child, BASE, 'HE');
    expect(get(h, parent, BASE, 5)).toBe('HEllo');
    put(h, parent, BASE + 2, 'LLO');
    expect(get(h, child, BASE, 5)).toBe('HELLO');
    expect(child.region(BASE)).toMatchObject({ shared: true, object: parent.region(BASE).object });
    expect(h.memory.stats.cowCopies).toBe(0);
  });

  it('stays shared between the two when one of them later forks a copy', () => {
    const h = makeHost();
    const parent = h.memory.createAddressSpace('parent');
    parent.allocate(BASE, PAGE, undefined, { inheritance: VM_INHERIT_SHARE });
    put(h, parent, BASE, 'shared');
    const sibling = parent.fork('sibling');
    parent.inherit(BASE, PAGE, 1); // VM_INHERIT_COPY for the next child
    const copy = parent.fork('copy');
    put(h, sibling, BASE, 'SIBLING');
    expect(get(h, parent, BASE, 7)).toBe('SIBLING');
    expect(get(h, copy, BASE, 6)).toBe('shared');
  });
});

describe('VM_INHERIT_NONE', () => {
  it('leaves the range unmapped in the child', () => {
    const h = makeHost();
    const parent = h.memory.createAddressSpace('parent');
    parent.allocate(BASE, 3 * PAGE);
    put(h, parent, BASE, 'abc');
    parent.inherit(BASE + PAGE, PAGE, VM_INHERIT_NONE);
    const child = parent.fork('child');
    expect(child.regionList().map((r) => [r.address, r.size])).toEqual([
      [BASE, PAGE],
      [BASE + 2 * PAGE, PAGE],
    ]);
    expect(child.page(BASE / PAGE + 1, false)).toBe('unmapped');
    expect(get(h, child, BASE, 3)).toBe('abc');
  });
});

describe('one allocation split by inheritance', () => {
  it('shares one part and copies the other', () => {
    const h = makeHost();
    const parent = h.memory.createAddressSpace('parent');
    parent.allocate(BASE, 2 * PAGE);
    put(h, parent, BASE, 'copied');
    put(h, parent, BASE + PAGE, 'shared');
    parent.inherit(BASE + PAGE, PAGE, VM_INHERIT_SHARE);
    const child = parent.fork('child');
    put(h, parent, BASE, 'COPIED');
    put(h, parent, BASE + PAGE, 'SHARED');
    expect(get(h, child, BASE, 6)).toBe('copied');
    expect(get(h, child, BASE + PAGE, 6)).toBe('SHARED');
  });
});

describe('copy-on-write under memory pressure', () => {
  it('makes room for the copy by paging out, and both sides keep their data', () => {
    const h = makeHost(4);
    const parent = h.memory.createAddressSpace('parent');
    parent.allocate(BASE, 4 * PAGE);
    for (let i = 0; i < 4; i++) put(h, parent, BASE + i * PAGE, `p${i}`);
    const child = parent.fork('child');
    for (let i = 0; i < 4; i++) put(h, child, BASE + i * PAGE, `c${i}`);
    for (let i = 0; i < 4; i++) {
      expect(get(h, parent, BASE + i * PAGE, 2)).toBe(`p${i}`);
      expect(get(h, child, BASE + i * PAGE, 2)).toBe(`c${i}`);
    }
    expect(h.memory.physical.used).toBeLessThanOrEqual(4);
    expect(h.memory.stats.overcommits).toBe(0);
  });
});
