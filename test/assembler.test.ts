import { describe, expect, it } from 'vitest';
import {
  AssemblyError,
  assemble,
  DEFAULT_STACK_SIZE,
  DEFAULT_STACK_TOP,
  decodeInstruction,
  disassemble,
  type Image,
  Op,
  SYS,
} from '../src/cpu/index.ts';

const text = (img: Image) => img.segments.find((s) => s.kind === 'text')!;
const data = (img: Image) => img.segments.find((s) => s.kind === 'data')!;

/** The decoded instruction at `index` of the text segment. */
function insn(img: Image, index: number) {
  return decodeInstruction(text(img).bytes, index * 8);
}

/** Assembles and returns the AssemblyError it throws. */
function error(source: string): AssemblyError {
  try {
    assemble(source, { fileName: 'test.s' });
  } catch (e) {
    if (e instanceof AssemblyError) return e;
    throw e;
  }
  throw new Error('expected an AssemblyError');
}

describe('layout', () => {
  it('puts text at 0x1000, data and bss on the following pages, and describes the stack', () => {
    const img = assemble(`
      _start: nop
              halt
      .data
      d:      .byte 1, 2, 3
      .bss
      b:      .space 10000
    `);
    expect(img.segments.map((s) => [s.kind, s.address, s.size, s.writable])).toEqual([
      ['text', 0x1000, 16, false],
      ['data', 0x2000, 3, true],
      ['bss', 0x3000, 10000, true],
    ]);
    expect(text(img).executable).toBe(true);
    expect(img.entry).toBe(0x1000);
    expect(img.symbols).toMatchObject({ _start: 0x1000, d: 0x2000, b: 0x3000 });
    expect(img.stackTop).toBe(DEFAULT_STACK_TOP);
    expect(img.stackSize).toBe(DEFAULT_STACK_SIZE);
    expect(img.pageSize).toBe(4096);
    // bss has no initial bytes: it is zero-filled by whoever maps it
    expect(img.segments[2]!.bytes.length).toBe(0);
  });

  it('aligns segments to the page size it is given, and honours textBase and stackTop', () => {
    const img = assemble('nop\n.data\n.word 1', {
      pageSize: 8192,
      textBase: 0x4000,
      stackTop: 0x100000,
    });
    expect(img.segments.map((s) => s.address)).toEqual([0x4000, 0x6000]);
    expect(img.stackTop).toBe(0x100000);
  });

  it('omits empty data and bss segments', () => {
    expect(assemble('halt').segments.map((s) => s.kind)).toEqual(['text']);
  });

  it('takes the entry from .entry, else _start, else the start of text', () => {
    expect(assemble('nop\nmain: halt\n.entry main').entry).toBe(0x1008);
    expect(assemble('nop\n_start: halt').entry).toBe(0x1008);
    expect(assemble('nop\nhalt').entry).toBe(0x1000);
  });

  it('sets the stack size with .stack', () => {
    expect(assemble('.stack 0x2000\nhalt').stackSize).toBe(0x2000);
  });

  it('maps instruction addresses to source lines', () => {
    const img = assemble('; comment\n\nstart:\n  nop\n  halt\n');
    expect([...img.lines]).toEqual([
      [0x1000, 4],
      [0x1008, 5],
    ]);
  });
});

describe('instructions', () => {
  it('encodes opcode, register fields and a little-endian immediate in 8 bytes', () => {
    const img = assemble('add r1, r2, r3\naddi r4, r5, -2\nmovi r6, 0x12345678');
    expect([...text(img).bytes.subarray(0, 8)]).toEqual([Op.ADD, 1, 2, 3, 0, 0, 0, 0]);
    expect([...text(img).bytes.subarray(8, 16)]).toEqual([
      Op.ADDI,
      4,
      5,
      0,
      0xfe,
      0xff,
      0xff,
      0xff,
    ]);
    expect([...text(img).bytes.subarray(16, 24)]).toEqual([
      Op.MOVI,
      6,
      0,
      0,
      0x78,
      0x56,
      0x34,
      0x12,
    ]);
  });

  it('picks the register or the immediate form from the last operand', () => {
    const img = assemble(`
      add r1, r1, r2
      add r1, r1, 4
      mov r1, r2
      mov r1, 7
      cmp r1, r2
      cmp r1, 7
      jmp r3
      jmp there
      call r3
      call there
    there: halt
    `);
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => insn(img, i).opcode)).toEqual([
      Op.ADD,
      Op.ADDI,
      Op.MOV,
      Op.MOVI,
      Op.CMP,
      Op.CMPI,
      Op.JMP,
      Op.B,
      Op.CALLR,
      Op.CALL,
    ]);
    expect(insn(img, 7).imm).toBe(0x1050);
  });

  it('accepts sp and fp as r15 and r14, and is case-insensitive for mnemonics and registers', () => {
    const img = assemble('ADD SP, Fp, R1\npush sp');
    expect(insn(img, 0)).toMatchObject({ opcode: Op.ADD, x: 15, y: 14, z: 1 });
    expect(insn(img, 1)).toMatchObject({ opcode: Op.PUSH, y: 15 });
  });

  it('encodes memory operands as base register plus offset', () => {
    const img = assemble(`
      ldw r1, [r2]
      ldw r1, [r2 + 8]
      stw r3, [sp - 4]
      ldb r1, [r2 + 2 * 3]
      stb r4, [r5]
      ldbs r1, [r2 + 1]
      lea r6, [r7 + 12]
    `);
    expect(insn(img, 0)).toMatchObject({ opcode: Op.LDW, x: 1, y: 2, imm: 0 });
    expect(insn(img, 1)).toMatchObject({ opcode: Op.LDW, x: 1, y: 2, imm: 8 });
    expect(insn(img, 2)).toMatchObject({ opcode: Op.STW, z: 3, y: 15, imm: -4 });
    expect(insn(img, 3)).toMatchObject({ opcode: Op.LDB, imm: 6 });
    expect(insn(img, 4)).toMatchObject({ opcode: Op.STB, z: 4, y: 5 });
    expect(insn(img, 5)).toMatchObject({ opcode: Op.LDBS, imm: 1 });
    expect(insn(img, 6)).toMatchObject({ opcode: Op.ADDI, x: 6, y: 7, imm: 12 });
  });

  it('has flag branches and compare-and-branch forms of every condition', () => {
    const img = assemble('l: beq l\nbeq r1, r2, l\nbgeu r3, r4, l\nbltu l');
    expect(insn(img, 0)).toMatchObject({ opcode: Op.BEQ, imm: 0x1000 });
    expect(insn(img, 1)).toMatchObject({ opcode: Op.BEQR, y: 1, z: 2, imm: 0x1000 });
    expect(insn(img, 2)).toMatchObject({ opcode: Op.BGEUR, y: 3, z: 4 });
    expect(insn(img, 3)).toMatchObject({ opcode: Op.BLTU });
  });

  it('accepts li and la as movi, and the explicit immediate mnemonics', () => {
    const img = assemble('x: li r1, 5\nla r2, x\nshri r3, r3, 4\nremui r4, r4, 10');
    expect(insn(img, 0)).toMatchObject({ opcode: Op.MOVI, imm: 5 });
    expect(insn(img, 1)).toMatchObject({ opcode: Op.MOVI, imm: 0x1000 });
    expect(insn(img, 2)).toMatchObject({ opcode: Op.SHRI, imm: 4 });
    expect(insn(img, 3)).toMatchObject({ opcode: Op.REMUI, imm: 10 });
  });

  it('accepts immediates as signed or unsigned 32-bit values', () => {
    const img = assemble('li r1, 0xffffffff\nli r2, -0x80000000');
    expect(insn(img, 0).imm).toBe(-1);
    expect(insn(img, 1).imm).toBe(-0x80000000);
  });
});

describe('directives', () => {
  it('.word, .byte, .ascii and .asciz with escapes', () => {
    const img = assemble(`
      .data
      .byte 1, -1, 'A', '\\n', 0xff
      .ascii "a\\tb\\\\\\"\\x41\\0"
      .asciz "hi"
    `);
    expect([...data(img).bytes]).toEqual([
      1, 255, 65, 10, 255, 97, 9, 98, 92, 34, 0x41, 0, 104, 105, 0,
    ]);
  });

  it('aligns .word to 4 bytes, and labels in front of it bind to the aligned address', () => {
    const img = assemble(`
      .data
      a: .byte 7
      w: .word 0x11223344, w
    `);
    expect(img.symbols.w).toBe(0x2004);
    expect([...data(img).bytes]).toEqual([7, 0, 0, 0, 0x44, 0x33, 0x22, 0x11, 4, 0x20, 0, 0]);
  });

  it('aligns instructions to 8 bytes after data in .text', () => {
    const img = assemble('.byte 1\nx: halt');
    expect(img.symbols.x).toBe(0x1008);
    expect(insn(img, 1).opcode).toBe(Op.HALT);
  });

  it('.space (with an optional fill byte) and .align', () => {
    const img = assemble(`
      .data
      .byte 1
      .align 8
      x: .space 3, 0xaa
      y: .zero 1
      .balign 4
      z: .byte 2
    `);
    expect(img.symbols).toMatchObject({ x: 0x2008, y: 0x200b, z: 0x200c });
    expect([...data(img).bytes]).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0xaa, 0xaa, 0xaa, 0, 2]);
  });

  it('.bss only reserves space', () => {
    const img = assemble('.bss\nbuf: .space 100\n.align 64\nend: .skip 1');
    expect(img.symbols.end).toBe(0x2080);
    expect(img.segments[1]).toMatchObject({ kind: 'bss', address: 0x2000, size: 0x81 });
  });

  it('.section selects a section by name', () => {
    const img = assemble('.section .data\nx: .word 1\n.section .text\nhalt');
    expect(img.symbols.x).toBe(0x2000);
  });

  it('.equ with or without a comma, .set, forward references and label arithmetic', () => {
    const img = assemble(`
      .equ A, 10
      .equ B A * 2
      .set C, LEN + 1
      li r1, B + C
      .data
      msg: .ascii "hello"
      end:
      .equ LEN, end - msg
    `);
    expect(insn(img, 0).imm).toBe(26);
    expect(img.symbols).toMatchObject({ A: 10, B: 20, C: 6, LEN: 5 });
  });

  it('ignores .global and .globl', () => {
    expect(() => assemble('.global _start\n.globl x\n_start: halt\nx: nop')).not.toThrow();
  });
});

describe('expressions', () => {
  it.each([
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['-5 + 3', -2],
    ['~0 & 0xff', 255],
    ['1 << 4 | 1', 17],
    ['0x100 >> 4', 16],
    ['17 / 5', 3],
    ['-17 / 5', -3],
    ['17 % 5', 2],
    ['6 ^ 3', 5],
    ['0b1010 + 0o17', 25],
    ["'a' + 1", 98],
    ['1_000_000', 1000000],
    ['here + 8', 0x1008],
    ['SYS_EXIT', SYS.EXIT],
  ])('%s = %d', (expr, value) => {
    expect(insn(assemble(`here: li r1, ${expr}`), 0).imm).toBe(value | 0);
  });

  it('lets options.defines override .equ (like cc -D)', () => {
    const img = assemble('.equ N, 100\nli r1, N', { defines: { N: 7 } });
    expect(insn(img, 0).imm).toBe(7);
    expect(img.symbols.N).toBe(7);
  });

  it('lets a program redefine a predefined ABI constant', () => {
    expect(insn(assemble('.equ SYS_EXIT, 99\nli r1, SYS_EXIT'), 0).imm).toBe(99);
  });
});

describe('disassembler', () => {
  it('prints instructions with registers, memory operands and branch targets', () => {
    const img = assemble(`
      _start: li r1, 5
      loop:   ldw r2, [sp + 8]
              stb r3, [r4 - 1]
              add r1, r1, r2
              blt r1, r2, loop
              bne loop
              ret
    `);
    expect(disassemble(img).split('\n')).toEqual([
      '_start:',
      '  00001000  movi r1, 5',
      'loop:',
      '  00001008  ldw r2, [sp + 8]',
      '  00001010  stb r3, [r4 - 1]',
      '  00001018  add r1, r1, r2',
      '  00001020  blt r1, r2, 0x1008 <loop>',
      '  00001028  bne 0x1008 <loop>',
      '  00001030  ret',
    ]);
  });
});

describe('errors', () => {
  it.each([
    ['unknown mnemonic', '  nop\n  frob r1', 2, 3, "unknown mnemonic 'frob'"],
    ['unknown directive', '.wrod 1', 1, 1, "unknown directive '.wrod'"],
    ['bad register', 'add r1, r16, r2', 1, 9, "bad register 'r16'"],
    ['register expected', 'add r1, 5, r2', 1, 9, "expected a register, got '5'"],
    ['undefined label', 'b nowhere', 1, 3, "undefined symbol 'nowhere'"],
    ['duplicate label', 'x: nop\nx: nop', 2, 1, "duplicate label 'x' (first defined at line 1)"],
    ['duplicate constant', '.equ A, 1\n.equ A, 2', 2, 6, "duplicate constant 'A'"],
    ['label that is a constant', '.equ A, 1\nA: nop', 2, 1, "'A' is already a constant"],
    ['label named like a register', 'r3: nop', 1, 1, "'r3' is a register name"],
    ['too few operands', 'add r1, r2', 1, 11, "'add' takes 3 operands"],
    ['too many operands', 'ret r1', 1, 5, "'ret' takes 0 operands"],
    ['missing operand', 'add r1, , r2', 1, 8, 'missing operand'],
    ['value out of range', 'li r1, 0x100000000', 1, 8, 'out of range'],
    ['byte out of range', '.data\n.byte 256', 2, 7, 'byte value 256 is out of range'],
    ['shift out of range', 'shl r1, r1, 32', 1, 13, 'shift amount 32 is out of range'],
    ['division by constant zero', 'div r1, r2, 0', 1, 13, 'division by constant zero'],
    ['division by zero in an expression', 'li r1, 4 / (2 - 2)', 1, 10, 'division by zero'],
    ['unterminated string', '.data\n.ascii "abc', 2, 8, 'unterminated string'],
    ['unknown escape', '.data\n.ascii "a\\qb"', 2, 10, "unknown escape sequence '\\q'"],
    ['unexpected character', 'li r1, 3 @ 4', 1, 10, "unexpected character '@'"],
    ['instruction outside .text', '.data\nnop', 2, 1, "instruction 'nop' outside .text"],
    ['data in .bss', '.bss\n.word 1', 2, 1, "'.word' is not allowed in .bss"],
    ['label where a constant is needed', 'x: nop\n.space x', 2, 8, "'x' is a label"],
    ['circular constants', '.equ A, B\n.equ B, A\nli r1, A', 2, 9, "circular definition of 'A'"],
    ['misaligned branch target', 'b 0x1004', 1, 3, 'branch target 0x1004 is not 8-byte aligned'],
    ['bad memory operand', 'ldw r1, r2', 1, 9, "expected a memory operand '[register]'"],
    ['bad offset sign', 'ldw r1, [r2 * 4]', 1, 13, "expected '+', '-' or ']'"],
    ['bad alignment', '.align 3', 1, 8, 'alignment 3 must be a power of two'],
    ['register in an expression', 'li r1, r2 + 1', 1, 8, "register 'r2' cannot be used"],
    ['unbalanced parenthesis', 'li r1, (1 + 2', 1, 14, "expected ')'"],
    ['bad number', 'li r1, 12abc', 1, 8, "bad number '12abc'"],
    ['program overlaps the stack', '.bss\n.space 0x40000000', 1, 1, 'overlaps the stack'],
  ])('%s', (_name, source, line, column, message) => {
    const e = error(source);
    expect(e.reason).toContain(message);
    expect({ line: e.line, column: e.column }).toEqual({ line, column });
    expect(e.message).toBe(`test.s:${line}:${column}: ${e.reason}`);
    expect(e.sourceLine).toBe(source.split('\n')[line - 1]);
  });

  it('reports errors in unused constants too', () => {
    expect(error('.equ UNUSED, nothing\nhalt').reason).toBe("undefined symbol 'nothing'");
  });
});
