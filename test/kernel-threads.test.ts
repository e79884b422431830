/**
 * Threads under control of the kernel calls (mach3-kernel-interfaces.txt, thread interface):
 * suspend counts, task suspension and how it composes with thread suspension, thread_abort, and
 * reading and writing a thread's registers (thread_get_state / thread_set_state).
 */
import { describe, expect, it, vi } from 'vitest';
import { assemble } from '../src/cpu/assembler.ts';
import { KERN, MACH_MSG_RETURN } from '../src/cpu/syscalls.ts';
import { assignThreadState, copyThreadState, createThreadState } from '../src/cpu/thread.ts';
import type { Task } from '../src/kernel/task.ts';
import {
  abortThread,
  createThread,
  resumeTask,
  resumeThread,
  suspendTask,
  suspendThread,
  terminateTask,
  terminateThread,
} from '../src/kernel/taskOps.ts';
import type { Thread } from '../src/kernel/thread.ts';
import { MachError } from '../src/protocol/errors.ts';
import {
  exitWith,
  hex32,
  mainThread,
  oneHost,
  printDec,
  printHex,
  program,
  runFor,
  runToExit,
  spawnSource,
} from './support/kernelFixtures.ts';

/** Counts in r5 forever. */
const SPIN = program(`
spin:   addi  r5, r5, 1
        b     spin`);

/** Main counts in r5; a second thread, created first, counts in its own r5. */
const TWO_SPINNERS = program(
  `
        li    r0, SYS_THREAD_CREATE
        la    r1, spin
        la    r2, stack_top
        li    r3, 0
        trap
spin:   addi  r5, r5, 1
        b     spin`,
  `
        .space 1024
stack_top:`,
);

/** Receives on a port of its own (never sent to), then prints the return code and exits. */
const RECEIVE_THEN_REPORT = program(
  `
        li    r0, SYS_PORT_ALLOCATE
        li    r1, MACH_PORT_RIGHT_RECEIVE
        trap
        mov   r5, r1
        li    r0, SYS_MACH_MSG
        la    r1, buf
        li    r2, MACH_RCV_MSG
        li    r3, 0
        li    r4, 64
        trap
        mov   r6, r0
        ${printHex('r6')}
        ${exitWith('r6')}
handler:                             ; where a "signal" sends it (see thread_set_state)
        mov   r8, r0
        la    r1, in_handler
        call  puts
        ${printHex('r8')}
        ${exitWith('r9')}`,
  `
in_handler: .asciz "handler: "
        .align 4
buf:    .space 64`,
);

/** Whether the thread made progress over `ms` of virtual time. */
function progresses(cluster: ReturnType<typeof oneHost>['cluster'], t: Thread, ms = 20): boolean {
  const before = t.instructions;
  runFor(cluster, ms);
  return t.instructions > before;
}

function suspensionState(t: Thread): unknown {
  return (t.actor.getSnapshot().value as { alive: { suspension: string } }).alive.suspension;
}

describe('thread suspend counts', () => {
  it('stop the thread at the first suspend and run it again only when every one is resumed', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, SPIN);
    runFor(cluster, 5);
    const t = mainThread(task);
    expect(progresses(cluster, t)).toBe(true);

    suspendThread(t);
    suspendThread(t);
    expect(t.suspendCount).toBe(2);
    expect(suspensionState(t)).toBe('suspended');
    runFor(cluster, 2); // the slice in progress ends
    expect(progresses(cluster, t)).toBe(false);

    resumeThread(t);
    expect(t.suspendCount).toBe(1);
    expect(progresses(cluster, t)).toBe(false);

    resumeThread(t);
    expect(t.suspendCount).toBe(0);
    expect(suspensionState(t)).toBe('running');
    expect(progresses(cluster, t)).toBe(true);
  });

  it('refuse a resume at count 0 with KERN_FAILURE, changing nothing', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, SPIN);
    runFor(cluster, 5);
    const t = mainThread(task);
    const snapshot = t.actor.getSnapshot();
    expect(() => resumeThread(t)).toThrowError(MachError);
    try {
      resumeThread(t);
    } catch (e) {
      expect((e as MachError).codeName).toBe('KERN_FAILURE');
      expect((e as MachError).code).toBe(KERN.FAILURE);
    }
    expect(t.suspendCount).toBe(0);
    expect(t.actor.getSnapshot()).toBe(snapshot); // not even an event reached the statechart
    expect(progresses(cluster, t)).toBe(true);
  });

  it('start a created thread suspended once, as thread_create does', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, SPIN);
    runFor(cluster, 5);
    const extra = createThread(task, createThreadState(assemble(SPIN).entry, 0x40000000 - 4096));
    expect(extra.suspendCount).toBe(1);
    expect(progresses(cluster, extra)).toBe(false);
    resumeThread(extra);
    expect(progresses(cluster, extra, 30)).toBe(true);
  });

  it('refuse to suspend or resume a terminated thread (KERN_TERMINATED)', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, TWO_SPINNERS);
    runFor(cluster, 5);
    const worker = task.threads[1]!;
    terminateThread(worker);
    expect(worker.terminated).toBe(true);
    expect(() => suspendThread(worker)).toThrow(/KERN_TERMINATED/);
    expect(() => resumeThread(worker)).toThrow(/KERN_TERMINATED/);
    expect(progresses(cluster, mainThread(task))).toBe(true);
  });
});

describe('thread statecharts', () => {
  it('run in their task actor system, and end before the task statechart does', () => {
    const warn = vi.spyOn(console, 'warn');
    const { cluster, host } = oneHost();
    const task = spawnSource(host, TWO_SPINNERS);
    runFor(cluster, 10);
    const [main, worker] = task.threads as [Thread, Thread];
    expect(main.actor.system).toBe(task.actor.system);
    expect(worker.actor.system).toBe(task.actor.system);
    const ended: string[] = [];
    task.actor.subscribe({ complete: () => ended.push('task') });
    main.actor.subscribe({ complete: () => ended.push('main') });
    worker.actor.subscribe({ complete: () => ended.push('worker') });
    terminateTask(task, 0, 'test');
    expect(ended).toEqual(['main', 'worker', 'task']);
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });
});

describe('task suspension', () => {
  function twoThreads(): {
    cluster: ReturnType<typeof oneHost>['cluster'];
    task: Task;
    main: Thread;
    worker: Thread;
  } {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, TWO_SPINNERS);
    runFor(cluster, 30);
    const [main, worker] = task.threads as [Thread, Thread];
    expect(main.instructions).toBeGreaterThan(0);
    expect(worker.instructions).toBeGreaterThan(0);
    return { cluster, task, main, worker };
  }

  it('stops every thread of the task', () => {
    const { cluster, task, main, worker } = twoThreads();
    suspendTask(task);
    runFor(cluster, 2);
    const [m, w] = [main.instructions, worker.instructions];
    runFor(cluster, 50);
    expect([main.instructions, worker.instructions]).toEqual([m, w]);
    // The threads' own counts are untouched: only the task's count holds them.
    expect([main.suspendCount, worker.suspendCount]).toEqual([0, 0]);
    resumeTask(task);
    expect(progresses(cluster, main, 30)).toBe(true);
    expect(progresses(cluster, worker, 30)).toBe(true);
  });

  it('composes with thread suspension: each count holds back on its own', () => {
    const { cluster, task, main, worker } = twoThreads();
    suspendThread(worker);
    suspendTask(task);
    suspendTask(task);
    expect([task.suspendCount, worker.suspendCount, main.suspendCount]).toEqual([2, 1, 0]);
    runFor(cluster, 2);
    expect(progresses(cluster, main)).toBe(false);

    resumeTask(task);
    expect(progresses(cluster, main)).toBe(false); // the task is still suspended once

    resumeTask(task); // the task runs; the worker is still suspended by itself
    expect(progresses(cluster, main, 30)).toBe(true);
    expect(progresses(cluster, worker, 30)).toBe(false);

    resumeThread(worker);
    expect(progresses(cluster, worker, 30)).toBe(true);
    expect(() => resumeTask(task)).toThrow(/KERN_FAILURE/);
    expect(task.suspendCount).toBe(0);
  });

  it('shows in the task statechart: created, running, suspended, terminated', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, SPIN, 'prog', { suspended: true });
    const states: unknown[] = [task.actor.getSnapshot().value];
    runFor(cluster, 5);
    states.push(task.actor.getSnapshot().value);
    resumeTask(task);
    states.push(task.actor.getSnapshot().value);
    suspendTask(task);
    states.push(task.actor.getSnapshot().value);
    mainThread(task).task.send({ type: 'TERMINATE', status: 0, reason: 'test' });
    states.push(task.actor.getSnapshot().value);
    expect(states).toEqual(['created', 'suspended', 'running', 'suspended', 'terminated']);
  });
});

describe('thread_abort', () => {
  it('ends a blocked receive with MACH_RCV_INTERRUPTED', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, RECEIVE_THEN_REPORT);
    runFor(cluster, 5);
    const t = mainThread(task);
    expect(t.actor.getSnapshot().context.waitingFor).toBe('message');
    abortThread(t);
    runToExit(cluster, task);
    expect(MACH_MSG_RETURN.RCV_INTERRUPTED).toBe(0x10004005);
    expect(task.outputText).toBe(`${hex32(0x10004005)}\n`);
    expect(task.exit?.status).toBe(0x10004005);
  });

  it('interrupts a suspended thread too; it sees the interrupt when it resumes', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, RECEIVE_THEN_REPORT);
    runFor(cluster, 5);
    const t = mainThread(task);
    suspendThread(t);
    abortThread(t);
    expect(t.waiting).toBe(false);
    runFor(cluster, 50);
    expect(task.exit).toBeNull();
    expect(t.state.regs[0]).toBe(0x10004005);
    resumeThread(t);
    runToExit(cluster, task);
    expect(task.exit?.status).toBe(0x10004005);
  });

  it('with suspend and set_state, sends the thread to a handler (the POSIX signal recipe)', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, RECEIVE_THEN_REPORT);
    const handler = assemble(RECEIVE_THEN_REPORT).symbols.handler!;
    runFor(cluster, 5);
    const t = mainThread(task);
    suspendThread(t); // 1. stop it
    abortThread(t); // 2. interrupt the receive: r0 = MACH_RCV_INTERRUPTED
    const state = copyThreadState(t.state); // 3. thread_get_state, change, thread_set_state
    state.pc = handler;
    state.regs[9] = 99;
    assignThreadState(t.state, state);
    resumeThread(t); // 4. run the handler
    runToExit(cluster, task);
    expect(task.outputText).toBe(`handler: ${hex32(0x10004005)}\n`);
    expect(task.exit?.status).toBe(99);
  });

  it('ends a sleep early with KERN_ABORTED', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(
      host,
      program(`
        li    r0, SYS_SLEEP
        li    r1, 10000
        trap
        ${exitWith('r0')}`),
    );
    runFor(cluster, 5);
    abortThread(mainThread(task));
    runToExit(cluster, task);
    expect(task.exit?.status).toBe(KERN.ABORTED);
    expect(task.exit!.time).toBeLessThan(6);
  });

  it('aborts a system call waiting for a page entirely: no side effect, KERN_ABORTED', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(
      host,
      program(
        `
        li    r0, SYS_CONSOLE_WRITE  ; bss never touched: the kernel must page it in
        la    r1, fresh
        li    r2, 8
        trap
        ${exitWith('r0')}`,
        `
        .bss
fresh:  .space 4096`,
      ),
    );
    const t = mainThread(task);
    cluster.world.runUntil(() => t.instructions > 0 && t.waiting);
    expect(t.actor.getSnapshot().context.waitingFor).toBe('page');
    abortThread(t);
    runToExit(cluster, task);
    expect(task.exit?.status).toBe(KERN.ABORTED);
    expect(task.outputText).toBe('');
  });

  it('does nothing to a thread that is not waiting in the kernel', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, SPIN);
    runFor(cluster, 5);
    const t = mainThread(task);
    expect(() => abortThread(t)).not.toThrow();
    expect(progresses(cluster, t)).toBe(true);
  });
});

describe('thread state', () => {
  /** Counts in r5; `report` prints r5 and r6 and exits with r7. */
  const COUNTER = program(`
spin:   addi  r5, r5, 1
        b     spin
report: ${printDec('r5')}
        ${printDec('r6')}
        ${exitWith('r7')}`);

  it('reads the registers, pc and flags a suspended thread stopped with', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, COUNTER);
    const spin = assemble(COUNTER).symbols.spin!;
    runFor(cluster, 10);
    const t = mainThread(task);
    suspendThread(t);
    runFor(cluster, 2);
    const state = copyThreadState(t.state);
    // The loop is two instructions from the entry: after n of them, r5 = ceil(n / 2) and pc is
    // on the addi (n even) or the branch (n odd).
    const n = t.instructions;
    expect(state.pc).toBe(n % 2 === 0 ? spin : spin + 8);
    expect(state.regs[5]).toBe(Math.ceil(n / 2));
    expect(state.regs[15]).toBe(0x40000000); // sp at the top of the stack, never pushed
    runFor(cluster, 10);
    expect(copyThreadState(t.state)).toEqual(state); // suspended: nothing moves
  });

  it('writes registers and pc: the thread resumes from the new state', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, COUNTER);
    const report = assemble(COUNTER).symbols.report!;
    runFor(cluster, 10);
    const t = mainThread(task);
    suspendThread(t);
    const state = copyThreadState(t.state);
    state.regs[5] = 1000;
    state.regs[6] = -1;
    state.regs[7] = 42;
    state.pc = report;
    assignThreadState(t.state, state);
    resumeThread(t);
    runToExit(cluster, task);
    expect(task.outputText).toBe('1000\n4294967295\n');
    expect(task.exit?.status).toBe(42);
  });
});
