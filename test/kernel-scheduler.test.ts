/**
 * The host scheduler (Mach 3 Kernel Principles, chapter 6): one CPU per host, the highest priority
 * runnable thread first (0 is highest), round robin among equals every quantum, FIFO threads
 * keeping the CPU until they block or yield, and blocked threads costing nothing. Virtual time is
 * CPU time: instructions divided by the host's speed.
 */
import { describe, expect, it } from 'vitest';
import type { Host } from '../src/kernel/host.ts';
import type { Task } from '../src/kernel/task.ts';
import { resumeTask, setThreadScheduling } from '../src/kernel/taskOps.ts';
import type { SchedulingPolicy } from '../src/kernel/thread.ts';
import { mainThread, oneHost, program, runFor, spawnSource } from './support/kernelFixtures.ts';

/** Counts in r5 forever: pure CPU work, no memory traffic, no system calls. */
const SPIN = program(`
spin:   addi  r5, r5, 1
        b     spin`);

/** Spins COUNT iterations (2 instructions each), then makes system call CALL, then spins forever. */
const SPIN_CALL_SPIN = program(
  `
        li    r5, COUNT
first:  subi  r5, r5, 1
        bne   r5, r11, first
        li    r0, CALL
        li    r1, ARG
        trap
        la    r6, called
        li    r1, 1
        stw   r1, [r6]
again:  addi  r5, r5, 1
        b     again`,
  `
        .equ  COUNT, 1
        .equ  CALL, SYS_YIELD
        .equ  ARG, 0
        .align 4
called: .word 0`,
);

interface Contender {
  readonly priority?: number;
  readonly policy?: SchedulingPolicy;
  readonly source?: string;
  readonly defines?: Record<string, number>;
}

/**
 * Spawns the contenders suspended on one i486 host (27 million instructions per second), lets
 * them all load, sets their scheduling, then resumes them together at `start`.
 */
function race(contenders: Contender[]): {
  cluster: ReturnType<typeof oneHost>['cluster'];
  host: Host;
  tasks: Task[];
  start: number;
} {
  const { cluster, host } = oneHost('i486dx33');
  const tasks = contenders.map((c, i) =>
    spawnSource(host, c.source ?? SPIN, `t${i}`, {
      suspended: true,
      ...(c.defines ? { defines: c.defines } : {}),
    }),
  );
  runFor(cluster, 5);
  contenders.forEach((c, i) => {
    const t = mainThread(tasks[i]!);
    setThreadScheduling(t, c.priority ?? t.priority, c.policy ?? t.policy);
    expect(t.instructions).toBe(0);
  });
  for (const t of tasks) resumeTask(t);
  return { cluster, host, tasks, start: cluster.world.now() };
}

const executed = (t: Task) => mainThread(t).instructions;

describe('round robin among threads of equal priority', () => {
  it('shares the CPU evenly: after 20 quanta, neither is ahead by more than one quantum', () => {
    const { cluster, host, tasks } = race([{}, {}]);
    const quantum = host.scheduler.quantumInstructions();
    expect(quantum).toBe(270_000); // 10 ms at 27 MIPS
    runFor(cluster, 200);
    const [a, b] = tasks.map(executed) as [number, number];
    expect(Math.abs(a - b)).toBeLessThanOrEqual(quantum);
    expect(a).toBeGreaterThan(8 * quantum);
    expect(b).toBeGreaterThan(8 * quantum);
  });

  it('spends virtual time as instructions / host speed: 200 ms of a busy CPU is 5.4 million', () => {
    const { cluster, host, tasks, start } = race([{}, {}, {}]);
    runFor(cluster, 200);
    const total = tasks.map(executed).reduce((x, y) => x + y, 0);
    const ips = host.profile.instructionsPerSecond;
    const slice = (host.scheduler.sliceMs / 1000) * ips;
    const elapsed = cluster.world.now() - start;
    expect(Math.abs(total - (elapsed / 1000) * ips)).toBeLessThanOrEqual(slice);
    // Each thread's register count agrees with what the scheduler charged it.
    for (const t of tasks) expect(mainThread(t).state.regs[5]).toBe(Math.floor(executed(t) / 2));
  });
});

describe('priorities', () => {
  it('run the higher priority (lower number) thread first and starve the lower while it runs', () => {
    const { cluster, tasks } = race([{ priority: 12 }, { priority: 4 }]);
    const [low, high] = tasks as [Task, Task];
    runFor(cluster, 100);
    expect(executed(low)).toBe(0);
    expect(executed(high)).toBeGreaterThan(2_000_000);
  });

  it('let the lower priority thread run only while the higher one is blocked', () => {
    // The high one spins ~20 ms, sleeps 30 ms, then spins forever.
    const { cluster, tasks, start } = race([
      { priority: 12 },
      {
        priority: 4,
        source: SPIN_CALL_SPIN,
        defines: { COUNT: 270_000, CALL: 3, ARG: 30 }, // 3 = SYS_SLEEP
      },
    ]);
    const [low, high] = tasks as [Task, Task];
    cluster.world.runUntilTime(start + 15);
    expect(executed(low)).toBe(0);
    cluster.world.runUntilTime(start + 35); // the high one sleeps from about 20 ms to 50 ms
    expect(mainThread(high).waiting).toBe(true);
    const during = executed(low);
    expect(during).toBeGreaterThan(0);
    cluster.world.runUntilTime(start + 60); // awake again: the low one stops at once
    const after = executed(low);
    expect(after - during).toBeLessThanOrEqual(15 * 27_000 + 27_000);
    runFor(cluster, 50);
    expect(executed(low)).toBe(after);
  });

  it('take effect when changed while the threads run', () => {
    const { cluster, tasks } = race([{}, {}]);
    const [a, b] = tasks as [Task, Task];
    runFor(cluster, 50);
    expect(executed(a)).toBeGreaterThan(0);
    expect(executed(b)).toBeGreaterThan(0);
    setThreadScheduling(mainThread(b), 20); // lower
    runFor(cluster, 2);
    const bFrozen = executed(b);
    runFor(cluster, 50);
    expect(executed(b)).toBe(bFrozen);
  });
});

describe('FIFO policy', () => {
  const yielder = {
    policy: 'fifo' as const,
    source: SPIN_CALL_SPIN,
    defines: { COUNT: 1_350_000 }, // about 100 ms of spinning, then a yield
  };

  it('keeps the CPU past any quantum until the thread yields', () => {
    const { cluster, tasks, start } = race([yielder, { policy: 'fifo' }]);
    const [first, second] = tasks as [Task, Task];
    cluster.world.runUntilTime(start + 80);
    expect(executed(second)).toBe(0); // 8 quanta went by
    cluster.world.runUntilTime(start + 150);
    // The first yielded at about 100 ms; the second, FIFO too, now keeps the CPU.
    expect(executed(second)).toBeGreaterThan(0);
    const firstAfterYield = executed(first);
    runFor(cluster, 100);
    expect(executed(first)).toBe(firstAfterYield);
  });

  it('gives the CPU up when the thread blocks', () => {
    const { cluster, tasks, start } = race([
      { ...yielder, defines: { COUNT: 270_000, CALL: 3, ARG: 1000 } }, // 20 ms, then sleep
      { policy: 'fifo' },
    ]);
    const [, second] = tasks as [Task, Task];
    cluster.world.runUntilTime(start + 15);
    expect(executed(second)).toBe(0);
    cluster.world.runUntilTime(start + 100);
    expect(executed(second)).toBeGreaterThan(60 * 27_000);
  });

  it('round robin, by contrast, hands the CPU over after one quantum', () => {
    const { cluster, tasks, start } = race([{ ...yielder, policy: 'round-robin' }, {}]);
    cluster.world.runUntilTime(start + 80);
    expect(executed(tasks[1]!)).toBeGreaterThan(30 * 27_000);
  });
});

describe('blocked threads', () => {
  /** Blocks forever in a receive on a port of its own. */
  const RECEIVER = program(
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
        trap`,
    `
        .align 4
buf:    .space 64`,
  );

  it('consume no CPU: a busy thread beside one blocked in receive gets all of it', () => {
    const { cluster, host, tasks, start } = race([{ source: RECEIVER }, {}]);
    const [waiter, busy] = tasks as [Task, Task];
    runFor(cluster, 10);
    expect(mainThread(waiter).actor.getSnapshot().context.waitingFor).toBe('message');
    const waited = executed(waiter);
    runFor(cluster, 100);
    expect(executed(waiter)).toBe(waited);
    const ips = host.profile.instructionsPerSecond;
    const elapsed = cluster.world.now() - start;
    expect(executed(busy) + waited).toBeGreaterThan((elapsed / 1000) * ips - ips / 1000);
  });

  it('leave an otherwise empty host idle: no events, no virtual time spent', () => {
    const { cluster, tasks } = race([{ source: RECEIVER }]);
    cluster.world.runUntilIdle();
    expect(cluster.world.idle).toBe(true);
    expect(mainThread(tasks[0]!).waiting).toBe(true);
    expect(tasks[0]!.exit).toBeNull();
  });
});
