import { FLAG_C, FLAG_N, FLAG_V, FLAG_Z, REGISTER_COUNT, SP } from './isa.ts';

/**
 * Everything a thread's CPU holds: what thread_get_state / thread_set_state read and write and what
 * migration moves. The stack pointer is `regs[15]` (alias `sp`); there is no separate field for it.
 * `run()` updates this object in place.
 */
export interface ThreadState {
  /** r0..r15, 32-bit signed. */
  regs: Int32Array;
  /** Address of the next instruction, unsigned 32-bit. */
  pc: number;
  /** NZCV condition flags (FLAG_N | FLAG_Z | FLAG_C | FLAG_V), set by cmp. */
  flags: number;
}

/** JSON/msgpack-friendly form of a ThreadState (plain numbers only). */
export interface ThreadStateJSON {
  regs: number[];
  pc: number;
  flags: number;
}

/** A fresh thread: all registers zero except sp, flags clear. */
export function createThreadState(pc: number, sp = 0): ThreadState {
  const regs = new Int32Array(REGISTER_COUNT);
  regs[SP] = sp;
  return { regs, pc: pc >>> 0, flags: 0 };
}

/** A deep copy (the registers are not shared). */
export function copyThreadState(s: ThreadState): ThreadState {
  return { regs: Int32Array.from(s.regs), pc: s.pc >>> 0, flags: s.flags & 15 };
}

/** Overwrites `target` with `source` in place (thread_set_state). */
export function assignThreadState(target: ThreadState, source: ThreadState): void {
  target.regs.set(source.regs);
  target.pc = source.pc >>> 0;
  target.flags = source.flags & 15;
}

/** Whether two states are identical (registers, pc, flags). */
export function threadStatesEqual(a: ThreadState, b: ThreadState): boolean {
  if (a.pc >>> 0 !== b.pc >>> 0 || (a.flags & 15) !== (b.flags & 15)) return false;
  if (a.regs.length !== b.regs.length) return false;
  for (let i = 0; i < a.regs.length; i++) if (a.regs[i] !== b.regs[i]) return false;
  return true;
}

export function threadStateToJSON(s: ThreadState): ThreadStateJSON {
  return { regs: Array.from(s.regs), pc: s.pc >>> 0, flags: s.flags & 15 };
}

/** Validates and converts the plain form back (throws TypeError on malformed input). */
export function threadStateFromJSON(j: unknown): ThreadState {
  const o = j as Partial<ThreadStateJSON> | null;
  if (
    !o ||
    !Array.isArray(o.regs) ||
    o.regs.length !== REGISTER_COUNT ||
    !o.regs.every((r) => Number.isInteger(r)) ||
    !Number.isInteger(o.pc) ||
    !Number.isInteger(o.flags)
  ) {
    throw new TypeError('malformed thread state');
  }
  return { regs: Int32Array.from(o.regs), pc: o.pc! >>> 0, flags: o.flags! & 15 };
}

/** Stack pointer (r15). */
export function getSp(s: ThreadState): number {
  return s.regs[SP]!;
}

export function setSp(s: ThreadState, sp: number): void {
  s.regs[SP] = sp;
}

/** Human-readable flags, e.g. "nZCv". */
export function formatFlags(flags: number): string {
  return (
    (flags & FLAG_N ? 'N' : 'n') +
    (flags & FLAG_Z ? 'Z' : 'z') +
    (flags & FLAG_C ? 'C' : 'c') +
    (flags & FLAG_V ? 'V' : 'v')
  );
}
