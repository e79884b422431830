import {
  compileRegion,
  EXIT_BUDGET,
  EXIT_INTERP,
  EXIT_JUMP,
  REGION_INSTRUCTIONS,
  ST_FLAGS,
  ST_LEFT,
  ST_PC,
  ST_SIZE,
} from './jit.ts';
import type { Memory } from './memory.ts';
import {
  beginRun,
  endRun,
  fill,
  NOT_RESIDENT,
  OK,
  pageCode,
  type RegionCode,
  rTag,
  rU8,
  runId,
  rW32,
  TLB_MASK,
  TLB_SIZE,
  UNMAPPED,
  wTag,
  wU8,
  wW32,
} from './runtime.ts';
import type { ThreadState } from './thread.ts';

/**
 * The interpreter: executes a thread's instructions out of its task's paged memory.
 *
 * It is a plain loop over a switch (no XState, no allocation per instruction). Instructions are
 * fetched from memory every time through an Int32Array view of the current code page, so code is
 * always coherent with memory (a store into a text page is seen by the next fetch; whether text is
 * writable is the Memory's protection decision). Translations are cached in a small direct-mapped
 * TLB that is flushed at the start of every `run()` (see the caching contract on `Memory.page`).
 *
 * Hot regions of code pages are compiled to JavaScript functions (jit.ts) with the same
 * semantics; `run()` dispatches between compiled regions and this loop.
 * `setJitOptions({ enabled: false })` turns that off (every instruction goes through the loop).
 *
 * Restartable faults: each instruction touches at most one data page (word accesses must be
 * aligned, so they never straddle pages) and it translates that page before it changes anything.
 * On a fault the thread's registers, pc, flags and memory are exactly as before the instruction,
 * so the kernel can resolve the fault and call `run()` again to retry it.
 */

/** Mach-style exception kinds (Mach 3 Kernel Interfaces, exception_raise: EXC_BAD_ACCESS, ...). */
export type ExceptionKind =
  | 'bad_address'
  | 'protection'
  | 'illegal_instruction'
  | 'divide_by_zero'
  | 'bad_syscall';

/** Why `run()` returned. `executed`: instructions completed in this call (simulated CPU time). */
export type StopReason =
  /** The budget (quantum) was used up; pc is at the next instruction to execute. */
  | { readonly reason: 'budget'; readonly executed: number }
  /** A `halt` instruction; pc stays on it, so running again halts again. */
  | { readonly reason: 'halt'; readonly executed: number }
  /**
   * A `trap` (system call) number `number` (the value of r0); arguments are in r1..r7. pc is
   * already past the trap; the kernel writes results into the registers and runs the thread on.
   */
  | { readonly reason: 'trap'; readonly number: number; readonly executed: number }
  /**
   * The page holding `address` is not resident. Nothing of the faulting instruction happened;
   * resolve the fault and run again to retry it.
   */
  | {
      readonly reason: 'pagefault';
      readonly address: number;
      readonly write: boolean;
      readonly executed: number;
    }
  /**
   * The instruction at pc cannot execute. State is unchanged (pc still on the instruction).
   * `bad_syscall` is never produced by the interpreter; the kernel raises it for bad traps.
   */
  | {
      readonly reason: 'exception';
      readonly kind: ExceptionKind;
      readonly address?: number;
      readonly detail: string;
      readonly executed: number;
    };

const hex = (a: number): string => `0x${(a >>> 0).toString(16).padStart(8, '0')}`;

function memoryStop(
  status: number,
  address: number,
  write: boolean,
  fetch: boolean,
  executed: number,
): StopReason {
  const what = fetch ? 'instruction fetch from' : write ? 'write to' : 'read of';
  if (status === NOT_RESIDENT) {
    return { reason: 'pagefault', address: address >>> 0, write, executed };
  }
  if (status === UNMAPPED) {
    return {
      reason: 'exception',
      kind: 'bad_address',
      address: address >>> 0,
      detail: `${what} unmapped address ${hex(address)}`,
      executed,
    };
  }
  return {
    reason: 'exception',
    kind: 'protection',
    address: address >>> 0,
    detail: `${what} ${hex(address)} not permitted`,
    executed,
  };
}

function misaligned(address: number, what: string, executed: number): StopReason {
  return {
    reason: 'exception',
    kind: 'bad_address',
    address: address >>> 0,
    detail: `misaligned ${what} at ${hex(address)}`,
    executed,
  };
}

function exception(
  kind: ExceptionKind,
  pc: number,
  detail: string,
  executed: number,
  address?: number,
): StopReason {
  const at = ` at pc ${hex(pc)}`;
  return address === undefined
    ? { reason: 'exception', kind, detail: detail + at, executed }
    : { reason: 'exception', kind, address: address >>> 0, detail: detail + at, executed };
}

function checkPageSize(pageSize: number): void {
  if (!(pageSize >= 8 && pageSize <= 0x40000000 && (pageSize & (pageSize - 1)) === 0)) {
    throw new RangeError(`page size must be a power of two between 8 and 2^30, got ${pageSize}`);
  }
}

/** Set by interpret() when the thread stops (anything but running out of instructions). */
let stopped: StopReason | undefined;

/**
 * The interpreter loop: executes at most `limit` instructions of `thread`. Returns how many it
 * executed and leaves `stopped` set if the thread stopped. With `leaveUnit` (a power of two no
 * larger than the page, in bytes) it also returns when control moves to another aligned block of
 * that size (a compiled region, so run() can switch to compiled code). `n0` is added to the
 * `executed` count of stop reasons.
 */
function interpret(
  thread: ThreadState,
  limit: number,
  leaveUnit: number,
  n0: number,
  shift: number,
  offMask: number,
): number {
  const regs = thread.regs;
  const leave = leaveUnit !== 0;
  // pc & codeMask equals codeBase only for an 8-byte aligned pc in the current page (or unit).
  const codeMask = ~(leave ? leaveUnit - 1 : offMask) | 7;
  let pc = thread.pc | 0;
  let flags = thread.flags & 15;
  let n = 0;
  let codeBase = -1;
  let code = rW32[0]!;
  let status = OK;
  let result: StopReason | undefined;
  const budget = limit;

  loop: while (n < budget) {
    if ((pc & codeMask) !== codeBase) {
      if (leave && codeBase !== -1) break;
      if ((pc & 7) !== 0) {
        result = misaligned(pc, 'program counter', n0 + n);
        break;
      }
      const p = pc >>> shift;
      const e = p & TLB_MASK;
      if (rTag[e] !== p) {
        status = fill(p, false);
        if (status !== OK) {
          result = memoryStop(status, pc, false, true, n0 + n);
          break;
        }
      }
      code = rW32[e]!;
      codeBase = pc & codeMask;
    }
    const i = (pc & offMask) >>> 2;
    const w0 = code[i]!;
    const imm = code[i + 1]!;
    // Register bytes must be 0..15: keeping their high nibbles in the switch value sends any bad
    // encoding to `default` at no extra cost.
    switch (w0 & 0xf0f0f0ff) {
      case 1: // NOP
        pc = (pc + 8) | 0;
        break;
      case 2: // HALT
        n++;
        result = { reason: 'halt', executed: n0 + n };
        break loop;
      case 3: // TRAP
        pc = (pc + 8) | 0;
        n++;
        result = { reason: 'trap', number: regs[0]!, executed: n0 + n };
        break loop;
      case 4: // MOV x, y
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]!;
        pc = (pc + 8) | 0;
        break;
      case 5: // MOVI x, imm
        regs[(w0 >>> 8) & 15] = imm;
        pc = (pc + 8) | 0;
        break;
      case 6: // NOT x, y
        regs[(w0 >>> 8) & 15] = ~regs[(w0 >>> 16) & 15]!;
        pc = (pc + 8) | 0;
        break;
      case 7: // NEG x, y
        regs[(w0 >>> 8) & 15] = -regs[(w0 >>> 16) & 15]!;
        pc = (pc + 8) | 0;
        break;
      case 8: // ADD x, y, z
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! + regs[w0 >>> 24]!;
        pc = (pc + 8) | 0;
        break;
      case 9: // ADDI x, y, imm
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! + imm;
        pc = (pc + 8) | 0;
        break;
      case 10: // SUB
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! - regs[w0 >>> 24]!;
        pc = (pc + 8) | 0;
        break;
      case 11: // SUBI
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! - imm;
        pc = (pc + 8) | 0;
        break;
      case 12: // MUL
        regs[(w0 >>> 8) & 15] = Math.imul(regs[(w0 >>> 16) & 15]!, regs[w0 >>> 24]!);
        pc = (pc + 8) | 0;
        break;
      case 13: // MULI
        regs[(w0 >>> 8) & 15] = Math.imul(regs[(w0 >>> 16) & 15]!, imm);
        pc = (pc + 8) | 0;
        break;
      case 14: {
        // DIV x, y, z (signed, truncated; INT_MIN / -1 wraps to INT_MIN)
        const b = regs[w0 >>> 24]!;
        if (b === 0) {
          result = exception('divide_by_zero', pc, 'division by zero', n0 + n);
          break loop;
        }
        regs[(w0 >>> 8) & 15] = (regs[(w0 >>> 16) & 15]! / b) | 0;
        pc = (pc + 8) | 0;
        break;
      }
      case 15: // DIVI
        if (imm === 0) {
          result = exception('divide_by_zero', pc, 'division by zero', n0 + n);
          break loop;
        }
        regs[(w0 >>> 8) & 15] = (regs[(w0 >>> 16) & 15]! / imm) | 0;
        pc = (pc + 8) | 0;
        break;
      case 16: {
        // DIVU
        const b = regs[w0 >>> 24]!;
        if (b === 0) {
          result = exception('divide_by_zero', pc, 'division by zero', n0 + n);
          break loop;
        }
        regs[(w0 >>> 8) & 15] = ((regs[(w0 >>> 16) & 15]! >>> 0) / (b >>> 0)) >>> 0;
        pc = (pc + 8) | 0;
        break;
      }
      case 17: // DIVUI
        if (imm === 0) {
          result = exception('divide_by_zero', pc, 'division by zero', n0 + n);
          break loop;
        }
        regs[(w0 >>> 8) & 15] = ((regs[(w0 >>> 16) & 15]! >>> 0) / (imm >>> 0)) >>> 0;
        pc = (pc + 8) | 0;
        break;
      case 18: {
        // REM (sign of the dividend)
        const b = regs[w0 >>> 24]!;
        if (b === 0) {
          result = exception('divide_by_zero', pc, 'division by zero', n0 + n);
          break loop;
        }
        regs[(w0 >>> 8) & 15] = (regs[(w0 >>> 16) & 15]! % b) | 0;
        pc = (pc + 8) | 0;
        break;
      }
      case 19: // REMI
        if (imm === 0) {
          result = exception('divide_by_zero', pc, 'division by zero', n0 + n);
          break loop;
        }
        regs[(w0 >>> 8) & 15] = (regs[(w0 >>> 16) & 15]! % imm) | 0;
        pc = (pc + 8) | 0;
        break;
      case 20: {
        // REMU
        const b = regs[w0 >>> 24]!;
        if (b === 0) {
          result = exception('divide_by_zero', pc, 'division by zero', n0 + n);
          break loop;
        }
        regs[(w0 >>> 8) & 15] = ((regs[(w0 >>> 16) & 15]! >>> 0) % (b >>> 0)) | 0;
        pc = (pc + 8) | 0;
        break;
      }
      case 21: // REMUI
        if (imm === 0) {
          result = exception('divide_by_zero', pc, 'division by zero', n0 + n);
          break loop;
        }
        regs[(w0 >>> 8) & 15] = ((regs[(w0 >>> 16) & 15]! >>> 0) % (imm >>> 0)) | 0;
        pc = (pc + 8) | 0;
        break;
      case 22: // AND
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! & regs[w0 >>> 24]!;
        pc = (pc + 8) | 0;
        break;
      case 23: // ANDI
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! & imm;
        pc = (pc + 8) | 0;
        break;
      case 24: // OR
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! | regs[w0 >>> 24]!;
        pc = (pc + 8) | 0;
        break;
      case 25: // ORI
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! | imm;
        pc = (pc + 8) | 0;
        break;
      case 26: // XOR
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! ^ regs[w0 >>> 24]!;
        pc = (pc + 8) | 0;
        break;
      case 27: // XORI
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! ^ imm;
        pc = (pc + 8) | 0;
        break;
      case 28: // SHL (JS masks the count to 5 bits)
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! << regs[w0 >>> 24]!;
        pc = (pc + 8) | 0;
        break;
      case 29: // SHLI
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! << imm;
        pc = (pc + 8) | 0;
        break;
      case 30: // SHR
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! >>> regs[w0 >>> 24]!;
        pc = (pc + 8) | 0;
        break;
      case 31: // SHRI
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! >>> imm;
        pc = (pc + 8) | 0;
        break;
      case 32: // SAR
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! >> regs[w0 >>> 24]!;
        pc = (pc + 8) | 0;
        break;
      case 33: // SARI
        regs[(w0 >>> 8) & 15] = regs[(w0 >>> 16) & 15]! >> imm;
        pc = (pc + 8) | 0;
        break;
      case 34: // CMP y, z
      case 35: {
        // CMPI y, imm
        const a = regs[(w0 >>> 16) & 15]!;
        const b = (w0 & 1) !== 0 ? imm : regs[w0 >>> 24]!;
        const r = (a - b) | 0;
        flags =
          (r < 0 ? 8 : 0) |
          (a === b ? 4 : 0) |
          (a >>> 0 >= b >>> 0 ? 2 : 0) |
          (((a ^ b) & (a ^ r)) < 0 ? 1 : 0);
        pc = (pc + 8) | 0;
        break;
      }
      case 36: // B
        pc = imm;
        break;
      case 37: // BEQ: Z
        pc = (flags & 4) !== 0 ? imm : (pc + 8) | 0;
        break;
      case 38: // BNE: !Z
        pc = (flags & 4) === 0 ? imm : (pc + 8) | 0;
        break;
      case 39: // BLT: N != V
        pc = ((flags ^ (flags >> 3)) & 1) !== 0 ? imm : (pc + 8) | 0;
        break;
      case 40: // BLE: Z or N != V
        pc = (flags & 4) !== 0 || ((flags ^ (flags >> 3)) & 1) !== 0 ? imm : (pc + 8) | 0;
        break;
      case 41: // BGT: !Z and N == V
        pc = (flags & 4) === 0 && ((flags ^ (flags >> 3)) & 1) === 0 ? imm : (pc + 8) | 0;
        break;
      case 42: // BGE: N == V
        pc = ((flags ^ (flags >> 3)) & 1) === 0 ? imm : (pc + 8) | 0;
        break;
      case 43: // BLTU: !C
        pc = (flags & 2) === 0 ? imm : (pc + 8) | 0;
        break;
      case 44: // BLEU: !C or Z
        pc = (flags & 6) !== 2 ? imm : (pc + 8) | 0;
        break;
      case 45: // BGTU: C and !Z
        pc = (flags & 6) === 2 ? imm : (pc + 8) | 0;
        break;
      case 46: // BGEU: C
        pc = (flags & 2) !== 0 ? imm : (pc + 8) | 0;
        break;
      case 47: // JMP y
        pc = regs[(w0 >>> 16) & 15]!;
        break;
      case 48: // CALL imm
      case 49: {
        // CALLR y
        const target = (w0 & 0xff) === 48 ? imm : regs[(w0 >>> 16) & 15]!;
        const a = (regs[15]! - 4) | 0;
        if ((a & 3) !== 0) {
          result = misaligned(a, 'stack pointer', n0 + n);
          break loop;
        }
        const p = a >>> shift;
        const e = p & TLB_MASK;
        if (wTag[e] !== p) {
          status = fill(p, true);
          if (status !== OK) {
            result = memoryStop(status, a, true, false, n0 + n);
            break loop;
          }
          codeBase = -1;
        }
        wW32[e]![(a & offMask) >>> 2] = (pc + 8) | 0;
        regs[15] = a;
        pc = target;
        break;
      }
      case 50: {
        // RET
        const a = regs[15]!;
        if ((a & 3) !== 0) {
          result = misaligned(a, 'stack pointer', n0 + n);
          break loop;
        }
        const p = a >>> shift;
        const e = p & TLB_MASK;
        if (rTag[e] !== p) {
          status = fill(p, false);
          if (status !== OK) {
            result = memoryStop(status, a, false, false, n0 + n);
            break loop;
          }
        }
        pc = rW32[e]![(a & offMask) >>> 2]!;
        regs[15] = a + 4;
        break;
      }
      case 51: {
        // PUSH y
        const a = (regs[15]! - 4) | 0;
        if ((a & 3) !== 0) {
          result = misaligned(a, 'stack pointer', n0 + n);
          break loop;
        }
        const p = a >>> shift;
        const e = p & TLB_MASK;
        if (wTag[e] !== p) {
          status = fill(p, true);
          if (status !== OK) {
            result = memoryStop(status, a, true, false, n0 + n);
            break loop;
          }
          codeBase = -1;
        }
        wW32[e]![(a & offMask) >>> 2] = regs[(w0 >>> 16) & 15]!;
        regs[15] = a;
        pc = (pc + 8) | 0;
        break;
      }
      case 52: {
        // POP x (sp is bumped first, so `pop sp` loads sp)
        const a = regs[15]!;
        if ((a & 3) !== 0) {
          result = misaligned(a, 'stack pointer', n0 + n);
          break loop;
        }
        const p = a >>> shift;
        const e = p & TLB_MASK;
        if (rTag[e] !== p) {
          status = fill(p, false);
          if (status !== OK) {
            result = memoryStop(status, a, false, false, n0 + n);
            break loop;
          }
        }
        const v = rW32[e]![(a & offMask) >>> 2]!;
        regs[15] = a + 4;
        regs[(w0 >>> 8) & 15] = v;
        pc = (pc + 8) | 0;
        break;
      }
      case 53: {
        // LDW x, [y + imm]
        const a = (regs[(w0 >>> 16) & 15]! + imm) | 0;
        if ((a & 3) !== 0) {
          result = misaligned(a, 'word load', n0 + n);
          break loop;
        }
        const p = a >>> shift;
        const e = p & TLB_MASK;
        if (rTag[e] !== p) {
          status = fill(p, false);
          if (status !== OK) {
            result = memoryStop(status, a, false, false, n0 + n);
            break loop;
          }
        }
        regs[(w0 >>> 8) & 15] = rW32[e]![(a & offMask) >>> 2]!;
        pc = (pc + 8) | 0;
        break;
      }
      case 54: // LDB x, [y + imm]
      case 55: {
        // LDBS x, [y + imm]
        const a = (regs[(w0 >>> 16) & 15]! + imm) | 0;
        const p = a >>> shift;
        const e = p & TLB_MASK;
        if (rTag[e] !== p) {
          status = fill(p, false);
          if (status !== OK) {
            result = memoryStop(status, a, false, false, n0 + n);
            break loop;
          }
        }
        const v = rU8[e]![a & offMask]!;
        regs[(w0 >>> 8) & 15] = (w0 & 0xff) === 54 ? v : (v << 24) >> 24;
        pc = (pc + 8) | 0;
        break;
      }
      case 56: {
        // STW z, [y + imm]
        const a = (regs[(w0 >>> 16) & 15]! + imm) | 0;
        if ((a & 3) !== 0) {
          result = misaligned(a, 'word store', n0 + n);
          break loop;
        }
        const p = a >>> shift;
        const e = p & TLB_MASK;
        if (wTag[e] !== p) {
          status = fill(p, true);
          if (status !== OK) {
            result = memoryStop(status, a, true, false, n0 + n);
            break loop;
          }
          codeBase = -1;
        }
        wW32[e]![(a & offMask) >>> 2] = regs[w0 >>> 24]!;
        pc = (pc + 8) | 0;
        break;
      }
      case 57: {
        // STB z, [y + imm]
        const a = (regs[(w0 >>> 16) & 15]! + imm) | 0;
        const p = a >>> shift;
        const e = p & TLB_MASK;
        if (wTag[e] !== p) {
          status = fill(p, true);
          if (status !== OK) {
            result = memoryStop(status, a, true, false, n0 + n);
            break loop;
          }
          codeBase = -1;
        }
        wU8[e]![a & offMask] = regs[w0 >>> 24]!;
        pc = (pc + 8) | 0;
        break;
      }
      case 58: // BEQR y, z, imm
        pc = regs[(w0 >>> 16) & 15] === regs[w0 >>> 24] ? imm : (pc + 8) | 0;
        break;
      case 59: // BNER
        pc = regs[(w0 >>> 16) & 15] !== regs[w0 >>> 24] ? imm : (pc + 8) | 0;
        break;
      case 60: // BLTR
        pc = regs[(w0 >>> 16) & 15]! < regs[w0 >>> 24]! ? imm : (pc + 8) | 0;
        break;
      case 61: // BLER
        pc = regs[(w0 >>> 16) & 15]! <= regs[w0 >>> 24]! ? imm : (pc + 8) | 0;
        break;
      case 62: // BGTR
        pc = regs[(w0 >>> 16) & 15]! > regs[w0 >>> 24]! ? imm : (pc + 8) | 0;
        break;
      case 63: // BGER
        pc = regs[(w0 >>> 16) & 15]! >= regs[w0 >>> 24]! ? imm : (pc + 8) | 0;
        break;
      case 64: // BLTUR
        pc = regs[(w0 >>> 16) & 15]! >>> 0 < regs[w0 >>> 24]! >>> 0 ? imm : (pc + 8) | 0;
        break;
      case 65: // BLEUR
        pc = regs[(w0 >>> 16) & 15]! >>> 0 <= regs[w0 >>> 24]! >>> 0 ? imm : (pc + 8) | 0;
        break;
      case 66: // BGTUR
        pc = regs[(w0 >>> 16) & 15]! >>> 0 > regs[w0 >>> 24]! >>> 0 ? imm : (pc + 8) | 0;
        break;
      case 67: // BGEUR
        pc = regs[(w0 >>> 16) & 15]! >>> 0 >= regs[w0 >>> 24]! >>> 0 ? imm : (pc + 8) | 0;
        break;
      default:
        result = exception(
          'illegal_instruction',
          pc,
          (w0 & 0xf0f0f000) !== 0
            ? `register field out of range in ${hex(w0)}`
            : `unassigned opcode 0x${(w0 & 0xff).toString(16).padStart(2, '0')}`,
          n0 + n,
        );
        break loop;
    }
    n++;
  }

  thread.pc = pc >>> 0;
  thread.flags = flags;
  stopped = result;
  return n;
}

export interface JitOptions {
  /** Compile hot code pages (default true). */
  enabled: boolean;
  /** Instructions interpreted on a page before it is compiled (default 50,000; 0 = at once). */
  threshold: number;
  /**
   * Times a region may be compiled (again after a store into its page, or to add an entry point)
   * before it stays interpreted (default 8).
   */
  maxCompiles: number;
}

const jit: JitOptions = { enabled: true, threshold: 50_000, maxCompiles: 8 };

/** Changes how run() uses the region compiler (for tests and benchmarks). Returns the old options. */
export function setJitOptions(options: Partial<JitOptions>): JitOptions {
  const old = { ...jit };
  Object.assign(jit, options);
  return old;
}

export function getJitOptions(): JitOptions {
  return { ...jit };
}

/** Statistics of the region compiler, for benchmarks and reports. */
export const jitStats = {
  compiled: 0,
  discarded: 0,
  compileMs: 0,
  /** Calls into compiled code, and how they ended: [budget, jump, interpret]. */
  entries: 0,
  exits: [0, 0, 0],
  /** Instructions interpreted in run() with compilation on (not counting JIT-off runs). */
  interpreted: 0,
};

const st = new Int32Array(ST_SIZE);

function sameWords(a: Int32Array, b: Int32Array, from: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[from + i]) return false;
  return true;
}

/** Executes one instruction with the interpreter. */
function step(thread: ThreadState, n: number, shift: number, offMask: number): number {
  return interpret(thread, 1, 0, n, shift, offMask);
}

/** The compiled region holding instruction `ix` of the page in TLB slot `e`, if any. */
function regionFor(
  page: Uint8Array,
  base: number,
  pageSize: number,
  ix: number,
  e: number,
  jumped: boolean,
): RegionCode {
  let info = pageCode.get(page);
  if (info === undefined || info.base !== base || info.pageSize !== pageSize) {
    const count = Math.ceil(pageSize / 8 / REGION_INSTRUCTIONS);
    const regions: RegionCode[] = [];
    for (let i = 0; i < count; i++) {
      regions.push({
        hits: 0,
        fn: undefined,
        snapshot: undefined,
        checkedRun: 0,
        compiles: 0,
        entries: new Uint8Array(REGION_INSTRUCTIONS),
        leaders: undefined,
      });
    }
    info = { base, pageSize, regions, compiled: 0 };
    pageCode.set(page, info);
  }
  const ri = Math.floor(ix / REGION_INSTRUCTIONS);
  const region = info.regions[ri]!;
  const first = ri * REGION_INSTRUCTIONS;
  const words = rW32[e]!;
  if (jumped) region.entries[ix - first] = 1;
  if (jumped && region.fn !== undefined && region.leaders![ix] === 0) {
    // Control flow reached the region where its code has no entry (a call from another page,
    // say): recompile with this entry (a few times at most).
    if (region.compiles < jit.maxCompiles) {
      region.fn = undefined;
      region.snapshot = undefined;
      region.leaders = undefined;
      info.compiled--;
    }
  }
  if (region.fn !== undefined && region.checkedRun !== runId) {
    if (sameWords(region.snapshot!, words, first * 2)) {
      region.checkedRun = runId;
    } else {
      // The page changed behind our back (the kernel wrote it between runs).
      region.fn = undefined;
      region.snapshot = undefined;
      region.leaders = undefined;
      region.hits = 0;
      info.compiled--;
      jitStats.discarded++;
    }
  }
  if (
    region.fn === undefined &&
    region.hits >= jit.threshold &&
    region.compiles < jit.maxCompiles
  ) {
    const count = Math.min(REGION_INSTRUCTIONS, pageSize / 8 - first);
    const t0 = performance.now();
    const compiled = compileRegion(words, base, pageSize, first, count, region.entries);
    region.fn = compiled.fn;
    region.leaders = compiled.leaders;
    jitStats.compileMs += performance.now() - t0;
    jitStats.compiled++;
    region.compiles++;
    region.snapshot = words.slice(first * 2, (first + count) * 2);
    region.checkedRun = runId;
    info.compiled++;
    // A page with compiled code must not be in the write TLB (under any address), so that every
    // store into it goes through fill(), which discards the code.
    for (let i = 0; i < TLB_SIZE; i++) if (wTag[i] !== -1 && wU8[i] === page) wTag[i] = -1;
  }
  return region;
}

/**
 * Executes at most `budget` instructions of `thread` (updated in place) against `memory`, and
 * returns why it stopped. See StopReason.
 */
export function run(thread: ThreadState, memory: Memory, budget: number): StopReason {
  const pageSize = memory.pageSize;
  checkPageSize(pageSize);
  const regs = thread.regs;
  if (regs.length !== 16) throw new RangeError('a thread has exactly 16 registers');
  const shift = 31 - Math.clz32(pageSize);
  const offMask = pageSize - 1;
  const unit = Math.min(pageSize, REGION_INSTRUCTIONS * 8);
  beginRun(memory, pageSize);
  try {
    if (!jit.enabled) {
      const n = interpret(thread, budget, 0, 0, shift, offMask);
      return stopped ?? { reason: 'budget', executed: n };
    }
    let n = 0;
    // false while resuming where a run, the budget or the interpreter stopped (anywhere, also
    // in the middle of a block); true when control flow got here by a jump.
    let jumped = false;
    while (n < budget) {
      const pc = thread.pc | 0;
      if ((pc & 7) !== 0) {
        n += step(thread, n, shift, offMask);
        if (stopped) return stopped;
        continue;
      }
      const p = pc >>> shift;
      const e = p & TLB_MASK;
      if (rTag[e] !== p) {
        const status = fill(p, false);
        if (status !== OK) return memoryStop(status, pc, false, true, n);
      }
      const ix = (pc & offMask) >>> 3;
      const region = regionFor(rU8[e]!, pc & ~offMask, pageSize, ix, e, jumped);
      const fn = region.fn;
      if (fn === undefined) {
        // Interpret in this region until control leaves it, checking now and then whether it got hot.
        const chunk = Math.min(budget - n, Math.max(1000, jit.threshold - region.hits));
        const k = interpret(thread, chunk, unit, n, shift, offMask);
        n += k;
        region.hits += k;
        jitStats.interpreted += k;
        if (stopped) return stopped;
        jumped = true;
        continue;
      }
      if (region.leaders![ix] === 0) {
        // Resuming in the middle of a block: interpret up to the next entry of the compiled code.
        n += step(thread, n, shift, offMask);
        jitStats.interpreted++;
        if (stopped) return stopped;
        jumped = false;
        continue;
      }
      // Stores into this page must go through fill(), which discards the compiled code.
      if (wTag[e] === p) wTag[e] = -1;
      const left = Math.min(budget - n, 0x7fffffff);
      st[ST_FLAGS] = thread.flags;
      st[ST_LEFT] = left;
      const exit = fn(regs, st, ix);
      jitStats.entries++;
      jitStats.exits[exit]!++;
      n += left - st[ST_LEFT]!;
      thread.pc = st[ST_PC]! >>> 0;
      thread.flags = st[ST_FLAGS]!;
      jumped = exit === EXIT_JUMP;
      if (exit === EXIT_INTERP) {
        // The interpreter executes the instruction the compiled code left before (if the budget
        // allows: the compiled code may have used it up on the way).
        if (n >= budget) break;
        n += step(thread, n, shift, offMask);
        if (stopped) return stopped;
      } else if (exit === EXIT_BUDGET) {
        // Fewer instructions left than the next block has: the interpreter does the rest.
        n += interpret(thread, budget - n, 0, n, shift, offMask);
        if (stopped) return stopped;
      }
    }
    return { reason: 'budget', executed: n };
  } finally {
    endRun();
  }
}
