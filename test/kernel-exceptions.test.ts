/**
 * A program that faults raises a Mach exception (mach3-kernel-interfaces.txt, exception_raise:
 * EXC_BAD_ACCESS, EXC_BAD_INSTRUCTION, EXC_ARITHMETIC, EXC_SOFTWARE). No task here has an
 * exception handler, so the exception ends the faulting task with a reason naming it; the host,
 * its other tasks and their ports carry on untouched.
 */
import { describe, expect, it } from 'vitest';
import { checkIpcInvariants } from '../src/actors/invariants.ts';
import type { AddressSpace } from '../src/memory/addressSpace.ts';
import { Disposition, PortRight, PortType } from '../src/protocol/rights.ts';
import type { TraceEventOf } from '../src/world/trace.ts';
import {
  exampleSource,
  oneHost,
  printDec,
  program,
  runAllToExit,
  spawnSource,
} from './support/kernelFixtures.ts';

/** The primes example's output, computed here: the bystander's exact expected output. */
function primes(n: number, step: number): string {
  let count = 0;
  let checksum = 0;
  let last = 0;
  let out = '';
  for (let k = 2; k <= n; k++) {
    let prime = true;
    for (let d = 2; d * d <= k; d++) if (k % d === 0) prime = false;
    if (prime) {
      count++;
      checksum = (Math.imul(checksum, 31) + k) | 0;
      last = k;
    }
    if (k % step === 0) out += `n=${k} primes=${count} last=${last}\n`;
  }
  return `${out}total primes <= ${n}: ${count}\nchecksum: 0x${(checksum >>> 0).toString(16).padStart(8, '0')}\n`;
}

interface Case {
  readonly fault: string;
  /** The faulting part of the program. */
  readonly code: string;
  readonly data?: string;
  readonly kind: string;
  readonly reason: RegExp;
}

const CASES: Case[] = [
  {
    fault: 'a load from an unmapped address',
    code: `
        li    r1, 0x10
        ldw   r2, [r1]`,
    kind: 'bad_address',
    reason:
      /^EXC_BAD_ACCESS \(KERN_INVALID_ADDRESS\) in thread victim\.\d+ at pc 0x[0-9a-f]+: read of unmapped address 0x00000010$/,
  },
  {
    fault: 'a misaligned word store',
    code: `
        la    r1, cell
        stw   r1, [r1 + 2]`,
    data: `
        .align 4
cell:   .word 0, 0`,
    kind: 'bad_address',
    reason: /^EXC_BAD_ACCESS \(KERN_INVALID_ADDRESS\) .*misaligned/,
  },
  {
    fault: 'a stack overflow (runaway recursion)',
    code: `
recurse:
        call  recurse`,
    kind: 'bad_address',
    reason: /^EXC_BAD_ACCESS \(KERN_INVALID_ADDRESS\) .*write to unmapped address 0x3ffefffc$/,
  },
  {
    fault: 'a write to its own text (protection violation)',
    code: `
        la    r1, _start
        li    r2, 0
        stw   r2, [r1]`,
    kind: 'protection',
    reason: /^EXC_BAD_ACCESS \(KERN_PROTECTION_FAILURE\) in thread victim\.\d+ at pc 0x[0-9a-f]+: /,
  },
  {
    fault: 'an illegal instruction',
    code: `
        b     bad
        .align 8
bad:    .word 0xff, 0                ; opcode 255 is not assigned`,
    kind: 'illegal_instruction',
    reason: /^EXC_BAD_INSTRUCTION in thread victim\.\d+ at pc 0x[0-9a-f]+: /,
  },
  {
    fault: 'a jump into zero-filled memory (opcode 0)',
    code: `
        la    r1, zeros
        jmp   r1`,
    data: `
        .bss
        .align 8
zeros:  .space 64`,
    kind: 'illegal_instruction',
    reason: /^EXC_BAD_INSTRUCTION /,
  },
  {
    fault: 'a division by zero',
    code: `
        li    r1, 7
        li    r2, 0
        div   r3, r1, r2`,
    kind: 'divide_by_zero',
    reason: /^EXC_ARITHMETIC \(divide by zero\) in thread victim\.\d+ at pc 0x[0-9a-f]+: /,
  },
  {
    fault: 'a remainder by zero',
    code: `
        li    r1, 7
        li    r2, 0
        remu  r3, r1, r2`,
    kind: 'divide_by_zero',
    reason: /^EXC_ARITHMETIC \(divide by zero\)/,
  },
  {
    fault: 'a system call with a bad buffer',
    code: `
        li    r0, SYS_CONSOLE_WRITE
        li    r1, 0xfffffff0
        li    r2, 64
        trap`,
    kind: 'bad_syscall',
    reason:
      /^EXC_SOFTWARE \(bad system call\) in thread victim\.\d+ at pc 0x[0-9a-f]+: console_write buffer/,
  },
  {
    fault: 'an unknown system call',
    code: `
        li    r0, 1234
        trap`,
    kind: 'bad_syscall',
    reason: /^EXC_SOFTWARE \(bad system call\) .*: unknown system call 1234$/,
  },
];

/**
 * The victim first sets up ports (a receive right a bystander holds a send right to, and a send
 * right to the bystander's port), prints "before", then runs the faulting code. A second thread
 * spins meanwhile: the exception ends it too.
 */
function victim(c: Case): string {
  return program(
    `
        li    r0, SYS_PORT_ALLOCATE
        li    r1, MACH_PORT_RIGHT_RECEIVE
        trap
        la    r1, before
        call  puts
        li    r0, SYS_THREAD_CREATE
        la    r1, spinner
        la    r2, stack_top
        li    r3, 0
        trap
        li    r0, SYS_YIELD
        trap
${c.code}
        la    r1, after
        call  puts
        b     out
spinner:
        addi  r5, r5, 1
        b     spinner
out:`,
    `
before: .asciz "before\\n"
after:  .asciz "after\\n"
        .align 4
        .space 1024
stack_top:
${c.data ?? ''}`,
  );
}

describe('a faulting program', () => {
  it.each(CASES)('$fault raises $kind and ends only its task', (c) => {
    const { cluster, host } = oneHost();
    host.scheduler.quantumMs = 2; // short turns: the victim faults while the bystander is mid-way
    const exceptions: TraceEventOf<'thread.exception'>[] = [];
    cluster.world.trace.events$.subscribe((e) => {
      if (e.kind === 'thread.exception') exceptions.push(e);
    });
    const bystander = spawnSource(host, exampleSource('primes.s'), 'bystander', {
      defines: { N: 30_000, STEP: 10_000 },
    });
    const task = spawnSource(host, victim(c), 'victim');
    // Ports between the two: the bystander holds a send right to the victim's receive right,
    // the victim a send right to a port of the bystander's.
    const victimPort = host.ipc.allocate(task.space, PortRight.RECEIVE, 'victim-port');
    host.ipc.insertRight(bystander.space, 0x5000, task.space, victimPort, Disposition.MAKE_SEND);
    const bystanderPort = host.ipc.allocate(bystander.space, PortRight.RECEIVE, 'bystander-port');
    host.ipc.insertRight(task.space, 0x5000, bystander.space, bystanderPort, Disposition.MAKE_SEND);

    runAllToExit(cluster, [task]);
    // The bystander holds a dead name where the victim's port was, and has not finished yet.
    expect(host.ipc.type(bystander.space, 0x5000)).toBe(PortType.DEAD_NAME);
    expect(bystander.exit).toBeNull();
    expect(checkIpcInvariants(host.ipc)).toEqual([]);
    runAllToExit(cluster, [bystander]);

    expect(task.exit?.status).toBe(-1);
    expect(task.exit?.reason).toMatch(c.reason);
    expect(task.outputText).toBe('before\n');
    expect(task.threads).toHaveLength(2);
    expect(task.threads.every((t) => t.terminated)).toBe(true);
    expect(exceptions).toEqual([expect.objectContaining({ exception: c.kind, host: 'h' })]);
    expect(host.tasks.has(task.id)).toBe(false);
    expect((task.memory as AddressSpace).destroyed).toBe(true); // its memory is released

    // The bystander computed on, to its exact output, and its ports are in order.
    expect(bystander.outputText).toBe(primes(30_000, 10_000));
    expect(bystander.exit).toMatchObject({ status: 0, reason: 'exit' });
    expect(checkIpcInvariants(host.ipc)).toEqual([]);
  });

  it('lets the host run new tasks afterwards', () => {
    const { cluster, host } = oneHost();
    const first = spawnSource(host, victim(CASES[0]!), 'victim');
    runAllToExit(cluster, [first]);
    const next = spawnSource(
      host,
      program(`
        li    r5, 6
        muli  r5, r5, 7
        ${printDec('r5')}`),
      'next',
    );
    runAllToExit(cluster, [next]);
    expect(next.outputText).toBe('42\n');
    expect(checkIpcInvariants(host.ipc)).toEqual([]);
  });
});
