import { describe, expect, it } from 'vitest';
import { runScale, scaleBenchmarks, scaleFactor } from '../src/bench/scaleBench.ts';
import { plainCopyMs, runWallMigration } from '../src/bench/wallBench.ts';

describe('the wall-time and scale benchmarks (at toy sizes)', () => {
  it('migrates a task with touched memory eagerly and times a plain copy beside it', () => {
    const r = runWallMigration(2);
    expect(r.result.outcome).toBe('committed');
    expect(r.result.strategy).toBe('eager');
    expect(r.result.pagesMoved).toBeGreaterThanOrEqual(512);
    expect(r.migrationMs).toBeGreaterThan(0);
    expect(plainCopyMs(1024 * 1024)).toBeGreaterThan(0);
  });

  it('runs many tasks and concurrent migrations, and reports scale.* figures', () => {
    const r = runScale({ hosts: 4, tasks: 12, migrations: 4 });
    expect(r.committed).toBe(4);
    expect(r.eventsPerSecond).toBeGreaterThan(0);
    const names = scaleBenchmarks({ hosts: 3, tasks: 6, migrations: 2 }).map((b) => b.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'scale.events_per_second',
        'scale.heap_per_task',
        'scale.migrations_wall_ms',
      ]),
    );
  });

  it('takes its size factor from the option or XMACH_SCALE', () => {
    expect(scaleFactor(0.5)).toBe(0.5);
    expect(() => scaleFactor(2)).toThrow('scale factor must be in (0, 1]');
  });
});
