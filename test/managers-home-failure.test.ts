import { describe, expect, it } from 'vitest';
import { Cluster } from '../src/cluster.ts';
import type { Task } from '../src/kernel/task.ts';
import { type Managers, startManagers } from '../src/managers/index.ts';
import type { TraceEvent } from '../src/world/trace.ts';
import {
  moveTo,
  runFor,
  threeHosts,
  tickerImage,
  tickerOutput,
} from './support/managerFixtures.ts';

/** Records what the trace says about the ticker: its exits and the takeovers of its output. */
function watch(cluster: Cluster) {
  const events: TraceEvent[] = [];
  cluster.world.trace.events$.subscribe((e) => {
    if (
      (e.kind === 'task.exit' && e.task === 'ticker') ||
      e.kind === 'console.takeover' ||
      e.kind === 'console.redirect'
    )
      events.push(e);
  });
  const exits = () =>
    events.flatMap((e) => (e.kind === 'task.exit' ? [`${e.host}: ${e.status} ${e.reason}`] : []));
  return { events, exits };
}

/** The kernel task of `name` on `host`, while it lives there. */
function taskOn(cluster: Cluster, host: string, name: string): Task | undefined {
  return [...cluster.host(host).tasks.values()].find((t) => t.name === name);
}

describe('when the home host fails, the process continues at the destination, output there', () => {
  it('home crash after the migration, while the process runs: the destination takes over', () => {
    const cluster = Cluster.paper(1);
    const trace = watch(cluster);
    const m = startManagers(cluster);
    const home = m.run(tickerImage(cluster, 100, 50), 'ticker', 'pentium');
    runFor(cluster, 300);
    moveTo(cluster, m, 'ticker', 'i486');
    // Everything the process wrote at home, before it moved.
    const wroteAtHome = home.outputText;
    runFor(cluster, 300);
    const homeSaw = m.output('ticker');
    cluster.network.crash('pentium');

    cluster.world.runUntilIdle({ until: 120_000 });
    const expected = tickerOutput(100);
    expect(trace.exits()).toEqual(['pentium: 0 migrated to i486', 'i486: 0 exit']);
    // The user at home saw a prefix of the output before the home died ...
    expect(expected.startsWith(homeSaw)).toBe(true);
    expect(homeSaw.length).toBeGreaterThan(wroteAtHome.length);
    // ... and the i486's user manager shows everything the process wrote on the i486, in order.
    expect(m.output('ticker', 'i486')).toBe(expected.slice(wroteAtHome.length));
    const shown = m.shown('ticker', 'i486').map((w) => w.seq);
    expect(shown).toEqual([...shown].sort((a, b) => a - b));
    expect(new Set(shown).size).toBe(shown.length);
    // The kernel rebound the running process's console to its new host's.
    expect(trace.events).toContainEqual(
      expect.objectContaining({ kind: 'console.redirect', host: 'i486', from: 'pentium' }),
    );
  });

  it('after the takeover the destination is the home: output follows a further migration there', () => {
    const cluster = threeHosts(2);
    const m = startManagers(cluster);
    const home = m.run(tickerImage(cluster, 120, 50), 'ticker', 'pentium');
    runFor(cluster, 200);
    moveTo(cluster, m, 'ticker', 'i486');
    const wroteAtHome = home.outputText;
    runFor(cluster, 100);
    cluster.network.crash('pentium');
    // Until the i486 has found its home dead and taken the output over.
    cluster.world.runUntil(() => taskOn(cluster, 'i486', 'ticker')?.console?.home === 'i486', {
      until: 20_000,
    });
    expect(taskOn(cluster, 'i486', 'ticker')?.console?.home).toBe('i486');
    moveTo(cluster, m, 'ticker', 'pentium2', { from: 'i486' });
    cluster.world.runUntilIdle({ until: 120_000 });
    expect(m.output('ticker', 'i486')).toBe(tickerOutput(120).slice(wroteAtHome.length));
    expect(m.output('ticker', 'pentium2')).toBe('');
  });

  it('home crash after the process already ended at the destination: its output is shown there', () => {
    const cluster = Cluster.paper(3);
    const m = startManagers(cluster);
    const home = m.run(tickerImage(cluster, 20, 30), 'ticker', 'pentium');
    runFor(cluster, 200);
    moveTo(cluster, m, 'ticker', 'i486');
    const wroteAtHome = home.outputText;
    // The home dies a moment later; the process ends at the i486 before that is noticed.
    runFor(cluster, 10);
    cluster.network.crash('pentium');
    cluster.world.runUntilIdle({ until: 120_000 });
    expect(m.output('ticker', 'i486')).toBe(tickerOutput(20).slice(wroteAtHome.length));
  });

  it('home crash during the migration, just after its commit point: the destination takes over', () => {
    const cluster = Cluster.paper(4);
    const trace = watch(cluster);
    const m = startManagers(cluster);
    const home = m.run(tickerImage(cluster, 60, 40), 'ticker', 'pentium');
    runFor(cluster, 250);
    const migration = m.migrate('ticker', 'i486');
    // The destination accepted COMMIT (it owns the process now); the home has not heard yet.
    const sessions = () => [...(cluster.migrationServers.get('i486')?.sessions.values() ?? [])];
    cluster.world.runUntil(() => sessions().includes('committed'), { until: 10_000 });
    expect(sessions()).toEqual(['committed']);
    const wroteAtHome = home.outputText;
    cluster.network.crash('pentium');

    cluster.world.runUntilIdle({ until: 120_000 });
    // Nobody at home will ever hear how the migration ended ...
    expect(migration.result()).toBeNull();
    // ... but the process ran on at the i486, once, to the end, its output shown there.
    expect(trace.exits()).toEqual(['i486: 0 exit']);
    expect(m.output('ticker', 'i486')).toBe(tickerOutput(60).slice(wroteAtHome.length));
    expect(trace.events).toContainEqual(
      expect.objectContaining({ kind: 'console.takeover', host: 'i486', home: 'pentium' }),
    );
  });

  it('home crash while the process moves between two other hosts: it continues at the new one', () => {
    const cluster = threeHosts(5);
    const trace = watch(cluster);
    const m = startManagers(cluster);
    m.run(tickerImage(cluster, 60, 40), 'ticker', 'pentium');
    runFor(cluster, 200);
    moveTo(cluster, m, 'ticker', 'i486');
    runFor(cluster, 200);
    const homeSaw = m.output('ticker');
    // The user at the i486 moves it on; the home fails as the migration starts.
    const migration = m.migrate('ticker', 'pentium2', { from: 'i486' });
    runFor(cluster, 1);
    const wroteBefore = homeSaw.length;
    cluster.network.crash('pentium');
    cluster.world.runUntil(() => migration.result() !== null, { until: 60_000 });
    expect(migration.result()).toMatchObject({ ok: true, result: { outcome: 'committed' } });

    cluster.world.runUntilIdle({ until: 120_000 });
    expect(trace.exits()).toEqual([
      'pentium: 0 migrated to i486',
      'i486: 0 migrated to pentium2',
      'pentium2: 0 exit',
    ]);
    const expected = tickerOutput(60);
    const atNew = m.output('ticker', 'pentium2');
    // What the pentium2 shows is the end of the output, from its first write there on ...
    expect(expected.endsWith(atNew)).toBe(true);
    // ... and together with what the home showed before it died, nothing is missing.
    expect(wroteBefore + atNew.length).toBeGreaterThanOrEqual(expected.length);
    expect(trace.events).toContainEqual(
      expect.objectContaining({ host: 'pentium2', kind: expect.stringMatching(/^console\./) }),
    );
  });

  it('a restarted home does not take the process back: its output stays at the destination', () => {
    const cluster = Cluster.paper(6);
    const m = startManagers(cluster);
    const home = m.run(tickerImage(cluster, 80, 50), 'ticker', 'pentium');
    runFor(cluster, 200);
    moveTo(cluster, m, 'ticker', 'i486');
    const wroteAtHome = home.outputText;
    cluster.network.crash('pentium');
    runFor(cluster, 500);
    cluster.network.restart('pentium');
    cluster.world.runUntilIdle({ until: 120_000 });
    expect(m.output('ticker', 'i486')).toBe(tickerOutput(80).slice(wroteAtHome.length));
    expect(m.output('ticker', 'pentium')).toBe('');
    expectAllManagersServing(m, ['pentium', 'i486']);
  });
});

function expectAllManagersServing(m: Managers, hosts: string[]): void {
  for (const h of hosts) {
    const hm = m.host(h);
    expect(hm.stopped).toBe(false);
    expect(hm.user.actor.getSnapshot().value).toBe('serving');
    expect(hm.process.actor.getSnapshot().value).toBe('serving');
    expect(hm.migration.actor.getSnapshot().value).toBe('serving');
  }
}
