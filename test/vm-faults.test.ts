import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assemble,
  copyThreadState,
  createThreadState,
  FlatMemory,
  type Image,
  type JitOptions,
  type Memory,
  type PageFaultKind,
  readMemory,
  run,
  type StopReason,
  SYS,
  setJitOptions,
  type ThreadState,
  threadStatesEqual,
} from '../src/cpu/index.ts';

/**
 * A Memory like the kernel's: pages can be mapped but not resident (the interpreter must stop
 * with a restartable page fault), and when a page is made resident again it arrives as a fresh
 * array (as if a pager supplied it), with the same contents.
 */
class PagedMemory implements Memory {
  readonly pageSize = 4096;
  readonly backing = new FlatMemory({ lazy: false });
  readonly absent = new Set<number>();
  readonly calls: { page: number; write: boolean }[] = [];
  /** Copy-on-write: the first write to a page in this set replaces the page with a copy. */
  readonly copyOnWrite = new Set<number>();
  private readonly replaced = new Map<number, Uint8Array>();

  constructor(image: Image) {
    this.backing.loadImage(image);
  }

  page(pageIndex: number, write: boolean): Uint8Array | PageFaultKind {
    this.calls.push({ page: pageIndex, write });
    const real = this.backing.page(pageIndex, write);
    if (typeof real === 'string') return real;
    if (this.absent.has(pageIndex)) return 'notResident';
    if (write && this.copyOnWrite.delete(pageIndex)) {
      this.replaced.set(pageIndex, Uint8Array.from(real));
    }
    return this.replaced.get(pageIndex) ?? real;
  }

  /** Pages every mapped page out. */
  evictAll(): void {
    for (let p = 0; p < 0x40000; p++)
      if (typeof this.backing.page(p, false) !== 'string') this.absent.add(p);
  }

  /** Brings a page back as a new array with the same bytes. */
  pageIn(pageIndex: number): void {
    this.absent.delete(pageIndex);
    const current =
      this.replaced.get(pageIndex) ?? (this.backing.page(pageIndex, false) as Uint8Array);
    this.replaced.set(pageIndex, Uint8Array.from(current));
  }

  /** All resident bytes, for comparing memory before and after. */
  snapshot(): Map<number, string> {
    const m = new Map<number, string>();
    for (let p = 0; p < 0x40000; p++) {
      const bytes = this.backing.page(p, false);
      if (typeof bytes === 'string') continue;
      m.set(p, Buffer.from(this.replaced.get(p) ?? bytes).toString('hex'));
    }
    return m;
  }
}

function setup(source: string) {
  const image = assemble(source);
  const memory = new PagedMemory(image);
  const thread = createThreadState(image.entry, image.stackTop);
  return { image, memory, thread };
}

interface Outcome {
  thread: ThreadState;
  output: string;
  executed: number;
  faults: number;
  last: StopReason;
}

/**
 * Runs a program to the end in slices of `budget` instructions, paging in whatever it faults on
 * and handling console_write; `evictEvery` pages everything out every that many slices.
 */
function runToEnd(
  source: string,
  budget: number,
  everythingAbsent: boolean,
  evictEvery = 0,
): Outcome {
  const { memory, thread } = setup(source);
  if (everythingAbsent) memory.evictAll();
  let output = '';
  let executed = 0;
  let faults = 0;
  for (let slice = 1; ; slice++) {
    if (evictEvery && slice % evictEvery === 0) memory.evictAll();
    const before = copyThreadState(thread);
    const stop = run(thread, memory, budget);
    executed += stop.executed;
    if (stop.reason === 'pagefault') {
      faults++;
      if (stop.executed === 0) expect(threadStatesEqual(thread, before)).toBe(true);
      expect(memory.absent.has(Math.floor(stop.address / 4096))).toBe(true);
      memory.pageIn(Math.floor(stop.address / 4096));
      continue;
    }
    if (stop.reason === 'trap' && stop.number === SYS.CONSOLE_WRITE) {
      const bytes = readMemory(memory, thread.regs[1]!, thread.regs[2]!);
      if (!(bytes instanceof Uint8Array)) {
        memory.pageIn(Math.floor(bytes.address / 4096));
        thread.pc -= 8; // the kernel would retry the call; here we re-execute the trap
        executed -= 1;
        continue;
      }
      output += Buffer.from(bytes).toString();
      continue;
    }
    if (stop.reason === 'budget') continue;
    return { thread, output, executed, faults, last: stop };
  }
}

/** A program that touches code on two pages, the stack, data words and bytes, and bss. */
const WORKLOAD = `
_start:
        la    r6, table
        li    r7, 0
fill:   muli  r1, r7, 2654435761
        shl   r2, r7, 2
        add   r2, r2, r6
        stw   r1, [r2]
        addi  r7, r7, 1
        li    r3, 3000
        blt   r7, r3, fill
        li    r7, 0
        li    r8, 0
sum:    shl   r2, r7, 2
        add   r2, r2, r6
        ldw   r1, [r2]
        push  r1
        call  far_away
        pop   r1
        xor   r8, r8, r0
        ldb   r4, [r2 + 1]
        stb   r4, [r2]
        addi  r7, r7, 1
        li    r3, 3000
        blt   r7, r3, sum
        la    r1, msg
        li    r2, 6
        li    r0, SYS_CONSOLE_WRITE
        trap
        halt
        .space 4096            ; push far_away onto the next code page
far_away:
        ldw   r0, [sp + 4]
        addi  r0, r0, 1
        ret
        .data
msg:    .ascii "done!\\n"
        .bss
table:  .space 3000 * 4
`;

const MODES: [string, Partial<JitOptions>][] = [
  ['interpreted', { enabled: false }],
  ['compiled', { enabled: true, threshold: 0 }],
  ['compiled when hot', { enabled: true, threshold: 500 }],
];

describe.each(MODES)('restartable page faults (%s)', (_mode, jitOptions) => {
  let saved: JitOptions;
  beforeAll(() => {
    saved = setJitOptions(jitOptions);
  });
  afterAll(() => {
    setJitOptions(saved);
  });

  it('a load from a non-resident page stops before the load and completes after page-in', () => {
    const source =
      'li r1, 5\nla r2, buf\nldw r3, [r2 + 4]\naddi r3, r3, 1\nstw r3, [r2 + 4]\nhalt\n.data\nbuf: .word 0, 41';
    const { memory, thread, image } = setup(source);
    const page = image.symbols.buf! >>> 12;
    memory.absent.add(page);
    const stop = run(thread, memory, 100);
    expect(stop).toEqual({
      reason: 'pagefault',
      address: image.symbols.buf! + 4,
      write: false,
      executed: 2,
    });
    expect(thread.pc).toBe(0x1010);
    expect(thread.regs[3]).toBe(0);
    const frozen = copyThreadState(thread);
    const memoryBefore = memory.snapshot();
    // Running again without resolving the fault faults again, changing nothing.
    expect(run(thread, memory, 100)).toEqual({ ...stop, executed: 0 });
    expect(threadStatesEqual(thread, frozen)).toBe(true);
    expect(memory.snapshot()).toEqual(memoryBefore);
    memory.pageIn(page);
    expect(run(thread, memory, 100)).toEqual({ reason: 'halt', executed: 4 });
    expect(thread.regs[3]).toBe(42);
  });

  it.each([
    ['ldw', 'ldw r3, [r2]', false],
    ['ldb', 'ldb r3, [r2 + 1]', false],
    ['ldbs', 'ldbs r3, [r2 + 2]', false],
    ['stw', 'stw r1, [r2]', true],
    ['stb', 'stb r1, [r2 + 3]', true],
  ])('%s faults on its data page without side effects', (_name, line, write) => {
    const { memory, thread, image } = setup(
      `li r1, 7\nla r2, buf\n${line}\nhalt\n.data\nbuf: .word 0x01020304`,
    );
    memory.absent.add(image.symbols.buf! >>> 12);
    run(thread, memory, 2);
    const before = copyThreadState(thread);
    const memoryBefore = memory.snapshot();
    const stop = run(thread, memory, 100);
    expect(stop).toMatchObject({ reason: 'pagefault', write, executed: 0 });
    expect(threadStatesEqual(thread, before)).toBe(true);
    expect(memory.snapshot()).toEqual(memoryBefore);
  });

  it.each([
    ['push', 'push r1', true],
    ['call', 'call f', true],
    ['callr', 'callr r3', true],
    ['pop', 'pop r4', false],
    ['ret', 'ret', false],
  ])('%s faults on the stack page without side effects', (_name, line, write) => {
    const { memory, thread, image } = setup(`la r3, f\nsubi sp, sp, 8\n${line}\nhalt\nf: halt`);
    memory.absent.add((image.stackTop - 4) >>> 12);
    run(thread, memory, 2);
    const before = copyThreadState(thread);
    const stop = run(thread, memory, 100);
    const address = write ? image.stackTop - 12 : image.stackTop - 8;
    expect(stop).toEqual({ reason: 'pagefault', address, write, executed: 0 });
    expect(threadStatesEqual(thread, before)).toBe(true);
  });

  it('an instruction fetch from a non-resident code page faults with the pc as address', () => {
    const { memory, thread } = setup('halt');
    memory.absent.add(1);
    expect(run(thread, memory, 10)).toEqual({
      reason: 'pagefault',
      address: 0x1000,
      write: false,
      executed: 0,
    });
    memory.pageIn(1);
    expect(run(thread, memory, 10)).toEqual({ reason: 'halt', executed: 1 });
  });

  it.each([1, 3, 17, 1000, 1e9])(
    'a whole program with every page absent at first runs exactly like one with all pages resident (budget %d)',
    (budget) => {
      const resident = runToEnd(WORKLOAD, budget, false);
      const paged = runToEnd(WORKLOAD, budget, true);
      expect(resident.last.reason).toBe('halt');
      expect(paged.output).toBe('done!\n');
      expect(paged.output).toBe(resident.output);
      expect(paged.executed).toBe(resident.executed);
      expect(threadStatesEqual(paged.thread, resident.thread)).toBe(true);
      // text (2 pages), bss (3 pages), stack; the data page is only read by the system call
      expect(paged.faults).toBe(6);
    },
  );

  it('paging everything out again and again changes nothing either', () => {
    const resident = runToEnd(WORKLOAD, 997, false);
    const thrashing = runToEnd(WORKLOAD, 997, true, 5);
    expect(thrashing.executed).toBe(resident.executed);
    expect(threadStatesEqual(thrashing.thread, resident.thread)).toBe(true);
    expect(thrashing.faults).toBeGreaterThan(100);
  });
});

describe.each(MODES)('exceptions (%s)', (_mode, jitOptions) => {
  let saved: JitOptions;
  beforeAll(() => {
    saved = setJitOptions(jitOptions);
  });
  afterAll(() => {
    setJitOptions(saved);
  });

  it('a store into read-only text raises protection, changing nothing', () => {
    const { memory, thread } = setup('li r1, 1\nla r2, target\ntarget: stw r1, [r2]\nhalt');
    run(thread, memory, 2);
    const before = copyThreadState(thread);
    const stop = run(thread, memory, 10);
    expect(stop).toMatchObject({
      reason: 'exception',
      kind: 'protection',
      address: 0x1010,
      executed: 0,
    });
    expect(threadStatesEqual(thread, before)).toBe(true);
  });

  it('a load from an unmapped address raises bad_address', () => {
    const { memory, thread } = setup('li r2, 0\nldw r1, [r2 + 16]\nhalt');
    const stop = run(thread, memory, 10);
    expect(stop).toMatchObject({
      reason: 'exception',
      kind: 'bad_address',
      address: 16,
      executed: 1,
    });
    expect((stop as { detail: string }).detail).toContain('read of unmapped address 0x00000010');
    expect(thread.pc).toBe(0x1008);
  });

  it('jumping to an unmapped address raises bad_address on the fetch', () => {
    const { memory, thread } = setup('li r1, 0x8000\njmp r1');
    const stop = run(thread, memory, 10);
    expect(stop).toMatchObject({ reason: 'exception', kind: 'bad_address', address: 0x8000 });
    expect((stop as { detail: string }).detail).toContain('instruction fetch');
    expect(thread.pc).toBe(0x8000);
  });

  it('a call with sp in unmapped memory raises bad_address on the push', () => {
    const { memory, thread } = setup('li sp, 0x9000\ncall f\nf: halt');
    expect(run(thread, memory, 10)).toMatchObject({
      reason: 'exception',
      kind: 'bad_address',
      address: 0x8ffc,
    });
  });

  it('a misaligned pc raises bad_address', () => {
    const { memory, thread } = setup('li r1, 0x1004\njmp r1');
    const stop = run(thread, memory, 10);
    expect(stop).toMatchObject({ reason: 'exception', kind: 'bad_address', address: 0x1004 });
    expect((stop as { detail: string }).detail).toContain('misaligned program counter');
  });

  it('an illegal instruction raises illegal_instruction at its address', () => {
    const { memory, thread } = setup('nop\n.word 0xff, 0');
    expect(run(thread, memory, 10)).toMatchObject({
      reason: 'exception',
      kind: 'illegal_instruction',
      executed: 1,
    });
    expect(thread.pc).toBe(0x1008);
  });
});

describe.each(MODES)('the Memory contract (%s)', (_mode, jitOptions) => {
  let saved: JitOptions;
  beforeAll(() => {
    saved = setJitOptions(jitOptions);
  });
  afterAll(() => {
    setJitOptions(saved);
  });

  it('asks for write access to a page at least once in every run that writes it (dirty tracking)', () => {
    const { memory, thread, image } = setup(
      'la r2, buf\nloop: stw r1, [r2]\naddi r1, r1, 1\nb loop\n.data\nbuf: .word 0',
    );
    const page = image.symbols.buf! >>> 12;
    for (let i = 0; i < 5; i++) {
      memory.calls.length = 0;
      run(thread, memory, 1000);
      expect(memory.calls.filter((c) => c.page === page && c.write)).toHaveLength(1);
    }
  });

  it('after a copy-on-write page replacement, reads see the copy', () => {
    const { memory, thread, image } = setup(
      'la r2, buf\nldw r1, [r2]\nli r3, 99\nstw r3, [r2]\nldw r4, [r2]\nhalt\n.data\nbuf: .word 5',
    );
    const page = image.symbols.buf! >>> 12;
    const original = memory.backing.page(page, false) as Uint8Array;
    memory.copyOnWrite.add(page);
    expect(run(thread, memory, 100).reason).toBe('halt');
    expect([thread.regs[1], thread.regs[4]]).toEqual([5, 99]);
    expect(original[0]).toBe(5);
  });

  it('self-modifying code: a store into a writable text page is seen by the next fetch', () => {
    // Text is made writable by hand (the kernel would map it read-only by default).
    const image = assemble(`
      _start: li r5, 0
              la r2, patch
              ldw r3, [r2 + 8]      ; the word0 of 'li r1, 2' below
      loop:   li r1, 1              ; patched into 'li r1, 2' after 300 rounds
      patch:  add r5, r5, r1
              li r1, 2
              addi r6, r6, 1
              li r4, 300
              bne r6, r4, skip
              la r7, loop
              stw r3, [r7]          ; overwrite the opcode word of 'li r1, 1'
              li r8, 2
              stw r8, [r7 + 4]      ; and its immediate
      skip:   li r4, 1000
              blt r6, r4, loop
              halt
    `);
    const memory = new FlatMemory({ lazy: false });
    memory.map(0x1000, 0x1000, true);
    memory.write(0x1000, image.segments[0]!.bytes);
    memory.map(image.stackTop - image.stackSize, image.stackSize, true);
    const thread = createThreadState(image.entry, image.stackTop);
    let stop: StopReason;
    do stop = run(thread, memory, 97);
    while (stop.reason === 'budget');
    expect(stop.reason).toBe('halt');
    expect(thread.regs[5]).toBe(300 * 1 + 700 * 2);
  });

  it('code rewritten by the kernel between runs is what runs next', () => {
    const image = assemble('loop: addi r1, r1, 1\nb loop');
    const memory = new FlatMemory({ lazy: false });
    memory.loadImage(image);
    const thread = createThreadState(image.entry, image.stackTop);
    run(thread, memory, 10_000);
    expect(thread.regs[1]).toBe(5000);
    memory.write(0x1000, assemble('loop: addi r1, r1, 3\nb loop').segments[0]!.bytes);
    run(thread, memory, 10_000);
    expect(thread.regs[1]).toBe(5000 + 5000 * 3);
  });
});
