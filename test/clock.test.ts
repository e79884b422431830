import { describe, expect, it } from 'vitest';
import { createActor, setup } from 'xstate';
import { EventQueue } from '../src/world/eventQueue.ts';
import { RunawayError, World } from '../src/world/world.ts';

describe('event queue', () => {
  it('pops events in time order', () => {
    const q = new EventQueue();
    for (const t of [5, 1, 4, 2, 3]) q.push(t, () => {}, `t${t}`);
    const labels: string[] = [];
    for (let ev = q.pop(); ev; ev = q.pop()) labels.push(ev.label);
    expect(labels).toEqual(['t1', 't2', 't3', 't4', 't5']);
  });

  it('runs events at the same time in insertion order (FIFO)', () => {
    const q = new EventQueue();
    for (let i = 0; i < 20; i++) q.push(i % 2, () => {}, `e${i}`);
    const labels: string[] = [];
    for (let ev = q.pop(); ev; ev = q.pop()) labels.push(ev.label);
    const evens = Array.from({ length: 10 }, (_, i) => `e${2 * i}`);
    const odds = Array.from({ length: 10 }, (_, i) => `e${2 * i + 1}`);
    expect(labels).toEqual([...evens, ...odds]);
  });

  it('skips cancelled events and counts only live ones', () => {
    const q = new EventQueue();
    const a = q.push(1, () => {}, 'a');
    q.push(2, () => {}, 'b');
    expect(q.size).toBe(2);
    expect(q.cancel(a)).toBe(true);
    expect(q.cancel(a)).toBe(false);
    expect(q.size).toBe(1);
    expect(q.peekTime()).toBe(2);
    expect(q.pop()?.label).toBe('b');
    expect(q.pop()).toBeUndefined();
  });

  it('rejects non-finite times', () => {
    expect(() => new EventQueue().push(Number.NaN, () => {})).toThrow(RangeError);
  });
});

describe('world clock', () => {
  it('advances virtual time to each event as it runs', () => {
    const world = new World();
    const seen: number[] = [];
    world.schedule(10, () => seen.push(world.now()));
    world.schedule(3, () => seen.push(world.now()));
    world.runUntilIdle();
    expect(seen).toEqual([3, 10]);
    expect(world.now()).toBe(10);
  });

  it('treats negative and NaN delays as zero', () => {
    const world = new World();
    world.runUntilTime(5);
    const seen: number[] = [];
    world.schedule(-3, () => seen.push(world.now()));
    world.schedule(Number.NaN, () => seen.push(world.now()));
    world.runUntilIdle();
    expect(seen).toEqual([5, 5]);
  });

  it('cancel stops a scheduled event from running', () => {
    const world = new World();
    let ran = false;
    const ev = world.schedule(1, () => {
      ran = true;
    });
    world.cancel(ev);
    expect(world.idle).toBe(true);
    world.runUntilIdle();
    expect(ran).toBe(false);
  });

  it('runUntilTime runs events up to and including t, then sets the clock to t', () => {
    const world = new World();
    const seen: number[] = [];
    for (const t of [1, 5, 6]) world.schedule(t, () => seen.push(t));
    world.runUntilTime(5);
    expect(seen).toEqual([1, 5]);
    expect(world.now()).toBe(5);
    world.runUntilTime(5.5);
    expect(world.now()).toBe(5.5);
    expect(world.idle).toBe(false);
  });

  it('runUntilTime(Infinity) runs everything and leaves the clock at the last event', () => {
    const world = new World();
    world.schedule(4, () => {});
    world.runUntilTime(Number.POSITIVE_INFINITY);
    expect(world.now()).toBe(4);
    expect(() => world.schedule(1, () => {})).not.toThrow();
  });

  it('runUntilIdle runs events scheduled by events, and honours `until`', () => {
    const world = new World();
    let n = 0;
    const tick = () => {
      n++;
      if (n < 10) world.schedule(1, tick);
    };
    world.schedule(1, tick);
    expect(world.runUntilIdle({ until: 4 })).toBe(4);
    expect(world.now()).toBe(4);
    expect(world.runUntilIdle()).toBe(6);
    expect(world.now()).toBe(10);
    expect(world.eventsRun).toBe(10);
  });

  it('runUntil stops as soon as the condition holds, or reports false when idle first', () => {
    const world = new World();
    let n = 0;
    for (let i = 1; i <= 5; i++) world.schedule(i, () => n++);
    expect(world.runUntil(() => n === 3)).toBe(true);
    expect(world.now()).toBe(3);
    expect(world.runUntil(() => n === 99)).toBe(false);
    expect(world.runUntil(() => true)).toBe(true);
  });

  it('throws RunawayError when a run exceeds maxEvents', () => {
    const world = new World();
    const forever = () => world.schedule(1, forever);
    world.schedule(1, forever);
    expect(() => world.runUntilIdle({ maxEvents: 100 })).toThrow(RunawayError);
    expect(() => world.runUntil(() => false, { maxEvents: 100 })).toThrow(RunawayError);
    expect(() => world.runUntilTime(1e9, 100)).toThrow(RunawayError);
  });
});

describe('XState on the virtual clock', () => {
  const machine = setup({}).createMachine({
    initial: 'waiting',
    states: { waiting: { after: { 1000: 'done' } }, done: {} },
  });

  it('fires an `after` transition only when virtual time reaches it', () => {
    const world = new World();
    const actor = createActor(machine, { clock: world.clock }).start();
    const wallStart = Date.now();
    world.runUntilTime(999);
    expect(actor.getSnapshot().value).toBe('waiting');
    world.runUntilTime(1000);
    expect(actor.getSnapshot().value).toBe('done');
    // No wall-clock wait happened: the second of delay was virtual.
    expect(Date.now() - wallStart).toBeLessThan(500);
    actor.stop();
  });

  it('cancels the delayed event when the actor stops early', () => {
    const world = new World();
    const actor = createActor(machine, { clock: world.clock }).start();
    expect(world.idle).toBe(false);
    actor.stop();
    expect(world.idle).toBe(true);
  });
});
