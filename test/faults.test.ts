import { describe, expect, it } from 'vitest';
import { type Fault, FaultPlan, FaultPlanError } from '../src/world/faults.ts';
import { Network } from '../src/world/network.ts';
import { Random } from '../src/world/random.ts';
import { World } from '../src/world/world.ts';

const NODES = ['a', 'b', 'c'];

function install(faults: Fault[]) {
  const world = new World(1);
  const net = new Network(world);
  for (const n of NODES) net.attach(n, () => {});
  const rec = world.trace.record();
  new FaultPlan(faults).install(world, net);
  return { world, net, rec };
}

describe('impairment faults', () => {
  it('loss applies at its time and clears after its duration', () => {
    const { world, net } = install([{ at: 100, kind: 'loss', probability: 0.5, durationMs: 50 }]);
    world.runUntilTime(99);
    expect(net.impairmentBetween('a', 'b').loss).toBe(0);
    world.runUntilTime(100);
    expect(net.impairmentBetween('a', 'b').loss).toBe(0.5);
    world.runUntilTime(149);
    expect(net.impairmentBetween('a', 'b').loss).toBe(0.5);
    world.runUntilTime(150);
    expect(net.impairmentBetween('a', 'b').loss).toBe(0);
  });

  it('duplicate and reorder on one pair touch only that pair', () => {
    const { world, net } = install([
      { at: 10, kind: 'duplicate', probability: 1, pair: ['a', 'b'], durationMs: 10 },
      { at: 10, kind: 'reorder', probability: 0.3, jitterMs: 7, pair: ['c', 'b'], durationMs: 20 },
    ]);
    world.runUntilTime(10);
    expect(net.impairmentBetween('b', 'a')).toMatchObject({ duplicate: 1, reorder: 0 });
    expect(net.impairmentBetween('b', 'c')).toMatchObject({ reorder: 0.3, reorderJitterMs: 7 });
    expect(net.impairmentBetween('a', 'c')).toMatchObject({ duplicate: 0, reorder: 0 });
    world.runUntilTime(20);
    expect(net.impairmentBetween('a', 'b').duplicate).toBe(0);
    world.runUntilTime(30);
    expect(net.impairmentBetween('b', 'c').reorder).toBe(0);
    expect(net.impairmentSettings(['b', 'c'])).toEqual({});
  });

  it('without a duration an impairment stays', () => {
    const { world, net } = install([{ at: 5, kind: 'loss', probability: 1 }]);
    world.runUntilIdle();
    expect(net.impairmentBetween('a', 'b').loss).toBe(1);
  });

  it('overlapping faults: the latest wins, and the setting from before returns at the end', () => {
    const { world, net } = install([
      { at: 0, kind: 'loss', probability: 0.5, durationMs: 100 },
      { at: 50, kind: 'loss', probability: 0.2, durationMs: 100 },
    ]);
    net.setImpairment({ loss: 0.1 });
    const at = (t: number) => {
      world.runUntilTime(t);
      return net.impairmentBetween('a', 'b').loss;
    };
    expect([at(0), at(50), at(100), at(150)]).toEqual([0.5, 0.2, 0.2, 0.1]);
  });
});

describe('partition and crash faults', () => {
  it('a partition starts at its time and heals after its duration', () => {
    const { world, net } = install([
      { at: 10, kind: 'partition', groups: [['a'], ['b', 'c']], durationMs: 5 },
    ]);
    world.runUntilTime(9);
    expect(net.isPartitioned('a', 'b')).toBe(false);
    world.runUntilTime(10);
    expect(net.isPartitioned('a', 'b')).toBe(true);
    expect(net.isPartitioned('b', 'c')).toBe(false);
    world.runUntilTime(15);
    expect(net.isPartitioned('a', 'c')).toBe(false);
  });

  it('a crash takes the node down and restartAfterMs brings it back', () => {
    const { world, net } = install([{ at: 10, kind: 'crash', node: 'b', restartAfterMs: 30 }]);
    world.runUntilTime(10);
    expect(net.isUp('b')).toBe(false);
    world.runUntilTime(39);
    expect(net.isUp('b')).toBe(false);
    world.runUntilTime(40);
    expect(net.isUp('b')).toBe(true);
  });

  it('a crash without restart lasts until a restart fault', () => {
    const { world, net } = install([
      { at: 1, kind: 'crash', node: 'c' },
      { at: 60, kind: 'restart', node: 'c' },
    ]);
    world.runUntilTime(59);
    expect(net.isUp('c')).toBe(false);
    world.runUntilTime(60);
    expect(net.isUp('c')).toBe(true);
  });

  it('traces each injection and each clearing', () => {
    const { world, rec } = install([
      { at: 3, kind: 'crash', node: 'a', restartAfterMs: 4 },
      { at: 1, kind: 'loss', probability: 0.25, pair: ['a', 'b'], durationMs: 1 },
    ]);
    world.runUntilIdle();
    const faults = rec.events.filter((e) => e.kind.startsWith('fault.'));
    expect(faults).toEqual([
      {
        kind: 'fault.inject',
        time: 1,
        fault: 'loss',
        index: 1,
        detail: 'loss p=0.25 a<->b for 1ms',
      },
      {
        kind: 'fault.clear',
        time: 2,
        fault: 'loss',
        index: 1,
        detail: 'loss p=0.25 a<->b for 1ms',
      },
      {
        kind: 'fault.inject',
        time: 3,
        fault: 'crash',
        index: 0,
        detail: 'crash a restart after 4ms',
      },
      {
        kind: 'fault.clear',
        time: 7,
        fault: 'crash',
        index: 0,
        detail: 'crash a restart after 4ms',
      },
    ]);
  });
});

describe('random plans', () => {
  const opts = { nodes: NODES, horizonMs: 1000, count: 30 };

  it('are the same for the same seed and differ for another', () => {
    const plan = FaultPlan.random(new Random(5), opts).faults;
    expect(FaultPlan.random(new Random(5), opts).faults).toEqual(plan);
    expect(FaultPlan.random(new Random(6), opts).faults).not.toEqual(plan);
  });

  it('stay within the horizon, sorted by time, using only the kinds asked for', () => {
    const { faults } = FaultPlan.random(new Random(7), { ...opts, kinds: ['partition', 'crash'] });
    expect(faults).toHaveLength(30);
    for (const f of faults) {
      expect(f.at).toBeGreaterThanOrEqual(0);
      expect(f.at).toBeLessThan(1000);
      expect(['partition', 'crash']).toContain(f.kind);
    }
    expect(faults.map((f) => f.at)).toEqual([...faults.map((f) => f.at)].sort((x, y) => x - y));
  });

  it('install and run cleanly, leaving every node up and every partition healed', () => {
    const world = new World(8);
    const net = new Network(world);
    for (const n of NODES) net.attach(n, () => {});
    FaultPlan.random(new Random(8), { ...opts, kinds: ['partition', 'crash', 'loss'] }).install(
      world,
      net,
    );
    world.runUntilIdle();
    expect(NODES.every((n) => net.isUp(n))).toBe(true);
    expect(
      net.isPartitioned('a', 'b') || net.isPartitioned('a', 'c') || net.isPartitioned('b', 'c'),
    ).toBe(false);
    expect(net.impairmentBetween('a', 'b').loss).toBe(0);
  });

  it('reject bad options', () => {
    const r = new Random(1);
    expect(() => FaultPlan.random(r, { ...opts, nodes: [] })).toThrow(/opts.nodes/);
    expect(() => FaultPlan.random(r, { ...opts, horizonMs: 0 })).toThrow(/opts.horizonMs/);
    expect(() => FaultPlan.random(r, { ...opts, count: -1 })).toThrow(/opts.count/);
    expect(() => FaultPlan.random(r, { ...opts, nodes: ['a'], kinds: ['partition'] })).toThrow(
      /opts.kinds/,
    );
  });
});

describe('validation', () => {
  const error = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      if (e instanceof FaultPlanError) return { field: e.field, index: e.index };
      throw e;
    }
    throw new Error('expected a FaultPlanError');
  };
  const plan = (f: unknown) => () =>
    new FaultPlan([{ at: 0, kind: 'restart', node: 'a' }, f as Fault]);

  it('names the bad field and the index of the fault', () => {
    expect(error(plan({ at: -1, kind: 'crash', node: 'a' }))).toEqual({
      field: 'faults[1].at',
      index: 1,
    });
    expect(error(plan({ at: 0, kind: 'loss', probability: 1.2 }))).toMatchObject({
      field: 'faults[1].probability',
    });
    expect(error(plan({ at: 0, kind: 'duplicate', probability: -0.1 }))).toMatchObject({
      field: 'faults[1].probability',
    });
    expect(error(plan({ at: 0, kind: 'reorder', probability: 1, jitterMs: -5 }))).toMatchObject({
      field: 'faults[1].jitterMs',
    });
    expect(error(plan({ at: 0, kind: 'loss', probability: 1, durationMs: 0 }))).toMatchObject({
      field: 'faults[1].durationMs',
    });
    expect(error(plan({ at: 0, kind: 'loss', probability: 1, pair: ['a', 'a'] }))).toMatchObject({
      field: 'faults[1].pair',
    });
    expect(error(plan({ at: 0, kind: 'partition', groups: [['a'], []] }))).toMatchObject({
      field: 'faults[1].groups',
    });
    expect(error(plan({ at: 0, kind: 'partition', groups: [['a'], ['a']] }))).toMatchObject({
      field: 'faults[1].groups',
    });
    expect(error(plan({ at: 0, kind: 'crash', node: 'a', restartAfterMs: -1 }))).toMatchObject({
      field: 'faults[1].restartAfterMs',
    });
    expect(error(plan({ at: 0, kind: 'meteor' }))).toMatchObject({ field: 'faults[1].kind' });
  });

  it('checks node names against the network at install', () => {
    expect(error(() => install([{ at: 0, kind: 'crash', node: 'mars' }]))).toEqual({
      field: 'faults[0].node',
      index: 0,
    });
    expect(
      error(() => install([{ at: 0, kind: 'partition', groups: [['a'], ['b', 'zz']] }])),
    ).toMatchObject({
      field: 'faults[0].groups[1][1]',
    });
    expect(
      error(() => install([{ at: 0, kind: 'loss', probability: 1, pair: ['a', 'x'] }])),
    ).toMatchObject({
      field: 'faults[0].pair[1]',
    });
  });

  it('refuses to install a fault whose time has already passed', () => {
    const world = new World();
    const net = new Network(world);
    net.attach('a', () => {});
    world.runUntilTime(10);
    expect(() => new FaultPlan([{ at: 5, kind: 'crash', node: 'a' }]).install(world, net)).toThrow(
      /faults\[0\]\.at/,
    );
  });
});
