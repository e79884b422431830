import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assemble,
  createThreadState,
  FlatMemory,
  type Image,
  type JitOptions,
  jitStats,
  type Memory,
  type PageFaultKind,
  run,
  setJitOptions,
} from '../src/cpu/index.ts';
import { generateRegionSource } from '../src/cpu/jit.ts';

/**
 * The region compiler must be invisible: for any program, any sequence of budgets and any
 * page-outs between runs, compiled execution gives exactly the interpreter's stops, instruction
 * counts, registers, flags and memory. These tests generate random programs and compare.
 */

/** A small deterministic generator (xorshift32), so a failing seed reproduces. */
function rng(seed: number) {
  let s = seed | 0 || 0x9e3779b9;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  return {
    int: (n: number) => next() % n,
    pick: <T>(xs: readonly T[]): T => xs[next() % xs.length]!,
    chance: (p: number) => next() / 0x100000000 < p,
  };
}

const ALU = ['add', 'sub', 'mul', 'and', 'or', 'xor', 'shl', 'shr', 'sar'];
const CONDS = ['beq', 'bne', 'blt', 'ble', 'bgt', 'bge', 'bltu', 'bleu', 'bgtu', 'bgeu'];

/** A random terminating program: a counted loop around a random body, a subroutine, data. */
function randomProgram(seed: number): string {
  const r = rng(seed);
  const reg = () => `r${1 + r.int(10)}`;
  const imm = () =>
    r.pick([
      () => r.int(16),
      () => r.int(1 << 16) - (1 << 15),
      () => (r.int(0x10000) << 16) | r.int(0x10000),
    ])();
  const units: string[] = [];
  const bodyLength = 5 + r.int(50);
  let labels = 0;
  for (let i = 0; i < bodyLength; i++) {
    const kind = r.int(14);
    if (kind <= 3) {
      const op = r.pick(ALU);
      const shift = op === 'shl' || op === 'shr' || op === 'sar';
      const last = r.chance(0.5) ? reg() : shift ? r.int(32) : imm();
      units.push(`${op} ${reg()}, ${reg()}, ${last}`);
    } else if (kind === 4) {
      const op = r.pick(['div', 'divu', 'rem', 'remu']);
      const d = reg();
      // Mostly nonzero divisors; sometimes a real division by zero (an exception ends the run).
      units.push(`${r.chance(0.97) ? `ori ${d}, ${d}, 1\n` : ''}${op} ${reg()}, ${reg()}, ${d}`);
    } else if (kind === 5) {
      units.push(
        `${r.pick(['divi', 'remi', 'divui', 'remui'])} ${reg()}, ${reg()}, ${1 + r.int(1000)}`,
      );
    } else if (kind === 6) {
      units.push(
        r.pick([
          `mov ${reg()}, ${reg()}`,
          `li ${reg()}, ${imm()}`,
          `not ${reg()}, ${reg()}`,
          `neg ${reg()}, ${reg()}`,
        ]),
      );
    } else if (kind === 7) {
      const target = `L${labels + r.int(3)}`;
      units.push(
        r.chance(0.5)
          ? `cmp ${reg()}, ${reg()}\n${r.pick(CONDS)} ${target}`
          : `cmpi ${reg()}, ${imm()}\n${r.pick(CONDS)} ${target}`,
      );
    } else if (kind === 8) {
      units.push(`${r.pick(CONDS)} ${reg()}, ${reg()}, L${labels + r.int(3)}`);
    } else if (kind === 9 || kind === 10) {
      // A memory access within the 12 KiB buffer; rarely misaligned (an exception).
      const aligned = r.chance(0.98);
      const word = r.chance(0.5);
      const mask = word && aligned ? 0x2ffc : 0x2fff;
      const op = word ? r.pick(['ldw', 'stw']) : r.pick(['ldb', 'ldbs', 'stb']);
      units.push(`andi r14, ${reg()}, ${mask}\nadd r14, r14, r12\n${op} ${reg()}, [r14]`);
    } else if (kind === 11) {
      units.push(
        `push ${reg()}\n${r.chance(0.5) ? `add ${reg()}, ${reg()}, ${reg()}\n` : ''}pop ${reg()}`,
      );
    } else if (kind === 12) {
      units.push(r.chance(0.8) ? 'call sub' : 'la r14, sub\ncallr r14');
    } else {
      units.push(`li r0, ${1 + r.int(5)}\ntrap`);
    }
    if (r.chance(0.3)) units.push(`L${labels++}:`);
  }
  // Every label a branch may name exists (at the end of the body at the latest).
  for (let i = labels; i < labels + 3; i++) units.push(`L${i}:`);
  const sub = Array.from(
    { length: 1 + r.int(5) },
    () => `${r.pick(ALU)} ${reg()}, ${reg()}, ${reg()}`,
  );
  return [
    '_start: la r12, data',
    `        li r13, ${5 + r.int(60)}`,
    '        li r11, 0',
    'loop:',
    ...units,
    '        subi r13, r13, 1',
    '        bne r13, r11, loop',
    '        halt',
    'sub:',
    ...sub,
    '        ret',
    '        .bss',
    'data:   .space 3 * 4096',
  ].join('\n');
}

/** A Memory whose pages can be paged out (and come back as fresh arrays). */
class EvictingMemory implements Memory {
  readonly pageSize = 4096;
  readonly flat = new FlatMemory({ lazy: false });
  readonly absent = new Set<number>();
  private readonly copies = new Map<number, Uint8Array>();

  constructor(image: Image) {
    this.flat.loadImage(image);
  }

  page(p: number, write: boolean): Uint8Array | PageFaultKind {
    const real = this.flat.page(p, write);
    if (typeof real === 'string') return real;
    if (this.absent.has(p)) return 'notResident';
    return this.copies.get(p) ?? real;
  }

  evict(p: number): void {
    if (typeof this.flat.page(p, false) !== 'string') this.absent.add(p);
  }

  pageIn(p: number): void {
    this.absent.delete(p);
    const current = this.copies.get(p) ?? (this.flat.page(p, false) as Uint8Array);
    this.copies.set(p, Uint8Array.from(current));
  }

  dump(pages: number[]): string {
    return pages
      .map((p) => {
        const bytes = this.copies.get(p) ?? this.flat.page(p, false);
        return typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('base64');
      })
      .join('|');
  }
}

/** Runs a program to the end; returns a trace of every stop and the final memory. */
function trace(source: string, seed: number, jit: Partial<JitOptions>): string[] {
  const saved = setJitOptions(jit);
  try {
    const image = assemble(source);
    const memory = new EvictingMemory(image);
    const thread = createThreadState(image.entry, image.stackTop);
    const r = rng(seed ^ 0x5bd1e995);
    const pages = [1, 2, 3, 4, 5, 6, (image.stackTop >>> 12) - 1];
    const out: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      if (r.chance(0.05)) for (const p of pages) if (r.chance(0.5)) memory.evict(p);
      const budget = r.pick([1, 2, 3, 5, 8, 13, 50, 100, 1000, 100_000]);
      const stop = run(thread, memory, budget);
      out.push(
        `${JSON.stringify(stop)} pc=${thread.pc} f=${thread.flags} ${thread.regs.join(',')}`,
      );
      if (stop.reason === 'pagefault') memory.pageIn(stop.address >>> 12);
      else if (stop.reason === 'trap') thread.regs[0] = i;
      else if (stop.reason !== 'budget') break;
    }
    out.push(memory.dump(pages));
    return out;
  } finally {
    setJitOptions(saved);
  }
}

describe('compiled code is indistinguishable from the interpreter', () => {
  let saved: JitOptions;
  beforeAll(() => {
    saved = setJitOptions({});
  });
  afterAll(() => {
    setJitOptions(saved);
  });

  it('on random programs, budgets and page-outs', () => {
    const compiledBefore = jitStats.compiled;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0x7fffffff }), (seed) => {
        const source = randomProgram(seed);
        const reference = trace(source, seed, { enabled: false });
        expect(trace(source, seed, { enabled: true, threshold: 0 })).toEqual(reference);
        expect(trace(source, seed, { enabled: true, threshold: 40 })).toEqual(reference);
      }),
      { seed: 20240601, numRuns: 150 },
    );
    expect(jitStats.compiled - compiledBefore).toBeGreaterThan(150);
  });

  it('generates one switch case per basic block', () => {
    const image = assemble(`
      _start: li r1, 0
      loop:   addi r1, r1, 1
              cmpi r1, 10
              blt loop
              halt
    `);
    const page = new Int32Array(1024);
    page.set(new Int32Array(image.segments[0]!.bytes.buffer.slice(0, 40)));
    const { source, leaders } = generateRegionSource(page, 0x1000, 4096, 0, 64);
    // blocks: [li] [addi cmpi blt] ; halt is left to the interpreter
    expect([...leaders.subarray(0, 6)]).toEqual([1, 1, 0, 0, 1, 1]);
    expect(source).toContain('case 0:if(left<1)');
    expect(source).toContain('case 1:if(left<3)');
    expect(source).toContain('ix=1;continue;');
  });
});
