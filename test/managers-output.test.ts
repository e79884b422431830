import { describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { homeOutput } from '../examples/library/home-output.ts';
import { Cluster } from '../src/cluster.ts';
import { assemble } from '../src/cpu/assembler.ts';
import { spawn } from '../src/kernel/loader.ts';
import { consoleStream } from '../src/machines/consoleStream.ts';
import { startManagers } from '../src/managers/index.ts';
import { STRATEGIES } from '../src/protocol/migration.ts';
import { FaultPlan } from '../src/world/faults.ts';
import { traceDigest } from '../src/world/trace.ts';
import { exampleIncluder, exampleSource } from './support/kernelFixtures.ts';
import {
  moveTo,
  runFor,
  threeHosts,
  tickerImage,
  tickerOutput,
} from './support/managerFixtures.ts';

/** The numbers of the writes the user was shown, in the order shown. */
const seqs = (writes: readonly { seq: number }[]) => writes.map((w) => w.seq);
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("a process's console output appears at its home host", () => {
  it('a process that never moves: every write shown at home, in order, once', () => {
    const cluster = Cluster.paper(1);
    const m = startManagers(cluster);
    const task = m.run(tickerImage(cluster, 10, 20), 'ticker', 'pentium');
    cluster.world.runUntilIdle({ until: 60_000 });
    expect(task.exit?.status).toBe(0);
    expect(m.output('ticker')).toBe(tickerOutput(10));
    expect(seqs(m.shown('ticker'))).toEqual(upTo(11));
    // The kernel still keeps the task's own record of what it wrote.
    expect(task.outputText).toBe(tickerOutput(10));
  });

  it.each(STRATEGIES)(
    'after one migration (%s), the home shows exactly what an unmigrated run prints',
    (strategy) => {
      const cluster = Cluster.paper(1);
      const m = startManagers(cluster);
      m.run(tickerImage(cluster, 20, 20), 'ticker', 'pentium');
      runFor(cluster, 150);
      const before = m.output('ticker');
      expect(before.length).toBeGreaterThan(0);
      const r = moveTo(cluster, m, 'ticker', 'i486', { strategy });
      expect(r).toMatchObject({ from: 'pentium', to: 'i486', outcome: 'committed' });
      cluster.world.runUntilIdle({ until: 120_000 });
      expect(m.output('ticker')).toBe(tickerOutput(20));
      expect(seqs(m.shown('ticker'))).toEqual(upTo(21));
      // The writes after the move were made on the i486, and the user at home saw them.
      const atI486 = cluster.host('i486');
      expect(atI486.up).toBe(true);
      expect(m.output('ticker', 'i486')).toBe('');
    },
  );

  it('a migration that rolls back (network cut) changes nothing the user sees', () => {
    const cluster = Cluster.paper(1);
    const m = startManagers(cluster);
    const home = m.run(tickerImage(cluster, 20, 20), 'ticker', 'pentium');
    runFor(cluster, 150);
    const migration = m.migrate('ticker', 'i486');
    runFor(cluster, 1);
    const cut = cluster.network.partition(['pentium'], ['i486']);
    cluster.world.runUntil(() => migration.result() !== null, { until: 60_000 });
    cluster.network.heal(cut);
    expect(migration.result()).toMatchObject({ ok: true, result: { outcome: 'rolled-back' } });
    cluster.world.runUntilIdle({ until: 120_000 });
    expect(home.exit).toMatchObject({ status: 0, reason: 'exit' });
    expect(m.output('ticker')).toBe(tickerOutput(20));
    expect(seqs(m.shown('ticker'))).toEqual(upTo(21));
  });

  it('across several migrations (A to B to C, back to A, then B), in order and exactly once', () => {
    const cluster = threeHosts(3);
    const m = startManagers(cluster);
    m.run(tickerImage(cluster, 40, 15), 'ticker', 'pentium');
    const path = ['i486', 'pentium2', 'pentium', 'i486'];
    const written: Record<string, number> = {};
    cluster.world.trace.events$.subscribe((e) => {
      if (e.kind === 'task.output' && e.task === 'ticker')
        written[e.host] = (written[e.host] ?? 0) + 1;
    });
    for (const to of path) {
      runFor(cluster, 80);
      moveTo(cluster, m, 'ticker', to);
    }
    cluster.world.runUntilIdle({ until: 120_000 });
    // Every host wrote some of it ...
    expect(Object.keys(written).sort()).toEqual(['i486', 'pentium', 'pentium2']);
    // ... and the user at home saw all of it, once, in order.
    expect(m.output('ticker')).toBe(tickerOutput(40));
    expect(seqs(m.shown('ticker'))).toEqual(upTo(41));
    expect(m.output('ticker', 'i486')).toBe('');
    expect(m.output('ticker', 'pentium2')).toBe('');
  });

  it('with every strategy, along a chain of migrations', () => {
    for (const strategy of STRATEGIES) {
      const cluster = threeHosts(5);
      const m = startManagers(cluster);
      m.run(tickerImage(cluster, 30, 10), 'ticker', 'pentium');
      for (const to of ['i486', 'pentium2', 'pentium']) {
        runFor(cluster, 60);
        moveTo(cluster, m, 'ticker', to, { strategy });
      }
      cluster.world.runUntilIdle({ until: 120_000 });
      expect({ strategy, output: m.output('ticker') }).toEqual({
        strategy,
        output: tickerOutput(30),
      });
    }
  });

  it('over a lossy, reordering network, still in order and exactly once', () => {
    for (const seed of [1, 2, 3]) {
      const cluster = threeHosts(seed);
      cluster.installFaults(
        new FaultPlan([
          { at: 0, kind: 'loss', probability: 0.3, pair: ['i486', 'pentium'] },
          { at: 0, kind: 'duplicate', probability: 0.2 },
          { at: 0, kind: 'reorder', probability: 0.5, jitterMs: 15 },
        ]),
      );
      const m = startManagers(cluster);
      // Long enough to be alive for the third move however the losses fall.
      m.run(tickerImage(cluster, 200, 10), 'ticker', 'pentium');
      for (const to of ['i486', 'pentium2', 'i486']) {
        runFor(cluster, 40);
        moveTo(cluster, m, 'ticker', to, { strategy: 'demand' });
      }
      cluster.world.runUntilIdle({ until: 200_000 });
      expect(m.output('ticker')).toBe(tickerOutput(200));
      expect(seqs(m.shown('ticker'))).toEqual(upTo(201));
    }
  });

  it('a real program (primes.s), moved twice mid-computation, prints at home what it prints unmoved', () => {
    const source = exampleSource('primes.s');
    const plain = Cluster.paper(1);
    const image = assemble(source, {
      pageSize: plain.host('pentium').profile.pageSize,
      include: exampleIncluder,
    });
    const alone = spawn(plain.host('pentium'), image, 'primes');
    plain.world.runUntilIdle({ until: 600_000 });
    const unmigrated = alone.outputText;
    expect(unmigrated).toContain('total primes <= 100000: 9592');

    const cluster = Cluster.paper(1);
    const m = startManagers(cluster);
    m.run(image, 'primes', 'pentium');
    runFor(cluster, 40);
    moveTo(cluster, m, 'primes', 'i486', { strategy: 'precopy' });
    runFor(cluster, 40);
    moveTo(cluster, m, 'primes', 'pentium', { strategy: 'demand' });
    cluster.world.runUntilIdle({ until: 600_000 });
    expect(m.output('primes')).toBe(unmigrated);
  });

  it('is deterministic: the same seed gives the same trace, bit for bit', async () => {
    const run = async () => {
      // Fresh modules for each run: the migration client numbers its sessions per process.
      vi.resetModules();
      const { startManagers: start } = await import('../src/managers/index.ts');
      const f = await import('./support/managerFixtures.ts');
      const cluster = f.threeHosts(11);
      const rec = cluster.world.trace.record();
      const m = start(cluster);
      m.run(f.tickerImage(cluster, 20, 10), 'ticker', 'pentium');
      for (const to of ['i486', 'pentium2']) {
        f.runFor(cluster, 50);
        f.moveTo(cluster, m, 'ticker', to, { strategy: 'prepage' });
      }
      cluster.world.runUntilIdle({ until: 60_000 });
      rec.stop();
      return traceDigest(rec.events);
    };
    expect(await run()).toBe(await run());
  });

  it('two processes of one home keep their outputs apart', () => {
    const cluster = Cluster.paper(2);
    const m = startManagers(cluster);
    m.run(tickerImage(cluster, 12, 20), 'a', 'pentium');
    m.run(tickerImage(cluster, 8, 30), 'b', 'pentium');
    runFor(cluster, 100);
    moveTo(cluster, m, 'a', 'i486');
    cluster.world.runUntilIdle({ until: 60_000 });
    expect(m.output('a')).toBe(tickerOutput(12));
    expect(m.output('b')).toBe(tickerOutput(8));
  });

  it('a task started without the managers keeps the plain console (task.output only)', () => {
    const cluster = Cluster.paper(1);
    startManagers(cluster);
    const task = spawn(cluster.host('pentium'), tickerImage(cluster, 3, 1), 'plain');
    const traced: string[] = [];
    cluster.world.trace.events$.subscribe((e) => {
      if (e.kind === 'task.output') traced.push(e.text);
    });
    cluster.world.runUntilIdle({ until: 10_000 });
    expect(task.console).toBeNull();
    expect(task.outputText).toBe(tickerOutput(3));
    expect(traced.join('')).toBe(tickerOutput(3));
  });
});

describe('the README example', () => {
  it("shows a migrated program's whole output at its home, and knows where it went", () => {
    const { moved, output, where } = homeOutput();
    expect(moved).toMatchObject({ ok: true, result: { outcome: 'committed', to: 'i486' } });
    expect(output.endsWith('total primes <= 100000: 9592\nchecksum: 0x4f45071b\n')).toBe(true);
    expect(where).toMatchObject({ task: 'primes', host: 'i486', home: 'pentium' });
  });
});

describe('the console stream statechart puts writes back in order', () => {
  function stream(gapMs = 100) {
    const cluster = Cluster.paper(1);
    const shown: [number, string][] = [];
    const skipped: [number, number][] = [];
    const actor = createActor(consoleStream, {
      clock: cluster.world.clock,
      input: {
        task: 't',
        gapMs,
        io: {
          display: (seq, text) => shown.push([seq, text]),
          skipped: (from, to) => skipped.push([from, to]),
        },
      },
    }).start();
    const line = (seq: number, start = 0) =>
      actor.send({ type: 'LINE', seq, start, text: `w${seq}` });
    return { cluster, actor, shown, skipped, line };
  }

  it('holds a write that came early until the ones before it have come', () => {
    const { actor, shown, line } = stream();
    line(2);
    line(1);
    expect(shown).toEqual([]);
    expect(actor.getSnapshot().value).toBe('gap');
    line(0);
    expect(shown.map(([s]) => s)).toEqual([0, 1, 2]);
    expect(actor.getSnapshot().value).toBe('inOrder');
  });

  it('shows a write that comes twice once', () => {
    const { actor, shown, line } = stream();
    line(0);
    line(1);
    line(0);
    line(1);
    expect(shown.map(([s]) => s)).toEqual([0, 1]);
    expect(actor.getSnapshot().context.duplicates).toBe(2);
  });

  it('skips a gap that does not fill in time (writes lost with a failed host)', () => {
    const { cluster, actor, shown, skipped, line } = stream(100);
    line(0);
    line(3);
    line(4);
    runFor(cluster, 99);
    expect(shown.map(([s]) => s)).toEqual([0]);
    runFor(cluster, 2);
    expect(skipped).toEqual([[1, 3]]);
    expect(shown.map(([s]) => s)).toEqual([0, 3, 4]);
    expect(actor.getSnapshot().value).toBe('inOrder');
  });

  it("starts where the sender's stream starts (earlier writes were shown elsewhere)", () => {
    const { actor, shown, line } = stream();
    line(7, 5);
    line(5, 5);
    line(6, 5);
    expect(shown.map(([s]) => s)).toEqual([5, 6, 7]);
    expect(actor.getSnapshot().value).toBe('inOrder');
  });
});
