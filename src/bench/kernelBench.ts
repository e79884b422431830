import { fileURLToPath } from 'node:url';
import { createActor } from 'xstate';
import { Cluster } from '../cluster.ts';
import { assemble } from '../cpu/assembler.ts';
import { benchPrimesVsJs, primesInJs } from '../cpu/bench.ts';
import { assembleFile } from '../cpu/sourceFiles.ts';
import { spawn } from '../kernel/loader.ts';
import type { Task } from '../kernel/task.ts';
import { taskMachine } from '../machines/task.ts';
import { HOST_PROFILES } from '../world/profiles.ts';
import { type BenchResult, collectGarbage } from './measure.ts';

/**
 * Kernel benchmarks (issue 3): the interpreter against plain JavaScript on the primes example,
 * the same program run as a task on a simulated host, and the heap an idle task costs.
 */

const PRIMES_N = 300_000;

const PRIMES = fileURLToPath(new URL('../../examples/primes.s', import.meta.url));

/**
 * The primes example as a task on a one-host Pentium 90 cluster (scheduler in 1 ms slices, pager,
 * system calls and all):
 * best wall time of `repeats` runs, in ms, and whether it printed what plain JavaScript prints.
 */
function primesOnKernel(n: number, repeats: number): { ms: number; matches: boolean } {
  const step = Math.max(1, Math.floor(n / 10));
  const expected = primesInJs(n, step);
  const image = assembleFile(PRIMES, { defines: { N: n, STEP: step } });
  let best = Number.POSITIVE_INFINITY;
  let matches = true;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    const cluster = new Cluster({ hosts: { bench: HOST_PROFILES.pentium90 } });
    const task = spawn(cluster.host('bench'), image, 'primes');
    cluster.world.runUntil(() => task.exit !== null);
    best = Math.min(best, performance.now() - t0);
    matches &&= task.outputText === expected;
  }
  return { ms: best, matches };
}

/** Best wall time of plain JavaScript primes (same algorithm, same output). */
function primesInJsMs(n: number, repeats: number): number {
  const step = Math.max(1, Math.floor(n / 10));
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    primesInJs(n, step);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

// ---- memory per idle task ----------------------------------------------------------------------

/** A task that allocates a port and blocks receiving on it forever: an idle server. */
const IDLE_SOURCE = `
        .text
_start: li    r0, SYS_PORT_ALLOCATE
        li    r1, MACH_PORT_RIGHT_RECEIVE
        trap
        mov   r5, r1
        li    r0, SYS_MACH_MSG
        li    r1, 0x2000
        li    r2, MACH_RCV_MSG
        li    r3, 0
        li    r4, 64
        trap
        li    r0, SYS_EXIT
        trap
`;

function settledHeap(gc: () => void): { heap: number; external: number } {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external };
}

export interface IdleTaskMeasurement {
  readonly tasks: number;
  /** heapUsed growth per idle task (bytes). */
  readonly heapPerTask: number;
  /** Growth outside the JS heap per task (page frames are ArrayBuffers): bytes. */
  readonly externalPerTask: number;
  /** Every task ended up blocked in its receive. */
  readonly allBlocked: boolean;
}

/**
 * Heap per idle task: `count` tasks, each with one thread blocked in mach_msg receive, on one
 * host; the heap after full collections, before and after, divided by `count`.
 */
export function measureIdleTasks(count = 2000): IdleTaskMeasurement {
  const gc = collectGarbage;
  const image = assemble(IDLE_SOURCE);
  const profile = { ...HOST_PROFILES.modern, name: 'idle-bench' };
  // Warm up the code paths (and the JIT) on a throw-away cluster.
  {
    const c = new Cluster({ hosts: { warm: profile } });
    for (let i = 0; i < 50; i++) spawn(c.host('warm'), image, `warm${i}`);
    c.world.runUntilIdle();
  }
  const cluster = new Cluster({ hosts: { bench: profile } });
  const host = cluster.host('bench');
  cluster.world.runUntilIdle();
  const before = settledHeap(gc);
  const tasks: Task[] = [];
  for (let i = 0; i < count; i++) tasks.push(spawn(host, image, `idle${i}`));
  cluster.world.runUntilIdle();
  const after = settledHeap(gc);
  const allBlocked = tasks.every(
    (t) => t.exit === null && t.threads[0]?.actor.getSnapshot().context.waitingFor === 'message',
  );
  // Keep everything reachable until measured.
  if (tasks.length !== count || host.tasks.size !== count) throw new Error('tasks went missing');
  return {
    tasks: count,
    heapPerTask: (after.heap - before.heap) / count,
    externalPerTask: (after.external - before.external) / count,
    allBlocked,
  };
}

/** Heap per started XState actor of the task machine (the statechart alone), same method. */
export function measureTaskActors(count = 2000): number {
  const gc = collectGarbage;
  const warm = Array.from({ length: 50 }, (_, i) =>
    createActor(taskMachine, { input: { name: `w${i}` } }).start(),
  );
  const before = settledHeap(gc).heap;
  const actors = Array.from({ length: count }, (_, i) =>
    createActor(taskMachine, { input: { name: `t${i}` } }).start(),
  );
  const after = settledHeap(gc).heap;
  if (actors.length + warm.length === 0) throw new Error('unreachable');
  return (after - before) / count;
}

export function kernelBenchmarks(): BenchResult[] {
  const vm = benchPrimesVsJs({ n: PRIMES_N, repeats: 5 });
  const kernelRun = primesOnKernel(PRIMES_N, 3);
  const jsMs = primesInJsMs(PRIMES_N, 5);
  const idle = measureIdleTasks(2000);
  const actorBytes = measureTaskActors(2000);
  return [
    {
      name: 'vm.primes_vs_js',
      value: vm.vmMs,
      unit: 'ms',
      baseline: { name: 'plain_js_primes', value: vm.jsMs },
      ratio: vm.jsMs / vm.vmMs,
      note:
        `ratio = JS time / interpreter time (goal >= 0.1); primes up to ${PRIMES_N}, ` +
        `run() on a FlatMemory${vm.outputsMatch ? ', same output' : ', OUTPUTS DIFFER'}`,
    },
    {
      name: 'vm.instructions_per_s',
      value: vm.instructionsPerSecond,
      unit: 'instr/s',
      baseline: null,
      ratio: null,
      note: `${vm.instructions.toLocaleString('en-US')} instructions of primes.s`,
    },
    {
      name: 'vm.primes_on_kernel_vs_js',
      value: kernelRun.ms,
      unit: 'ms',
      baseline: { name: 'plain_js_primes', value: jsMs },
      ratio: jsMs / kernelRun.ms,
      note: `the same program as a task on a simulated host (scheduler, pager, system calls)${kernelRun.matches ? ', same output' : ', OUTPUTS DIFFER'}`,
    },
    {
      name: 'task.idle_bytes',
      value: idle.heapPerTask,
      unit: 'bytes',
      baseline: { name: 'xstate_task_actor', value: actorBytes },
      ratio: actorBytes / idle.heapPerTask,
      note:
        `goal < 20,000 bytes of heap per idle task (${idle.tasks} tasks, one thread each, ` +
        `blocked in receive${idle.allBlocked ? '' : ': NOT ALL BLOCKED'}); ` +
        `plus ${Math.round(idle.externalPerTask).toLocaleString('en-US')} bytes outside the heap (page frames)`,
    },
  ];
}
