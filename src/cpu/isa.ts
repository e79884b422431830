/**
 * The xmach instruction set: a small 32-bit load/store machine that simulated Mach threads execute.
 *
 * Machine state (see thread.ts): sixteen 32-bit registers r0..r15 (r15 is the stack pointer `sp`,
 * r14 the frame pointer `fp` by convention), a program counter and the NZCV condition flags.
 *
 * Encoding: every instruction is 8 bytes, little-endian, 8-byte aligned, in the task's memory:
 *
 * ```
 *   byte 0    opcode
 *   byte 1    x   destination register (0..15)
 *   byte 2    y   first source / base register (0..15)
 *   byte 3    z   second source / stored register (0..15)
 *   bytes 4-7 imm 32-bit immediate (two's complement), absolute address for branches and calls
 * ```
 *
 * An instruction whose opcode is unassigned, or whose register bytes are not 0..15, is an
 * `illegal_instruction` exception. Opcode 0 is never assigned, so zero-filled memory traps at once.
 *
 * Arithmetic wraps at 32 bits. Only `cmp` sets flags; the one-operand conditional branches
 * (`beq target`) read them, the three-operand ones (`beq ra, rb, target`) compare two registers
 * directly and leave the flags alone. Loads and
 * stores of words need 4-byte aligned addresses; the stack (push, pop, call, ret) is a full
 * descending stack of 4-byte words addressed by sp.
 */

/** Opcode numbers. The interpreter's switch uses these values as literals; keep them in sync. */
export const Op = {
  NOP: 1,
  HALT: 2,
  TRAP: 3,
  MOV: 4,
  MOVI: 5,
  NOT: 6,
  NEG: 7,
  ADD: 8,
  ADDI: 9,
  SUB: 10,
  SUBI: 11,
  MUL: 12,
  MULI: 13,
  DIV: 14,
  DIVI: 15,
  DIVU: 16,
  DIVUI: 17,
  REM: 18,
  REMI: 19,
  REMU: 20,
  REMUI: 21,
  AND: 22,
  ANDI: 23,
  OR: 24,
  ORI: 25,
  XOR: 26,
  XORI: 27,
  SHL: 28,
  SHLI: 29,
  SHR: 30,
  SHRI: 31,
  SAR: 32,
  SARI: 33,
  CMP: 34,
  CMPI: 35,
  B: 36,
  BEQ: 37,
  BNE: 38,
  BLT: 39,
  BLE: 40,
  BGT: 41,
  BGE: 42,
  BLTU: 43,
  BLEU: 44,
  BGTU: 45,
  BGEU: 46,
  JMP: 47,
  CALL: 48,
  CALLR: 49,
  RET: 50,
  PUSH: 51,
  POP: 52,
  LDW: 53,
  LDB: 54,
  LDBS: 55,
  STW: 56,
  STB: 57,
  BEQR: 58,
  BNER: 59,
  BLTR: 60,
  BLER: 61,
  BGTR: 62,
  BGER: 63,
  BLTUR: 64,
  BLEUR: 65,
  BGTUR: 66,
  BGEUR: 67,
} as const;

export type OpName = keyof typeof Op;
export type Opcode = (typeof Op)[OpName];

/** Size of every instruction in bytes. */
export const INSTRUCTION_SIZE = 8;

/** Number of general registers. */
export const REGISTER_COUNT = 16;
/** Register index of the stack pointer `sp`. */
export const SP = 15;
/** Register index of the conventional frame pointer `fp`. */
export const FP = 14;

/** Condition flag bits of `ThreadState.flags` (ARM order: N Z C V). */
export const FLAG_N = 8;
export const FLAG_Z = 4;
export const FLAG_C = 2;
export const FLAG_V = 1;

/**
 * Operand shapes, as written in assembly. `x`, `y`, `z` are the register fields of the encoding.
 * - `none`:        nop
 * - `x,y`:         mov rd, ra
 * - `x,imm`:       movi rd, imm
 * - `x,y,z`:       add rd, ra, rb
 * - `x,y,imm`:     addi rd, ra, imm
 * - `y,z`:         cmp ra, rb
 * - `y,imm`:       cmpi ra, imm
 * - `imm`:         b target
 * - `y,z,imm`:     beq ra, rb, target (compare-and-branch, flags untouched)
 * - `y`:           jmp ra / callr ra / push ra
 * - `x`:           pop rd
 * - `x,[y+imm]`:   ldw rd, [ra + off]
 * - `z,[y+imm]`:   stw rs, [ra + off]
 */
export type OperandFormat =
  | 'none'
  | 'x,y'
  | 'x,imm'
  | 'x,y,z'
  | 'x,y,imm'
  | 'y,z'
  | 'y,imm'
  | 'imm'
  | 'y,z,imm'
  | 'y'
  | 'x'
  | 'x,[y+imm]'
  | 'z,[y+imm]';

export interface OpInfo {
  readonly name: OpName;
  readonly opcode: Opcode;
  /** Mnemonic as written in assembly and printed by the disassembler. */
  readonly mnemonic: string;
  readonly format: OperandFormat;
  readonly description: string;
}

const info = (
  name: OpName,
  format: OperandFormat,
  description: string,
  mnemonic = name.toLowerCase(),
): OpInfo => ({ name, opcode: Op[name], mnemonic, format, description });

/** Every instruction, its operand format and meaning. */
export const INSTRUCTIONS: readonly OpInfo[] = [
  info('NOP', 'none', 'do nothing'),
  info('HALT', 'none', 'stop the thread (pc stays on the halt)'),
  info('TRAP', 'none', 'system call: number in r0, arguments r1..r7; pc advances past the trap'),
  info('MOV', 'x,y', 'rd = ra'),
  info('MOVI', 'x,imm', 'rd = imm'),
  info('NOT', 'x,y', 'rd = ~ra'),
  info('NEG', 'x,y', 'rd = -ra'),
  info('ADD', 'x,y,z', 'rd = ra + rb'),
  info('ADDI', 'x,y,imm', 'rd = ra + imm'),
  info('SUB', 'x,y,z', 'rd = ra - rb'),
  info('SUBI', 'x,y,imm', 'rd = ra - imm'),
  info('MUL', 'x,y,z', 'rd = ra * rb (low 32 bits)'),
  info('MULI', 'x,y,imm', 'rd = ra * imm (low 32 bits)'),
  info('DIV', 'x,y,z', 'rd = ra / rb, signed, truncated; rb = 0 is divide_by_zero'),
  info('DIVI', 'x,y,imm', 'rd = ra / imm, signed'),
  info('DIVU', 'x,y,z', 'rd = ra / rb, unsigned'),
  info('DIVUI', 'x,y,imm', 'rd = ra / imm, unsigned'),
  info('REM', 'x,y,z', 'rd = ra % rb, signed (sign of ra)'),
  info('REMI', 'x,y,imm', 'rd = ra % imm, signed'),
  info('REMU', 'x,y,z', 'rd = ra % rb, unsigned'),
  info('REMUI', 'x,y,imm', 'rd = ra % imm, unsigned'),
  info('AND', 'x,y,z', 'rd = ra & rb'),
  info('ANDI', 'x,y,imm', 'rd = ra & imm'),
  info('OR', 'x,y,z', 'rd = ra | rb'),
  info('ORI', 'x,y,imm', 'rd = ra | imm'),
  info('XOR', 'x,y,z', 'rd = ra ^ rb'),
  info('XORI', 'x,y,imm', 'rd = ra ^ imm'),
  info('SHL', 'x,y,z', 'rd = ra << (rb & 31)'),
  info('SHLI', 'x,y,imm', 'rd = ra << (imm & 31)'),
  info('SHR', 'x,y,z', 'rd = ra >>> (rb & 31) (logical)'),
  info('SHRI', 'x,y,imm', 'rd = ra >>> (imm & 31) (logical)'),
  info('SAR', 'x,y,z', 'rd = ra >> (rb & 31) (arithmetic)'),
  info('SARI', 'x,y,imm', 'rd = ra >> (imm & 31) (arithmetic)'),
  info('CMP', 'y,z', 'flags = NZCV of ra - rb'),
  info('CMPI', 'y,imm', 'flags = NZCV of ra - imm'),
  info('B', 'imm', 'pc = target'),
  info('BEQ', 'imm', 'branch if equal (Z)'),
  info('BNE', 'imm', 'branch if not equal (!Z)'),
  info('BLT', 'imm', 'branch if less, signed (N != V)'),
  info('BLE', 'imm', 'branch if less or equal, signed (Z or N != V)'),
  info('BGT', 'imm', 'branch if greater, signed (!Z and N == V)'),
  info('BGE', 'imm', 'branch if greater or equal, signed (N == V)'),
  info('BLTU', 'imm', 'branch if below, unsigned (!C)'),
  info('BLEU', 'imm', 'branch if below or same, unsigned (!C or Z)'),
  info('BGTU', 'imm', 'branch if above, unsigned (C and !Z)'),
  info('BGEU', 'imm', 'branch if above or same, unsigned (C)'),
  info('JMP', 'y', 'pc = ra'),
  info('CALL', 'imm', 'push pc + 8; pc = target'),
  info('CALLR', 'y', 'push pc + 8; pc = ra'),
  info('RET', 'none', 'pc = pop'),
  info('PUSH', 'y', 'sp -= 4; [sp] = ra'),
  info('POP', 'x', 'rd = [sp]; sp += 4 (pop sp loads sp)'),
  info('LDW', 'x,[y+imm]', 'rd = word at ra + off (4-byte aligned)'),
  info('LDB', 'x,[y+imm]', 'rd = byte at ra + off, zero-extended'),
  info('LDBS', 'x,[y+imm]', 'rd = byte at ra + off, sign-extended'),
  info('STW', 'z,[y+imm]', 'word at ra + off = rs (4-byte aligned)'),
  info('STB', 'z,[y+imm]', 'byte at ra + off = rs & 0xff'),
  info('BEQR', 'y,z,imm', 'branch if ra == rb (flags untouched)', 'beq'),
  info('BNER', 'y,z,imm', 'branch if ra != rb', 'bne'),
  info('BLTR', 'y,z,imm', 'branch if ra < rb, signed', 'blt'),
  info('BLER', 'y,z,imm', 'branch if ra <= rb, signed', 'ble'),
  info('BGTR', 'y,z,imm', 'branch if ra > rb, signed', 'bgt'),
  info('BGER', 'y,z,imm', 'branch if ra >= rb, signed', 'bge'),
  info('BLTUR', 'y,z,imm', 'branch if ra < rb, unsigned', 'bltu'),
  info('BLEUR', 'y,z,imm', 'branch if ra <= rb, unsigned', 'bleu'),
  info('BGTUR', 'y,z,imm', 'branch if ra > rb, unsigned', 'bgtu'),
  info('BGEUR', 'y,z,imm', 'branch if ra >= rb, unsigned', 'bgeu'),
];

/** Opcode number to its description; `undefined` for an unassigned opcode. */
export const OPCODE_INFO: readonly (OpInfo | undefined)[] = (() => {
  const table: (OpInfo | undefined)[] = new Array(256).fill(undefined);
  for (const i of INSTRUCTIONS) table[i.opcode] = i;
  return table;
})();

/** Packs the first word of an instruction (opcode and register fields). */
export function encodeWord0(opcode: number, x = 0, y = 0, z = 0): number {
  return (opcode & 0xff) | ((x & 0xff) << 8) | ((y & 0xff) << 16) | ((z & 0xff) << 24);
}

/** Writes one instruction at `offset` of `bytes` (little-endian). */
export function encodeInstruction(
  bytes: Uint8Array,
  offset: number,
  opcode: number,
  x: number,
  y: number,
  z: number,
  imm: number,
): void {
  bytes[offset] = opcode;
  bytes[offset + 1] = x;
  bytes[offset + 2] = y;
  bytes[offset + 3] = z;
  bytes[offset + 4] = imm & 0xff;
  bytes[offset + 5] = (imm >>> 8) & 0xff;
  bytes[offset + 6] = (imm >>> 16) & 0xff;
  bytes[offset + 7] = (imm >>> 24) & 0xff;
}

export interface DecodedInstruction {
  readonly opcode: number;
  readonly x: number;
  readonly y: number;
  readonly z: number;
  readonly imm: number;
  /** `undefined` when the opcode is unassigned. */
  readonly info: OpInfo | undefined;
  /** The register bytes are all in 0..15 and the opcode is assigned. */
  readonly legal: boolean;
}

/** Decodes the 8 bytes at `offset` (for tools; the interpreter decodes inline). */
export function decodeInstruction(bytes: Uint8Array, offset: number): DecodedInstruction {
  const opcode = bytes[offset] ?? 0;
  const x = bytes[offset + 1] ?? 0;
  const y = bytes[offset + 2] ?? 0;
  const z = bytes[offset + 3] ?? 0;
  const imm =
    (bytes[offset + 4] ?? 0) |
    ((bytes[offset + 5] ?? 0) << 8) |
    ((bytes[offset + 6] ?? 0) << 16) |
    ((bytes[offset + 7] ?? 0) << 24);
  const opInfo = OPCODE_INFO[opcode];
  return { opcode, x, y, z, imm, info: opInfo, legal: !!opInfo && x < 16 && y < 16 && z < 16 };
}

/** Canonical register names, r0..r15 (r15 printed as sp, r14 as fp). */
export function registerName(r: number): string {
  if (r === SP) return 'sp';
  if (r === FP) return 'fp';
  return `r${r}`;
}

/** Parses a register name (r0..r15, sp, fp; case-insensitive); `undefined` if not a register. */
export function parseRegister(name: string): number | undefined {
  const n = name.toLowerCase();
  if (n === 'sp') return SP;
  if (n === 'fp') return FP;
  const m = /^r(0|[1-9][0-9]?)$/.exec(n);
  if (!m) return undefined;
  const r = Number(m[1]);
  return r < REGISTER_COUNT ? r : undefined;
}

/** Whether a name looks like a register, valid or not (r16, r99), for clearer assembler errors. */
export function looksLikeRegister(name: string): boolean {
  return /^(r[0-9]+|sp|fp)$/i.test(name);
}
