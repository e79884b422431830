/**
 * The model-based suite has teeth: with the migration server's rollback deliberately broken (a
 * test switch: an aborted session keeps its partial task instead of destroying it), paths of the
 * migration model must fail, each on the partial task left behind, while the same paths pass
 * against the real rollback (test/models.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { migrationCheck } from '../src/check/migrationExecutors.ts';
import { runModel } from '../src/check/runner.ts';

describe('a deliberately broken rollback', () => {
  it('makes the migration model fail, on the partial task it leaves behind', () => {
    const broken = runModel(migrationCheck, { brokenRollback: true });
    expect(broken.failed).toBeGreaterThanOrEqual(40);
    for (const f of broken.failures)
      expect(f.problems.join('\n')).toMatch(/partial copies left behind: worker@/);
    // The paths that fail are failure paths that got as far as creating the remote task.
    expect(broken.failures.every((f) => /LOSE|TIMEOUT|REFUSE|CRASH|FAIL/.test(f.path))).toBe(true);
  });

  it('is caught on each kind of fault after the remote task exists', () => {
    const broken = runModel(migrationCheck, { brokenRollback: true, filter: 'START(eager)' });
    const kinds = new Set(broken.failures.map((f) => f.path.split(' → ').at(-1)!));
    for (const k of ['LOSE_REQUEST', 'LOSE_REPLY', 'TIMEOUT', 'REFUSE', 'CRASH_SOURCE'])
      expect([...kinds].some((x) => x.startsWith(k) || x === 'RESOLVE')).toBe(true);
  });
});
