import { describe, expect, it } from 'vitest';
import { type Frame, Network, NetworkError } from '../src/world/network.ts';
import { LINK_PROFILES, wireTimeMs } from '../src/world/profiles.ts';
import { World } from '../src/world/world.ts';

const eth10 = LINK_PROFILES.ethernet10;

/** A world with nodes a, b, c; every delivery is logged with its arrival time. */
function setup(seed = 1, nodes = ['a', 'b', 'c']) {
  const world = new World(seed);
  const net = new Network(world);
  const got: { at: number; frame: Frame }[] = [];
  for (const n of nodes) net.attach(n, (frame) => got.push({ at: world.now(), frame }));
  return { world, net, got, payloads: () => got.map((g) => g.frame.payload) };
}

describe('timing', () => {
  it('an 8 KiB frame on 10 Mbit/s Ethernet arrives after wire time plus latency', () => {
    const { world, net, got } = setup();
    net.send('a', 'b', 'page', 8192);
    world.runUntilIdle();
    expect(got).toHaveLength(1);
    expect(got[0]!.at).toBe(wireTimeMs(eth10, 8192) + eth10.latencyMs);
    expect(got[0]!.at).toBeCloseTo(6.684, 9); // (8192 + 38) * 8 bits / 10 Mbit/s + 0.1 ms
    expect(got[0]!.frame).toMatchObject({
      from: 'a',
      to: 'b',
      payload: 'page',
      bytes: 8192,
      sentAt: 0,
    });
  });

  it('back-to-back frames serialise on one link', () => {
    const { world, net, got } = setup();
    for (let i = 0; i < 3; i++) net.send('a', 'b', i, 8192);
    world.runUntilIdle();
    const wire = wireTimeMs(eth10, 8192);
    got.forEach((g, i) => {
      expect(g.at).toBeCloseTo((i + 1) * wire + eth10.latencyMs, 9);
    });
  });

  it('a link that went idle starts the next frame at once', () => {
    const { world, net, got } = setup();
    net.send('a', 'b', 0, 1000);
    world.runUntilTime(50);
    net.send('a', 'b', 1, 1000);
    world.runUntilIdle();
    expect(got[1]!.at).toBeCloseTo(50 + wireTimeMs(eth10, 1000) + eth10.latencyMs, 9);
  });

  it('different links (and the reverse direction) do not wait for each other', () => {
    const { world, net, got } = setup();
    net.send('a', 'b', 'ab', 8192);
    net.send('a', 'c', 'ac', 8192);
    net.send('b', 'a', 'ba', 8192);
    world.runUntilIdle();
    const t = wireTimeMs(eth10, 8192) + eth10.latencyMs;
    for (const g of got) expect(g.at).toBe(t);
  });

  it('setLink overrides the profile for one pair, in both directions', () => {
    const { world, net, got } = setup();
    net.setLink('b', 'a', LINK_PROFILES.gigabit);
    net.send('a', 'b', 'fast', 1000);
    net.send('a', 'c', 'slow', 1000);
    world.runUntilIdle();
    const g = LINK_PROFILES.gigabit;
    expect(got.map((x) => x.frame.payload)).toEqual(['fast', 'slow']);
    expect(got[0]!.at).toBe(wireTimeMs(g, 1000) + g.latencyMs);
    expect(net.link('a', 'b')).toBe(g);
    expect(net.link('a', 'c')).toBe(eth10);
  });

  it('loopback delivers after zero delay, but not synchronously', () => {
    const { world, net, got } = setup();
    world.runUntilTime(7);
    net.send('a', 'a', 'self', 1_000_000);
    expect(got).toHaveLength(0);
    world.runUntilIdle();
    expect(got).toEqual([{ at: 7, frame: expect.objectContaining({ payload: 'self' }) }]);
  });
});

describe('impairments', () => {
  it('loss 1.0 drops every frame', () => {
    const { world, net, got } = setup();
    net.setImpairment({ loss: 1 });
    for (let i = 0; i < 10; i++) net.send('a', 'b', i, 100);
    world.runUntilIdle();
    expect(got).toHaveLength(0);
    expect(net.stats.dropped.loss).toBe(10);
  });

  it('loss on one pair leaves other pairs alone, and clearImpairments restores delivery', () => {
    const { world, net, payloads } = setup();
    net.setImpairment({ loss: 1 }, ['b', 'a']);
    net.send('a', 'b', 'lost', 100);
    net.send('b', 'a', 'lost too', 100);
    net.send('a', 'c', 'kept', 100);
    world.runUntilIdle();
    expect(payloads()).toEqual(['kept']);
    net.clearImpairments();
    net.send('a', 'b', 'back', 100);
    world.runUntilIdle();
    expect(payloads()).toEqual(['kept', 'back']);
  });

  it('a pair setting overrides the global one field by field', () => {
    const { net } = setup();
    net.setImpairment({ loss: 0.5, duplicate: 0.25 });
    net.setImpairment({ loss: 0 }, ['a', 'b']);
    expect(net.impairmentBetween('a', 'b')).toMatchObject({ loss: 0, duplicate: 0.25 });
    expect(net.impairmentBetween('a', 'c')).toMatchObject({ loss: 0.5, duplicate: 0.25 });
    net.setImpairment({ loss: undefined }, ['a', 'b']);
    expect(net.impairmentBetween('a', 'b').loss).toBe(0.5);
  });

  it('rejects out-of-range and unknown impairments', () => {
    const { net } = setup();
    expect(() => net.setImpairment({ loss: 1.5 })).toThrow(NetworkError);
    expect(() => net.setImpairment({ reorderJitterMs: -1 })).toThrow(NetworkError);
    expect(() => net.setImpairment({ duplicate: Number.NaN })).toThrow(NetworkError);
    expect(() => net.setImpairment({ lag: 1 } as never)).toThrow(NetworkError);
  });

  it('duplicate 1.0 delivers every frame twice, the copy right behind the original', () => {
    const { world, net, got } = setup();
    net.setImpairment({ duplicate: 1 });
    net.send('a', 'b', 'x', 8192);
    world.runUntilIdle();
    expect(got.map((g) => g.frame.id)).toEqual([1, 1]);
    const wire = wireTimeMs(eth10, 8192);
    expect(got[1]!.at).toBeCloseTo(2 * wire + eth10.latencyMs, 9);
    expect(net.stats).toMatchObject({ sent: 1, delivered: 2, duplicated: 1 });
  });

  it('reorder lets later frames overtake delayed ones, the same way for the same seed', () => {
    const run = (seed: number) => {
      const { world, net, payloads } = setup(seed);
      net.setImpairment({ reorder: 0.5, reorderJitterMs: 50 });
      for (let i = 0; i < 20; i++) net.send('a', 'b', i, 100);
      world.runUntilIdle();
      return payloads() as number[];
    };
    const order = run(1);
    expect([...order].sort((x, y) => x - y)).toEqual([...Array(20).keys()]);
    expect(order).not.toEqual([...Array(20).keys()]);
    expect(run(1)).toEqual(order);
  });

  it('without reorder, frames on a link arrive in send order', () => {
    const { world, net, payloads } = setup();
    for (let i = 0; i < 20; i++) net.send('a', 'b', i, 10 + ((i * 37) % 500));
    world.runUntilIdle();
    expect(payloads()).toEqual([...Array(20).keys()]);
  });
});

describe('partitions', () => {
  it('drops frames between the groups and keeps frames within a group', () => {
    const { world, net, payloads } = setup(1, ['a', 'b', 'c', 'd']);
    net.partition(['a', 'b'], ['c', 'd']);
    net.send('a', 'c', 'across', 100);
    net.send('d', 'b', 'across back', 100);
    net.send('a', 'b', 'inside', 100);
    world.runUntilIdle();
    expect(payloads()).toEqual(['inside']);
    expect(net.stats.dropped.partition).toBe(2);
  });

  it('loses frames already in flight when the partition starts, even if it heals before they land', () => {
    const { world, net, payloads } = setup();
    net.send('a', 'b', 'in flight', 8192);
    world.runUntilTime(1);
    const id = net.partition(['a'], ['b']);
    world.runUntilTime(2);
    net.heal(id);
    world.runUntilIdle();
    expect(payloads()).toEqual([]);
    expect(net.stats.dropped.partition).toBe(1);
  });

  it('heal(id) heals one partition, heal() heals them all', () => {
    const { world, net, payloads } = setup();
    const ab = net.partition(['a'], ['b']);
    net.partition(['a'], ['c']);
    expect(net.heal(ab)).toBe(true);
    expect(net.heal(ab)).toBe(false);
    net.send('a', 'b', 'ab', 10);
    net.send('a', 'c', 'ac', 10);
    world.runUntilIdle();
    expect(payloads()).toEqual(['ab']);
    expect(net.heal()).toBe(true);
    net.send('a', 'c', 'ac', 10);
    world.runUntilIdle();
    expect(payloads()).toEqual(['ab', 'ac']);
  });

  it('rejects overlapping or empty groups and unknown nodes', () => {
    const { net } = setup();
    expect(() => net.partition(['a', 'b'], ['b'])).toThrow(NetworkError);
    expect(() => net.partition([], ['b'])).toThrow(NetworkError);
    expect(() => net.partition(['a'], ['zz'])).toThrow(/zz/);
  });
});

describe('nodes up and down', () => {
  it('a down node neither sends nor receives, and is back after restart', () => {
    const { world, net, payloads } = setup();
    net.crash('b');
    expect(net.isUp('b')).toBe(false);
    expect(net.send('b', 'a', 'from b', 10)).toBe(1);
    net.send('a', 'b', 'to b', 10);
    world.runUntilIdle();
    expect(payloads()).toEqual([]);
    expect(net.stats.dropped.down).toBe(2);
    net.restart('b');
    expect(net.isUp('b')).toBe(true);
    net.send('a', 'b', 'again', 10);
    world.runUntilIdle();
    expect(payloads()).toEqual(['again']);
  });

  it('frames in flight to a node that crashes are lost, even if it restarts first', () => {
    const { world, net, payloads } = setup();
    net.send('a', 'b', 'doomed', 8192);
    world.runUntilTime(1);
    net.crash('b');
    net.restart('b');
    world.runUntilIdle();
    expect(payloads()).toEqual([]);
  });

  it('notifies listeners once per change, until they unsubscribe', () => {
    const { net } = setup();
    const log: string[] = [];
    const offDown = net.onNodeDown((n) => log.push(`down ${n}`));
    net.onNodeUp((n) => log.push(`up ${n}`));
    net.crash('a');
    net.crash('a');
    net.restart('a');
    net.restart('a');
    offDown();
    net.crash('a');
    expect(log).toEqual(['down a', 'up a']);
  });

  it('detach removes a node; frames still flying to it are dropped', () => {
    const { world, net, got } = setup();
    net.send('a', 'b', 'late', 100);
    net.detach('b');
    expect(net.nodes()).toEqual(['a', 'c']);
    world.runUntilIdle();
    expect(got).toEqual([]);
    expect(net.stats.dropped.down).toBe(1);
  });
});

describe('errors', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return e instanceof NetworkError ? { code: e.code, node: e.node, msg: e.message } : e;
    }
    return 'no error';
  };

  it('names the unknown node in a typed error', () => {
    const { net } = setup();
    expect(code(() => net.send('a', 'mars', 1, 10))).toMatchObject({
      code: 'unknown-node',
      node: 'mars',
    });
    expect(code(() => net.send('venus', 'a', 1, 10))).toMatchObject({ node: 'venus' });
    expect(code(() => net.crash('mars'))).toMatchObject({ code: 'unknown-node' });
    expect(code(() => net.send('a', 'mars', 1, 10))).toMatchObject({
      msg: expect.stringContaining('mars'),
    });
  });

  it('refuses negative or non-finite sizes and double attachment', () => {
    const { net } = setup();
    expect(code(() => net.send('a', 'b', 1, -1))).toMatchObject({ code: 'bad-bytes' });
    expect(code(() => net.send('a', 'b', 1, Number.POSITIVE_INFINITY))).toMatchObject({
      code: 'bad-bytes',
    });
    expect(code(() => net.send('a', 'b', 1, Number.NaN))).toMatchObject({ code: 'bad-bytes' });
    expect(code(() => net.attach('a', () => {}))).toMatchObject({ code: 'already-attached' });
    expect(net.stats.sent).toBe(0);
  });
});

describe('counters and trace', () => {
  it('every frame sent or duplicated ends up delivered or dropped', () => {
    const { world, net } = setup(3);
    net.setImpairment({ loss: 0.2, duplicate: 0.2, reorder: 0.3, reorderJitterMs: 5 });
    for (let i = 0; i < 200; i++) net.send(['a', 'b'][i % 2]!, 'c', i, 64);
    world.runUntilIdle();
    const { sent, delivered, duplicated, dropped, bytes } = net.stats;
    expect(sent).toBe(200);
    expect(bytes).toBe(200 * 64);
    expect(dropped.loss).toBeGreaterThan(0);
    expect(duplicated).toBeGreaterThan(0);
    expect(delivered + dropped.loss + dropped.partition + dropped.down).toBe(sent + duplicated);
  });

  it('emits plain-data send, deliver, drop, duplicate and node events', () => {
    const { world, net } = setup();
    const rec = world.trace.record();
    net.setImpairment({ duplicate: 1 }, ['a', 'b']);
    net.send('a', 'b', { big: 'object' }, 10);
    net.crash('c');
    net.send('a', 'c', 'x', 20);
    world.runUntilIdle();
    net.restart('c');
    rec.stop();
    expect(rec.events.map((e) => e.kind)).toEqual([
      'net.send',
      'net.duplicate',
      'node.down',
      'net.send',
      'net.deliver', // the original a -> b
      'net.drop', // a -> c, on its own link, lands before the copy that queued behind the original
      'net.deliver', // the copy
      'node.up',
    ]);
    expect(rec.events[0]).toEqual({
      kind: 'net.send',
      time: 0,
      id: 1,
      from: 'a',
      to: 'b',
      bytes: 10,
    });
    expect(rec.events[4]).toMatchObject({ kind: 'net.deliver', id: 1, copy: false });
    expect(rec.events[5]).toMatchObject({ kind: 'net.drop', id: 2, to: 'c', reason: 'down' });
    expect(rec.events[6]).toMatchObject({ kind: 'net.deliver', id: 1, copy: true });
    expect(JSON.stringify(rec.events)).not.toContain('object');
  });
});
