import { fileURLToPath } from 'node:url';
import { fileIncluder } from '../cpu/sourceFiles.ts';

/**
 * The programs the checker runs as tasks, small enough that hundreds of runs fit in seconds of
 * wall time, long enough in virtual time that a migration happens while they work:
 *
 * - `ticker`: TICKS times, rewrites one word in each of PAGES pages of data, prints the tick
 *   number and a running checksum, then sleeps SLEEP_MS of virtual time. Its output does not
 *   depend on timing, so a migrated run must print exactly what an unmigrated one prints.
 * - `receiver`: allocates a port, checks it in under a name, then receives COUNT messages
 *   (each one 32-bit integer), rewrites a word in each of PAGES pages, and prints the value and
 *   a checksum of the pages (which depends on how many messages came, not on their order). The checker's senders (plain code on
 *   other hosts) send numbered values to the name; exactly-once and per-sender order are read
 *   off the printed values.
 *
 * Both `.include` puts and print_dec from examples/lib/print.s: assemble them with
 * `include: workloadIncluder`.
 */

/** Resolves the workloads' `.include`s from examples/, where their library is. */
export const workloadIncluder = fileIncluder(
  fileURLToPath(new URL('../../examples/', import.meta.url)),
);

export interface TickerParams {
  readonly ticks: number;
  readonly pages: number;
  readonly sleepMs: number;
}

export function tickerSource(p: TickerParams): string {
  return `
        .equ TICKS, ${p.ticks}
        .equ PAGES, ${p.pages}
        .equ SLEEP_MS, ${p.sleepMs}
        .equ PAGE, 4096

        .text
_start:
        li    r11, 0
        li    r10, 0                ; tick
        li    r9, 7                 ; checksum
tick:
        la    r6, buf
        li    r7, 0                 ; page index
touch:
        muli  r2, r7, PAGE
        add   r2, r6, r2
        ldw   r1, [r2]
        add   r1, r1, r10
        add   r1, r1, r7
        addi  r1, r1, 1
        stw   r1, [r2]
        muli  r9, r9, 31
        add   r9, r9, r1
        addi  r7, r7, 1
        li    r1, PAGES
        blt   r7, r1, touch
        la    r1, s_tick
        call  puts
        mov   r1, r10
        call  print_dec
        la    r1, s_sp
        call  puts
        mov   r1, r9
        call  print_dec
        la    r1, s_nl
        call  puts
        addi  r10, r10, 1
        li    r1, TICKS
        bge   r10, r1, finish
        li    r0, SYS_SLEEP
        li    r1, SLEEP_MS
        trap
        b     tick
finish:
        li    r0, SYS_EXIT
        li    r1, 0
        trap
        .include "lib/print.s"
        .data
s_tick: .asciz "tick "
s_sp:   .asciz " "
s_nl:   .asciz "\\n"
        .bss
        .align 4096
buf:    .space PAGES * PAGE
`;
}

export interface ReceiverParams {
  /** The name it checks its port in under (letters, digits, '-'). */
  readonly name: string;
  readonly count: number;
  /** Pages of data it rewrites after each message (its checksum depends on the count only). */
  readonly pages: number;
}

export function receiverSource(p: ReceiverParams): string {
  if (!/^[A-Za-z0-9-]+$/.test(p.name)) throw new RangeError(`bad receiver name "${p.name}"`);
  return `
        .equ COUNT, ${p.count}
        .equ PAGES, ${Math.max(1, p.pages)}
        .equ PAGE, 4096
        .equ MSG_MAX, 64

        .text
_start:
        li    r11, 0
        li    r0, SYS_PORT_ALLOCATE
        li    r1, MACH_PORT_RIGHT_RECEIVE
        trap
        bne   r0, r11, failed
        mov   r8, r1
        li    r0, SYS_NETNAME_CHECK_IN
        la    r1, s_name
        li    r2, NAME_LEN
        mov   r3, r8
        trap
        bne   r0, r11, failed
        li    r9, 0                 ; messages received
        li    r13, 7                ; checksum
        la    r10, msg
serve:
        li    r0, SYS_MACH_MSG
        mov   r1, r10
        li    r2, MACH_RCV_MSG
        li    r3, 0
        li    r4, MSG_MAX
        mov   r5, r8
        li    r6, 0
        li    r7, MACH_PORT_NULL
        trap
        bne   r0, r11, failed
        ldw   r12, [r10 + MSGH_BODY + 4]
        la    r6, buf
        li    r7, 0                 ; page index
touch:
        muli  r2, r7, PAGE
        add   r2, r6, r2
        ldw   r1, [r2]
        add   r1, r1, r9
        add   r1, r1, r7
        addi  r1, r1, 1
        stw   r1, [r2]
        muli  r13, r13, 31
        add   r13, r13, r1
        addi  r7, r7, 1
        li    r1, PAGES
        blt   r7, r1, touch
        la    r1, s_recv
        call  puts
        mov   r1, r12
        call  print_dec
        la    r1, s_sp
        call  puts
        mov   r1, r13
        call  print_dec
        la    r1, s_nl
        call  puts
        addi  r9, r9, 1
        li    r1, COUNT
        blt   r9, r1, serve
        li    r0, SYS_EXIT
        li    r1, 0
        trap
        .include "lib/fail.s"
        .include "lib/print.s"
        .data
s_name: .ascii "${p.name}"
s_name_end:
        .equ NAME_LEN, s_name_end - s_name
s_recv: .asciz "recv "
s_failed: .asciz "failed "
s_sp:   .asciz " "
s_nl:   .asciz "\\n"
        .bss
        .align 4
msg:    .space MSG_MAX
        .align 4096
buf:    .space PAGES * PAGE
`;
}
