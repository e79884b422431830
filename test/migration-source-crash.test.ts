/**
 * The migration client runs on the source host, so it dies with it. From the crash on it does
 * nothing more, and the migration ends `interrupted`: the client cannot know whether the
 * destination committed, so it does not say. What became of the task is then the destination's
 * to tell. Before the commit point the task is lost with its host; after it, the destination
 * runs it.
 */
import { describe, expect, it } from 'vitest';
import type { MigrationFault } from '../src/migration/faultInjection.ts';
import type { TraceEvent } from '../src/world/trace.ts';
import {
  baseline,
  OutputLog,
  paperCluster,
  runMigration,
  spawnProgram,
  taskOn,
} from './support/migrationFixtures.ts';

function crashSourceAt(at: MigrationFault & { kind: 'crash' }) {
  const { cluster, pentium, i486 } = paperCluster();
  const log = new OutputLog(cluster);
  const task = spawnProgram(pentium, 'primes');
  cluster.world.runUntilTime(5);
  const events: TraceEvent[] = [];
  const sub = cluster.world.trace.events$.subscribe((e) => events.push(e));
  const result = runMigration(cluster, cluster.migrate(task, 'i486', { inject: [at] }));
  cluster.world.runUntilIdle({ until: cluster.world.now() + 400_000 });
  sub.unsubscribe();
  log.close();
  return { cluster, pentium, i486, result, events, log };
}

describe('the source host crashes during a migration', () => {
  it.each(['suspend', 'create', 'copy', 'restore'] as const)(
    'during %s: the migration ends interrupted, and the task is lost with its host',
    (step) => {
      const o = crashSourceAt({ kind: 'crash', host: 'source', at: { step } });
      expect(o.result.outcome).toBe('interrupted');
      expect(o.result.failedStep).toBe(step);
      expect(o.result.reason).toBe(`host pentium crashed during ${step}`);
      // The client took no step after the crash: it died with its host.
      const crash = o.events.findIndex((e) => e.kind === 'node.down');
      const later = o.events.slice(crash).filter((e) => e.kind === 'migration.step');
      expect(later).toEqual([]);
      // Before the commit point nothing ran at the destination; its partial copy is gone.
      expect(taskOn(o.i486)).toBeUndefined();
      expect(o.pentium.up).toBe(false);
    },
  );

  it('once the destination accepted COMMIT: interrupted for the client, yet the task runs on', () => {
    const o = crashSourceAt({ kind: 'crash', host: 'source', at: { answered: 'COMMIT' } });
    expect(o.result.outcome).toBe('interrupted');
    expect(o.result.failedStep).toBe('commit');
    // The commit point was passed: the destination's copy ran to the end, with the whole output.
    const dest = [...o.i486.tasks.values()].find((t) => t.name === 'prog');
    expect(dest === undefined || dest.exit?.reason === 'exit').toBe(true);
    expect(o.log.text()).toBe(baseline('primes').output);
  });

  it('reports once, and a restart of the source host brings no client back', () => {
    const o = crashSourceAt({
      kind: 'crash',
      host: 'source',
      at: { step: 'copy' },
      restartAfterMs: 50,
    });
    expect(o.result.outcome).toBe('interrupted');
    expect(o.events.filter((e) => e.kind === 'migration.end')).toHaveLength(1);
    expect(o.pentium.up).toBe(true);
  });
});
