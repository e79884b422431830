/**
 * Network ports: rights carried between hosts keep Mach's semantics end to end
 * (mach-network-server.txt 2.1 network ports, 3 port records, 6.1 IPC translation, 7 port
 * operations). A task on one host uses a proxy exactly as it would use the real port; the real
 * port's receiver sees ordinary messages; send-once rights are used once; death and no-senders
 * cross hosts.
 */
import { describe, expect, it } from 'vitest';
import type { PortSpace } from '../src/actors/portSpace.ts';
import { netmsgTestbed, receiveAll } from '../src/netmsg/testbed.ts';
import { dataOf, inlineData } from '../src/protocol/codec.ts';
import { isMachError } from '../src/protocol/errors.ts';
import type { MachMessage, ReceivedMessage } from '../src/protocol/message.ts';
import { decodeNotification, NotifyId } from '../src/protocol/notifications.ts';
import {
  Disposition,
  MACH_PORT_DEAD,
  PortRight,
  PortType,
  ReceivedRight,
} from '../src/protocol/rights.ts';
import { startClient, startServer } from '../src/servers/requestReply.ts';

/** Hosts a, b, c; a task `owner` on a with a port `svc`; a task `user` on b holding a send right to it. */
function setup() {
  const tb = netmsgTestbed(['a', 'b', 'c']);
  const a = tb.host('a');
  const b = tb.host('b');
  const c = tb.host('c');
  const owner = a.space('owner');
  const svc = a.ipc.allocate(owner, PortRight.RECEIVE, 'svc');
  const user = b.space('user');
  const toSvc = tb.connect('a', owner, svc, 'b', user);
  tb.run();
  return { tb, a, b, c, owner, svc, user, toSvc };
}

function msg(dest: number, id: number, extra: Partial<MachMessage> = {}): MachMessage {
  return { remotePort: dest, remoteDisposition: Disposition.COPY_SEND, id, ...extra };
}

const portItem = (name: number, disposition: Disposition) => ({
  type: 'port' as const,
  name,
  disposition,
});

function only(ms: ReceivedMessage[]): ReceivedMessage {
  expect(ms).toHaveLength(1);
  return ms[0]!;
}

function sendFails(fn: () => unknown, code: 'MACH_SEND_INVALID_DEST'): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(isMachError(caught, code), String(caught)).toBe(true);
}

describe('a cross-host request/reply', () => {
  it('serves a client on another host, and the server closes when that client lets go', () => {
    const tb = netmsgTestbed(['a', 'b']);
    const a = tb.host('a');
    const b = tb.host('b');
    const serverSpace = b.space('server');
    const server = startServer(b.ipc, serverSpace, (req) => (req as { n: number }).n * 2);
    const clientSpace = a.space('client');
    const toServer = tb.connect('b', serverSpace, server.port, 'a', clientSpace);
    const client = startClient(a.ipc, clientSpace, toServer, [{ n: 1 }, { n: 20 }], 100);
    tb.run();
    expect(client.getSnapshot().value).toBe('done');
    expect(client.getSnapshot().context.replies).toEqual([
      { ok: true, result: 2 },
      { ok: true, result: 40 },
    ]);
    // The client released its send right: the proxy's reference went home, and with it the
    // last sender, so the server got its no-senders notification and closed.
    expect(server.actor.getSnapshot().value).toBe('closed');
    expect(tb.problems()).toEqual([]);
  });

  it('costs about one round trip of virtual time on 10 Mbit/s Ethernet', () => {
    const { tb, a, b, owner, svc, user, toSvc } = setup();
    const reply = b.ipc.allocate(user, PortRight.RECEIVE, 'reply');
    const t0 = tb.world.now();
    b.ipc.send(
      user,
      msg(toSvc, 1, { localPort: reply, localDisposition: Disposition.MAKE_SEND_ONCE }),
    );
    tb.world.runUntil(() => a.ipc.getAttributes(owner, svc).msgcount > 0);
    const req = a.ipc.receive(owner, svc)!;
    expect(req.remoteRight).toBe(ReceivedRight.PORT_SEND_ONCE);
    a.ipc.send(owner, msg(req.remotePort, 2, { remoteDisposition: Disposition.MOVE_SEND_ONCE }));
    tb.world.runUntil(() => b.ipc.getAttributes(user, reply).msgcount > 0);
    const rtt = tb.world.now() - t0;
    expect(rtt).toBeGreaterThan(0.2); // two latencies at least
    expect(rtt).toBeLessThan(1.5);
  });
});

describe('each kind of right carried across hosts', () => {
  it('a send right: the receiver can send to the port on the first host', () => {
    const { tb, a, b, owner, svc, user, toSvc } = setup();
    const inbox = b.ipc.allocate(user, PortRight.RECEIVE, 'inbox');
    const toInbox = tb.connect('b', user, inbox, 'a', owner);
    // a sends b a send right to its own port `svc`, inside a message to b's inbox.
    a.ipc.send(owner, msg(toInbox, 10, { body: [portItem(svc, Disposition.MAKE_SEND)] }));
    tb.run();
    const got = only(receiveAll(b.ipc, user, inbox));
    const item = got.body[0]!;
    expect(item).toMatchObject({ type: 'port', right: ReceivedRight.PORT_SEND });
    const name = (item as { name: number }).name;
    // The same port arrives under the name b already uses for it (Mach merges send rights).
    expect(name).toBe(toSvc);
    expect(b.ipc.getRefs(user, name, PortRight.SEND)).toBe(2);
    b.ipc.send(user, msg(name, 11, { body: [inlineData('hello a')] }));
    tb.run();
    expect(dataOf(only(receiveAll(a.ipc, owner, svc)))).toBe('hello a');
    expect(tb.problems()).toEqual([]);
  });

  it('a send right passed on to a third host reaches the real port directly', () => {
    const { tb, a, b, c, owner, svc, user, toSvc } = setup();
    const third = c.space('third');
    const inbox = c.ipc.allocate(third, PortRight.RECEIVE, 'inbox');
    const toInbox = tb.connect('c', third, inbox, 'b', user);
    b.ipc.send(user, msg(toInbox, 20, { body: [portItem(toSvc, Disposition.COPY_SEND)] }));
    tb.run();
    const name = (only(receiveAll(c.ipc, third, inbox)).body[0] as { name: number }).name;
    c.ipc.send(third, msg(name, 21, { body: [inlineData('from c')] }));
    tb.run();
    const got = only(receiveAll(a.ipc, owner, svc));
    expect(dataOf(got)).toBe('from c');
    // c's proxy points at a: nothing went through b.
    expect(b.netmsg.stats.messagesForwarded).toBe(0);
    expect(tb.problems()).toEqual([]);
  });

  it('a send-once right is used exactly once, end to end', () => {
    const { tb, a, b, owner, svc, user, toSvc } = setup();
    const reply = b.ipc.allocate(user, PortRight.RECEIVE, 'reply');
    b.ipc.send(
      user,
      msg(toSvc, 30, { localPort: reply, localDisposition: Disposition.MAKE_SEND_ONCE }),
    );
    tb.run();
    const req = only(receiveAll(a.ipc, owner, svc));
    expect(req.remoteRight).toBe(ReceivedRight.PORT_SEND_ONCE);
    expect(a.ipc.type(owner, req.remotePort) & PortType.SEND_ONCE).toBeTruthy();
    a.ipc.send(owner, msg(req.remotePort, 31, { remoteDisposition: Disposition.MOVE_SEND_ONCE }));
    // Used: the name is gone, a second use is refused at once.
    expect(() =>
      a.ipc.send(owner, msg(req.remotePort, 32, { remoteDisposition: Disposition.MOVE_SEND_ONCE })),
    ).toThrow();
    tb.run();
    const answer = only(receiveAll(b.ipc, user, reply));
    expect(answer.id).toBe(31);
    expect(answer.localRight).toBe(ReceivedRight.PORT_SEND_ONCE);
    expect(tb.problems()).toEqual([]);
  });

  it('a send-once right destroyed unused on the far host yields the send-once notification', () => {
    const { tb, a, b, owner, svc, user, toSvc } = setup();
    const reply = b.ipc.allocate(user, PortRight.RECEIVE, 'reply');
    b.ipc.send(
      user,
      msg(toSvc, 40, { localPort: reply, localDisposition: Disposition.MAKE_SEND_ONCE }),
    );
    tb.run();
    const req = only(receiveAll(a.ipc, owner, svc));
    a.ipc.deallocate(owner, req.remotePort);
    tb.run();
    const n = only(receiveAll(b.ipc, user, reply));
    expect(n.id).toBe(NotifyId.SEND_ONCE);
    expect(decodeNotification(n)).toEqual({ kind: 'send-once' });
    expect(tb.problems()).toEqual([]);
  });

  it('a receive right: the port moves and its queued messages follow', () => {
    const { tb, a, b, owner, svc, user, toSvc } = setup();
    const inbox = b.ipc.allocate(user, PortRight.RECEIVE, 'inbox');
    const toInbox = tb.connect('b', user, inbox, 'a', owner);
    b.ipc.send(user, msg(toSvc, 50));
    tb.run();
    a.ipc.send(owner, msg(toInbox, 51, { body: [portItem(svc, Disposition.MOVE_RECEIVE)] }));
    tb.run();
    const carried = only(receiveAll(b.ipc, user, inbox)).body[0]!;
    expect(carried).toMatchObject({ type: 'port', right: ReceivedRight.PORT_RECEIVE });
    const moved = (carried as { name: number }).name;
    expect(only(receiveAll(b.ipc, user, moved)).id).toBe(50);
    expect(tb.problems()).toEqual([]);
  });

  it('a dead name and data travel as they are', () => {
    const { tb, a, b, owner, svc, user, toSvc } = setup();
    const dead = b.ipc.allocate(user, PortRight.DEAD_NAME);
    const ool = new Uint8Array(10_000).fill(7);
    b.ipc.send(
      user,
      msg(toSvc, 60, {
        body: [
          { type: 'inline', data: new Uint8Array([1, 2, 3]) },
          portItem(dead, Disposition.MOVE_SEND),
          { type: 'ool', data: ool },
        ],
      }),
    );
    tb.run();
    const got = only(receiveAll(a.ipc, owner, svc));
    expect(got.body[0]).toEqual({ type: 'inline', data: new Uint8Array([1, 2, 3]) });
    expect(got.body[1]).toMatchObject({ type: 'port', name: MACH_PORT_DEAD });
    expect(got.body[2]).toEqual({ type: 'ool', data: ool });
    expect(got.localRight).toBe(ReceivedRight.PORT_SEND);
    expect(tb.problems()).toEqual([]);
  });
});

describe('port death and no-senders across hosts', () => {
  function watched(b: ReturnType<typeof setup>['b'], user: PortSpace, name: number) {
    const notify = b.ipc.allocate(user, PortRight.RECEIVE, 'notify');
    b.ipc.requestNotification(user, name, 'dead-name', 0, notify, Disposition.MAKE_SEND_ONCE);
    return notify;
  }

  it('when a port dies, remote senders hold dead names and their dead-name notifications fire', () => {
    const { tb, a, b, c, owner, svc, user, toSvc } = setup();
    const third = c.space('third');
    const toSvcC = tb.connect('a', owner, svc, 'c', third);
    const notifyB = watched(b, user, toSvc);
    a.ipc.destroy(owner, svc);
    tb.run();
    expect(receiveAll(b.ipc, user, notifyB).map(decodeNotification)).toEqual([
      { kind: 'dead-name', name: toSvc },
    ]);
    expect(b.ipc.type(user, toSvc) & PortType.DEAD_NAME).toBeTruthy();
    expect(c.ipc.type(third, toSvcC) & PortType.DEAD_NAME).toBeTruthy();
    sendFails(() => b.ipc.send(user, msg(toSvc, 70)), 'MACH_SEND_INVALID_DEST');
    expect(tb.problems()).toEqual([]);
  });

  it('a message already on its way to a port that dies is destroyed with its rights', () => {
    const { tb, a, b, owner, svc, user, toSvc } = setup();
    const reply = b.ipc.allocate(user, PortRight.RECEIVE, 'reply');
    b.ipc.send(
      user,
      msg(toSvc, 71, { localPort: reply, localDisposition: Disposition.MAKE_SEND_ONCE }),
    );
    a.ipc.destroy(owner, svc); // before the message arrives
    tb.run();
    // Its send-once reply right was destroyed unused: the client hears of it.
    expect(receiveAll(b.ipc, user, reply).map(decodeNotification)).toEqual([{ kind: 'send-once' }]);
    expect(b.ipc.type(user, toSvc) & PortType.DEAD_NAME).toBeTruthy();
    expect(tb.problems()).toEqual([]);
  });

  it('when the last remote send right goes, the real port gets its no-senders notification', () => {
    const { tb, a, b, c, owner, svc, user, toSvc } = setup();
    const third = c.space('third');
    const toSvcC = tb.connect('a', owner, svc, 'c', third);
    const notify = a.ipc.allocate(owner, PortRight.RECEIVE, 'ns');
    a.ipc.requestNotification(owner, svc, 'no-senders', 0, notify, Disposition.MAKE_SEND_ONCE);
    b.ipc.deallocate(user, toSvc);
    tb.run();
    expect(receiveAll(a.ipc, owner, notify)).toEqual([]); // c still holds one
    c.ipc.deallocate(third, toSvcC);
    tb.run();
    expect(receiveAll(a.ipc, owner, notify).map((m) => decodeNotification(m)?.kind)).toEqual([
      'no-senders',
    ]);
    expect(tb.problems()).toEqual([]);
  });

  it('a right on its way to a third host keeps the port`s senders counted until it lands', () => {
    const { tb, a, b, c, owner, svc, user, toSvc } = setup();
    const third = c.space('third');
    const inbox = c.ipc.allocate(third, PortRight.RECEIVE, 'inbox');
    const toInbox = tb.connect('c', third, inbox, 'b', user);
    const notify = a.ipc.allocate(owner, PortRight.RECEIVE, 'ns');
    a.ipc.requestNotification(owner, svc, 'no-senders', 0, notify, Disposition.MAKE_SEND_ONCE);
    // b moves its only send right to c and so holds none itself any more.
    b.ipc.send(user, msg(toInbox, 80, { body: [portItem(toSvc, Disposition.MOVE_SEND)] }));
    tb.run();
    expect(receiveAll(a.ipc, owner, notify)).toEqual([]);
    const name = (only(receiveAll(c.ipc, third, inbox)).body[0] as { name: number }).name;
    c.ipc.send(third, msg(name, 81));
    tb.run();
    expect(only(receiveAll(a.ipc, owner, svc)).id).toBe(81);
    c.ipc.deallocate(third, name);
    tb.run();
    expect(receiveAll(a.ipc, owner, notify).map((m) => decodeNotification(m)?.kind)).toEqual([
      'no-senders',
    ]);
    expect(tb.problems()).toEqual([]);
  });
});
