/**
 * Moving a receive right between hosts, as migration does with every port of a task
 * (mach-network-server.txt 7.2, transfer of receive rights; 9.1, searching for a port whose
 * receive right moved). Messages queued at the old host follow the right; proxies elsewhere learn
 * the new location while the old host forwards; every sender's messages arrive exactly once and
 * in the order sent.
 */
import { describe, expect, it } from 'vitest';
import { checkIpcInvariants } from '../src/actors/invariants.ts';
import type { IpcKernel } from '../src/actors/ipcKernel.ts';
import type { PortSpace } from '../src/actors/portSpace.ts';
import { totalRejected } from '../src/netmsg/stats.ts';
import { type NetmsgTestbed, netmsgTestbed } from '../src/netmsg/testbed.ts';
import { dataOf, inlineData } from '../src/protocol/codec.ts';
import { isMachError } from '../src/protocol/errors.ts';
import type { ReceivedMessage } from '../src/protocol/message.ts';
import { decodeNotification } from '../src/protocol/notifications.ts';
import { Disposition, PortRight, PortType, ReceivedRight } from '../src/protocol/rights.ts';
import { FaultPlan } from '../src/world/faults.ts';

const MOVE = 99;

interface Tagged {
  from: string;
  n: number;
}

/** A task that sends `count` numbered messages to `dest`, one every `everyMs`, never skipping. */
function sender(
  ipc: IpcKernel,
  space: PortSpace,
  dest: number,
  from: string,
  count: number,
  everyMs: number,
) {
  const sent: number[] = [];
  const next = (n: number) => {
    if (n >= count) return;
    const queued = ipc.send(
      space,
      {
        remotePort: dest,
        remoteDisposition: Disposition.COPY_SEND,
        id: 1,
        body: [inlineData({ from, n })],
      },
      {},
      () => ipc.world.schedule(everyMs, () => next(n + 1)),
    );
    sent.push(n);
    if (queued) ipc.world.schedule(everyMs, () => next(n + 1));
  };
  ipc.world.schedule(0, () => next(0));
  return sent;
}

/** Receives everything queued on `port` of `space` right now. */
function drain(ipc: IpcKernel, space: PortSpace, port: number): ReceivedMessage[] {
  const out: ReceivedMessage[] = [];
  for (;;) {
    try {
      const m = ipc.receive(space, port, { timeout: 0 });
      if (m === null) return out;
      out.push(m);
    } catch (e) {
      if (isMachError(e, 'MACH_RCV_TIMED_OUT')) return out;
      throw e;
    }
  }
}

/**
 * A receiver task: it reads its port every `everyMs` and, when asked, sends the receive right
 * to a mover on another host, which becomes the next receiver.
 */
class Receiver {
  readonly got: Tagged[] = [];
  private holder: { host: string; space: PortSpace; port: number } | null;

  constructor(
    private readonly tb: NetmsgTestbed,
    host: string,
    space: PortSpace,
    port: number,
    everyMs: number,
  ) {
    this.holder = { host, space, port };
    const tick = () => {
      this.read();
      tb.world.schedule(everyMs, tick);
    };
    tb.world.schedule(everyMs, tick);
  }

  get where(): string | undefined {
    return this.holder?.host;
  }

  read(): void {
    const h = this.holder;
    if (h === null) return;
    for (const m of drain(this.tb.host(h.host).ipc, h.space, h.port))
      this.got.push(dataOf<Tagged>(m));
  }

  /**
   * Sends the receive right (with whatever is queued on it) to `mover`, a send right of the
   * current holder; if the right is still on its way here, as soon as it arrives.
   */
  moveTo(mover: number, next: { host: string; space: PortSpace; port: number }): void {
    const h = this.holder;
    if (h === null) {
      this.tb.world.schedule(0.1, () => this.moveTo(mover, next));
      return;
    }
    this.holder = null;
    const ipc = this.tb.host(h.host).ipc;
    ipc.send(h.space, {
      remotePort: mover,
      remoteDisposition: Disposition.COPY_SEND,
      id: MOVE,
      body: [{ type: 'port', name: h.port, disposition: Disposition.MOVE_RECEIVE }],
    });
    // The mover task on the next host takes the right out of its message when it arrives.
    const nextIpc = this.tb.host(next.host).ipc;
    nextIpc.receive(next.space, next.port, {}, (r) => {
      if (!r.ok) throw r.error;
      const item = r.message.body[0];
      if (item?.type !== 'port' || item.right !== ReceivedRight.PORT_RECEIVE)
        throw new Error('the move message carried no receive right');
      this.holder = { host: next.host, space: next.space, port: item.name };
    });
  }
}

/** Three hosts; the receiver starts on a; each host has a sender and a mover port. */
function threeHosts(seed = 1) {
  const tb = netmsgTestbed(['a', 'b', 'c'], { seed });
  const a = tb.host('a');
  const task = a.space('receiver');
  const port = a.ipc.allocate(task, PortRight.RECEIVE, 'P');
  a.ipc.setQlimit(task, port, 16);
  const movers: Record<string, { space: PortSpace; port: number }> = {};
  for (const h of ['b', 'c']) {
    const space = tb.host(h).space(`mover@${h}`);
    movers[h] = { space, port: tb.host(h).ipc.allocate(space, PortRight.RECEIVE, `mover@${h}`) };
  }
  // Senders: a local send right on a, proxies on b and c.
  const senders: Record<string, { space: PortSpace; dest: number }> = {};
  for (const h of ['a', 'b', 'c']) {
    const space = tb.host(h).space(`sender@${h}`);
    let dest = 0x500;
    if (h === 'a') a.ipc.insertRight(space, dest, task, port, Disposition.MAKE_SEND);
    else dest = tb.connect('a', task, port, h, space);
    senders[h] = { space, dest };
  }
  // The receiver on a and then the mover on b each hold a send right to the next mover.
  const toB = tb.connect('b', movers.b!.space, movers.b!.port, 'a', task);
  const toC = tb.connect('c', movers.c!.space, movers.c!.port, 'b', movers.b!.space);
  return { tb, task, port, movers, senders, toB, toC };
}

function expectExactlyOnceInOrder(got: Tagged[], sent: Record<string, number[]>): void {
  for (const [from, ns] of Object.entries(sent)) {
    const mine = got.filter((g) => g.from === from).map((g) => g.n);
    expect(mine, `messages from ${from}`).toEqual(ns);
  }
  expect(got.length).toBe(Object.values(sent).reduce((a, s) => a + s.length, 0));
}

function expectHealthy(tb: NetmsgTestbed): void {
  for (const h of tb.hostNames) {
    const host = tb.host(h);
    expect(checkIpcInvariants(host.ipc), `IPC invariants on ${h}`).toEqual([]);
    expect(host.netmsg.stats.internalErrors, `internal errors on ${h}`).toBe(0);
    expect(totalRejected(host.netmsg.stats), `rejections on ${h}`).toBe(0);
  }
}

describe('moving a receive right between hosts', () => {
  it('takes the messages queued at the old host along, ahead of later ones', () => {
    const { tb, task, port, movers, senders, toB } = threeHosts();
    const a = tb.host('a');
    const b = tb.host('b');
    // Three messages wait on a, unread, when the right leaves.
    for (const n of [0, 1, 2])
      a.ipc.send(senders.a!.space, {
        remotePort: senders.a!.dest,
        remoteDisposition: Disposition.COPY_SEND,
        id: 1,
        body: [inlineData({ from: 'a', n })],
      });
    expect(a.ipc.getAttributes(task, port).msgcount).toBe(3);
    a.ipc.send(task, {
      remotePort: toB,
      remoteDisposition: Disposition.COPY_SEND,
      id: MOVE,
      body: [{ type: 'port', name: port, disposition: Disposition.MOVE_RECEIVE }],
    });
    tb.run();
    const [move] = drain(b.ipc, movers.b!.space, movers.b!.port);
    const item = move!.body[0]!;
    expect(item).toMatchObject({ type: 'port', right: ReceivedRight.PORT_RECEIVE });
    const moved = (item as { name: number }).name;
    expect(b.ipc.type(movers.b!.space, moved) & PortType.RECEIVE).toBeTruthy();
    // The queue came along, in order, and a later message from a follows it.
    a.ipc.send(senders.a!.space, {
      remotePort: senders.a!.dest,
      remoteDisposition: Disposition.COPY_SEND,
      id: 1,
      body: [inlineData({ from: 'a', n: 3 })],
    });
    tb.run();
    const got = drain(b.ipc, movers.b!.space, moved).map((m) => dataOf<Tagged>(m).n);
    expect(got).toEqual([0, 1, 2, 3]);
    // The sender on a kept its right: the old port object now stands for the moved one.
    expect(a.ipc.type(senders.a!.space, senders.a!.dest) & PortType.SEND).toBeTruthy();
    expectHealthy(tb);
  });

  for (const order of ['receive first', 'send first'] as const) {
    it(`carries a port's receive right and a send right to it in one message (${order})`, () => {
      const { tb, task, port, movers, toB } = threeHosts();
      const a = tb.host('a');
      const b = tb.host('b');
      // The task holds a send right too (same name), and copies it along with the receive right.
      a.ipc.insertRight(task, port, task, port, Disposition.MAKE_SEND);
      const receive = { type: 'port' as const, name: port, disposition: Disposition.MOVE_RECEIVE };
      const send = { type: 'port' as const, name: port, disposition: Disposition.COPY_SEND };
      a.ipc.send(task, {
        remotePort: toB,
        remoteDisposition: Disposition.COPY_SEND,
        id: MOVE,
        body: order === 'receive first' ? [receive, send] : [send, receive],
      });
      tb.run();
      const [move] = drain(b.ipc, movers.b!.space, movers.b!.port);
      expect(move, 'the message arrived').toBeDefined();
      const names = move!.body.map((i) => (i as { name: number }).name);
      const [moved, sendName] = order === 'receive first' ? names : [names[1]!, names[0]!];
      b.ipc.send(movers.b!.space, {
        remotePort: sendName!,
        remoteDisposition: Disposition.COPY_SEND,
        id: 5,
      });
      tb.run();
      expect(drain(b.ipc, movers.b!.space, moved!).map((m) => m.id)).toEqual([5]);
      expectHealthy(tb);
    });
  }

  it('keeps the port`s attributes and the receiver`s notification requests', () => {
    const { tb, task, port, movers, toB } = threeHosts();
    const a = tb.host('a');
    const b = tb.host('b');
    a.ipc.setQlimit(task, port, 3);
    const notify = a.ipc.allocate(task, PortRight.RECEIVE, 'notify');
    a.ipc.requestNotification(task, port, 'no-senders', 0, notify, Disposition.MAKE_SEND_ONCE);
    // A no-senders request's notify port moves too (its send-once right goes along).
    a.ipc.send(task, {
      remotePort: toB,
      remoteDisposition: Disposition.COPY_SEND,
      id: MOVE,
      body: [{ type: 'port', name: port, disposition: Disposition.MOVE_RECEIVE }],
    });
    tb.run();
    const [move] = drain(b.ipc, movers.b!.space, movers.b!.port);
    const moved = (move!.body[0] as { name: number }).name;
    expect(b.ipc.getAttributes(movers.b!.space, moved).qlimit).toBe(3);
    expectHealthy(tb);
  });

  it('delivers every message exactly once and in order while the right moves twice', () => {
    const { tb, task, port, movers, senders, toB, toC } = threeHosts();
    const receiver = new Receiver(tb, 'a', task, port, 0.7);
    const sent: Record<string, number[]> = {};
    for (const h of ['a', 'b', 'c']) {
      const s = senders[h]!;
      sent[h] = sender(tb.host(h).ipc, s.space, s.dest, h, 120, 0.2);
    }
    tb.world.schedule(6, () => receiver.moveTo(toB, { host: 'b', ...movers.b! }));
    tb.world.schedule(14, () => receiver.moveTo(toC, { host: 'c', ...movers.c! }));
    tb.run(60);
    receiver.read();
    expect(receiver.where).toBe('c');
    expect(Object.values(sent).every((s) => s.length === 120)).toBe(true);
    expectExactlyOnceInOrder(receiver.got, sent);
    // The old homes forwarded while senders caught up; then senders went straight to c.
    const forwarded =
      tb.host('a').netmsg.stats.messagesForwarded + tb.host('b').netmsg.stats.messagesForwarded;
    expect(forwarded).toBeGreaterThan(0);
    expect(tb.host('a').netmsg.stats.portsMoved + tb.host('b').netmsg.stats.portsMoved).toBe(2);
    expectHealthy(tb);
  });

  it('tells every proxy the new location, and the old home settles after forwarding', () => {
    const { tb, task, port, movers, senders, toB } = threeHosts();
    const rec = tb.world.trace.record();
    const receiver = new Receiver(tb, 'a', task, port, 0.5);
    const sent = { c: sender(tb.host('c').ipc, senders.c!.space, senders.c!.dest, 'c', 40, 0.1) };
    tb.world.schedule(1, () => receiver.moveTo(toB, { host: 'b', ...movers.b! }));
    tb.run(3000);
    rec.stop();
    receiver.read();
    expectExactlyOnceInOrder(receiver.got, sent);
    const nid = tb.host('c').netmsg.networkPortOf(senders.c!.space, senders.c!.dest)!;
    expect(tb.host('c').netmsg.records.get(nid)!.home).toBe('b');
    const phases = rec.events.flatMap((e) =>
      e.kind === 'netmsg.port-moved' && e.nid === nid ? [`${e.host}:${e.phase}`] : [],
    );
    expect(phases).toEqual(['a:transfer', 'b:installed', 'a:forwarding', 'a:settled']);
    expectHealthy(tb);
  });

  it('keeps exactly-once and order through loss, duplication and reordering', () => {
    const { tb, task, port, movers, senders, toB, toC } = threeHosts(7);
    const at = tb.world.now();
    new FaultPlan([
      { at, kind: 'loss', probability: 0.15, durationMs: 40 },
      { at, kind: 'duplicate', probability: 0.15, durationMs: 40 },
      { at, kind: 'reorder', probability: 0.3, jitterMs: 3, durationMs: 40 },
    ]).install(tb.world, tb.network);
    const receiver = new Receiver(tb, 'a', task, port, 0.7);
    const sent: Record<string, number[]> = {};
    for (const h of ['a', 'b', 'c'])
      sent[h] = sender(tb.host(h).ipc, senders[h]!.space, senders[h]!.dest, h, 80, 0.3);
    tb.world.schedule(8, () => receiver.moveTo(toB, { host: 'b', ...movers.b! }));
    tb.world.schedule(18, () => receiver.moveTo(toC, { host: 'c', ...movers.c! }));
    tb.run(5000);
    receiver.read();
    expectExactlyOnceInOrder(receiver.got, sent);
    expect(tb.network.stats.dropped.loss).toBeGreaterThan(0);
    expect(tb.network.stats.duplicated).toBeGreaterThan(0);
    expectHealthy(tb);
  });

  it('fires the no-senders notification at the new home when the last remote sender goes', () => {
    const { tb, task, port, movers, senders, toB } = threeHosts();
    const a = tb.host('a');
    const b = tb.host('b');
    a.ipc.send(task, {
      remotePort: toB,
      remoteDisposition: Disposition.COPY_SEND,
      id: MOVE,
      body: [{ type: 'port', name: port, disposition: Disposition.MOVE_RECEIVE }],
    });
    tb.run();
    const [move] = drain(b.ipc, movers.b!.space, movers.b!.port);
    const moved = (move!.body[0] as { name: number }).name;
    const notify = b.ipc.allocate(movers.b!.space, PortRight.RECEIVE, 'ns');
    b.ipc.requestNotification(
      movers.b!.space,
      moved,
      'no-senders',
      0,
      notify,
      Disposition.MAKE_SEND_ONCE,
    );
    // Every sender (on a, b and c, all remote or proxied now) lets go.
    for (const h of ['a', 'b', 'c']) tb.host(h).ipc.deallocate(senders[h]!.space, senders[h]!.dest);
    tb.run();
    const ns = drain(b.ipc, movers.b!.space, notify).map(decodeNotification);
    expect(ns).toEqual([{ kind: 'no-senders', mscount: expect.any(Number) }]);
    expectHealthy(tb);
  });
});
