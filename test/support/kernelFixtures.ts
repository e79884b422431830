import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Cluster } from '../../src/cluster.ts';
import { assemble } from '../../src/cpu/assembler.ts';
import { fileIncluder } from '../../src/cpu/sourceFiles.ts';
import type { Host } from '../../src/kernel/host.ts';
import { type SpawnOptions, spawn } from '../../src/kernel/loader.ts';
import type { Task } from '../../src/kernel/task.ts';
import type { Thread } from '../../src/kernel/thread.ts';
import type { HostProfile } from '../../src/world/profiles.ts';

/** A one-host cluster with the given profile (default Pentium 90). */
export function oneHost(
  profile: HostProfile | string = 'pentium90',
  seed = 1,
): { cluster: Cluster; host: Host } {
  const cluster = new Cluster({ seed, hosts: { h: profile } });
  return { cluster, host: cluster.host('h') };
}

export interface SpawnSourceOptions extends SpawnOptions {
  /** Assembler constants overriding the program's own `.equ` (like cc -D). */
  readonly defines?: Readonly<Record<string, number>>;
}

/** Reads `.include`s from examples/ (so the examples' `.include "lib/print.s"` resolves). */
export const exampleIncluder = fileIncluder(
  fileURLToPath(new URL('../../examples/', import.meta.url)),
);

/** Assembles `source` and spawns it as a task on `host`. */
export function spawnSource(
  host: Host,
  source: string,
  name = 'prog',
  opts: SpawnSourceOptions = {},
): Task {
  const image = assemble(source, {
    pageSize: host.profile.pageSize,
    fileName: `${name}.s`,
    include: exampleIncluder,
    ...(opts.defines ? { defines: opts.defines } : {}),
  });
  return spawn(host, image, name, opts);
}

/** The text of examples/<name>. */
export function exampleSource(name: string): string {
  return readFileSync(new URL(`../../examples/${name}`, import.meta.url), 'utf8');
}

/** Runs the world until `task` has ended (or `untilMs` of virtual time). */
export function runToExit(cluster: Cluster, task: Task, untilMs = 600_000): void {
  cluster.world.runUntil(() => task.exit !== null, { until: untilMs });
}

/** Runs the world until every task has ended (or `untilMs` of virtual time). */
export function runAllToExit(cluster: Cluster, tasks: readonly Task[], untilMs = 600_000): void {
  cluster.world.runUntil(() => tasks.every((t) => t.exit !== null), { until: untilMs });
}

/** Advances virtual time by `ms`, running everything due on the way. */
export function runFor(cluster: Cluster, ms: number): void {
  cluster.world.runUntilTime(cluster.world.now() + ms);
}

/** The task's first thread (the one `spawn` started at the entry point). */
export function mainThread(task: Task): Thread {
  const t = task.threads[0];
  if (t === undefined) throw new Error(`task ${task.name} has no thread`);
  return t;
}

/** A program that prints `text` with console_write and exits with `status`. */
export function printProgram(text: string, status = 0): string {
  return `
        .text
_start: la    r1, msg
        li    r2, ${new TextEncoder().encode(text).length}
        li    r0, SYS_CONSOLE_WRITE
        trap
        li    r1, ${status}
        li    r0, SYS_EXIT
        trap
        .data
msg:    .ascii "${text.replace(/\n/g, '\\n')}"
`;
}

/**
 * Routines test programs call to report what they saw (they keep every register but r0):
 * - `puts`: r1 = address of a NUL-terminated string;
 * - `print_dec`: r1 printed as an unsigned decimal number;
 * - `print_hex`: r1 printed as 0x and eight hex digits (return codes such as 0x10004003).
 */
export const PRINT_ROUTINES = `
puts:   push  r1
        push  r2
        push  r3
        mov   r2, r1
puts_len:
        ldb   r3, [r2]
        cmp   r3, 0
        beq   puts_write
        addi  r2, r2, 1
        b     puts_len
puts_write:
        sub   r2, r2, r1
        li    r0, SYS_CONSOLE_WRITE
        trap
        pop   r3
        pop   r2
        pop   r1
        ret

print_dec:
        push  r1
        push  r2
        push  r3
        subi  sp, sp, 12
        addi  r2, sp, 12
pd_digit:
        subi  r2, r2, 1
        remu  r3, r1, 10
        addi  r3, r3, '0'
        stb   r3, [r2]
        divu  r1, r1, 10
        cmp   r1, 0
        bne   pd_digit
        addi  r3, sp, 12
        sub   r3, r3, r2
        mov   r1, r2
        mov   r2, r3
        li    r0, SYS_CONSOLE_WRITE
        trap
        addi  sp, sp, 12
        pop   r3
        pop   r2
        pop   r1
        ret

print_hex:
        push  r1
        push  r2
        push  r3
        push  r4
        subi  sp, sp, 12
        li    r3, '0'
        stb   r3, [sp]
        li    r3, 'x'
        stb   r3, [sp + 1]
        li    r4, 9
ph_digit:
        andi  r3, r1, 15
        cmp   r3, 10
        blt   ph_decimal
        addi  r3, r3, 'a' - '0' - 10
ph_decimal:
        addi  r3, r3, '0'
        add   r2, sp, r4
        stb   r3, [r2]
        shr   r1, r1, 4
        subi  r4, r4, 1
        cmp   r4, 2
        bge   ph_digit
        mov   r1, sp
        li    r2, 10
        li    r0, SYS_CONSOLE_WRITE
        trap
        addi  sp, sp, 12
        pop   r4
        pop   r3
        pop   r2
        pop   r1
        ret
`;

/**
 * A test program: `body` runs from _start and falls through to exit(0); PRINT_ROUTINES are
 * linked in; `data` goes in the data segment. Write "print r5" style output with `call print_dec`.
 */
export function program(body: string, data = ''): string {
  return `
        .text
_start:
${body}
        li    r1, 0
        li    r0, SYS_EXIT
        trap
${PRINT_ROUTINES}
        .data
nl:     .asciz "\\n"
space:  .asciz " "
${data}
`;
}

/** Assembly that prints register `reg` in decimal followed by a newline (r0 is clobbered). */
export function printDec(reg: string): string {
  return `
        mov   r1, ${reg}
        call  print_dec
        la    r1, nl
        call  puts`;
}

/** Assembly that prints register `reg` as 0x%08x followed by a newline (r0 is clobbered). */
export function printHex(reg: string): string {
  return `
        mov   r1, ${reg}
        call  print_hex
        la    r1, nl
        call  puts`;
}

/** Assembly that exits with the value of register `reg` as the status. */
export function exitWith(reg: string): string {
  return `
        mov   r1, ${reg}
        li    r0, SYS_EXIT
        trap`;
}

/** `0x%08x` of a 32-bit value, as print_hex prints it. */
export function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

/** A thread's total of instructions executed so far. */
export function instructionsOf(task: Task): number {
  return task.threads.reduce((n, t) => n + t.instructions, 0);
}
