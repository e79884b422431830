/**
 * Migration does not change what a program computes (design.md section 5, "real work inside
 * tasks"; issue 5, tests): every example program, migrated from the Pentium to the i486 at
 * several points of its run with each memory strategy, prints exactly what it prints when it is
 * not migrated, and exits with the same status. Threads blocked in the kernel when the task is
 * suspended (a sleep, a receive, a send-and-receive) are taken out of their system calls and
 * re-issue them at the destination, so they carry on as if nothing happened.
 */
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../src/cluster.ts';
import type { Task } from '../src/kernel/task.ts';
import type { Strategy } from '../src/protocol/migration.ts';
import { exampleSource, mainThread, printDec, program } from './support/kernelFixtures.ts';
import {
  baseline,
  census,
  ExitLog,
  OutputLog,
  PROGRAMS,
  type ProgramName,
  paperCluster,
  runMigration,
  STRATEGY_LIST,
  spawnProgram,
  taskOn,
} from './support/migrationFixtures.ts';

/** Where in its unmigrated run (a fraction of its length) each program is migrated. */
const POINTS = [0.05, 0.3, 0.55] as const;

/**
 * Pre-copy sends the whole address space while the task runs: for the programs that rewrite
 * all of their memory, a round on 10 Mbit/s Ethernet takes longer than the whole program, which
 * would end at home first. Those cells run on a gigabit link, where the rounds keep up.
 */
function linkFor(prog: ProgramName, strategy: Strategy) {
  return strategy === 'precopy' && (prog === 'bigmem' || prog === 'workset')
    ? ('gigabit' as const)
    : undefined;
}

interface MigratedRun {
  readonly cluster: Cluster;
  readonly log: OutputLog;
  readonly exits: ExitLog;
  readonly result: ReturnType<typeof runMigration>;
}

function migratedRun(prog: ProgramName, strategy: Strategy, at: number): MigratedRun {
  const link = linkFor(prog, strategy);
  const { cluster, pentium } = paperCluster(link ? { link } : {});
  const log = new OutputLog(cluster);
  const exits = new ExitLog(cluster);
  const task = spawnProgram(pentium, prog);
  cluster.world.runUntilTime(at);
  const result = runMigration(cluster, cluster.migrate(task, 'i486', { strategy }));
  return { cluster, log, exits, result };
}

describe.each(Object.keys(PROGRAMS) as ProgramName[])('%s, migrated to the i486', (prog) => {
  const cells = POINTS.flatMap((p) => STRATEGY_LIST.map((s) => [s, p] as const));
  it.each(cells)('with %s at %s of its run prints what it prints unmigrated', (strategy, p) => {
    const unmigrated = baseline(prog);
    const { cluster, log, exits, result } = migratedRun(prog, strategy, unmigrated.endMs * p);

    expect(result.outcome, result.reason ?? '').toBe('committed');
    expect(log.text()).toBe(unmigrated.output);
    expect(exits.final()).toMatchObject({ host: 'i486', status: unmigrated.status });
    // It printed at home, then at the destination, never at both in turn.
    expect(log.hostRuns().filter((h) => h === 'pentium').length).toBeLessThanOrEqual(1);
    expect(log.hostRuns().at(-1)).toBe('i486');
    for (const h of cluster.hosts.values()) {
      expect(taskOn(h)).toBeUndefined();
      expect(census(h).problems).toEqual([]);
    }
  });
});

/** A program that prints 1..5 with a 20 ms sleep after each line. */
const SLEEPER = program(`
        li    r8, 1
again:
${printDec('r8')}
        li    r0, SYS_SLEEP
        li    r1, 20
        trap
        addi  r8, r8, 1
        li    r9, 6
        blt   r8, r9, again`);

describe('a thread blocked in the kernel when its task is suspended', () => {
  it.each(STRATEGY_LIST)(
    'in a sleep: it sleeps out its time at the destination (%s)',
    (strategy) => {
      const unmigrated = baseline({ source: SLEEPER });
      const { cluster, pentium } = paperCluster();
      const log = new OutputLog(cluster);
      const task = spawnProgram(pentium, { source: SLEEPER });
      cluster.world.runUntilTime(30);
      expect(mainThread(task).waiting).toBe(true);
      const result = runMigration(cluster, cluster.migrate(task, 'i486', { strategy }));

      expect(result.outcome).toBe('committed');
      expect(log.text()).toBe(unmigrated.output);
      // Line 3 is due at 40 ms, when the sleep that began at 20 ms ends: it is never early. With
      // every page copied (eager), nothing else delays it: the sleep restarted at the destination
      // kept its wake-up time (or ended at once, the move having taken longer), it did not start
      // over. (Pre-copy runs the task meanwhile: line 3 may come before the freeze.)
      const third = log.writes.find((w) => w.text === '3')!;
      expect(third.time).toBeGreaterThanOrEqual(40);
      if (strategy === 'eager') {
        expect(third.host).toBe('i486');
        expect(third.time).toBeLessThan(Math.max(40.2, result.endMs) + 1);
      }
    },
  );

  /** Server and client of ping-pong on the Pentium, as their unmigrated run prints them. */
  function pingpong(
    rounds: number,
    migrate?: { which: 'server' | 'client'; at: number; strategy: Strategy },
  ) {
    const { cluster, pentium } = paperCluster();
    const log = new OutputLog(cluster);
    const exits = new ExitLog(cluster);
    const server = spawnProgram(
      pentium,
      { source: exampleSource('pingpong-server.s'), defines: { ROUNDS: rounds } },
      'server',
    );
    const client = spawnProgram(
      pentium,
      { source: exampleSource('pingpong-client.s'), defines: { ROUNDS: rounds } },
      'client',
    );
    let result = null;
    let blocked = false;
    if (migrate) {
      cluster.world.runUntilTime(migrate.at);
      const task: Task = migrate.which === 'server' ? server : client;
      blocked = task.threads.some((t) => t.waiting);
      result = runMigration(
        cluster,
        cluster.migrate(task, 'i486', { strategy: migrate.strategy }),
        migrate.which,
      );
    }
    cluster.world.runUntil(
      () =>
        server.exit !== null &&
        client.exit !== null &&
        !taskOn(cluster.host('i486'), 'server') &&
        !taskOn(cluster.host('i486'), 'client'),
      { until: 60_000 },
    );
    return {
      server: log.text('server'),
      client: log.text('client'),
      exits: [exits.final('server')?.status, exits.final('client')?.status],
      result,
      blocked,
      end: cluster.world.now(),
      log,
    };
  }

  const ROUNDS = 40;
  const plain = pingpong(ROUNDS);

  it('the unmigrated ping-pong is what the test expects', () => {
    expect(plain.client).toContain(`client: pong ${ROUNDS * 10} (id 1100)\nclient: done\n`);
    expect(plain.server).toContain('server: done\n');
    expect(plain.exits).toEqual([0, 0]);
  });

  it.each([
    ['server', 'eager'],
    ['server', 'demand'],
    ['client', 'eager'],
    ['client', 'prepage'],
  ] as const)(
    'in a receive: the ping-pong %s moved (%s) mid-game, both print the same',
    (which, strategy) => {
      const moved = pingpong(ROUNDS, { which, at: plain.end * 0.4, strategy });
      expect(moved.blocked).toBe(true);
      expect(moved.result?.outcome).toBe('committed');
      expect(moved.server).toBe(plain.server);
      expect(moved.client).toBe(plain.client);
      expect(moved.exits).toEqual([0, 0]);
      expect(moved.log.hostRuns(which)).toEqual(['pentium', 'i486']);
    },
  );
});
