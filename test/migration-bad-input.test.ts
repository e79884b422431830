/**
 * Bad input to migrate (issue 5): a task that does not exist here or has ended, an unknown host,
 * the task's own host, a task already being migrated, an unknown strategy, options out of range
 * or malformed faults. Each gets a MachError with a Mach return code, naming the problem, and
 * changes nothing: no port, no space, no session, no suspension, and the task runs on to print
 * what it prints unmigrated.
 */
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../src/cluster.ts';
import type { Task } from '../src/kernel/task.ts';
import type { MigrateOptions } from '../src/migration/migrate.ts';
import { MachError } from '../src/protocol/errors.ts';
import {
  baseline,
  census,
  OutputLog,
  paperCluster,
  runMigration,
  spawnProgram,
  taskOn,
} from './support/migrationFixtures.ts';

function started() {
  const { cluster, pentium, i486 } = paperCluster();
  const log = new OutputLog(cluster);
  const task = spawnProgram(pentium, 'primes');
  cluster.world.runUntilTime(3);
  return { cluster, pentium, i486, log, task };
}

/** Everything a refused call must leave as it was. */
function snapshot(cluster: Cluster, task: Task) {
  return {
    hosts: [...cluster.hosts.values()].map((h) => ({ name: h.name, ...census(h) })),
    sessions: [...cluster.migrationServers.values()].map((s) => s.sessions.size),
    suspendCount: task.terminated ? null : task.suspendCount,
    pending: cluster.world.clock.queue.size,
  };
}

/** Expects `fn` to throw a MachError with `code` and a detail matching `detail`, changing nothing. */
function expectRefused(
  cluster: Cluster,
  task: Task,
  fn: () => unknown,
  code: string,
  detail: RegExp,
): void {
  const before = snapshot(cluster, task);
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(MachError);
  expect((error as MachError).codeName).toBe(code);
  expect((error as MachError).detail).toMatch(detail);
  expect(snapshot(cluster, task)).toEqual(before);
}

/** The task, left alone after the refusal, prints what it prints unmigrated. */
function expectUnharmed(cluster: Cluster, log: OutputLog, task: Task): void {
  cluster.world.runUntil(() => task.exit !== null, { until: 10_000 });
  expect(task.exit?.status).toBe(0);
  expect(log.text()).toBe(baseline('primes').output);
}

describe('migrate refuses, changing nothing', () => {
  it('a task that has ended', () => {
    const { cluster, task } = started();
    cluster.world.runUntil(() => task.exit !== null);
    expectRefused(
      cluster,
      task,
      () => cluster.migrate(task, 'i486'),
      'KERN_INVALID_TASK',
      /task prog is not running on pentium/,
    );
  });

  it('a task that does not exist in this cluster', () => {
    const { cluster, log, task } = started();
    const elsewhere = paperCluster();
    const stranger = spawnProgram(elsewhere.pentium, 'primes');
    expectRefused(
      cluster,
      task,
      () => cluster.migrate(stranger, 'i486'),
      'KERN_INVALID_TASK',
      /not this cluster's/,
    );
    expectUnharmed(cluster, log, task);
  });

  it('a task whose host has crashed', () => {
    const { cluster, task } = started();
    cluster.network.crash('pentium');
    expectRefused(
      cluster,
      task,
      () => cluster.migrate(task, 'i486'),
      'KERN_INVALID_TASK',
      /not running on pentium/,
    );
  });

  it('an unknown host', () => {
    const { cluster, log, task } = started();
    expectRefused(
      cluster,
      task,
      () => cluster.migrate(task, 'vax'),
      'KERN_INVALID_HOST',
      /unknown host "vax" \(hosts: pentium, i486\)/,
    );
    expectUnharmed(cluster, log, task);
  });

  it('its own host', () => {
    const { cluster, log, task } = started();
    expectRefused(
      cluster,
      task,
      () => cluster.migrate(task, 'pentium'),
      'KERN_INVALID_ARGUMENT',
      /task prog is already on pentium/,
    );
    expectUnharmed(cluster, log, task);
  });

  it('an unknown strategy', () => {
    const { cluster, log, task } = started();
    expectRefused(
      cluster,
      task,
      () => cluster.migrate(task, 'i486', { strategy: 'teleport' as never }),
      'KERN_INVALID_ARGUMENT',
      /unknown strategy "teleport" \(known: eager, precopy, demand, prepage, flush\)/,
    );
    expectUnharmed(cluster, log, task);
  });

  it.each([
    [{ batchPages: 0 }, /batchPages must be an integer from 1 to 2048, got 0/],
    [{ batchPages: 1.5 }, /batchPages must be an integer from 1 to 2048/],
    [{ batchPages: 2049 }, /batchPages must be an integer from 1 to 2048, got 2049/],
    [{ precopyMaxRounds: 0 }, /precopyMaxRounds must be an integer >= 1/],
    [{ precopyThreshold: -1 }, /precopyThreshold must be an integer >= 0/],
    [{ timeouts: { stepMs: -5 } }, /timeouts.stepMs must be a finite number > 0, got -5/],
    [{ timeouts: { copyMs: Number.NaN } }, /timeouts.copyMs must be a finite number > 0/],
    [{ timeouts: { statusAttempts: 0 } }, /timeouts.statusAttempts must be an integer >= 1/],
    [{ inject: [{ kind: 'meteor' }] }, /inject\[0\]: unknown fault kind "meteor"/],
    [{ inject: [{ kind: 'fail', step: 'teleport' }] }, /inject\[0\]: unknown step "teleport"/],
    [{ inject: [{ kind: 'lose', message: 'HELLO' }] }, /inject\[0\]: unknown message "HELLO"/],
    [
      { inject: [{ kind: 'crash', at: { sent: 'COMMIT', nth: 0 } }] },
      /inject\[0\]: nth must be an integer >= 1, got 0/,
    ],
    [{ inject: [{ kind: 'partition', at: {} }] }, /inject\[0\]: a trigger is/],
  ] as const)('options out of range: %j', (opts, detail) => {
    const { cluster, log, task } = started();
    expectRefused(
      cluster,
      task,
      () => cluster.migrate(task, 'i486', opts as unknown as MigrateOptions),
      'KERN_INVALID_ARGUMENT',
      detail,
    );
    expectUnharmed(cluster, log, task);
  });

  it('a task already being migrated; the first migration is not disturbed', () => {
    const { cluster, log, task, i486 } = started();
    const first = cluster.migrate(task, 'i486');
    cluster.world.runUntilTime(cluster.world.now() + 2);
    expect(first.result()).toBeNull();
    for (const to of ['i486', 'pentium', 'vax']) {
      expect(() => cluster.migrate(task, to)).toThrow(MachError);
    }
    const before = snapshot(cluster, task);
    let error: MachError | null = null;
    try {
      cluster.migrate(task, 'i486', { strategy: 'demand' });
    } catch (e) {
      error = e as MachError;
    }
    expect(error?.codeName).toBe('KERN_FAILURE');
    expect(error?.detail).toBe('task prog is already being migrated');
    expect(snapshot(cluster, task)).toEqual(before);
    const r = runMigration(cluster, first);
    expect(r.outcome).toBe('committed');
    expect(log.text()).toBe(baseline('primes').output);
    // The old task object is gone; the task it became can move again (here it has ended).
    expect(() => cluster.migrate(task, 'i486')).toThrow(/not running on pentium/);
    expect(taskOn(i486)).toBeUndefined();
  });

  it('twice at once from two clients: the second is refused, the task moves once', () => {
    const { cluster, log, task, i486 } = started();
    const first = cluster.migrate(task, 'i486', { strategy: 'precopy' });
    expect(() => cluster.migrate(task, 'i486', { strategy: 'eager' })).toThrow(
      /already being migrated/,
    );
    const r = runMigration(cluster, first);
    expect(r.outcome).toBe('committed');
    expect(log.hostRuns()).toEqual(['pentium', 'i486']);
    expect(log.text()).toBe(baseline('primes').output);
    expect([...i486.tasks.values()]).toEqual([]);
  });

  it('after a migration ends, the moved task can be migrated again', () => {
    const { cluster, log, task, i486 } = started();
    const first = cluster.migrate(task, 'i486');
    cluster.world.runUntil(() => first.result() !== null);
    const moved = taskOn(i486)!;
    const back = cluster.migrate(moved, 'pentium');
    const r = runMigration(cluster, back);
    expect(r.outcome).toBe('committed');
    expect(log.text()).toBe(baseline('primes').output);
  });
});
