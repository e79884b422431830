/**
 * A chain of migrations (issue 5, tests): a task moves from A to B to C and back to A, each hop
 * with its own memory strategy, and still prints exactly what it prints unmigrated. Demand
 * strategies leave a memory server behind at each hop; the next hop reads the pages through it,
 * and when nothing maps a memory server any more it retires, so the hosts end as they began.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Strategy } from '../src/protocol/migration.ts';
import { exampleSource } from './support/kernelFixtures.ts';
import {
  baseline,
  census,
  ExitLog,
  OutputLog,
  paperCluster,
  RunWatch,
  spawnProgram,
  taskNames,
  taskOn,
} from './support/migrationFixtures.ts';

const PRIMES = { source: exampleSource('primes.s'), defines: { N: 100000, STEP: 500 } };
const HOPS = ['i486', 'i386', 'pentium'] as const;

const open: { close(): void }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});

/** Runs primes on the Pentium and migrates it along A, B, C, A with these strategies. */
function chain(strategies: readonly [Strategy, Strategy, Strategy]) {
  const { cluster, pentium } = paperCluster({ third: true });
  const before = Object.fromEntries([...cluster.hosts.values()].map((h) => [h.name, census(h)]));
  const log = new OutputLog(cluster);
  const exits = new ExitLog(cluster);
  const watch = new RunWatch(cluster);
  open.push(log, exits, watch);
  let task = spawnProgram(pentium, PRIMES);
  cluster.world.runUntilTime(3);
  const results = HOPS.map((to, i) => {
    const m = cluster.migrate(task, to, { strategy: strategies[i]! });
    cluster.world.runUntil(() => m.result() !== null, { until: cluster.world.now() + 60_000 });
    const r = m.result()!;
    expect(r.outcome, `hop ${i + 1} to ${to}: ${r.reason}`).toBe('committed');
    task = taskOn(cluster.host(to))!;
    expect(task).toBeDefined();
    // Let it run where it landed until it printed there (demand paging first fetches its pages).
    const printed = log.writes.length;
    cluster.world.runUntil(() => log.writes.slice(printed).some((w) => w.host === to), {
      until: cluster.world.now() + 500,
    });
    return r;
  });
  cluster.world.runUntil(() => task.exit !== null, { until: cluster.world.now() + 60_000 });
  cluster.world.runUntilIdle({ until: cluster.world.now() + 200_000 });
  return { cluster, log, exits, watch, results, before };
}

describe('A to B to C and back to A', () => {
  it.each([
    [['eager', 'demand', 'prepage']],
    [['precopy', 'flush', 'eager']],
    [['demand', 'demand', 'demand']],
    [['flush', 'precopy', 'prepage']],
  ] as const)('with %j prints what it prints unmigrated', (strategies) => {
    const { cluster, log, exits, watch, results, before } = chain(strategies);
    expect(results.map((r) => `${r.from}>${r.to}`)).toEqual([
      'pentium>i486',
      'i486>i386',
      'i386>pentium',
    ]);
    expect(log.text()).toBe(baseline(PRIMES).output);
    expect(log.hostRuns()).toEqual(['pentium', 'i486', 'i386', 'pentium']);
    expect(exits.final()).toMatchObject({ host: 'pentium', status: 0 });
    expect(watch.twice).toEqual([]);
    expect(watch.lost).toEqual([]);
    for (const h of cluster.hosts.values()) {
      expect(taskNames(h)).toEqual([]);
      const now = census(h);
      expect(now.problems).toEqual([]);
      // Memory servers, sessions and clients all gone: the hosts are as they began.
      expect({ spaces: now.spaces, ports: now.ports }, h.name).toEqual({
        spaces: before[h.name]!.spaces,
        ports: before[h.name]!.ports,
      });
    }
  });
});
