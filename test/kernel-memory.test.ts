/**
 * Task memory on the real kernel: page faults of running programs go through the external memory
 * management protocol to the host's default pager (mach3-kernel-interfaces.txt, chapter 5),
 * hosts with little memory page out to that pager and page back in, and a duplicated address
 * space is copy-on-write.
 */
import { describe, expect, it } from 'vitest';
import { checkIpcInvariants } from '../src/actors/invariants.ts';
import { KERN } from '../src/cpu/syscalls.ts';
import { copyThreadState } from '../src/cpu/thread.ts';
import { createTask, createThread, resumeThread, startTask } from '../src/kernel/taskOps.ts';
import type { AddressSpace } from '../src/memory/addressSpace.ts';
import { MemoryObjectId } from '../src/protocol/memoryObject.ts';
import { HOST_PROFILES } from '../src/world/profiles.ts';
import type { TraceEvent, TraceEventOf } from '../src/world/trace.ts';
import {
  exampleSource,
  mainThread,
  oneHost,
  printDec,
  program,
  runAllToExit,
  runToExit,
  spawnSource,
} from './support/kernelFixtures.ts';

const of =
  <K extends TraceEvent['kind']>(kind: K) =>
  (events: readonly TraceEvent[]): TraceEventOf<K>[] =>
    events.filter((e): e is TraceEventOf<K> => e.kind === kind);
const sends = of('ipc.send');
const faults = of('vm.fault');
const pageIns = of('vm.pagein');
const pageOuts = of('vm.pageout');
const cows = of('vm.cow');

const TINY = { ...HOST_PROFILES.pentium90, memoryBytes: 64 * 4096, name: 'tiny' };

describe('page faults of a running program', () => {
  /** Writes one word into each of 3 bss pages the program has never touched. */
  const TOUCH = program(
    `
        la    r5, pages
        li    r6, 3
touch:  stw   r6, [r5]
        addi  r5, r5, 4096
        subi  r6, r6, 1
        bne   r6, r11, touch`,
    `
        .bss
        .align 4096
pages:  .space 3 * 4096`,
  );

  it('go to the default pager: data_request, answered data_unavailable, the page zero-filled', () => {
    const { cluster, host } = oneHost();
    const trace = cluster.world.trace.record();
    const task = spawnSource(host, TOUCH, 'toucher');
    runToExit(cluster, task);
    trace.stop();

    const bss = faults(trace.events).filter((f) => f.write && f.page >= 0x3000 / 4096);
    expect(bss.map((f) => f.space)).toEqual(['toucher', 'toucher', 'toucher']);
    const pages = bss.map((f) => f.page);
    expect(pages[1]).toBe(pages[0]! + 1);
    expect(pages[2]).toBe(pages[0]! + 2);

    // Each fault is one round trip to the pager over real messages, and the data arrives as zeros.
    const protocol = sends(trace.events).filter((e) => e.id >= 2200 && e.id < 2300);
    const requests = protocol.filter((e) => e.id === MemoryObjectId.DATA_REQUEST);
    const answers = protocol.filter((e) => e.id === MemoryObjectId.DATA_UNAVAILABLE);
    expect(requests.length).toBeGreaterThanOrEqual(3);
    expect(requests.every((e) => e.portLabel === 'h:default-pager')).toBe(true);
    expect(answers.length).toBe(requests.length);
    expect(answers.every((e) => e.portLabel.startsWith('h:control#'))).toBe(true);
    expect(pageIns(trace.events).filter((e) => e.source === 'zero').length).toBe(requests.length);
    // In order: fault, request, answer, page in, for the first bss page.
    const first = trace.events.indexOf(bss[0]!);
    const kinds = trace.events
      .slice(first)
      .filter(
        (e) =>
          e.kind === 'vm.pagein' || (e.kind === 'ipc.send' && (e.id === 2202 || e.id === 2251)),
      )
      .slice(0, 3)
      .map((e) => (e.kind === 'ipc.send' ? e.id : e.kind));
    expect(kinds).toEqual([
      MemoryObjectId.DATA_REQUEST,
      MemoryObjectId.DATA_UNAVAILABLE,
      'vm.pagein',
    ]);
    expect(task.exit).toMatchObject({ status: 0, reason: 'exit' });
  });

  it('cost virtual time: a thread waiting for a page does not run', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, TOUCH, 'toucher');
    const t = mainThread(task);
    cluster.world.runUntil(() => t.actor.getSnapshot().context.waitingFor === 'page');
    const at = t.instructions;
    const start = cluster.world.now();
    cluster.world.runUntil(() => !t.waiting);
    expect(t.instructions).toBe(at);
    expect(cluster.world.now()).toBeGreaterThan(start);
  });

  it('initialise each memory object with its pager once (memory_object_init), and terminate it', () => {
    const { cluster, host } = oneHost();
    const trace = cluster.world.trace.record();
    const task = spawnSource(host, TOUCH, 'toucher');
    runToExit(cluster, task);
    cluster.world.runUntilIdle();
    trace.stop();
    const protocol = sends(trace.events);
    const inits = protocol.filter((e) => e.id === MemoryObjectId.INIT).length;
    const terminates = protocol.filter((e) => e.id === MemoryObjectId.TERMINATE).length;
    expect(inits).toBeGreaterThan(0);
    expect(terminates).toBe(inits);
    expect(host.memory.stats.objects).toBe(0);
    expect(host.memory.stats.pagerStoredPages).toBe(0);
  });
});

describe('page-out under memory pressure', () => {
  /** bigmem.s over 1 MiB: 256 pages written, changed and read back, on a host of 64 frames. */
  function bigmem(profile: typeof TINY | typeof HOST_PROFILES.pentium90) {
    const { cluster, host } = oneHost(profile);
    const events: TraceEvent[] = [];
    cluster.world.trace.events$.subscribe((e) => {
      if (e.kind === 'vm.pageout' || e.kind === 'vm.pagein' || e.kind === 'ipc.send')
        events.push(e);
    });
    const task = spawnSource(host, exampleSource('bigmem.s'), 'bigmem', {
      defines: { SIZE: 1024 * 1024 },
    });
    runToExit(cluster, task);
    return { host, task, events, stats: host.memory.stats };
  }

  it('gives a program more pages than frames the same output as on a big host', () => {
    const small = bigmem(TINY);
    const big = bigmem(HOST_PROFILES.pentium90);
    expect(small.host.memory.physical.frames).toBe(64);
    expect(small.task.outputText).toBe(big.task.outputText);
    expect(small.task.outputText).toMatch(
      /^bigmem: 1 MiB\nwrote 1 MiB\ntouched 257 bytes\nchecked 1 MiB\nchecksum: 0x[0-9a-f]{8}\n$/,
    );
    expect(small.task.exit).toMatchObject({ status: 0, reason: 'exit' });

    // The small host wrote dirty pages back to the pager (data_return) and read them again
    // (data_request answered with data_supply); the big one never evicted anything.
    const evicted = pageOuts(small.events).filter((e) => e.reason === 'evict');
    expect(evicted.filter((e) => e.dirty).length).toBeGreaterThan(256);
    const returned = sends(small.events).filter((e) => e.id === MemoryObjectId.DATA_RETURN);
    expect(returned.length).toBe(evicted.filter((e) => e.dirty).length);
    expect(pageIns(small.events).filter((e) => e.source === 'pager').length).toBeGreaterThan(256);
    expect(sends(small.events).some((e) => e.id === MemoryObjectId.DATA_SUPPLY)).toBe(true);
    expect(small.stats.overcommits).toBe(0);
    expect(pageOuts(big.events)).toEqual([]);
    // Slower, as paging is: the disk of the pager costs virtual time.
    expect(small.task.exit!.time).toBeGreaterThan(10 * big.task.exit!.time);
  });
});

describe('copy-on-write after duplicating a task', () => {
  /**
   * Writes 222 into `value`, sleeps (the test duplicates the task then), prints what it reads,
   * writes 300 + r9 (the child has r9 = 1), sleeps so both have written, and prints again.
   */
  const FORKABLE = program(
    `
        la    r6, value
        li    r1, 222
        stw   r1, [r6]
        li    r0, SYS_SLEEP        ; <- duplicated here
        li    r1, 10
        trap
        ldw   r5, [r6]
        ${printDec('r5')}
        addi  r1, r9, 300
        stw   r1, [r6]
        li    r0, SYS_SLEEP
        li    r1, 10
        trap
        ldw   r5, [r6]
        ${printDec('r5')}`,
    `
        .align 4
value:  .word 111`,
  );

  it('lets the child see the parent data, and keeps later writes private both ways', () => {
    const { cluster, host } = oneHost();
    const parent = spawnSource(host, FORKABLE, 'parent');
    const pt = mainThread(parent);
    cluster.world.runUntil(() => pt.actor.getSnapshot().context.waitingFor === 'sleep');

    // task_create with an inherited address space, and a thread in the parent's state: the
    // duplicate a migration keeps. The child returns from the sleep at once.
    const trace = cluster.world.trace.record();
    const memory = (parent.memory as AddressSpace).fork('child');
    const child = createTask(host, 'child', memory);
    const state = copyThreadState(pt.state);
    state.regs[0] = KERN.SUCCESS;
    state.regs[9] = 1;
    resumeThread(createThread(child, state));
    startTask(child);
    runAllToExit(cluster, [parent, child]);
    trace.stop();

    expect(parent.outputText).toBe('222\n300\n');
    expect(child.outputText).toBe('222\n301\n');
    // Each side's first write to the shared page copied it into its own object.
    const copies = cows(trace.events);
    expect(new Set(copies.map((c) => c.space))).toEqual(new Set(['parent', 'child']));
    expect(checkIpcInvariants(host.ipc)).toEqual([]);
  });

  it('copies only the pages written: untouched ones stay shared', () => {
    const { cluster, host } = oneHost();
    const parent = host.memory.createAddressSpace('parent');
    const base = 0x100000;
    parent.allocate(base, 8 * 4096);
    const put = (space: AddressSpace, address: number, text: string) => {
      const bytes = new TextEncoder().encode(text);
      for (let f = space.write(address, bytes); f; f = space.write(address, bytes)) {
        let done = false;
        space.faultIn(Math.floor(f.address / 4096), true, () => {
          done = true;
        });
        cluster.world.runUntil(() => done);
      }
    };
    const get = (space: AddressSpace, address: number, length: number) => {
      for (;;) {
        const r = space.read(address, length);
        if (r instanceof Uint8Array) return new TextDecoder().decode(r);
        let done = false;
        space.faultIn(Math.floor(r.address / 4096), false, () => {
          done = true;
        });
        cluster.world.runUntil(() => done);
      }
    };
    for (let p = 0; p < 8; p++) put(parent, base + p * 4096, `page ${p} of the parent`);
    const child = parent.fork('child');
    const trace = cluster.world.trace.record();
    for (let p = 0; p < 8; p++)
      expect(get(child, base + p * 4096, 18)).toBe(`page ${p} of the pare`);
    put(child, base + 3 * 4096, 'child was here');
    put(parent, base + 5 * 4096, 'parent was here');
    trace.stop();
    expect(get(child, base + 3 * 4096, 14)).toBe('child was here');
    expect(get(parent, base + 3 * 4096, 14)).toBe('page 3 of the ');
    expect(get(parent, base + 5 * 4096, 15)).toBe('parent was here');
    expect(get(child, base + 5 * 4096, 15)).toBe('page 5 of the p');
    expect(cows(trace.events).map((c) => [c.space, c.page])).toEqual([
      ['child', base / 4096 + 3],
      ['parent', base / 4096 + 5],
    ]);
  });
});
