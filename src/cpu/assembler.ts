import type { Image, Segment } from './image.ts';
import { encodeInstruction, looksLikeRegister, Op, parseRegister } from './isa.ts';
import { ABI_SYMBOLS } from './syscalls.ts';

/**
 * The assembler: source text to an Image.
 *
 * Syntax, one statement per line:
 *
 * ```
 *   label:  mnemonic operand, operand, ...   ; comment (also # comment)
 * ```
 *
 * - Registers: r0..r15, sp (= r15), fp (= r14). Mnemonics, directives and registers are
 *   case-insensitive; symbols are case-sensitive.
 * - Immediates are expressions: numbers (123, -5, 0x1f, 0b101, 'a', '\n'), symbols (labels,
 *   `.equ` constants, the predefined ABI constants of syscalls.ts such as SYS_EXIT), parentheses,
 *   unary - ~, binary * / % + - << >> & ^ | (C precedence).
 * - Memory operands: [reg], [reg + expr], [reg - expr].
 * - ALU instructions take a register or an expression as their last operand and pick the register
 *   or immediate opcode: `add r1, r1, r2` (ADD), `add r1, r1, 4` (ADDI). `mov rd, ra|imm`,
 *   `cmp ra, rb|imm`, `jmp ra|label`, `call label|ra` likewise. Aliases: `li`/`la` = movi,
 *   `lea rd, [ra + off]` = addi rd, ra, off.
 * - Conditional branches: `beq target` tests the flags set by `cmp`; `beq ra, rb, target`
 *   compares two registers itself (and leaves the flags alone). Same for bne, blt, ble, bgt, bge
 *   and the unsigned bltu, bleu, bgtu, bgeu.
 *
 * Directives: .text .data .bss (.section NAME), .equ NAME, value (also `.equ NAME value`, .set),
 * .word e, ..., .byte e, ..., .ascii "s", .asciz "s" (.string), .space n [, fill] (.zero, .skip),
 * .align n (bytes, power of two; .balign), .entry expr, .stack size, .global/.globl (ignored),
 * .include "file".
 *
 * `.include "file"` assembles the file's text in place, as GNU as does: its labels, constants and
 * section switches join the program's (the section it ends in stays current). `options.include`
 * supplies the text, a relative path being taken from the including file's directory
 * (sourceFiles.ts has `fileIncluder` for the file system). A file is included at most once per
 * program: there are no macros or conditionals, so a second copy could only redefine its labels.
 * Errors in an included file name that file and line, then where it was included from.
 *
 * Layout: text at `textBase` (0x1000), data at the next page boundary after text, bss at the next
 * page boundary after data. Instructions are aligned to 8 bytes and `.word` to 4 automatically;
 * labels written before an item bind to the item's aligned address. The stack is described by
 * `stackTop`/`stackSize` (`.stack` sets the size) for the kernel to map.
 */

/** The text of an included file: `path` as written in `.include`, `from` the including file. */
export type Includer = (path: string, from: string) => string;

export interface AssembleOptions {
  /** Name used in error messages and passed to `include` as `from` (default "<source>"). */
  fileName?: string;
  /** Reads `.include`d files (e.g. fileIncluder() of sourceFiles.ts); without it `.include` fails. */
  include?: Includer;
  /** Address of the text segment (default 0x1000; page 0 stays unmapped to catch null pointers). */
  textBase?: number;
  /** Page size segments are aligned to (default 4096). */
  pageSize?: number;
  /** Top of the initial stack (default 0x40000000). */
  stackTop?: number;
  /** Default stack size in bytes (default 64 KiB); `.stack` overrides it. */
  stackSize?: number;
  /** Constants that override the program's own `.equ` of the same name (like cc -D). */
  defines?: Readonly<Record<string, number>>;
  /** Constants available to every program (default: ABI_SYMBOLS from syscalls.ts). */
  predefined?: Readonly<Record<string, number>>;
}

export const DEFAULT_TEXT_BASE = 0x1000;
export const DEFAULT_PAGE_SIZE = 4096;
export const DEFAULT_STACK_TOP = 0x40000000;
export const DEFAULT_STACK_SIZE = 64 * 1024;
/** How deep `.include`s may nest below the main file. */
export const MAX_INCLUDE_DEPTH = 16;

/** Where a file was included: the including file and the line of its `.include`. */
export interface IncludeSite {
  readonly fileName: string;
  readonly line: number;
}

/** A problem in the source, with its 1-based line and column. */
export class AssemblyError extends Error {
  /** The message without the location prefix. */
  readonly reason: string;
  readonly fileName: string;
  readonly line: number;
  readonly column: number;
  /** The text of the offending line. */
  readonly sourceLine: string;
  /** For an error in an included file: the chain of `.include`s, innermost first. */
  readonly includedFrom: readonly IncludeSite[];

  constructor(
    reason: string,
    fileName: string,
    line: number,
    column: number,
    sourceLine: string,
    includedFrom: readonly IncludeSite[] = [],
  ) {
    const from = includedFrom.map((s) => `${s.fileName}:${s.line}`).join(', ');
    super(`${fileName}:${line}:${column}: ${reason}${from ? ` (included from ${from})` : ''}`);
    this.name = 'AssemblyError';
    this.reason = reason;
    this.fileName = fileName;
    this.line = line;
    this.column = column;
    this.sourceLine = sourceLine;
    this.includedFrom = includedFrom;
  }
}

// ---------------------------------------------------------------------------------------------
// Tokens

type Token =
  | { readonly t: 'id'; readonly v: string; readonly col: number }
  | { readonly t: 'num'; readonly v: string; readonly n: number; readonly col: number }
  | { readonly t: 'str'; readonly v: string; readonly bytes: Uint8Array; readonly col: number }
  | { readonly t: 'p'; readonly v: string; readonly col: number };

/** A file being assembled; `parent` is where it was included (none for the main file). */
interface SourceFile {
  readonly name: string;
  readonly parent?: { readonly file: SourceFile; readonly line: number };
}

interface Located {
  readonly file: SourceFile;
  readonly line: number;
  readonly text: string;
}

class Reporter {
  fail(at: Located, column: number, message: string): never {
    const sites: IncludeSite[] = [];
    for (let p = at.file.parent; p; p = p.file.parent)
      sites.push({ fileName: p.file.name, line: p.line });
    throw new AssemblyError(message, at.file.name, at.line, column, at.text, sites);
  }
}

/** `line N`, or `file:N` when `def` is in another file than `here`. */
function lineOf(def: Located, here: Located): string {
  return def.file === here.file ? `line ${def.line}` : `${def.file.name}:${def.line}`;
}

/** The name of `path` included from the file `from`: joined to its directory, `.`/`..` folded. */
function includeName(from: string, path: string): string {
  const dir = path.startsWith('/') ? '' : from.slice(0, from.lastIndexOf('/') + 1);
  const parts: string[] = [];
  for (const part of (dir + path).split('/')) {
    const last = parts[parts.length - 1];
    if (part === '.' || (part === '' && parts.length > 0)) continue;
    if (part === '..' && last !== undefined && last !== '..' && last !== '') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

const ID_START = /[A-Za-z_.$]/;
const ID_CHAR = /[A-Za-z0-9_.$]/;
const PUNCT2 = new Set(['<<', '>>']);
const PUNCT1 = new Set([',', '[', ']', '(', ')', '+', '-', '*', '/', '%', '~', '&', '|', '^', ':']);

/** Reads one escape sequence after a backslash at text[i]; returns [byte, next index]. */
function readEscape(text: string, i: number, at: Located, r: Reporter): [number, number] {
  const c = text[i];
  switch (c) {
    case 'n':
      return [10, i + 1];
    case 't':
      return [9, i + 1];
    case 'r':
      return [13, i + 1];
    case '0':
      return [0, i + 1];
    case 'a':
      return [7, i + 1];
    case 'b':
      return [8, i + 1];
    case 'e':
      return [27, i + 1];
    case '\\':
      return [92, i + 1];
    case '"':
      return [34, i + 1];
    case "'":
      return [39, i + 1];
    case 'x': {
      const m = /^[0-9a-fA-F]{1,2}/.exec(text.slice(i + 1));
      if (!m) r.fail(at, i, "'\\x' needs one or two hex digits");
      return [Number.parseInt(m[0], 16), i + 1 + m[0].length];
    }
    case undefined:
      return r.fail(at, i, 'unterminated escape sequence');
    default:
      return r.fail(at, i, `unknown escape sequence '\\${c}'`);
  }
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function tokenize(at: Located, r: Reporter): Token[] {
  const text = at.text;
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const col = i + 1;
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === ';' || c === '#') {
      break;
    } else if (c === '"') {
      const bytes: number[] = [];
      i++;
      for (;;) {
        const d = text[i];
        if (d === undefined) r.fail(at, col, 'unterminated string');
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\') {
          const [b, next] = readEscape(text, i + 1, at, r);
          bytes.push(b);
          i = next;
        } else {
          const cp = text.codePointAt(i)!;
          const s = String.fromCodePoint(cp);
          for (const b of utf8.encode(s)) bytes.push(b);
          i += s.length;
        }
      }
      out.push({ t: 'str', v: text.slice(col - 1, i), bytes: Uint8Array.from(bytes), col });
    } else if (c === "'") {
      let value: number;
      let j = i + 1;
      const d = text[j];
      if (d === undefined || d === "'") r.fail(at, col, 'empty or unterminated character literal');
      if (d === '\\') {
        [value, j] = readEscape(text, j + 1, at, r);
      } else {
        value = text.codePointAt(j)!;
        j += String.fromCodePoint(value).length;
      }
      if (text[j] !== "'") r.fail(at, col, 'unterminated character literal');
      i = j + 1;
      out.push({ t: 'num', v: text.slice(col - 1, i), n: value, col });
    } else if (/[0-9]/.test(c)) {
      let j = i;
      while (j < text.length && /[0-9A-Za-z_]/.test(text[j]!)) j++;
      const word = text.slice(i, j);
      const clean = word.replace(/_/g, '');
      let n = Number.NaN;
      if (/^0[xX][0-9a-fA-F]+$/.test(clean)) n = Number.parseInt(clean.slice(2), 16);
      else if (/^0[bB][01]+$/.test(clean)) n = Number.parseInt(clean.slice(2), 2);
      else if (/^0[oO][0-7]+$/.test(clean)) n = Number.parseInt(clean.slice(2), 8);
      else if (/^[0-9]+$/.test(clean)) n = Number.parseInt(clean, 10);
      if (!Number.isSafeInteger(n)) r.fail(at, col, `bad number '${word}'`);
      out.push({ t: 'num', v: word, n, col });
      i = j;
    } else if (ID_START.test(c)) {
      let j = i + 1;
      while (j < text.length && ID_CHAR.test(text[j]!)) j++;
      out.push({ t: 'id', v: text.slice(i, j), col });
      i = j;
    } else if (PUNCT2.has(text.slice(i, i + 2))) {
      out.push({ t: 'p', v: text.slice(i, i + 2), col });
      i += 2;
    } else if (PUNCT1.has(c)) {
      out.push({ t: 'p', v: c, col });
      i++;
    } else {
      r.fail(at, col, `unexpected character '${c}'`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Expressions

type Expr =
  | { readonly k: 'num'; readonly n: number; readonly col: number }
  | { readonly k: 'sym'; readonly name: string; readonly col: number }
  | { readonly k: 'un'; readonly op: string; readonly e: Expr; readonly col: number }
  | {
      readonly k: 'bin';
      readonly op: string;
      readonly l: Expr;
      readonly r: Expr;
      readonly col: number;
    };

const BINARY_PRECEDENCE: Readonly<Record<string, number>> = {
  '|': 1,
  '^': 2,
  '&': 3,
  '<<': 4,
  '>>': 4,
  '+': 5,
  '-': 5,
  '*': 6,
  '/': 6,
  '%': 6,
};

class ExprParser {
  private i = 0;
  constructor(
    private readonly toks: readonly Token[],
    private readonly at: Located,
    private readonly r: Reporter,
    private readonly endCol: number,
  ) {}

  parseAll(): Expr {
    if (this.toks.length === 0) this.r.fail(this.at, this.endCol, 'expected an expression');
    const e = this.parse(1);
    const extra = this.toks[this.i];
    if (extra) this.r.fail(this.at, extra.col, `unexpected '${extra.v}' in expression`);
    return e;
  }

  private parse(minPrec: number): Expr {
    let left = this.unary();
    for (;;) {
      const t = this.toks[this.i];
      if (t?.t !== 'p') break;
      const prec = BINARY_PRECEDENCE[t.v];
      if (prec === undefined || prec < minPrec) break;
      this.i++;
      const right = this.parse(prec + 1);
      left = { k: 'bin', op: t.v, l: left, r: right, col: t.col };
    }
    return left;
  }

  private unary(): Expr {
    const t = this.toks[this.i];
    if (!t) return this.r.fail(this.at, this.endCol, 'expression ends unexpectedly');
    if (t.t === 'p' && (t.v === '-' || t.v === '~' || t.v === '+')) {
      this.i++;
      return { k: 'un', op: t.v, e: this.unary(), col: t.col };
    }
    if (t.t === 'p' && t.v === '(') {
      this.i++;
      const e = this.parse(1);
      const close = this.toks[this.i];
      if (close?.v !== ')') {
        this.r.fail(this.at, close ? close.col : this.endCol, "expected ')'");
      }
      this.i++;
      return e;
    }
    this.i++;
    if (t.t === 'num') return { k: 'num', n: t.n, col: t.col };
    if (t.t === 'id') {
      if (parseRegister(t.v) !== undefined) {
        this.r.fail(this.at, t.col, `register '${t.v}' cannot be used in an expression`);
      }
      return { k: 'sym', name: t.v, col: t.col };
    }
    if (t.t === 'str') this.r.fail(this.at, t.col, 'a string is not allowed here');
    return this.r.fail(this.at, t.col, `unexpected '${t.v}' in expression`);
  }
}

// ---------------------------------------------------------------------------------------------
// Statements

interface Label {
  readonly name: string;
  readonly col: number;
}

interface Operand {
  readonly toks: readonly Token[];
  readonly col: number;
  readonly endCol: number;
}

interface Statement extends Located {
  readonly labels: readonly Label[];
  /** Lower-cased mnemonic or directive, if any. */
  readonly op?: string;
  readonly opText?: string;
  readonly opCol: number;
  readonly operands: readonly Operand[];
  readonly endCol: number;
}

function splitOperands(
  toks: readonly Token[],
  at: Located,
  r: Reporter,
  endCol: number,
): Operand[] {
  const out: Operand[] = [];
  if (toks.length === 0) return out;
  let cur: Token[] = [];
  let curCol = toks[0]!.col;
  const finish = (end: number) => {
    if (cur.length === 0) r.fail(at, curCol, 'missing operand');
    out.push({ toks: cur, col: curCol, endCol: end });
  };
  for (const t of toks) {
    if (t.t === 'p' && t.v === ',') {
      finish(t.col);
      cur = [];
      curCol = t.col + 1;
    } else {
      if (cur.length === 0) curCol = t.col;
      cur.push(t);
    }
  }
  finish(endCol);
  return out;
}

function parseLine(file: SourceFile, line: number, text: string, r: Reporter): Statement {
  const at: Located = { file, line, text };
  const toks = tokenize(at, r);
  const endCol = text.replace(/\s+$/, '').length + 1;
  const labels: Label[] = [];
  let i = 0;
  while (toks[i]?.t === 'id' && toks[i + 1]?.t === 'p' && toks[i + 1]?.v === ':') {
    labels.push({ name: toks[i]!.v, col: toks[i]!.col });
    i += 2;
  }
  const head = toks[i];
  if (!head) return { file, line, text, labels, opCol: endCol, operands: [], endCol };
  if (head.t !== 'id') {
    r.fail(at, head.col, `expected a mnemonic or directive, got '${head.v}'`);
  }
  if (toks[i + 1]?.t === 'p' && toks[i + 1]?.v === ':') {
    r.fail(at, head.col, `bad label '${head.v}'`);
  }
  return {
    file,
    line,
    text,
    labels,
    op: head.v.toLowerCase(),
    opText: head.v,
    opCol: head.col,
    operands: splitOperands(toks.slice(i + 1), at, r, endCol),
    endCol,
  };
}

// ---------------------------------------------------------------------------------------------
// Instruction table

type SectionName = 'text' | 'data' | 'bss';

const ALU: Readonly<Record<string, readonly [number, number]>> = {
  add: [Op.ADD, Op.ADDI],
  sub: [Op.SUB, Op.SUBI],
  mul: [Op.MUL, Op.MULI],
  div: [Op.DIV, Op.DIVI],
  divu: [Op.DIVU, Op.DIVUI],
  rem: [Op.REM, Op.REMI],
  remu: [Op.REMU, Op.REMUI],
  and: [Op.AND, Op.ANDI],
  or: [Op.OR, Op.ORI],
  xor: [Op.XOR, Op.XORI],
  shl: [Op.SHL, Op.SHLI],
  shr: [Op.SHR, Op.SHRI],
  sar: [Op.SAR, Op.SARI],
};
const ALU_IMM: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(ALU).map(([k, v]) => [`${k}i`, v[1]]),
);
const SHIFT_IMM = new Set<number>([Op.SHLI, Op.SHRI, Op.SARI]);
const DIV_IMM = new Set<number>([Op.DIVI, Op.DIVUI, Op.REMI, Op.REMUI]);
const BRANCH: Readonly<Record<string, number>> = {
  b: Op.B,
  beq: Op.BEQ,
  bne: Op.BNE,
  blt: Op.BLT,
  ble: Op.BLE,
  bgt: Op.BGT,
  bge: Op.BGE,
  bltu: Op.BLTU,
  bleu: Op.BLEU,
  bgtu: Op.BGTU,
  bgeu: Op.BGEU,
};
const BRANCH_RR: Readonly<Record<string, number>> = {
  beq: Op.BEQR,
  bne: Op.BNER,
  blt: Op.BLTR,
  ble: Op.BLER,
  bgt: Op.BGTR,
  bge: Op.BGER,
  bltu: Op.BLTUR,
  bleu: Op.BLEUR,
  bgtu: Op.BGTUR,
  bgeu: Op.BGEUR,
};
const LOAD: Readonly<Record<string, number>> = { ldw: Op.LDW, ldb: Op.LDB, ldbs: Op.LDBS };
const STORE: Readonly<Record<string, number>> = { stw: Op.STW, stb: Op.STB };
const NO_OPERANDS: Readonly<Record<string, number>> = {
  nop: Op.NOP,
  halt: Op.HALT,
  trap: Op.TRAP,
  ret: Op.RET,
};
const OTHER = new Set([
  'mov',
  'movi',
  'li',
  'la',
  'not',
  'neg',
  'cmp',
  'cmpi',
  'jmp',
  'call',
  'callr',
  'push',
  'pop',
  'lea',
]);

function isInstruction(m: string): boolean {
  return (
    m in ALU ||
    m in ALU_IMM ||
    m in BRANCH ||
    m in LOAD ||
    m in STORE ||
    m in NO_OPERANDS ||
    OTHER.has(m)
  );
}

const DIRECTIVES = new Set([
  '.text',
  '.data',
  '.bss',
  '.section',
  '.equ',
  '.set',
  '.word',
  '.byte',
  '.ascii',
  '.asciz',
  '.string',
  '.space',
  '.zero',
  '.skip',
  '.align',
  '.balign',
  '.entry',
  '.stack',
  '.global',
  '.globl',
  '.include',
]);

// ---------------------------------------------------------------------------------------------
// Assembly

interface LabelDef {
  readonly section: SectionName;
  readonly offset: number;
  readonly stmt: Statement;
  readonly col: number;
}

interface EquDef {
  readonly expr: Expr;
  readonly stmt: Statement;
  readonly col: number;
}

type Item =
  | { readonly kind: 'instr'; readonly stmt: Statement; readonly offset: number }
  | { readonly kind: 'word' | 'byte'; readonly stmt: Statement; readonly offset: number }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array; readonly offset: number }
  | {
      readonly kind: 'fill';
      readonly value: number;
      readonly size: number;
      readonly offset: number;
    };

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

class Assembler {
  private readonly r = new Reporter();
  private readonly statements: Statement[] = [];
  private readonly include: Includer | undefined;
  /** Each included file's name, with the `.include` that brought it in. */
  private readonly includedBy = new Map<string, Statement>();
  /** Every label written in the source, known before layout assigns addresses. */
  private readonly labelNames = new Set<string>();
  private readonly equs = new Map<string, EquDef>();
  private readonly labels = new Map<string, LabelDef>();
  private readonly labelAddress = new Map<string, number>();
  private readonly evaluating = new Set<string>();
  private readonly equValues = new Map<string, number>();
  private readonly items: Record<SectionName, Item[]> = { text: [], data: [], bss: [] };
  private readonly size: Record<SectionName, number> = { text: 0, data: 0, bss: 0 };
  private readonly base: Record<SectionName, number> = { text: 0, data: 0, bss: 0 };
  private entryStmt: Statement | undefined;
  private stackStmt: Statement | undefined;
  private stackSize: number;
  private readonly textBase: number;
  private readonly pageSize: number;
  private readonly stackTop: number;
  private readonly defines: Readonly<Record<string, number>>;
  private readonly predefined: Readonly<Record<string, number>>;

  constructor(source: string, options: AssembleOptions) {
    this.include = options.include;
    this.pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    this.textBase = options.textBase ?? DEFAULT_TEXT_BASE;
    this.stackTop = options.stackTop ?? DEFAULT_STACK_TOP;
    this.stackSize = options.stackSize ?? DEFAULT_STACK_SIZE;
    this.defines = options.defines ?? {};
    this.predefined = options.predefined ?? ABI_SYMBOLS;
    const ps = this.pageSize;
    if (!(ps >= 8 && (ps & (ps - 1)) === 0)) {
      throw new RangeError(`pageSize must be a power of two >= 8, got ${ps}`);
    }
    if (this.textBase % ps !== 0 || this.stackTop % ps !== 0) {
      throw new RangeError('textBase and stackTop must be multiples of the page size');
    }
    this.read(source, { name: options.fileName ?? '<source>' });
    for (const st of this.statements) for (const l of st.labels) this.labelNames.add(l.name);
  }

  private fail(s: Located, col: number, msg: string): never {
    return this.r.fail(s, col, msg);
  }

  /** Parses `source` into `statements`, an `.include`d file's statements after its `.include`. */
  private read(source: string, file: SourceFile): void {
    const lines = source.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const s = parseLine(file, i + 1, lines[i]!.replace(/\r$/, ''), this.r);
      this.statements.push(s);
      if (s.op === '.include') this.read(...this.included(s));
    }
  }

  /** The text and file of an `.include`, refusing repeats, cycles and too deep a nesting. */
  private included(s: Statement): [string, SourceFile] {
    const o = s.operands[0];
    const t = o?.toks[0];
    if (!o || s.operands.length !== 1 || o.toks.length !== 1 || t?.t !== 'str') {
      this.fail(s, o?.col ?? s.endCol, `'${s.opText}' needs a file name in double quotes`);
    }
    const path = fromUtf8.decode(t.bytes);
    if (path === '') this.fail(s, t.col, 'empty file name');
    const name = includeName(s.file.name, path);
    const chain: string[] = [];
    for (let f: SourceFile | undefined = s.file; f; f = f.parent?.file) {
      chain.unshift(includeName('', f.name));
    }
    const loop = chain.indexOf(name);
    if (loop >= 0) {
      this.fail(s, t.col, `include cycle: ${[...chain.slice(loop), name].join(' -> ')}`);
    }
    const first = this.includedBy.get(name);
    if (first) {
      this.fail(
        s,
        t.col,
        `'${name}' is already included (at ${first.file.name}:${first.line}); a file is included once`,
      );
    }
    if (chain.length > MAX_INCLUDE_DEPTH) {
      this.fail(s, t.col, `includes nested more than ${MAX_INCLUDE_DEPTH} deep`);
    }
    if (!this.include) {
      this.fail(
        s,
        t.col,
        `cannot include '${path}': no include resolver (AssembleOptions.include)`,
      );
    }
    let text: string;
    try {
      text = this.include(path, s.file.name);
    } catch (e) {
      if (e instanceof AssemblyError) throw e;
      this.fail(
        s,
        t.col,
        `cannot include '${path}': ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    this.includedBy.set(name, s);
    return [text, { name, parent: { file: s.file, line: s.line } }];
  }

  private expr(s: Statement, o: Operand): Expr {
    return new ExprParser(o.toks, s, this.r, o.endCol).parseAll();
  }

  // -- symbols ---------------------------------------------------------------------------------

  /**
   * Value of a symbol: a define, a label, a constant (`.equ`, evaluated on first use) or a
   * predefined ABI symbol. In constant mode (sizes during layout) labels have no address yet and
   * are an error.
   */
  private symbol(name: string, s: Located, col: number, constant: boolean): number {
    const d = this.defines[name];
    if (d !== undefined) return d;
    if (constant && this.labelNames.has(name)) {
      this.fail(s, col, `'${name}' is a label; a constant expression is needed here`);
    }
    if (this.labels.has(name)) return this.labelAddress.get(name)!;
    const equ = this.equs.get(name);
    if (equ) {
      const known = this.equValues.get(name);
      if (known !== undefined) return known;
      if (this.evaluating.has(name)) this.fail(s, col, `circular definition of '${name}'`);
      this.evaluating.add(name);
      const v = this.evaluate(equ.expr, equ.stmt, constant);
      this.evaluating.delete(name);
      // Only cache values that cannot change: in constant mode, labels were excluded.
      this.equValues.set(name, v);
      return v;
    }
    const p = this.predefined[name];
    if (p !== undefined) return p;
    return this.fail(s, col, `undefined symbol '${name}'`);
  }

  private evaluate(e: Expr, s: Located, constant: boolean): number {
    switch (e.k) {
      case 'num':
        return e.n;
      case 'sym':
        return this.symbol(e.name, s, e.col, constant);
      case 'un': {
        const v = this.evaluate(e.e, s, constant);
        return e.op === '-' ? -v : e.op === '~' ? ~v : v;
      }
      case 'bin': {
        const a = this.evaluate(e.l, s, constant);
        const b = this.evaluate(e.r, s, constant);
        switch (e.op) {
          case '+':
            return a + b;
          case '-':
            return a - b;
          case '*':
            return a * b;
          case '/':
          case '%':
            if (b === 0) this.fail(s, e.col, 'division by zero in expression');
            return e.op === '/' ? Math.trunc(a / b) : a % b;
          case '<<':
            return a << b;
          case '>>':
            return a >> b;
          case '&':
            return a & b;
          case '|':
            return a | b;
          default:
            return a ^ b;
        }
      }
    }
  }

  private constant(s: Statement, o: Operand): number {
    return this.evaluate(this.expr(s, o), s, true);
  }

  // -- pass 1: symbols and layout --------------------------------------------------------------

  private collectEqus(): void {
    for (const s of this.statements) {
      if (s.op !== '.equ' && s.op !== '.set') continue;
      let nameTok: Token | undefined;
      let rest: Operand;
      const first = s.operands[0];
      if (!first) this.fail(s, s.endCol, `'${s.opText}' needs a name and a value`);
      if (s.operands.length === 2) {
        if (first.toks.length !== 1) this.fail(s, first.col, `bad constant name`);
        nameTok = first.toks[0];
        rest = s.operands[1]!;
      } else if (s.operands.length === 1 && first.toks.length >= 2) {
        // `.equ NAME value` without a comma
        nameTok = first.toks[0];
        const toks = first.toks.slice(1);
        rest = { toks, col: toks[0]!.col, endCol: first.endCol };
      } else {
        this.fail(s, first.col, `'${s.opText}' needs a name and a value`);
      }
      if (nameTok?.t !== 'id') {
        this.fail(s, nameTok?.col ?? first.col, 'bad constant name');
      }
      const name = nameTok.v;
      if (parseRegister(name) !== undefined || looksLikeRegister(name)) {
        this.fail(s, nameTok.col, `'${name}' is a register name and cannot be a constant`);
      }
      const prev = this.equs.get(name);
      if (prev) {
        this.fail(
          s,
          nameTok.col,
          `duplicate constant '${name}' (first defined at ${lineOf(prev.stmt, s)})`,
        );
      }
      this.equs.set(name, { expr: this.expr(s, rest), stmt: s, col: nameTok.col });
    }
  }

  private layout(): void {
    let section: SectionName = 'text';
    let pending: { label: Label; stmt: Statement }[] = [];
    const bind = () => {
      for (const { label, stmt } of pending) {
        const name = label.name;
        if (looksLikeRegister(name)) {
          this.fail(stmt, label.col, `'${name}' is a register name and cannot be a label`);
        }
        const prev = this.labels.get(name);
        if (prev) {
          this.fail(
            stmt,
            label.col,
            `duplicate label '${name}' (first defined at ${lineOf(prev.stmt, stmt)})`,
          );
        }
        const equ = this.equs.get(name);
        if (equ) {
          this.fail(stmt, label.col, `'${name}' is already a constant (${lineOf(equ.stmt, stmt)})`);
        }
        this.labels.set(name, { section, offset: this.size[section], stmt, col: label.col });
      }
      pending = [];
    };
    const pad = (to: number) => {
      const at = this.size[section];
      const aligned = alignUp(at, to);
      if (aligned > at && section !== 'bss') {
        this.items[section].push({ kind: 'fill', value: 0, size: aligned - at, offset: at });
      }
      this.size[section] = aligned;
    };
    const noBss = (s: Statement) => {
      if (section === 'bss') {
        this.fail(
          s,
          s.opCol,
          `'${s.opText}' is not allowed in .bss (it has no contents); use .space`,
        );
      }
    };

    for (const s of this.statements) {
      for (const label of s.labels) pending.push({ label, stmt: s });
      const op = s.op;
      if (op === undefined) continue;
      if (isInstruction(op)) {
        if (section !== 'text') {
          this.fail(s, s.opCol, `instruction '${s.opText}' outside .text (in .${section})`);
        }
        pad(8);
        bind();
        this.items.text.push({ kind: 'instr', stmt: s, offset: this.size.text });
        this.size.text += 8;
        continue;
      }
      if (!DIRECTIVES.has(op)) {
        if (op.startsWith('.')) this.fail(s, s.opCol, `unknown directive '${s.opText}'`);
        this.fail(s, s.opCol, `unknown mnemonic '${s.opText}'`);
      }
      switch (op) {
        case '.text':
        case '.data':
        case '.bss':
        case '.section': {
          let name: string = op;
          if (op === '.section') {
            const o = s.operands[0];
            const t = o?.toks[0];
            if (!o || s.operands.length !== 1 || o.toks.length !== 1 || t?.t !== 'id') {
              this.fail(s, o?.col ?? s.endCol, `'.section' needs one of .text, .data, .bss`);
            }
            name = t.v.toLowerCase();
            if (name !== '.text' && name !== '.data' && name !== '.bss') {
              this.fail(s, t.col, `unknown section '${t.v}' (use .text, .data or .bss)`);
            }
          } else {
            this.noOperands(s);
          }
          bind();
          section = name.slice(1) as SectionName;
          break;
        }
        case '.equ':
        case '.set':
        case '.global':
        case '.globl':
        case '.include':
          break;
        case '.entry':
          this.exactly(s, 1, 'an address');
          this.entryStmt = s;
          break;
        case '.stack': {
          this.exactly(s, 1, 'a size');
          const v = this.constant(s, s.operands[0]!);
          if (!(v > 0 && v <= 0x10000000 && v % 4 === 0)) {
            this.fail(
              s,
              s.operands[0]!.col,
              `stack size ${v} must be a positive multiple of 4 up to 256 MiB`,
            );
          }
          this.stackSize = v;
          this.stackStmt = s;
          break;
        }
        case '.align':
        case '.balign': {
          this.exactly(s, 1, 'an alignment');
          const a = this.constant(s, s.operands[0]!);
          if (!(a >= 1 && (a & (a - 1)) === 0 && a <= this.pageSize)) {
            this.fail(
              s,
              s.operands[0]!.col,
              `alignment ${a} must be a power of two from 1 to the page size`,
            );
          }
          pad(a);
          bind();
          break;
        }
        case '.space':
        case '.zero':
        case '.skip': {
          if (s.operands.length < 1 || s.operands.length > 2) {
            this.fail(s, s.opCol, `'${s.opText}' takes a size and an optional fill byte`);
          }
          const n = this.constant(s, s.operands[0]!);
          if (!(n >= 0 && n <= 0x40000000)) {
            this.fail(s, s.operands[0]!.col, `size ${n} is out of range 0..2^30`);
          }
          const fill = s.operands[1] ? this.constant(s, s.operands[1]) : 0;
          if (fill < -128 || fill > 255) {
            this.fail(s, s.operands[1]!.col, `fill value ${fill} does not fit in a byte`);
          }
          if (fill !== 0 && section === 'bss') {
            this.fail(s, s.operands[1]!.col, '.bss cannot have a non-zero fill');
          }
          bind();
          if (section !== 'bss') {
            this.items[section].push({
              kind: 'fill',
              value: fill,
              size: n,
              offset: this.size[section],
            });
          }
          this.size[section] += n;
          break;
        }
        case '.word':
        case '.byte': {
          noBss(s);
          if (s.operands.length === 0)
            this.fail(s, s.endCol, `'${s.opText}' needs at least one value`);
          if (op === '.word') pad(4);
          bind();
          const kind = op === '.word' ? 'word' : 'byte';
          this.items[section].push({ kind, stmt: s, offset: this.size[section] });
          this.size[section] += s.operands.length * (kind === 'word' ? 4 : 1);
          break;
        }
        default: {
          // .ascii, .asciz, .string
          noBss(s);
          if (s.operands.length === 0) this.fail(s, s.endCol, `'${s.opText}' needs a string`);
          bind();
          const zero = op !== '.ascii';
          for (const o of s.operands) {
            const t = o.toks[0]!;
            if (o.toks.length !== 1 || t.t !== 'str')
              this.fail(s, o.col, 'expected a string in double quotes');
            const bytes = zero ? Uint8Array.from([...t.bytes, 0]) : t.bytes;
            this.items[section].push({ kind: 'bytes', bytes, offset: this.size[section] });
            this.size[section] += bytes.length;
          }
        }
      }
    }
    bind();

    const ps = this.pageSize;
    this.base.text = this.textBase;
    // Data starts on the page after text even when text is empty, so segments never share an address.
    let cursor = alignUp(this.textBase + Math.max(this.size.text, 1), ps);
    this.base.data = cursor;
    cursor = alignUp(cursor + this.size.data, ps);
    this.base.bss = cursor;
    const end = cursor + this.size.bss;
    const stackBottom = this.stackTop - this.stackSize;
    if (end > stackBottom) {
      const where = this.stackStmt ?? this.statements[0]!;
      this.fail(
        where,
        1,
        `program (ends at 0x${end.toString(16)}) overlaps the stack (starts at 0x${stackBottom.toString(16)})`,
      );
    }
    for (const [name, def] of this.labels) {
      this.labelAddress.set(name, this.base[def.section] + def.offset);
    }
  }

  private noOperands(s: Statement): void {
    const o = s.operands[0];
    if (o) this.fail(s, o.col, `'${s.opText}' takes no operands`);
  }

  private exactly(s: Statement, n: number, what: string): void {
    if (s.operands.length !== n) {
      const extra = s.operands[n];
      this.fail(s, extra ? extra.col : s.endCol, `'${s.opText}' takes ${what}`);
    }
  }

  // -- pass 2: encoding ------------------------------------------------------------------------

  private value(s: Statement, o: Operand, min: number, max: number, what: string): number {
    const v = this.evaluate(this.expr(s, o), s, false);
    if (!Number.isInteger(v) || v < min || v > max) {
      this.fail(s, o.col, `${what} ${v} is out of range (${min}..${max})`);
    }
    return v;
  }

  private imm32(s: Statement, o: Operand): number {
    return this.value(s, o, -0x80000000, 0xffffffff, 'value') | 0;
  }

  private register(s: Statement, o: Operand): number {
    const t = o.toks[0]!;
    if (o.toks.length === 1 && t.t === 'id') {
      const r = parseRegister(t.v);
      if (r !== undefined) return r;
      if (looksLikeRegister(t.v)) {
        this.fail(s, t.col, `bad register '${t.v}' (registers are r0..r15, sp, fp)`);
      }
    }
    return this.fail(s, o.col, `expected a register, got '${o.toks.map((x) => x.v).join(' ')}'`);
  }

  /** The operand is a register (return it) or an expression (return undefined). */
  private maybeRegister(s: Statement, o: Operand): number | undefined {
    const t = o.toks[0]!;
    if (o.toks.length === 1 && t.t === 'id' && looksLikeRegister(t.v)) return this.register(s, o);
    return undefined;
  }

  private memory(s: Statement, o: Operand): { base: number; offset: number } {
    const toks = o.toks;
    const first = toks[0]!;
    const last = toks[toks.length - 1]!;
    if (first.v !== '[' || last.v !== ']' || toks.length < 3) {
      this.fail(s, o.col, "expected a memory operand '[register]' or '[register + offset]'");
    }
    const regTok = toks[1]!;
    const base = this.register(s, { toks: [regTok], col: regTok.col, endCol: regTok.col });
    if (toks.length === 3) return { base, offset: 0 };
    const sign = toks[2]!;
    if (sign.v !== '+' && sign.v !== '-') {
      this.fail(s, sign.col, `expected '+', '-' or ']' after the base register, got '${sign.v}'`);
    }
    const inner = toks.slice(3, -1);
    const e = new ExprParser(inner, s, this.r, last.col).parseAll();
    let v = this.evaluate(e, s, false);
    if (sign.v === '-') v = -v;
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) {
      this.fail(s, sign.col, `offset ${v} does not fit in 32 bits`);
    }
    return { base, offset: v | 0 };
  }

  private count(s: Statement, n: number, shape: string): void {
    if (s.operands.length !== n) {
      const extra = s.operands[n];
      const got = s.operands.length;
      this.fail(
        s,
        extra ? extra.col : s.endCol,
        `'${s.opText}' takes ${n} operand${n === 1 ? '' : 's'} (${shape}), got ${got}`,
      );
    }
  }

  private target(s: Statement, o: Operand): number {
    const v = this.imm32(s, o);
    if ((v & 7) !== 0) {
      this.fail(s, o.col, `branch target 0x${(v >>> 0).toString(16)} is not 8-byte aligned`);
    }
    return v;
  }

  /** Returns [opcode, x, y, z, imm]. */
  private encode(s: Statement): [number, number, number, number, number] {
    const m = s.op!;
    const ops = s.operands;
    if (m in NO_OPERANDS) {
      this.count(s, 0, 'none');
      return [NO_OPERANDS[m]!, 0, 0, 0, 0];
    }
    if (m in ALU || m in ALU_IMM) {
      this.count(s, 3, m in ALU ? 'rd, ra, rb or immediate' : 'rd, ra, immediate');
      const rd = this.register(s, ops[0]!);
      const ra = this.register(s, ops[1]!);
      const rb = m in ALU ? this.maybeRegister(s, ops[2]!) : undefined;
      if (rb !== undefined) return [ALU[m]![0], rd, ra, rb, 0];
      const opc = m in ALU ? ALU[m]![1] : ALU_IMM[m]!;
      let imm: number;
      if (SHIFT_IMM.has(opc)) imm = this.value(s, ops[2]!, 0, 31, 'shift amount');
      else imm = this.imm32(s, ops[2]!);
      if (DIV_IMM.has(opc) && imm === 0) this.fail(s, ops[2]!.col, 'division by constant zero');
      return [opc, rd, ra, 0, imm];
    }
    if (m in BRANCH_RR && ops.length === 3) {
      const ra = this.register(s, ops[0]!);
      const rb = this.register(s, ops[1]!);
      return [BRANCH_RR[m]!, 0, ra, rb, this.target(s, ops[2]!)];
    }
    if (m in BRANCH) {
      this.count(s, 1, m in BRANCH_RR ? 'target, or ra, rb, target' : 'target');
      return [BRANCH[m]!, 0, 0, 0, this.target(s, ops[0]!)];
    }
    if (m in LOAD) {
      this.count(s, 2, 'rd, [ra + offset]');
      const rd = this.register(s, ops[0]!);
      const { base, offset } = this.memory(s, ops[1]!);
      return [LOAD[m]!, rd, base, 0, offset];
    }
    if (m in STORE) {
      this.count(s, 2, 'rs, [ra + offset]');
      const rs = this.register(s, ops[0]!);
      const { base, offset } = this.memory(s, ops[1]!);
      return [STORE[m]!, 0, base, rs, offset];
    }
    switch (m) {
      case 'mov': {
        this.count(s, 2, 'rd, ra or immediate');
        const rd = this.register(s, ops[0]!);
        const ra = this.maybeRegister(s, ops[1]!);
        if (ra !== undefined) return [Op.MOV, rd, ra, 0, 0];
        return [Op.MOVI, rd, 0, 0, this.imm32(s, ops[1]!)];
      }
      case 'movi':
      case 'li':
      case 'la':
        this.count(s, 2, 'rd, immediate');
        return [Op.MOVI, this.register(s, ops[0]!), 0, 0, this.imm32(s, ops[1]!)];
      case 'not':
      case 'neg':
        this.count(s, 2, 'rd, ra');
        return [
          m === 'not' ? Op.NOT : Op.NEG,
          this.register(s, ops[0]!),
          this.register(s, ops[1]!),
          0,
          0,
        ];
      case 'cmp': {
        this.count(s, 2, 'ra, rb or immediate');
        const ra = this.register(s, ops[0]!);
        const rb = this.maybeRegister(s, ops[1]!);
        if (rb !== undefined) return [Op.CMP, 0, ra, rb, 0];
        return [Op.CMPI, 0, ra, 0, this.imm32(s, ops[1]!)];
      }
      case 'cmpi':
        this.count(s, 2, 'ra, immediate');
        return [Op.CMPI, 0, this.register(s, ops[0]!), 0, this.imm32(s, ops[1]!)];
      case 'jmp':
      case 'call': {
        this.count(s, 1, 'register or target');
        const r = this.maybeRegister(s, ops[0]!);
        if (r !== undefined) return [m === 'jmp' ? Op.JMP : Op.CALLR, 0, r, 0, 0];
        return [m === 'jmp' ? Op.B : Op.CALL, 0, 0, 0, this.target(s, ops[0]!)];
      }
      case 'callr':
        this.count(s, 1, 'register');
        return [Op.CALLR, 0, this.register(s, ops[0]!), 0, 0];
      case 'push':
        this.count(s, 1, 'register');
        return [Op.PUSH, 0, this.register(s, ops[0]!), 0, 0];
      case 'pop':
        this.count(s, 1, 'register');
        return [Op.POP, this.register(s, ops[0]!), 0, 0, 0];
      default: {
        // lea rd, [ra + offset]
        this.count(s, 2, 'rd, [ra + offset]');
        const rd = this.register(s, ops[0]!);
        const { base, offset } = this.memory(s, ops[1]!);
        return [Op.ADDI, rd, base, 0, offset];
      }
    }
  }

  private emit(section: SectionName, lines: Map<number, number>): Uint8Array {
    const bytes = new Uint8Array(this.size[section]);
    for (const item of this.items[section]) {
      switch (item.kind) {
        case 'instr': {
          const [op, x, y, z, imm] = this.encode(item.stmt);
          encodeInstruction(bytes, item.offset, op, x, y, z, imm);
          lines.set(this.base[section] + item.offset, item.stmt.line);
          break;
        }
        case 'word': {
          let at = item.offset;
          for (const o of item.stmt.operands) {
            const v = this.imm32(item.stmt, o);
            bytes[at] = v;
            bytes[at + 1] = v >>> 8;
            bytes[at + 2] = v >>> 16;
            bytes[at + 3] = v >>> 24;
            at += 4;
          }
          break;
        }
        case 'byte': {
          let at = item.offset;
          for (const o of item.stmt.operands) {
            bytes[at++] = this.value(item.stmt, o, -128, 255, 'byte value');
          }
          break;
        }
        case 'bytes':
          bytes.set(item.bytes, item.offset);
          break;
        case 'fill':
          if (item.value !== 0) bytes.fill(item.value, item.offset, item.offset + item.size);
          break;
      }
    }
    return bytes;
  }

  assemble(): Image {
    this.collectEqus();
    this.layout();
    // Evaluate every constant once so that errors in unused ones are reported too.
    for (const [name, def] of this.equs) {
      if (!(name in this.defines)) this.symbol(name, def.stmt, def.col, false);
    }
    const lines = new Map<number, number>();
    const text = this.emit('text', lines);
    const data = this.emit('data', lines);
    const segments: Segment[] = [
      {
        kind: 'text',
        address: this.base.text,
        size: this.size.text,
        bytes: text,
        writable: false,
        executable: true,
      },
    ];
    if (this.size.data > 0) {
      segments.push({
        kind: 'data',
        address: this.base.data,
        size: this.size.data,
        bytes: data,
        writable: true,
        executable: false,
      });
    }
    if (this.size.bss > 0) {
      segments.push({
        kind: 'bss',
        address: this.base.bss,
        size: this.size.bss,
        bytes: new Uint8Array(0),
        writable: true,
        executable: false,
      });
    }
    let entry = this.base.text;
    if (this.entryStmt) {
      entry = this.target(this.entryStmt, this.entryStmt.operands[0]!) >>> 0;
    } else if (this.labels.has('_start')) {
      entry = this.labelAddress.get('_start')!;
    }
    const symbols: Record<string, number> = {};
    for (const [name, addr] of this.labelAddress) symbols[name] = addr;
    for (const name of this.equs.keys())
      symbols[name] = this.symbol(name, this.statements[0]!, 1, false);
    for (const [name, v] of Object.entries(this.defines)) symbols[name] = v;
    return {
      segments,
      entry,
      symbols,
      stackTop: this.stackTop,
      stackSize: this.stackSize,
      pageSize: this.pageSize,
      lines,
    };
  }
}

/** Assembles source text into an Image. Throws AssemblyError (with line and column) on bad input. */
export function assemble(source: string, options: AssembleOptions = {}): Image {
  return new Assembler(source, options).assemble();
}
