/**
 * Model-based tests (issue 6): every path of every abstract model in models/ (shortest paths to
 * every state, and every simple path where the state space allows) runs against a real simulated
 * system, with the model's states asserted and the invariants checked after every step, and the
 * world checked for leftovers at the end. src/check/ holds the executors and the invariants.
 */
import { describe, expect, it } from 'vitest';
import { CHECK_MODELS } from '../src/check/models.ts';
import { generatePaths, runModel } from '../src/check/runner.ts';

describe('model-based tests', () => {
  it('has at least four models, 200 paths, 100 of them with a failure', () => {
    const counts = CHECK_MODELS.map((m) => generatePaths(m));
    expect(CHECK_MODELS.map((m) => m.name)).toEqual([
      'migration',
      'port-rights',
      'pager',
      'netmsg-location',
    ]);
    const paths = counts.reduce((n, g) => n + g.paths.length, 0);
    const failure = counts.reduce((n, g) => n + g.paths.filter((p) => p.failure).length, 0);
    expect(paths).toBeGreaterThanOrEqual(200);
    expect(failure).toBeGreaterThanOrEqual(100);
    // The migration model's state space is a tree (one fault per path): its shortest paths are
    // its simple paths, every one of them.
    const migration = counts[0]!;
    expect(migration.simple).toBe(migration.shortest);
    expect(migration.paths.length).toBeGreaterThanOrEqual(200);
  });

  for (const model of CHECK_MODELS) {
    it(`${model.name}: every path passes on the real system`, () => {
      const r = runModel(model);
      const shown = r.failures
        .slice(0, 5)
        .map((f) => `${f.path} (step ${f.step}): ${f.problems.slice(0, 3).join(' | ')}`);
      expect(shown).toEqual([]);
      expect(r.failed).toBe(0);
      expect(r.passed).toBe(r.paths);
      expect(r.paths).toBeGreaterThan(0);
    });
  }
});
