/**
 * Reliability over the lossy network model (mach-network-server.txt 4.1 and 4.3.1: acknowledged
 * transmissions, retransmission by timer, duplicate detection; 6.2: network failure makes the
 * sender abort the message and find the port dead). Faults come from the world's fault plan, so
 * every run replays exactly.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import type { PortSpace } from '../src/actors/portSpace.ts';
import { netmsgTransport } from '../src/machines/netmsgTransport.ts';
import { netmsgTestbed, receiveAll } from '../src/netmsg/testbed.ts';
import { dataOf, inlineData } from '../src/protocol/codec.ts';
import { isMachError } from '../src/protocol/errors.ts';
import { decodeNotification } from '../src/protocol/notifications.ts';
import { Disposition, PortRight, PortType } from '../src/protocol/rights.ts';
import { FaultPlan } from '../src/world/faults.ts';
import type { TraceEvent } from '../src/world/trace.ts';
import { traceDigest } from '../src/world/trace.ts';
import { World } from '../src/world/world.ts';

/** A receiver on b, a sender on a holding a send right to it; `got` collects what arrives. */
function pair(seed = 1, config = {}) {
  const tb = netmsgTestbed(['a', 'b', 'c'], { seed, config });
  const a = tb.host('a');
  const b = tb.host('b');
  const inbox = b.space('inbox');
  const port = b.ipc.allocate(inbox, PortRight.RECEIVE, 'inbox');
  b.ipc.setQlimit(inbox, port, 16);
  const out = a.space('sender');
  const dest = tb.connect('b', inbox, port, 'a', out);
  const got: number[] = [];
  const read = () => {
    if (!tb.network.isUp('b')) return; // the receiver died with its host
    for (const m of receiveAll(b.ipc, inbox, port)) got.push(dataOf<number>(m));
    tb.world.schedule(1, read);
  };
  tb.world.schedule(1, read);
  return { tb, a, b, inbox, port, out, dest, got };
}

/** Sends 0..count-1 from `space` to `dest`, one every `everyMs`, waiting whenever the proxy is full. */
function stream(
  tb: ReturnType<typeof netmsgTestbed>,
  host: string,
  space: PortSpace,
  dest: number,
  count: number,
  everyMs: number,
) {
  const ipc = tb.host(host).ipc;
  const next = (n: number) => {
    if (n >= count) return;
    const m = {
      remotePort: dest,
      remoteDisposition: Disposition.COPY_SEND,
      id: 1,
      body: [inlineData(n)],
    };
    const go = () => tb.world.schedule(everyMs, () => next(n + 1));
    if (ipc.send(space, m, {}, go)) go();
  };
  next(0);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('reliable delivery over a bad network', () => {
  it('delivers every message once and in order through loss, duplication and reordering', () => {
    const { tb, a, b, out, dest, got } = pair(11);
    const at = tb.world.now();
    new FaultPlan([
      { at, kind: 'loss', probability: 0.25 },
      { at, kind: 'duplicate', probability: 0.2 },
      { at, kind: 'reorder', probability: 0.5, jitterMs: 4 },
    ]).install(tb.world, tb.network);
    stream(tb, 'a', out, dest, 300, 0.05);
    tb.run(4000);
    expect(got).toEqual(range(300));
    expect(tb.network.stats.dropped.loss).toBeGreaterThan(20);
    expect(tb.network.stats.duplicated).toBeGreaterThan(20);
    expect(a.netmsg.stats.retransmits).toBeGreaterThan(0);
    expect(b.netmsg.stats.duplicates).toBeGreaterThan(0);
    expect(tb.problems()).toEqual([]);
  });

  it('rides out a partition shorter than the give-up timeout, without duplicates', () => {
    const { tb, a, out, dest, got } = pair();
    const rec = tb.world.trace.record();
    new FaultPlan([
      { at: tb.world.now() + 5, kind: 'partition', groups: [['a'], ['b', 'c']], durationMs: 800 },
    ]).install(tb.world, tb.network);
    stream(tb, 'a', out, dest, 100, 0.2);
    tb.run(3000);
    rec.stop();
    expect(got).toEqual(range(100));
    const retransmits = rec.events.filter((e) => e.kind === 'netmsg.retransmit' && e.host === 'a');
    expect(retransmits.length).toBeGreaterThan(2);
    expect(rec.events.some((e) => e.kind === 'netmsg.give-up')).toBe(false);
    expect(a.netmsg.peerState('b')).toBe('idle');
    expect(tb.problems()).toEqual([]);
  });

  it('replays bit for bit: same seed and faults, same trace', () => {
    const digest = () => {
      const { tb, out, dest } = pair(5);
      const rec = tb.world.trace.record();
      const at = tb.world.now();
      new FaultPlan([
        { at, kind: 'loss', probability: 0.2 },
        { at, kind: 'reorder', probability: 0.3, jitterMs: 2 },
      ]).install(tb.world, tb.network);
      stream(tb, 'a', out, dest, 50, 0.1);
      tb.run(2000);
      rec.stop();
      return traceDigest(rec.events);
    };
    expect(digest()).toBe(digest());
  });
});

describe('giving up on an unreachable host', () => {
  it('fails what was in flight: the client hears through its reply port, the proxy dies', () => {
    const { tb, a, b, out, dest, inbox, port } = pair();
    const rec = tb.world.trace.record();
    const reply = a.ipc.allocate(out, PortRight.RECEIVE, 'reply');
    const notify = a.ipc.allocate(out, PortRight.RECEIVE, 'notify');
    a.ipc.requestNotification(out, dest, 'dead-name', 0, notify, Disposition.MAKE_SEND_ONCE);
    tb.network.partition(['a'], ['b', 'c']);
    const t0 = tb.world.now();
    a.ipc.send(out, {
      remotePort: dest,
      remoteDisposition: Disposition.COPY_SEND,
      localPort: reply,
      localDisposition: Disposition.MAKE_SEND_ONCE,
      id: 1,
    });
    tb.run(10_000);
    rec.stop();
    const giveUp = rec.events.find(
      (e): e is Extract<TraceEvent, { kind: 'netmsg.give-up' }> =>
        e.kind === 'netmsg.give-up' && e.host === 'a',
    );
    expect(giveUp).toMatchObject({ peer: 'b' });
    // About the give-up timeout after the last acknowledgement (which came just before t0).
    expect(giveUp!.time - t0).toBeGreaterThan(a.netmsg.config.giveUpMs - 5);
    expect(giveUp!.time - t0).toBeLessThan(a.netmsg.config.giveUpMs + 5);
    // The failed request's reply right was destroyed: a send-once notification, as in Mach.
    expect(receiveAll(a.ipc, out, reply).map(decodeNotification)).toEqual([{ kind: 'send-once' }]);
    // The port on b is dead for a: dead name, dead-name notification, sends refused.
    expect(receiveAll(a.ipc, out, notify).map(decodeNotification)).toEqual([
      { kind: 'dead-name', name: dest },
    ]);
    expect(a.ipc.type(out, dest) & PortType.DEAD_NAME).toBeTruthy();
    expect(() =>
      a.ipc.send(out, { remotePort: dest, remoteDisposition: Disposition.COPY_SEND, id: 2 }),
    ).toThrow(/MACH_SEND_INVALID_DEST/);
    expect(a.netmsg.peerState('b')).toBe('unreachable');
    // Nothing arrived on b; b forgot a's references too, once it heard of the give-up.
    expect(receiveAll(b.ipc, inbox, port)).toEqual([]);
    expect(tb.problems()).toEqual([]);
  });

  it('after the network heals the two hosts start afresh', () => {
    const { tb, a, inbox, port, got } = pair();
    const id = tb.network.partition(['a'], ['b', 'c']);
    const out = a.space('later');
    // A look-up across the partition fails, then works once it heals.
    let failed = false;
    a.netmsg.lookUp('x', 'b', out, (r) => {
      failed = !r.ok;
    });
    tb.run(5000);
    expect(failed).toBe(true);
    tb.network.heal(id);
    const dest = tb.connect('b', inbox, port, 'a', out);
    a.ipc.send(out, {
      remotePort: dest,
      remoteDisposition: Disposition.COPY_SEND,
      id: 3,
      body: [inlineData(3)],
    });
    tb.run(100);
    expect(got).toEqual([3]);
    expect(tb.problems()).toEqual([]);
  });
});

describe('a host crash while messages are in flight', () => {
  it('kills the crashed host`s ports for everyone after the timeout (port checkups)', () => {
    const { tb, a, out, dest, got, inbox, port } = pair(1, { checkupMs: 250 });
    // c holds a right to the same port but sends nothing: only checkups tell it b is gone.
    const c = tb.host('c');
    const idle = c.space('idle');
    const quiet = tb.connect('b', inbox, port, 'c', idle);
    stream(tb, 'a', out, dest, 100, 0.5);
    new FaultPlan([{ at: tb.world.now() + 10, kind: 'crash', node: 'b' }]).install(
      tb.world,
      tb.network,
    );
    tb.run(10_000);
    // What arrived before the crash arrived once and in order; the rest failed.
    expect(got).toEqual(range(got.length));
    expect(got.length).toBeLessThan(100);
    expect(a.ipc.type(out, dest) & PortType.DEAD_NAME).toBeTruthy();
    expect(c.ipc.type(idle, quiet) & PortType.DEAD_NAME).toBeTruthy();
    expect(a.netmsg.stats.giveUps).toBe(1);
    expect(c.netmsg.stats.giveUps).toBe(1);
    expect(tb.problems().filter((p) => !p.startsWith('b:'))).toEqual([]);
  });

  it('a restarted host comes back empty, and others learn at once that its ports died', () => {
    const { tb, a, out, dest } = pair();
    const rec = tb.world.trace.record();
    const notify = a.ipc.allocate(out, PortRight.RECEIVE, 'notify');
    a.ipc.requestNotification(out, dest, 'dead-name', 0, notify, Disposition.MAKE_SEND_ONCE);
    a.ipc.send(out, { remotePort: dest, remoteDisposition: Disposition.COPY_SEND, id: 1 });
    new FaultPlan([{ at: tb.world.now(), kind: 'crash', node: 'b', restartAfterMs: 100 }]).install(
      tb.world,
      tb.network,
    );
    tb.run(1000);
    rec.stop();
    const b = tb.host('b');
    expect(b.netmsg.epoch).toBe(2);
    expect(b.netmsg.records.all()).toEqual([]);
    // Well before the give-up timeout, a heard of the restart and a's proxy died.
    expect(receiveAll(a.ipc, out, notify).map(decodeNotification)).toEqual([
      { kind: 'dead-name', name: dest },
    ]);
    const sever = rec.events.find((e) => e.kind === 'netmsg.sever' && e.host === 'a');
    expect(sever).toMatchObject({ peer: 'b', reason: 'peer restarted' });
    expect(sever!.time).toBeLessThan(a.netmsg.config.giveUpMs);
    // The new b has no names: the look-up fails cleanly.
    let error: unknown = null;
    try {
      tb.lookUp('a', 'anything', 'b', a.space('client'));
    } catch (e) {
      error = e;
    }
    expect(isMachError(error, 'KERN_INVALID_NAME')).toBe(true);
    expect(tb.problems()).toEqual([]);
  });
});

describe('the per-peer transport statechart', () => {
  it('is a plain machine: on its own clock it retransmits with back-off, then gives up', () => {
    const world = new World(1);
    const calls: string[] = [];
    let rto = 10;
    const actor = createActor(netmsgTransport, {
      clock: world.clock,
      input: {
        io: {
          retransmit: () => {
            calls.push(`retransmit@${world.now()}`);
            rto *= 2;
          },
          giveUp: () => calls.push(`give-up@${world.now()}`),
          rtoMs: () => rto,
          giveUpMs: () => 100,
        },
      },
    }).start();
    expect(actor.getSnapshot().value).toBe('idle');
    actor.send({ type: 'SENT' });
    expect(actor.getSnapshot().value).toEqual({ sending: 'awaitingAck' });
    world.runUntilIdle();
    expect(calls).toEqual(['retransmit@10', 'retransmit@30', 'retransmit@70', 'give-up@100']);
    expect(actor.getSnapshot().value).toBe('unreachable');
  });

  it('an acknowledgement restarts both timers; the last one returns it to idle', () => {
    const world = new World(1);
    const calls: string[] = [];
    const actor = createActor(netmsgTransport, {
      clock: world.clock,
      input: {
        io: {
          retransmit: () => calls.push(`retransmit@${world.now()}`),
          giveUp: () => calls.push('give-up'),
          rtoMs: () => 10,
          giveUpMs: () => 25,
        },
      },
    }).start();
    actor.send({ type: 'SENT' });
    world.runUntilTime(8);
    actor.send({ type: 'PROGRESS', idle: false });
    world.runUntilTime(16);
    actor.send({ type: 'PROGRESS', idle: true });
    world.runUntilIdle();
    expect(calls).toEqual([]);
    expect(actor.getSnapshot().value).toBe('idle');
  });
});
