import { Harness } from '../check/harness.ts';
import { migrationSpec } from '../check/migrationExecutors.ts';
import { CHECK_MODELS } from '../check/models.ts';
import { generatePaths, runPath } from '../check/runner.ts';
import type { BenchResult } from './measure.ts';

/**
 * `check.paths_per_s`: model paths executed per second of wall time (a fixed sample: every
 * fifth path of every model, each against its real simulated system, invariants included),
 * beside a baseline measured in the same run: bare runs per second of the migration model's
 * world (the cluster, the worker task and its senders, one eager migration, the world brought to
 * rest) with no model, no assertion and no invariant.
 */
export function checkBenchmarks(): BenchResult[] {
  const sample = CHECK_MODELS.flatMap((m) =>
    generatePaths(m)
      .paths.filter((_, i) => i % 5 === 0)
      .map((p) => ({ m, p })),
  );
  // Warm-up: a few paths of each model.
  for (const m of CHECK_MODELS) for (const p of generatePaths(m).paths.slice(0, 3)) runPath(m, p);
  let t0 = performance.now();
  let failed = 0;
  for (const { m, p } of sample) if (!runPath(m, p).ok) failed++;
  const pathsPerS = sample.length / ((performance.now() - t0) / 1000);
  const runs = 20;
  t0 = performance.now();
  for (let i = 0; i < runs; i++) bareRun();
  const runsPerS = runs / ((performance.now() - t0) / 1000);
  return [
    {
      name: 'check.paths_per_s',
      value: pathsPerS,
      unit: 'paths/s',
      baseline: { name: 'bare migration runs/s', value: runsPerS },
      ratio: pathsPerS / runsPerS,
      note: `${sample.length} paths of ${CHECK_MODELS.length} models${failed > 0 ? `, ${failed} FAILED` : ''}`,
    },
  ];
}

function bareRun(): void {
  const h = new Harness(migrationSpec(1, {}));
  h.run(() => false, 40);
  const m = h.migrate('worker', 'i486', { strategy: 'eager' });
  h.run(() => m.migration.result() !== null, 60_000);
  h.quiesce();
}
