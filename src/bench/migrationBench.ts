import { fileURLToPath } from 'node:url';
import { Cluster } from '../cluster.ts';
import { assembleFile } from '../cpu/sourceFiles.ts';
import { spawn } from '../kernel/loader.ts';
import type { Task } from '../kernel/task.ts';
import { STRATEGIES, type Strategy } from '../protocol/migration.ts';
import type { BenchResult } from './measure.ts';

/**
 * Virtual-time figures of migration on the paper's hosts (Pentium 90 to i486DX 33 over 10 Mbit/s
 * Ethernet), per workload and strategy: freeze time, total time and bytes moved. `sparse` touches
 * 32 KiB of a 1 MiB address space after filling it; `dense` rewrites all of it every round. Each
 * runs for seconds of virtual time, so the migration (at 200 ms) happens while it works.
 * They are simulated times, so they need no baseline.
 */
export const WORKLOADS = {
  sparse: { SIZE: 1024 * 1024, WSET: 32 * 1024, ROUNDS: 60_000, PRINT: 10_000 },
  dense: { SIZE: 1024 * 1024, WSET: 1024 * 1024, ROUNDS: 6_000, PRINT: 1_000 },
} as const;

export type Workload = keyof typeof WORKLOADS;

const SOURCE = fileURLToPath(new URL('../../examples/workset.s', import.meta.url));

export interface MigrationRun {
  readonly workload: Workload;
  readonly strategy: Strategy;
  readonly committed: boolean;
  readonly freezeMs: number;
  readonly totalMs: number;
  readonly bytes: number;
  readonly remoteFaults: number;
  readonly outputMatches: boolean;
}

/** Runs the workload once unmigrated and once migrated at `atMs`; compares their output. */
export function runMigration(
  workload: Workload,
  strategy: Strategy,
  atMs = 200,
  seed = 1,
): MigrationRun {
  const image = assembleFile(SOURCE, { defines: { ...WORKLOADS[workload] } });
  const reference = (() => {
    const c = Cluster.paper(seed);
    const t = spawn(c.host('pentium'), image, 'workset');
    c.world.runUntil(() => t.exit !== null);
    return t.outputText;
  })();
  const cluster = Cluster.paper(seed);
  const task = spawn(cluster.host('pentium'), image, 'workset');
  const pieces: string[] = [];
  cluster.world.trace.events$.subscribe((e) => {
    if (e.kind === 'task.output' && e.task === 'workset') pieces.push(e.text);
  });
  cluster.world.runUntilTime(atMs);
  const m = cluster.migrate(task, 'i486', { strategy });
  let moved: Task | undefined;
  cluster.world.runUntil(() => {
    const r = m.result();
    if (r === null) return false;
    if (r.outcome !== 'committed') return task.exit !== null && task.exit.reason === 'exit';
    moved ??= [...cluster.host('i486').tasks.values()].find((t) => t.name === 'workset');
    return moved === undefined || moved.exit !== null;
  });
  const r = m.result()!;
  return {
    workload,
    strategy,
    committed: r.outcome === 'committed',
    freezeMs: r.freezeMs,
    totalMs: r.totalMs,
    bytes: r.bytes,
    remoteFaults: r.remoteFaults,
    outputMatches: pieces.join('') === reference,
  };
}

export function migrationBenchmarks(): BenchResult[] {
  const out: BenchResult[] = [];
  for (const workload of Object.keys(WORKLOADS) as Workload[]) {
    for (const strategy of STRATEGIES) {
      const r = runMigration(workload, strategy);
      const note = `${r.committed ? 'committed' : 'ROLLED BACK'}; output ${r.outputMatches ? 'matches' : 'DIFFERS from'} the unmigrated run`;
      const base = `migration.${workload}.${strategy}`;
      out.push({
        name: `${base}.freeze_ms`,
        value: r.freezeMs,
        unit: 'ms (virtual)',
        baseline: null,
        ratio: null,
        note,
      });
      out.push({
        name: `${base}.total_ms`,
        value: r.totalMs,
        unit: 'ms (virtual)',
        baseline: null,
        ratio: null,
      });
      out.push({
        name: `${base}.bytes`,
        value: r.bytes,
        unit: 'bytes',
        baseline: null,
        ratio: null,
      });
    }
  }
  return out;
}
