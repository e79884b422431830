import { describe, expect, it } from 'vitest';
import { Cluster } from '../src/cluster.ts';
import { KILLED_STATUS, startManagers } from '../src/managers/index.ts';
import {
  answer,
  moveTo,
  runFor,
  threeHosts,
  tickerImage,
  tickerOutput,
} from './support/managerFixtures.ts';

const HOSTS = ['pentium', 'i486', 'pentium2'];

describe("the migration managers' location table", () => {
  it('every host learns where a process started and where each migration took it', () => {
    const cluster = threeHosts(1);
    const m = startManagers(cluster);
    m.run(tickerImage(cluster, 40, 20), 'ticker', 'pentium');
    runFor(cluster, 50);
    const where = () => HOSTS.map((h) => m.locate('ticker', h)?.host);
    expect(where()).toEqual(['pentium', 'pentium', 'pentium']);

    const first = moveTo(cluster, m, 'ticker', 'i486');
    runFor(cluster, 20);
    expect(where()).toEqual(['i486', 'i486', 'i486']);
    expect(m.locate('ticker', 'pentium2')).toEqual({
      task: 'ticker',
      host: 'i486',
      home: 'pentium',
      at: first.endMs,
    });

    moveTo(cluster, m, 'ticker', 'pentium2');
    runFor(cluster, 20);
    expect(where()).toEqual(['pentium2', 'pentium2', 'pentium2']);
    // The home stays the host the process was started on.
    expect(HOSTS.map((h) => m.locate('ticker', h)?.home)).toEqual([
      'pentium',
      'pentium',
      'pentium',
    ]);
  });

  it('a migration requested at the home is performed by the migration manager where the task runs', () => {
    const cluster = threeHosts(2);
    const m = startManagers(cluster);
    m.run(tickerImage(cluster, 40, 20), 'ticker', 'pentium');
    runFor(cluster, 50);
    moveTo(cluster, m, 'ticker', 'i486');
    runFor(cluster, 50);
    // The user at home asks; the i486's migration manager runs the migration client.
    const r = moveTo(cluster, m, 'ticker', 'pentium2');
    expect(r).toMatchObject({ from: 'i486', to: 'pentium2', outcome: 'committed' });
    expect(m.host('i486').migration.performed.map((x) => x.to)).toEqual(['pentium2']);
    expect(m.host('pentium').migration.performed.map((x) => x.to)).toEqual(['i486']);
  });

  it('a restarted host, its table lost, asks the other migration managers', () => {
    const cluster = threeHosts(3);
    const m = startManagers(cluster);
    m.run(tickerImage(cluster, 200, 20), 'ticker', 'i486');
    runFor(cluster, 50);
    moveTo(cluster, m, 'ticker', 'pentium2');
    cluster.network.crash('pentium');
    runFor(cluster, 100);
    cluster.network.restart('pentium');
    runFor(cluster, 10);
    expect(m.locate('ticker', 'pentium')).toBeNull();
    const r = answer(cluster, m.request('ticker', { op: 'status' }, { from: 'pentium' }));
    expect(r).toMatchObject({ ok: true, status: { host: 'pentium2', home: 'i486' } });
    expect(m.locate('ticker', 'pentium')?.host).toBe('pentium2');
  });
});

describe('a user request reaches the process wherever it runs', () => {
  it('status, after one move and after a second one', () => {
    const cluster = threeHosts(4);
    const m = startManagers(cluster);
    m.run(tickerImage(cluster, 60, 20), 'ticker', 'pentium');
    runFor(cluster, 100);
    const at = () => {
      const r = answer(cluster, m.request('ticker', { op: 'status' }));
      if (!r.ok) throw new Error(r.error);
      return `${r.status.host} ${r.status.state}`;
    };
    expect(at()).toBe('pentium running');
    moveTo(cluster, m, 'ticker', 'i486');
    expect(at()).toBe('i486 running');
    moveTo(cluster, m, 'ticker', 'pentium2');
    expect(at()).toBe('pentium2 running');
    cluster.world.runUntilIdle({ until: 60_000 });
    expect(at()).toBe('pentium2 exited');
  });

  it('suspend and resume reach it after it moved, twice; its output pauses and goes on', () => {
    const cluster = Cluster.paper(5);
    const m = startManagers(cluster);
    m.run(tickerImage(cluster, 60, 20), 'ticker', 'pentium');
    runFor(cluster, 100);
    for (const to of ['i486', 'pentium']) {
      moveTo(cluster, m, 'ticker', to);
      const s = answer(cluster, m.request('ticker', { op: 'suspend' }));
      expect(s).toMatchObject({ ok: true, status: { host: to, state: 'suspended' } });
      const shown = m.output('ticker').length;
      runFor(cluster, 500);
      // Suspended where it now runs: nothing more is written (a write in flight may land).
      expect(m.output('ticker').length - shown).toBeLessThanOrEqual('tick 99\n'.length);
      const r = answer(cluster, m.request('ticker', { op: 'resume' }));
      expect(r).toMatchObject({ ok: true, status: { host: to, state: 'running' } });
      runFor(cluster, 100);
    }
    cluster.world.runUntilIdle({ until: 60_000 });
    expect(m.output('ticker')).toBe(tickerOutput(60));
  });

  it('from a user at another host, and a kill ends it where it runs', () => {
    const cluster = threeHosts(6);
    const m = startManagers(cluster);
    m.run(tickerImage(cluster, 200, 20), 'ticker', 'pentium');
    runFor(cluster, 100);
    moveTo(cluster, m, 'ticker', 'i486');
    moveTo(cluster, m, 'ticker', 'pentium2');
    const r = answer(cluster, m.request('ticker', { op: 'kill' }, { from: 'i486' }));
    expect(r).toMatchObject({
      ok: true,
      status: { host: 'pentium2', state: 'exited', exit: { status: KILLED_STATUS } },
    });
    expect(m.task('ticker')).toBeNull();
  });

  it('follows the forwarding pointer when the asking host missed the move', () => {
    const cluster = threeHosts(7);
    const m = startManagers(cluster);
    m.run(tickerImage(cluster, 300, 20), 'ticker', 'pentium');
    runFor(cluster, 100);
    moveTo(cluster, m, 'ticker', 'i486');
    runFor(cluster, 50);
    expect(m.locate('ticker', 'pentium2')?.host).toBe('i486');
    // The pentium2 is cut off while the process moves back home: its notice never arrives.
    const cut = cluster.network.partition(['pentium2'], ['pentium', 'i486']);
    moveTo(cluster, m, 'ticker', 'pentium');
    runFor(cluster, 3_000);
    cluster.network.heal(cut);
    runFor(cluster, 100);
    expect(m.locate('ticker', 'pentium2')?.host).toBe('i486');
    // Asked at the pentium2, the i486's process manager says where the process went.
    const forwards: string[] = [];
    cluster.world.trace.events$.subscribe((e) => {
      if (e.kind === 'request.forward') forwards.push(`${e.host}: ${e.task} to ${e.to}`);
    });
    const r = answer(cluster, m.request('ticker', { op: 'status' }, { from: 'pentium2' }));
    expect(r).toMatchObject({ ok: true, status: { host: 'pentium', state: 'running' } });
    expect(forwards).toEqual(['pentium2: ticker to pentium']);
    expect(m.locate('ticker', 'pentium2')?.host).toBe('pentium');
  });

  it('control waits while the process is being migrated; its status is answered', () => {
    const cluster = Cluster.paper(8);
    const m = startManagers(cluster);
    m.run(tickerImage(cluster, 60, 20), 'ticker', 'pentium');
    runFor(cluster, 100);
    const migration = m.migrate('ticker', 'i486');
    // The migration manager has started the migration client; the task is frozen for it.
    cluster.world.runUntil(() => m.host('pentium').migration.isMigrating('ticker'), {
      until: 1_000,
    });
    const status = m.request('ticker', { op: 'status' });
    const suspend = m.request('ticker', { op: 'suspend' });
    cluster.world.runUntil(() => status.result() !== null && suspend.result() !== null, {
      until: 1_000,
    });
    expect(migration.result()).toBeNull();
    expect(status.result()).toMatchObject({ ok: true, status: { host: 'pentium' } });
    expect(suspend.result()).toMatchObject({ ok: false, error: /being migrated/ });
    expect(answer(cluster, migration)).toMatchObject({
      ok: true,
      result: { outcome: 'committed' },
    });
  });

  it('bad requests get clear answers and change nothing', () => {
    const cluster = Cluster.paper(9);
    const m = startManagers(cluster);
    m.run(tickerImage(cluster, 40, 20), 'ticker', 'pentium');
    runFor(cluster, 100);
    expect(() => m.run(tickerImage(cluster), 'ticker', 'i486')).toThrow(/already started/);
    expect(
      answer(cluster, m.request('nobody', { op: 'status' }, { from: 'pentium' })),
    ).toMatchObject({
      ok: false,
    });
    expect(answer(cluster, m.migrate('ticker', 'vax'))).toMatchObject({
      ok: false,
      error: /unknown host "vax"/,
    });
    expect(answer(cluster, m.migrate('ticker', 'pentium'))).toMatchObject({
      ok: false,
      error: /already on pentium/,
    });
    expect(answer(cluster, m.request('ticker', { op: 'resume' }))).toMatchObject({
      ok: false,
      error: /not suspended/,
    });
    cluster.world.runUntilIdle({ until: 60_000 });
    expect(m.output('ticker')).toBe(tickerOutput(40));
  });
});
