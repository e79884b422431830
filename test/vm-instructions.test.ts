import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assemble,
  copyThreadState,
  createThreadState,
  FLAG_C,
  FLAG_N,
  FLAG_V,
  FLAG_Z,
  FlatMemory,
  formatFlags,
  type JitOptions,
  run,
  SP,
  type StopReason,
  setJitOptions,
  setSyscallResult,
  type ThreadState,
  threadStateFromJSON,
  threadStatesEqual,
  threadStateToJSON,
} from '../src/cpu/index.ts';

interface Machine {
  thread: ThreadState;
  memory: FlatMemory;
  stop: StopReason;
  symbols: Readonly<Record<string, number>>;
}

/** Assembles `source`, sets registers, and runs until it stops (halt, trap, exception). */
function exec(source: string, regs: Record<number, number> = {}, budget = 100_000): Machine {
  const image = assemble(source);
  const memory = new FlatMemory({ lazy: false });
  memory.loadImage(image);
  const thread = createThreadState(image.entry, image.stackTop);
  for (const [r, v] of Object.entries(regs)) thread.regs[Number(r)] = v;
  const stop = run(thread, memory, budget);
  return { thread, memory, stop, symbols: image.symbols };
}

/** Runs `lines` followed by halt and returns r1 (the conventional result register here). */
function r1Of(lines: string, regs: Record<number, number> = {}): number {
  const m = exec(`${lines}\nhalt`, regs);
  expect(m.stop.reason).toBe('halt');
  return m.thread.regs[1]!;
}

const INT_MIN = -0x80000000;
const INT_MAX = 0x7fffffff;

/** NZCV of a - b, computed independently of the interpreter. */
function expectedFlags(a: number, b: number): number {
  const diff = a - b; // exact in a double
  const wrapped = diff | 0;
  return (
    (wrapped < 0 ? FLAG_N : 0) |
    (a === b ? FLAG_Z : 0) |
    (a >>> 0 >= b >>> 0 ? FLAG_C : 0) |
    (diff > INT_MAX || diff < INT_MIN ? FLAG_V : 0)
  );
}

const PAIRS: [number, number][] = [
  [0, 0],
  [1, 2],
  [2, 1],
  [-1, 1],
  [1, -1],
  [-5, -5],
  [INT_MIN, 1],
  [INT_MAX, -1],
  [INT_MIN, INT_MAX],
  [INT_MAX, INT_MIN],
  [-1, 0],
  [0, -1],
];

const CONDITIONS: Record<string, (a: number, b: number) => boolean> = {
  beq: (a, b) => a === b,
  bne: (a, b) => a !== b,
  blt: (a, b) => a < b,
  ble: (a, b) => a <= b,
  bgt: (a, b) => a > b,
  bge: (a, b) => a >= b,
  bltu: (a, b) => a >>> 0 < b >>> 0,
  bleu: (a, b) => a >>> 0 <= b >>> 0,
  bgtu: (a, b) => a >>> 0 > b >>> 0,
  bgeu: (a, b) => a >>> 0 >= b >>> 0,
};

const MODES: [string, Partial<JitOptions>][] = [
  ['interpreted', { enabled: false }],
  ['compiled', { enabled: true, threshold: 0 }],
];

describe.each(MODES)('instructions (%s)', (_mode, jitOptions) => {
  let saved: JitOptions;
  beforeAll(() => {
    saved = setJitOptions(jitOptions);
  });
  afterAll(() => {
    setJitOptions(saved);
  });

  describe('moves and arithmetic', () => {
    it('mov, movi, li, la', () => {
      expect(r1Of('mov r1, r2', { 2: 42 })).toBe(42);
      expect(r1Of('movi r1, -7')).toBe(-7);
      expect(r1Of('li r1, 0xffffffff')).toBe(-1);
      const m = exec('la r1, here\nhere: halt');
      expect(m.thread.regs[1]).toBe(m.symbols.here);
    });

    it('add and sub wrap at 32 bits', () => {
      expect(r1Of('add r1, r2, r3', { 2: INT_MAX, 3: 1 })).toBe(INT_MIN);
      expect(r1Of('addi r1, r2, -1', { 2: INT_MIN })).toBe(INT_MAX);
      expect(r1Of('sub r1, r2, r3', { 2: INT_MIN, 3: 1 })).toBe(INT_MAX);
      expect(r1Of('subi r1, r2, 5', { 2: 3 })).toBe(-2);
    });

    it('mul keeps the low 32 bits', () => {
      expect(r1Of('mul r1, r2, r3', { 2: 0x10000, 3: 0x10000 })).toBe(0);
      expect(r1Of('mul r1, r2, r3', { 2: -3, 3: 7 })).toBe(-21);
      expect(r1Of('muli r1, r2, 0x9e3779b1', { 2: 12345 })).toBe(Math.imul(12345, 0x9e3779b1));
    });

    it('div and rem are signed and truncate toward zero', () => {
      expect(r1Of('div r1, r2, r3', { 2: -7, 3: 2 })).toBe(-3);
      expect(r1Of('rem r1, r2, r3', { 2: -7, 3: 2 })).toBe(-1);
      expect(r1Of('rem r1, r2, r3', { 2: 7, 3: -2 })).toBe(1);
      expect(r1Of('divi r1, r2, 3', { 2: 100 })).toBe(33);
      expect(r1Of('remi r1, r2, 3', { 2: 100 })).toBe(1);
    });

    it('INT_MIN / -1 wraps to INT_MIN and INT_MIN % -1 is 0', () => {
      expect(r1Of('div r1, r2, r3', { 2: INT_MIN, 3: -1 })).toBe(INT_MIN);
      expect(r1Of('rem r1, r2, r3', { 2: INT_MIN, 3: -1 })).toBe(0);
    });

    it('divu and remu treat operands as unsigned', () => {
      expect(r1Of('divu r1, r2, r3', { 2: -1, 3: 2 })).toBe(0x7fffffff);
      expect(r1Of('remu r1, r2, r3', { 2: -1, 3: 10 })).toBe(0xffffffff % 10);
      expect(r1Of('divu r1, r2, 1', { 2: -1 })).toBe(-1);
      expect(r1Of('remu r1, r2, 0x80000000', { 2: -1 })).toBe(INT_MAX);
    });

    it.each(['div', 'divu', 'rem', 'remu'])(
      '%s by zero raises divide_by_zero without changing state',
      (op) => {
        const image = assemble(`li r1, 5\n${op} r3, r1, r2\nhalt`);
        const memory = new FlatMemory({ lazy: false });
        memory.loadImage(image);
        const thread = createThreadState(image.entry, image.stackTop);
        thread.regs[3] = 99;
        const stop = run(thread, memory, 100);
        expect(stop).toMatchObject({ reason: 'exception', kind: 'divide_by_zero', executed: 1 });
        expect(thread.pc).toBe(0x1008);
        expect(thread.regs[3]).toBe(99);
      },
    );

    it('and, or, xor, not, neg', () => {
      expect(r1Of('and r1, r2, r3', { 2: 0b1100, 3: 0b1010 })).toBe(0b1000);
      expect(r1Of('or r1, r2, r3', { 2: 0b1100, 3: 0b1010 })).toBe(0b1110);
      expect(r1Of('xor r1, r2, r3', { 2: 0b1100, 3: 0b1010 })).toBe(0b0110);
      expect(r1Of('andi r1, r2, 0xff', { 2: -1 })).toBe(255);
      expect(r1Of('ori r1, r2, 1', { 2: 4 })).toBe(5);
      expect(r1Of('xori r1, r2, -1', { 2: 0 })).toBe(-1);
      expect(r1Of('not r1, r2', { 2: 0 })).toBe(-1);
      expect(r1Of('neg r1, r2', { 2: 5 })).toBe(-5);
      expect(r1Of('neg r1, r2', { 2: INT_MIN })).toBe(INT_MIN);
    });

    it('shifts: logical left and right, arithmetic right, count taken mod 32', () => {
      expect(r1Of('shl r1, r2, r3', { 2: 1, 3: 31 })).toBe(INT_MIN);
      expect(r1Of('shl r1, r2, r3', { 2: 1, 3: 33 })).toBe(2);
      expect(r1Of('shr r1, r2, r3', { 2: -16, 3: 2 })).toBe(0x3ffffffc);
      expect(r1Of('sar r1, r2, r3', { 2: -16, 3: 2 })).toBe(-4);
      expect(r1Of('shli r1, r2, 4', { 2: 3 })).toBe(48);
      expect(r1Of('shri r1, r2, 28', { 2: -1 })).toBe(15);
      expect(r1Of('sari r1, r2, 28', { 2: INT_MIN })).toBe(-8);
    });

    it('nop does nothing but advance', () => {
      const m = exec('nop\nnop\nhalt');
      expect(m.thread.pc).toBe(0x1010);
      expect(m.stop.executed).toBe(3);
    });
  });

  describe('compare and branch', () => {
    it.each(PAIRS)('cmp %d, %d sets NZCV', (a, b) => {
      const m = exec('cmp r1, r2\nhalt', { 1: a, 2: b });
      expect(formatFlags(m.thread.flags)).toBe(formatFlags(expectedFlags(a, b)));
      const mi = exec(`cmpi r1, ${b}\nhalt`, { 1: a });
      expect(formatFlags(mi.thread.flags)).toBe(formatFlags(expectedFlags(a, b)));
    });

    it('only cmp changes the flags', () => {
      const m = exec('cmp r1, r2\nadd r3, r1, r2\nsub r3, r3, r3\nbeq r1, r2, x\nx: halt', {
        1: 1,
        2: 2,
      });
      expect(m.thread.flags).toBe(expectedFlags(1, 2));
    });

    it.each(Object.keys(CONDITIONS))('%s after cmp, and as compare-and-branch', (cc) => {
      for (const [a, b] of PAIRS) {
        const viaFlags = exec(`cmp r1, r2\n${cc} yes\nli r3, 0\nhalt\nyes: li r3, 1\nhalt`, {
          1: a,
          2: b,
        });
        const fused = exec(`${cc} r1, r2, yes\nli r3, 0\nhalt\nyes: li r3, 1\nhalt`, {
          1: a,
          2: b,
        });
        const expected = CONDITIONS[cc]!(a, b) ? 1 : 0;
        expect([a, b, viaFlags.thread.regs[3]]).toEqual([a, b, expected]);
        expect([a, b, fused.thread.regs[3]]).toEqual([a, b, expected]);
      }
    });

    it('b and jmp go to a label or to the address in a register', () => {
      expect(r1Of('b over\nli r1, 1\nhalt\nover: li r1, 2')).toBe(2);
      expect(r1Of('la r2, over\njmp r2\nli r1, 1\nhalt\nover: li r1, 3')).toBe(3);
    });

    it('a counted loop', () => {
      expect(
        r1Of('li r1, 0\nli r2, 10\nloop: addi r1, r1, 3\nsubi r2, r2, 1\ncmpi r2, 0\nbne loop'),
      ).toBe(30);
    });
  });

  describe('stack, calls and returns', () => {
    it('push stores below sp, pop loads and moves sp back', () => {
      const m = exec('li r1, 11\nli r2, 22\npush r1\npush r2\npop r3\npop r4\nhalt');
      const top = m.thread.regs[SP]!;
      expect([m.thread.regs[3], m.thread.regs[4]]).toEqual([22, 11]);
      expect(top).toBe(0x40000000);
      expect(m.memory.readWord(top - 4)).toBe(11);
      expect(m.memory.readWord(top - 8)).toBe(22);
    });

    it('push sp pushes the old sp; pop sp loads sp', () => {
      const m = exec('push sp\npop sp\nhalt');
      expect(m.thread.regs[SP]).toBe(0x40000000);
      const m2 = exec('li r1, 0x1234\npush r1\npop sp\nhalt');
      expect(m2.thread.regs[SP]).toBe(0x1234);
    });

    it('call pushes the return address, ret pops it', () => {
      const m = exec(`
        _start: li r1, 1
                call double
                call double
                halt
        double: add r1, r1, r1
                ret
      `);
      expect(m.thread.regs[1]).toBe(4);
      expect(m.thread.regs[SP]).toBe(0x40000000);
      expect(m.memory.readWord(0x40000000 - 4)).toBe(0x1018); // the second call's return address
    });

    it('callr calls the address in a register, and recursion works', () => {
      const m = exec(`
        _start: la r5, fact
                li r1, 10
                callr r5
                halt
        ; fact(r1) -> r0, recursive
        fact:   li r0, 1
                li r2, 1
                ble r1, r2, done
                push r1
                subi r1, r1, 1
                call fact
                pop r1
                mul r0, r0, r1
        done:   ret
      `);
      expect(m.thread.regs[0]).toBe(3628800);
    });
  });

  describe('loads and stores', () => {
    it('stw and ldw move little-endian words', () => {
      const m = exec(
        'la r2, buf\nli r1, 0x11223344\nstw r1, [r2 + 4]\nldw r3, [r2 + 4]\nhalt\n.data\nbuf: .space 16',
      );
      expect(m.thread.regs[3]).toBe(0x11223344);
      expect([...m.memory.read(m.symbols.buf! + 4, 4)]).toEqual([0x44, 0x33, 0x22, 0x11]);
    });

    it('stb stores the low byte; ldb zero-extends, ldbs sign-extends', () => {
      const m = exec(`
        la r2, buf
        li r1, 0x1ff
        stb r1, [r2 + 3]
        ldb r3, [r2 + 3]
        ldbs r4, [r2 + 3]
        ldw r5, [r2]
        halt
        .data
        buf: .word 0
      `);
      expect([m.thread.regs[3], m.thread.regs[4], m.thread.regs[5]]).toEqual([255, -1, -16777216]);
    });

    it('negative offsets and lea', () => {
      const m = exec(
        'la r2, buf + 8\nldw r1, [r2 - 8]\nlea r3, [r2 - 4]\nhalt\n.data\nbuf: .word 77, 0, 0',
      );
      expect(m.thread.regs[1]).toBe(77);
      expect(m.thread.regs[3]).toBe(m.symbols.buf! + 4);
    });

    it.each([
      ['ldw r1, [r2 + 2]', false],
      ['stw r1, [r2 + 1]', true],
    ])('misaligned word access (%s) raises bad_address', (line) => {
      const m = exec(`la r2, buf\n${line}\nhalt\n.data\nbuf: .space 8`);
      expect(m.stop).toMatchObject({ reason: 'exception', kind: 'bad_address' });
      expect(m.thread.pc).toBe(0x1008);
    });
  });

  describe('traps, halt and budget', () => {
    it('trap stops with the call number, pc past the trap; the kernel sets results', () => {
      const image = assemble('li r0, 42\nli r1, 7\ntrap\nmov r5, r0\nhalt');
      const memory = new FlatMemory({ lazy: false });
      memory.loadImage(image);
      const thread = createThreadState(image.entry, image.stackTop);
      const stop = run(thread, memory, 100);
      expect(stop).toEqual({ reason: 'trap', number: 42, executed: 3 });
      expect(thread.pc).toBe(0x1018);
      setSyscallResult(thread.regs, 1234);
      expect(run(thread, memory, 100)).toEqual({ reason: 'halt', executed: 2 });
      expect(thread.regs[5]).toBe(1234);
    });

    it('halt leaves pc on the halt, so running again halts again', () => {
      const m = exec('nop\nhalt');
      expect(m.stop).toEqual({ reason: 'halt', executed: 2 });
      expect(m.thread.pc).toBe(0x1008);
      expect(run(m.thread, m.memory, 10)).toEqual({ reason: 'halt', executed: 1 });
    });

    it('stops after exactly `budget` instructions and resumes where it stopped', () => {
      const source = 'li r1, 0\nloop: addi r1, r1, 1\nb loop';
      const m = exec(source, {}, 1001);
      expect(m.stop).toEqual({ reason: 'budget', executed: 1001 });
      expect(m.thread.regs[1]).toBe(500);
      expect(run(m.thread, m.memory, 0)).toEqual({ reason: 'budget', executed: 0 });
      const n = run(m.thread, m.memory, 999);
      expect(n).toEqual({ reason: 'budget', executed: 999 });
      expect(m.thread.regs[1]).toBe(1000);
    });

    it('running in slices of any size gives the same result as one run', () => {
      const source = `
        li r1, 0
        li r2, 1000
        loop: mul r3, r1, r1
        push r3
        pop r4
        add r5, r5, r4
        addi r1, r1, 1
        blt r1, r2, loop
        halt
      `;
      const whole = exec(source, {}, 1e9);
      for (const slice of [1, 2, 3, 7, 64, 1000]) {
        const image = assemble(source);
        const memory = new FlatMemory({ lazy: false });
        memory.loadImage(image);
        const thread = createThreadState(image.entry, image.stackTop);
        let total = 0;
        for (;;) {
          const stop = run(thread, memory, slice);
          total += stop.executed;
          if (stop.reason !== 'budget') break;
        }
        expect(threadStatesEqual(thread, whole.thread)).toBe(true);
        expect(total).toBe(whole.stop.executed);
      }
    });
  });

  describe('illegal instructions', () => {
    it('an unassigned opcode (zero-filled memory) raises illegal_instruction', () => {
      const m = exec('b 0x1100\n.space 8');
      expect(m.stop).toMatchObject({ reason: 'exception', kind: 'illegal_instruction' });
      expect(m.thread.pc).toBe(0x1100);
    });

    it('a register field above 15 raises illegal_instruction', () => {
      const m = exec('.byte 8, 1, 2, 16, 0, 0, 0, 0'); // add r1, r2, r16
      expect(m.stop).toMatchObject({
        reason: 'exception',
        kind: 'illegal_instruction',
        executed: 0,
      });
      expect((m.stop as { detail: string }).detail).toContain('register field out of range');
    });
  });
});

describe('thread state', () => {
  it('copies, compares and serialises', () => {
    const s = createThreadState(0x1000, 0x40000000);
    s.regs[3] = -5;
    s.flags = FLAG_Z | FLAG_C;
    const c = copyThreadState(s);
    expect(threadStatesEqual(s, c)).toBe(true);
    c.regs[3] = 1;
    expect(threadStatesEqual(s, c)).toBe(false);
    expect(s.regs[3]).toBe(-5);
    const json = JSON.parse(JSON.stringify(threadStateToJSON(s)));
    expect(json).toEqual({
      regs: [0, 0, 0, -5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40000000],
      pc: 0x1000,
      flags: 6,
    });
    expect(threadStatesEqual(threadStateFromJSON(json), s)).toBe(true);
    expect(() => threadStateFromJSON({ regs: [1], pc: 0, flags: 0 })).toThrow(TypeError);
  });
});
