import { KernReturn, MachMsgReturn } from '../protocol/returnCodes.ts';
import { Disposition, MACH_PORT_DEAD, MACH_PORT_NULL, PortRight } from '../protocol/rights.ts';

/**
 * The system call ABI between programs and the simulated kernel.
 *
 * Convention: a program puts the call number in r0 and arguments in r1..r7, then executes `trap`.
 * The interpreter stops with `{ reason: 'trap', number }` and pc already past the trap. The kernel
 * performs the call (possibly blocking the thread), writes results into the registers
 * (`setSyscallResult`) and resumes the thread. Registers the call does not name as results keep
 * their values (r2..r14 and sp are preserved by every call).
 *
 * Results: calls that Mach defines as returning a value (mach_task_self, mach_thread_self) return
 * it in r0. Calls that Mach defines as returning kern_return_t / mach_msg_return_t return that code
 * in r0 (0 = success) and their out parameters in r1. A call with an unknown number or invalid
 * arguments (a buffer outside the address space, say) raises the `bad_syscall` exception (or
 * returns the documented error code when Mach defines one, e.g. KERN_INVALID_NAME).
 *
 * Names and semantics follow Mach 3 Kernel Interfaces (mach_msg, mach_port_allocate, thread_create,
 * ...); the numeric values of return codes, options and dispositions are those of Mach 3's
 * <mach/kern_return.h>, <mach/message.h> and <mach/port.h>.
 */

/** System call numbers (value of r0 at `trap`). */
export const SYS = {
  /** exit(r1 = status): ends the whole task (all threads). Does not return. */
  EXIT: 1,
  /** console_write(r1 = address, r2 = length) -> r0 = KERN_SUCCESS, r1 = bytes written. */
  CONSOLE_WRITE: 2,
  /** sleep(r1 = milliseconds of virtual time) -> r0 = KERN_SUCCESS. */
  SLEEP: 3,
  /** yield(): give up the rest of the quantum (thread_switch). -> r0 = KERN_SUCCESS. */
  YIELD: 4,
  /** task_self() -> r0 = name of the task's own task port (mach_task_self). */
  TASK_SELF: 5,
  /** thread_self() -> r0 = name of the calling thread's thread port (mach_thread_self). */
  THREAD_SELF: 6,
  /**
   * thread_create(r1 = entry pc, r2 = stack top, r3 = argument) -> r0 = kern_return,
   * r1 = thread port name. The new thread starts at the entry with sp = stack top, r1 = argument,
   * every other register 0, and runs at once (thread_create + thread_set_state + thread_resume).
   */
  THREAD_CREATE: 7,
  /** thread_exit(): terminates the calling thread (thread_terminate(mach_thread_self())). */
  THREAD_EXIT: 8,
  /**
   * port_allocate(r1 = right: MACH_PORT_RIGHT_RECEIVE | _PORT_SET | _DEAD_NAME)
   * -> r0 = kern_return, r1 = new port name (mach_port_allocate).
   */
  PORT_ALLOCATE: 9,
  /** port_deallocate(r1 = name) -> r0 = kern_return (mach_port_deallocate). */
  PORT_DEALLOCATE: 10,
  /**
   * mach_msg(r1 = message address, r2 = options, r3 = send size, r4 = receive size,
   * r5 = receive port name, r6 = timeout in ms, r7 = notify port) -> r0 = mach_msg_return.
   * Message layout in memory: see MSG_* below. The thread blocks in the kernel while sending to a
   * full queue or receiving from an empty one (unless a timeout option is given).
   */
  MACH_MSG: 11,
  /**
   * netname_check_in(r1 = name address, r2 = name length, r3 = port name) -> r0 = kern_return.
   * Registers a send right for the port under a name with the network name service
   * (The Mach Network Server, section 12.2).
   */
  NETNAME_CHECK_IN: 12,
  /**
   * netname_look_up(r1 = name address, r2 = name length, r3 = host name address (0 = any host),
   * r4 = host name length) -> r0 = kern_return, r1 = name of a send right to the port.
   */
  NETNAME_LOOK_UP: 13,
} as const;

export type SyscallName = keyof typeof SYS;

/** Register holding the call number on entry and the (first) result on return. */
export const SYSCALL_NUMBER_REGISTER = 0;
/** Registers holding arguments 1..7. */
export const SYSCALL_ARGUMENT_REGISTERS = [1, 2, 3, 4, 5, 6, 7] as const;

/** Name of a system call number, or undefined. */
export function syscallName(n: number): SyscallName | undefined {
  for (const [k, v] of Object.entries(SYS)) if (v === n) return k as SyscallName;
  return undefined;
}

/** Argument `i` (1-based, as in the table above) of a trapped thread. */
export function syscallArg(regs: Int32Array, i: number): number {
  return regs[i]!;
}

/** Writes a call's results: r0 = `r0`, and r1 = `r1` when given. */
export function setSyscallResult(regs: Int32Array, r0: number, r1?: number): void {
  regs[0] = r0;
  if (r1 !== undefined) regs[1] = r1;
}

/** kern_return_t values (<mach/kern_return.h>). */
export const KERN = unprefixed(KernReturn, 'KERN_');

/** Port right kinds for port_allocate (<mach/port.h>). */
export const MACH_PORT_RIGHT = PortRight;

export { MACH_PORT_DEAD, MACH_PORT_NULL };

/** mach_msg option bits (<mach/message.h>). */
export const MACH_MSG_OPTION = {
  NONE: 0,
  SEND_MSG: 0x1,
  RCV_MSG: 0x2,
  SEND_TIMEOUT: 0x10,
  SEND_NOTIFY: 0x20,
  SEND_INTERRUPT: 0x40,
  SEND_CANCEL: 0x80,
  RCV_TIMEOUT: 0x100,
  RCV_NOTIFY: 0x200,
  RCV_INTERRUPT: 0x400,
  RCV_LARGE: 0x800,
} as const;

/** mach_msg_return_t values (<mach/message.h>). */
export const MACH_MSG_RETURN = { SUCCESS: 0, ...unprefixed(MachMsgReturn, 'MACH_') } as const;

/** mach_msg_type_name_t: data types and port-right dispositions (<mach/message.h>). */
export const MACH_MSG_TYPE = {
  UNSTRUCTURED: 0,
  BIT: 0,
  BOOLEAN: 0,
  INTEGER_16: 1,
  INTEGER_32: 2,
  CHAR: 8,
  BYTE: 9,
  INTEGER_8: 9,
  REAL: 10,
  STRING: 12,
  ...Disposition,
} as const;

/** msgh_bits: MACH_MSGH_BITS(remote, local) = remote | local << 8; COMPLEX if rights/OOL in body. */
export const MACH_MSGH_BITS_COMPLEX = 0x80000000 | 0;
export function machMsghBits(remote: number, local: number): number {
  return (remote | (local << 8)) >>> 0;
}

/**
 * Message layout in task memory (mach_msg_header_t, Mach 3 Kernel Interfaces "mach_msg_header"),
 * all fields 32-bit little-endian:
 *
 * ```
 *   +0  msgh_bits         MACH_MSGH_BITS(remote disposition, local disposition) [| COMPLEX]
 *   +4  msgh_size         total bytes, header included (multiple of 4)
 *   +8  msgh_remote_port  send: destination; received: the reply port (fields are swapped)
 *   +12 msgh_local_port   send: reply port; received: the port it arrived on
 *   +16 msgh_seqno        set on receive
 *   +20 msgh_id           free for the program (operation id)
 *   +24 body: typed items, each a mach_msg_type_t descriptor word followed by its data,
 *       padded to 4 bytes:
 *         bits 0-7 msgt_name (MACH_MSG_TYPE_*), 8-15 msgt_size (bits per element),
 *         16-27 msgt_number (element count), 28 msgt_inline, 29 msgt_longform, 30 msgt_deallocate.
 *       Port rights in the body (msgt_name a disposition, the data a port name) need COMPLEX.
 * ```
 */
export const MSG = {
  BITS: 0,
  SIZE: 4,
  REMOTE_PORT: 8,
  LOCAL_PORT: 12,
  SEQNO: 16,
  ID: 20,
  HEADER_SIZE: 24,
  BODY: 24,
} as const;

/** Builds a mach_msg_type_t descriptor word. */
export function machMsgType(name: number, sizeBits: number, number: number, inline = true): number {
  return (
    ((name & 0xff) |
      ((sizeBits & 0xff) << 8) |
      ((number & 0xfff) << 16) |
      (inline ? 1 << 28 : 0)) >>>
    0
  );
}

/** Decodes a mach_msg_type_t descriptor word. */
export function parseMachMsgType(word: number): {
  name: number;
  sizeBits: number;
  number: number;
  inline: boolean;
  longform: boolean;
  deallocate: boolean;
} {
  return {
    name: word & 0xff,
    sizeBits: (word >>> 8) & 0xff,
    number: (word >>> 16) & 0xfff,
    inline: ((word >>> 28) & 1) === 1,
    longform: ((word >>> 29) & 1) === 1,
    deallocate: ((word >>> 30) & 1) === 1,
  };
}

/**
 * Symbols every assembly program can use without defining them: SYS_EXIT, SYS_CONSOLE_WRITE, ...,
 * KERN_SUCCESS, MACH_SEND_MSG, MACH_RCV_MSG, MACH_RCV_TIMEOUT, MACH_MSG_TYPE_MAKE_SEND_ONCE,
 * MACH_MSG_TYPE_INTEGER_32, MACH_PORT_RIGHT_RECEIVE, MACH_MSGH_BITS_COMPLEX, MSGH_BITS, MSGH_SIZE,
 * MSGH_REMOTE_PORT, MSGH_LOCAL_PORT, MSGH_SEQNO, MSGH_ID, MSGH_HEADER_SIZE, MACH_MSG_SUCCESS, ...
 * A program's own `.equ` of the same name takes precedence.
 */
export const ABI_SYMBOLS: Readonly<Record<string, number>> = (() => {
  const s: Record<string, number> = {};
  for (const [k, v] of Object.entries(SYS)) s[`SYS_${k}`] = v;
  for (const [k, v] of Object.entries(KERN)) s[`KERN_${k}`] = v;
  for (const [k, v] of Object.entries(MACH_PORT_RIGHT)) s[`MACH_PORT_RIGHT_${k}`] = v;
  for (const [k, v] of Object.entries(MACH_MSG_OPTION)) {
    s[k === 'NONE' ? 'MACH_MSG_OPTION_NONE' : `MACH_${k}`] = v;
  }
  for (const [k, v] of Object.entries(MACH_MSG_RETURN)) {
    s[k === 'SUCCESS' ? 'MACH_MSG_SUCCESS' : `MACH_${k}`] = v | 0;
  }
  for (const [k, v] of Object.entries(MACH_MSG_TYPE)) s[`MACH_MSG_TYPE_${k}`] = v;
  for (const [k, v] of Object.entries(MSG)) s[`MSGH_${k}`] = v;
  s.MACH_MSGH_BITS_COMPLEX = MACH_MSGH_BITS_COMPLEX;
  s.MACH_PORT_NULL = MACH_PORT_NULL;
  s.MACH_PORT_DEAD = MACH_PORT_DEAD;
  return Object.freeze(s);
})();

type Unprefixed<T, P extends string> = {
  readonly [K in keyof T as K extends `${P}${infer R}` ? R : never]: T[K];
};

/** A return-code table of src/protocol with its prefix taken off (KERN_SUCCESS -> SUCCESS). */
function unprefixed<T extends Record<string, number>, P extends string>(
  table: T,
  prefix: P,
): Unprefixed<T, P> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(table))
    if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out as Unprefixed<T, P>;
}
