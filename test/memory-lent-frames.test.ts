/**
 * Lent frames: Mach's virtual copy of a page for an out-of-line message. lendPage gives the
 * message the resident frame itself, uncopied, and takes away write translations to it; the
 * first write to the page afterwards (by the task, by the kernel's copyout, or by installPages)
 * gives the page a fresh copy of its frame, so the message keeps the bytes it was lent. Pre-copy
 * migration sends pages this way while the task runs on.
 */
import { describe, expect, it } from 'vitest';
import { IpcKernel } from '../src/actors/ipcKernel.ts';
import type { MemoryAccessFault } from '../src/cpu/memory.ts';
import { beginRun, endRun, fill, rTag, rU8, TLB_MASK } from '../src/cpu/runtime.ts';
import { createHostMemory, VM_INHERIT_SHARE, VM_PROT_WRITE } from '../src/memory/index.ts';
import { installPages, lendPage, writeBytes } from '../src/memory/kernelAccess.ts';
import { Disposition } from '../src/protocol/rights.ts';
import { startPager } from '../src/servers/pager.ts';
import { HOST_PROFILES } from '../src/world/profiles.ts';
import { World } from '../src/world/world.ts';
import {
  baseline,
  OutputLog,
  paperCluster,
  runMigration,
  spawnProgram,
} from './support/migrationFixtures.ts';

const PAGE = 4096;
const BASE = 0x10000;
const VP = BASE / PAGE;
const text = (b: Uint8Array, n = 5) => new TextDecoder().decode(b.subarray(0, n));
const ascii = (s: string) => new TextEncoder().encode(s);

/** A host's memory and a space with four pages at BASE, page i holding `page<i>`. */
function setup() {
  const world = new World(1);
  const ipc = new IpcKernel(world, 'host');
  ipc.deliveryLatencyMs = 0.02;
  const memory = createHostMemory({ world, name: 'host', profile: HOST_PROFILES.pentium90, ipc });
  const space = memory.createAddressSpace('task');
  space.allocate(BASE, 4 * PAGE);
  /** Writes as copyout does, faulting pages in as needed. */
  const put = (vp: number, s: string) => {
    let f: MemoryAccessFault | undefined;
    while ((f = writeBytes(space, vp * PAGE, ascii(s))) !== undefined) {
      let done = false;
      space.faultIn(Math.floor(f.address / PAGE), true, (e) => {
        if (e) throw e;
        done = true;
      });
      world.runUntil(() => done);
    }
  };
  for (let i = 0; i < 4; i++) put(VP + i, `page${i}`);
  /** What the space reads at page `vp`, as the task would (through its translations). */
  const read = (vp: number) => text(space.page(vp, false) as Uint8Array);
  /** A store by the task's interpreter: translate for writing, then write the frame in place. */
  const store = (vp: number, s: string) => (space.page(vp, true) as Uint8Array).set(ascii(s));
  const lend = (vp: number) => lendPage(space, vp) as Uint8Array;
  return { world, memory, space, put, read, store, lend, copies: () => memory.stats.loanCopies };
}

describe('lending a page', () => {
  it('gives the resident frame itself, with the bytes the task sees, and copies nothing', () => {
    const s = setup();
    const lent = s.lend(VP);
    expect(text(lent)).toBe('page0');
    expect(s.space.page(VP, false)).toBe(lent);
    expect(s.read(VP)).toBe('page0');
    expect(s.copies()).toBe(0);
  });

  it('takes away the write translation but enters none', () => {
    const s = setup();
    expect(s.space.pmap.write.has(VP)).toBe(true);
    s.lend(VP);
    expect(s.space.pmap.write.has(VP)).toBe(false);

    // A page made resident by installPages has no translation; lending it adds none.
    s.space.allocate(BASE + 8 * PAGE, PAGE);
    installPages(s.space, BASE + 8 * PAGE, new Uint8Array(PAGE).fill(7));
    expect(s.space.pmap.read.has(VP + 8)).toBe(false);
    expect(s.lend(VP + 8)[0]).toBe(7);
    expect(s.space.pmap.read.has(VP + 8)).toBe(false);
    expect(s.space.pmap.write.has(VP + 8)).toBe(false);
  });

  it('refuses an unmapped page, a page that is not resident, and an unreadable one', () => {
    const s = setup();
    expect(lendPage(s.space, VP + 100)).toBe('unmapped');
    s.space.allocate(BASE + 8 * PAGE, PAGE);
    expect(lendPage(s.space, VP + 8)).toBe('notResident');
    s.space.protect(BASE, PAGE, VM_PROT_WRITE);
    expect(lendPage(s.space, VP)).toBe('protection');
    expect(s.copies()).toBe(0);
  });
});

describe('writing a lent page', () => {
  it('by the task: the page gets a copy, the lent bytes stay as they were', () => {
    const s = setup();
    const lent = s.lend(VP);
    s.store(VP, 'TASK!');
    expect(text(lent)).toBe('page0');
    expect(s.read(VP)).toBe('TASK!');
    expect(s.space.page(VP, false)).not.toBe(lent);
    expect(s.copies()).toBe(1);
  });

  it('by the kernel (copyout): the same', () => {
    const s = setup();
    const lent = s.lend(VP + 1);
    expect(writeBytes(s.space, (VP + 1) * PAGE, ascii('KERN!'))).toBeUndefined();
    expect(text(lent)).toBe('page1');
    expect(s.read(VP + 1)).toBe('KERN!');
    expect(s.copies()).toBe(1);
  });

  it('by installPages (vm_write, a received page): the same', () => {
    const s = setup();
    const lent = s.lend(VP + 2);
    const page = new Uint8Array(PAGE);
    page.set(ascii('INST!'));
    installPages(s.space, (VP + 2) * PAGE, page);
    expect(text(lent)).toBe('page2');
    expect(s.read(VP + 2)).toBe('INST!');
    expect(s.copies()).toBe(1);
  });

  it('copies once per written page: later writes go to the copy', () => {
    const s = setup();
    const lent = [0, 1, 2, 3].map((i) => s.lend(VP + i));
    s.store(VP, 'one..');
    s.store(VP, 'two..');
    s.put(VP + 3, 'three');
    s.put(VP + 3, 'four.');
    expect(s.copies()).toBe(2);
    expect(lent.map((l) => text(l))).toEqual(['page0', 'page1', 'page2', 'page3']);
    expect([0, 1, 2, 3].map((i) => s.read(VP + i))).toEqual(['two..', 'page1', 'page2', 'four.']);
  });

  it('copies once for a page lent twice; lent again after the copy, it copies again', () => {
    const s = setup();
    const first = s.lend(VP);
    expect(s.lend(VP)).toBe(first);
    s.store(VP, 'one..');
    expect(s.copies()).toBe(1);
    const second = s.lend(VP);
    expect(second).not.toBe(first);
    s.store(VP, 'two..');
    expect(s.copies()).toBe(2);
    expect([text(first), text(second), s.read(VP)]).toEqual(['page0', 'one..', 'two..']);
  });

  it('counts no copy when nothing writes the lent pages', () => {
    const s = setup();
    for (let i = 0; i < 4; i++) s.lend(VP + i);
    expect([0, 1, 2, 3].map((i) => s.read(VP + i))).toEqual(['page0', 'page1', 'page2', 'page3']);
    expect(s.copies()).toBe(0);
  });

  it('takes write translations from every space sharing the page; they see the copy', () => {
    const s = setup();
    s.space.inherit(BASE, 4 * PAGE, VM_INHERIT_SHARE);
    const child = s.space.fork('child');
    (child.page(VP, true) as Uint8Array).set(ascii('CHILD'));
    expect(s.read(VP)).toBe('CHILD');
    const lent = s.lend(VP);
    expect([s.space.pmap.write.has(VP), child.pmap.write.has(VP)]).toEqual([false, false]);
    (child.page(VP, true) as Uint8Array).set(ascii('AGAIN'));
    expect(text(lent)).toBe('CHILD');
    expect(s.read(VP)).toBe('AGAIN');
    expect(s.copies()).toBe(1);
  });
});

describe('pre-copy migration, which sends pages as lent frames', () => {
  it('of a task rewriting its memory during the copy, gives the unmigrated output', () => {
    const unmigrated = baseline('bigmem');
    const { cluster, pentium } = paperCluster({ link: 'gigabit' });
    const log = new OutputLog(cluster);
    const task = spawnProgram(pentium, 'bigmem');
    cluster.world.runUntilTime(unmigrated.endMs * 0.55);
    const result = runMigration(cluster, cluster.migrate(task, 'i486', { strategy: 'precopy' }));
    expect(result.outcome, result.reason ?? '').toBe('committed');
    // The task wrote pages that a PAGES message held: each such page got its own copy.
    expect(pentium.memory.stats.loanCopies).toBeGreaterThan(0);
    expect(log.text()).toBe(unmigrated.output);
  });
});

describe('a lent page mapped twice in one space, written during a run', () => {
  it("flushes the CPU's TLB, so the other address reads the new frame", () => {
    const world = new World(1);
    const ipc = new IpcKernel(world, 'host');
    ipc.deliveryLatencyMs = 0.02;
    const memory = createHostMemory({ world, name: 'host', profile: HOST_PROFILES.pentium90, ipc });
    const pager = startPager(ipc, { label: 'pager' });
    pager.store.open(1);
    pager.store.write(1, 0, ascii('first'.padEnd(PAGE)), PAGE);
    const right = ipc.extractRight(pager.space, pager.port, Disposition.MAKE_SEND, memory.vm.space);
    const space = memory.createAddressSpace('task');
    // The same page of one memory object at two addresses.
    space.map(BASE, PAGE, right, 1);
    space.map(BASE + 4 * PAGE, PAGE, right, 1);
    let done = false;
    space.faultIn(VP, false, () => {
      done = true;
    });
    world.runUntil(() => done);
    const alias = VP + 4;

    beginRun(space, PAGE);
    try {
      // The alias enters the TLB with the page's frame; then the frame is lent.
      fill(alias, false);
      const old = rU8[alias & TLB_MASK];
      expect(text(old!)).toBe('first');
      expect(lendPage(space, VP)).toBe(old);
      // A write through the first address gives the page a new frame...
      fill(VP, true);
      expect(memory.stats.loanCopies).toBe(1);
      // ...and the alias's entry, which pointed at the old one, is gone.
      expect(rTag[alias & TLB_MASK]).toBe(-1);
      fill(alias, false);
      expect(rU8[alias & TLB_MASK]).not.toBe(old);
      expect(rU8[alias & TLB_MASK]).toBe(space.page(VP, false));
    } finally {
      endRun();
    }
  });
});
