/**
 * Kernel notifications: dead-name, port-deleted, no-senders, port-destroyed and send-once
 * (mach3-kernel-interfaces.txt, mach_port_request_notification and the do_mach_notify_* server
 * interfaces; mach_port_destroy; mach3-kernel-principles.txt ch. 4, "Port Name Space").
 * Every notification is sent through a send-once right, so it arrives as PORT_SEND_ONCE.
 */
import { describe, expect, it } from 'vitest';
import type { ReceivedMessage, ReceivedPortItem } from '../src/protocol/message.ts';
import { decodeNotification, NotifyId } from '../src/protocol/notifications.ts';
import {
  Disposition,
  MACH_PORT_NULL,
  MACH_PORT_UREFS_MAX,
  PortRight,
  PortType,
  ReceivedRight,
} from '../src/protocol/rights.ts';
import {
  drain,
  expectConsistent,
  expectMachError,
  giveSend,
  makeFixture,
  newPort,
  portOf,
  receiveNow,
  rightsOf,
  simple,
  TYPE_DNREQUEST,
} from './support/ipcFixtures.ts';

const SVC = 0x500;

/** a holds send right SVC to b's port svc; a has a notify port `notify`. */
function setup() {
  const f = makeFixture();
  const svc = newPort(f.k, f.b, 'svc');
  giveSend(f.k, f.b, svc, f.a, SVC);
  const notify = newPort(f.k, f.a, 'notify');
  return { ...f, svc, notify };
}

function notifications(msgs: ReceivedMessage[]) {
  for (const m of msgs) expect(m.localRight).toBe(ReceivedRight.PORT_SEND_ONCE);
  return msgs.map((m) => decodeNotification(m));
}

describe('dead-name notifications (MACH_NOTIFY_DEAD_NAME)', () => {
  it('when the port dies, the name`s holder is told, and the dead name gains a user reference', () => {
    const { k, a, b, svc, notify } = setup();
    k.modRefs(a, SVC, PortRight.SEND, 1); // two user references
    expect(k.requestNotification(a, SVC, 'dead-name', 0, notify)).toBe(MACH_PORT_NULL);
    expect((k.type(a, SVC) >>> 0) & TYPE_DNREQUEST).toBeTruthy();
    k.destroy(b, svc);
    const msgs = drain(k, a, notify);
    expect(msgs.map((m) => m.id)).toEqual([NotifyId.DEAD_NAME]);
    expect(notifications(msgs)).toEqual([{ kind: 'dead-name', name: SVC }]);
    // "a send right with two user refs ... turns into a dead name with three user refs"
    expect(rightsOf(k, a, SVC)).toBe(PortType.DEAD_NAME);
    expect(k.getRefs(a, SVC, PortRight.DEAD_NAME)).toBe(3);
    expect((k.type(a, SVC) >>> 0) & TYPE_DNREQUEST).toBe(0);
    expectConsistent(k);
  });

  it('works for send-once rights too (the dead name then has two references)', () => {
    const { k, a, b, svc, notify } = setup();
    k.insertRight(a, 0x610, b, svc, Disposition.MAKE_SEND_ONCE);
    k.requestNotification(a, 0x610, 'dead-name', 0, notify);
    k.destroy(b, svc);
    expect(notifications(drain(k, a, notify))).toEqual([{ kind: 'dead-name', name: 0x610 }]);
    expect(k.getRefs(a, 0x610, PortRight.DEAD_NAME)).toBe(2);
    expectConsistent(k);
  });

  it('the extra reference never takes a dead name past MACH_PORT_UREFS_MAX', () => {
    const { k, a, b, svc, notify } = setup();
    k.modRefs(a, SVC, PortRight.SEND, MACH_PORT_UREFS_MAX - 1);
    k.requestNotification(a, SVC, 'dead-name', 0, notify);
    k.destroy(b, svc);
    expect(k.getRefs(a, SVC, PortRight.DEAD_NAME)).toBe(MACH_PORT_UREFS_MAX);
    expect(notifications(drain(k, a, notify))).toEqual([{ kind: 'dead-name', name: SVC }]);
    expectConsistent(k);
  });

  it('a name that is already dead gets an immediate notification with sync 1, and an extra reference', () => {
    const { k, a, b, svc, notify } = setup();
    k.destroy(b, svc);
    expect(k.getRefs(a, SVC, PortRight.DEAD_NAME)).toBe(1);
    k.requestNotification(a, SVC, 'dead-name', 1, notify);
    expect(notifications(drain(k, a, notify))).toEqual([{ kind: 'dead-name', name: SVC }]);
    expect(k.getRefs(a, SVC, PortRight.DEAD_NAME)).toBe(2);
    expectConsistent(k);
  });

  it('a name that is already dead with sync 0, or with no notify port, gives KERN_INVALID_ARGUMENT', () => {
    const { k, a, b, svc, notify } = setup();
    k.destroy(b, svc);
    expectMachError(
      () => k.requestNotification(a, SVC, 'dead-name', 0, notify),
      'KERN_INVALID_ARGUMENT',
    );
    expectMachError(
      () => k.requestNotification(a, SVC, 'dead-name', 1, MACH_PORT_NULL),
      'KERN_INVALID_ARGUMENT',
    );
    expect(k.getRefs(a, SVC, PortRight.DEAD_NAME)).toBe(1);
    expect(k.getAttributes(a, notify)).toMatchObject({ msgcount: 0, sorights: 0 });
  });

  it('an immediate notification that would overflow the dead name`s references gives KERN_UREFS_OVERFLOW', () => {
    const { k, a, b, svc, notify } = setup();
    k.destroy(b, svc);
    k.modRefs(a, SVC, PortRight.DEAD_NAME, MACH_PORT_UREFS_MAX - 1);
    expectMachError(
      () => k.requestNotification(a, SVC, 'dead-name', 1, notify),
      'KERN_UREFS_OVERFLOW',
    );
    expect(k.getAttributes(a, notify)).toMatchObject({ msgcount: 0, sorights: 0 });
  });

  it('registering is an atomic swap that returns the previous send-once right; NULL cancels', () => {
    const { k, a, b, svc, notify } = setup();
    const notify2 = newPort(k, a, 'notify2');
    k.requestNotification(a, SVC, 'dead-name', 0, notify);
    const prev = k.requestNotification(a, SVC, 'dead-name', 0, notify2);
    expect(rightsOf(k, a, prev)).toBe(PortType.SEND_ONCE);
    expect(portOf(a, prev)).toBe(portOf(a, notify));
    const prev2 = k.requestNotification(a, SVC, 'dead-name', 0, MACH_PORT_NULL);
    expect(portOf(a, prev2)).toBe(portOf(a, notify2));
    k.destroy(b, svc);
    expect(drain(k, a, notify2)).toEqual([]); // cancelled: no notification
    expect(k.getRefs(a, SVC, PortRight.DEAD_NAME)).toBe(1);
    expectConsistent(k);
  });

  it('a receive right can carry a dead-name request; mach_port_destroy then gives port-deleted', () => {
    const { k, a, notify } = setup();
    const r = newPort(k, a, 'r');
    k.requestNotification(a, r, 'dead-name', 0, notify);
    k.destroy(a, r);
    expect(notifications(drain(k, a, notify))).toEqual([{ kind: 'port-deleted', name: r }]);
    expectConsistent(k);
  });

  it('is refused for a port set (KERN_INVALID_RIGHT), an unknown name (KERN_INVALID_NAME), a bad notify port (KERN_INVALID_CAPABILITY), an unknown variant (KERN_INVALID_VALUE)', () => {
    const { k, a, notify } = setup();
    const set = k.allocate(a, PortRight.PORT_SET);
    expectMachError(
      () => k.requestNotification(a, set, 'dead-name', 0, notify),
      'KERN_INVALID_RIGHT',
    );
    expectMachError(
      () => k.requestNotification(a, 0x999, 'dead-name', 0, notify),
      'KERN_INVALID_NAME',
    );
    expectMachError(
      () => k.requestNotification(a, SVC, 'dead-name', 0, SVC),
      'KERN_INVALID_CAPABILITY',
    );
    expectMachError(
      () => k.requestNotification(a, SVC, 'dead-name', 0, 0x999),
      'KERN_INVALID_CAPABILITY',
    );
    expectMachError(
      () => k.requestNotification(a, SVC, 'dead-name', 0, notify, Disposition.MAKE_SEND),
      'KERN_INVALID_VALUE',
    );
    expectMachError(
      () => k.requestNotification(a, SVC, 'bogus' as never, 0, notify),
      'KERN_INVALID_VALUE',
    );
    expect(k.getAttributes(a, notify).sorights).toBe(0);
    expectConsistent(k);
  });

  it('notifications ignore the notify port`s queue limit', () => {
    const { k, a, b, svc, notify } = setup();
    k.setQlimit(a, notify, 0);
    k.requestNotification(a, SVC, 'dead-name', 0, notify);
    k.destroy(b, svc);
    expect(k.getAttributes(a, notify).msgcount).toBe(1);
  });
});

describe('port-deleted notifications: the name stopped denoting a right while a dead-name request was registered', () => {
  it('deallocating the last send reference', () => {
    const { k, a, notify } = setup();
    k.requestNotification(a, SVC, 'dead-name', 0, notify);
    k.deallocate(a, SVC);
    const msgs = drain(k, a, notify);
    expect(msgs.map((m) => m.id)).toEqual([NotifyId.PORT_DELETED]);
    expect(notifications(msgs)).toEqual([{ kind: 'port-deleted', name: SVC }]);
    expectConsistent(k);
  });

  it('not while user references remain', () => {
    const { k, a, notify } = setup();
    k.modRefs(a, SVC, PortRight.SEND, 1);
    k.requestNotification(a, SVC, 'dead-name', 0, notify);
    k.deallocate(a, SVC);
    expect(drain(k, a, notify)).toEqual([]);
    k.modRefs(a, SVC, PortRight.SEND, -1);
    expect(notifications(drain(k, a, notify))).toEqual([{ kind: 'port-deleted', name: SVC }]);
  });

  it('moving the last reference away in a message', () => {
    const { k, a, b, c, notify } = setup();
    const other = newPort(k, c, 'other');
    giveSend(k, c, other, a, 0x600);
    k.requestNotification(a, SVC, 'dead-name', 0, notify);
    k.send(
      a,
      simple(0x600, 1, { body: [{ type: 'port', name: SVC, disposition: Disposition.MOVE_SEND }] }),
    );
    expect(notifications(drain(k, a, notify))).toEqual([{ kind: 'port-deleted', name: SVC }]);
    expect(b.names().length).toBe(1);
    expectConsistent(k);
  });

  it('sending a message through a send-once right that has a dead-name request', () => {
    const { k, a, b, svc, notify } = setup();
    k.insertRight(a, 0x610, b, svc, Disposition.MAKE_SEND_ONCE);
    k.requestNotification(a, 0x610, 'dead-name', 0, notify);
    k.send(a, { remotePort: 0x610, remoteDisposition: Disposition.MOVE_SEND_ONCE, id: 9 });
    expect(notifications(drain(k, a, notify))).toEqual([{ kind: 'port-deleted', name: 0x610 }]);
    expect(receiveNow(k, b, svc).id).toBe(9);
    expectConsistent(k);
  });

  it('mach_port_destroy of the name', () => {
    const { k, a, notify } = setup();
    k.requestNotification(a, SVC, 'dead-name', 0, notify);
    k.destroy(a, SVC);
    expect(notifications(drain(k, a, notify))).toEqual([{ kind: 'port-deleted', name: SVC }]);
  });
});

describe('no-senders notifications (MACH_NOTIFY_NO_SENDERS)', () => {
  it('fires when the last send right anywhere goes, carrying the make-send count', () => {
    const { k, a, b, c, svc } = setup();
    giveSend(k, b, svc, c, 0x700); // mscount 2
    const ns = newPort(k, b, 'ns');
    k.requestNotification(b, svc, 'no-senders', 0, ns);
    k.deallocate(a, SVC);
    expect(drain(k, b, ns)).toEqual([]); // c still holds one
    k.deallocate(c, 0x700);
    const msgs = drain(k, b, ns);
    expect(msgs.map((m) => m.id)).toEqual([NotifyId.NO_SENDERS]);
    expect(notifications(msgs)).toEqual([{ kind: 'no-senders', mscount: 2 }]);
    expectConsistent(k);
  });

  it('is immediate when the make-send count has reached sync and no send rights exist', () => {
    const { k, b } = setup();
    const p = newPort(k, b, 'p');
    const ns = newPort(k, b, 'ns');
    k.requestNotification(b, p, 'no-senders', 0, ns);
    expect(notifications(drain(k, b, ns))).toEqual([{ kind: 'no-senders', mscount: 0 }]);
  });

  it('is not immediate when the make-send count is below sync: it waits for the next last send right', () => {
    const { k, a, b } = setup();
    const p = newPort(k, b, 'p');
    const ns = newPort(k, b, 'ns');
    k.requestNotification(b, p, 'no-senders', 1, ns);
    expect(drain(k, b, ns)).toEqual([]);
    giveSend(k, b, p, a, 0x700);
    k.deallocate(a, 0x700);
    expect(notifications(drain(k, b, ns))).toEqual([{ kind: 'no-senders', mscount: 1 }]);
  });

  it('once registered, fires when the last send right goes even if the make-send count is below sync', () => {
    // "Otherwise the notification is generated when the receive right next loses its last
    // extant send right." (mach_port_request_notification, MACH_NOTIFY_NO_SENDERS)
    const { k, a, b, svc } = setup();
    const ns = newPort(k, b, 'ns');
    k.requestNotification(b, svc, 'no-senders', 5, ns);
    expect(drain(k, b, ns)).toEqual([]);
    k.deallocate(a, SVC);
    expect(notifications(drain(k, b, ns))).toEqual([{ kind: 'no-senders', mscount: 1 }]);
  });

  it('a send right inside a queued message is a sender: the notification waits until it is gone', () => {
    const { k, a, b, c, svc } = setup();
    const ns = newPort(k, b, 'ns');
    k.requestNotification(b, svc, 'no-senders', 0, ns);
    const other = newPort(k, c, 'other');
    giveSend(k, c, other, a, 0x600);
    // a moves its only send right to svc into a message queued on c's port.
    k.send(
      a,
      simple(0x600, 1, { body: [{ type: 'port', name: SVC, disposition: Disposition.MOVE_SEND }] }),
    );
    expectMachError(() => k.type(a, SVC), 'KERN_INVALID_NAME');
    expect(drain(k, b, ns)).toEqual([]);
    // The message is destroyed with its port: the last send right goes with it.
    k.destroy(c, other);
    expect(notifications(drain(k, b, ns))).toEqual([{ kind: 'no-senders', mscount: 1 }]);
    expectConsistent(k);
  });

  it('the send right a message was sent with counts until the message is received', () => {
    const { k, a, b, svc } = setup();
    const ns = newPort(k, b, 'ns');
    k.requestNotification(b, svc, 'no-senders', 0, ns);
    k.send(a, { remotePort: SVC, remoteDisposition: Disposition.MOVE_SEND, id: 1 });
    expect(drain(k, b, ns)).toEqual([]);
    receiveNow(k, b, svc);
    expect(notifications(drain(k, b, ns))).toEqual([{ kind: 'no-senders', mscount: 1 }]);
  });

  it('send-once rights are not senders', () => {
    const { k, a, b, svc } = setup();
    k.insertRight(a, 0x610, b, svc, Disposition.MAKE_SEND_ONCE);
    const ns = newPort(k, b, 'ns');
    k.requestNotification(b, svc, 'no-senders', 0, ns);
    k.deallocate(a, SVC);
    expect(notifications(drain(k, b, ns))).toEqual([{ kind: 'no-senders', mscount: 1 }]);
    expect(rightsOf(k, a, 0x610)).toBe(PortType.SEND_ONCE);
  });

  it('returns the previously registered right, and needs a receive right', () => {
    const { k, a, b, svc } = setup();
    const ns = newPort(k, b, 'ns');
    k.requestNotification(b, svc, 'no-senders', 0, ns);
    const prev = k.requestNotification(b, svc, 'no-senders', 0, MACH_PORT_NULL);
    expect(rightsOf(k, b, prev)).toBe(PortType.SEND_ONCE);
    expect(portOf(b, prev)).toBe(portOf(b, ns));
    const notify = newPort(k, a, 'a-notify');
    expectMachError(
      () => k.requestNotification(a, SVC, 'no-senders', 0, notify),
      'KERN_INVALID_RIGHT',
    );
    expectConsistent(k);
  });

  it('when the port dies first, the registered right yields a send-once notification instead', () => {
    const { k, b, svc } = setup();
    const ns = newPort(k, b, 'ns');
    k.requestNotification(b, svc, 'no-senders', 0, ns);
    k.destroy(b, svc);
    expect(notifications(drain(k, b, ns))).toEqual([{ kind: 'send-once' }]);
  });
});

describe('port-destroyed notifications (MACH_NOTIFY_PORT_DESTROYED)', () => {
  it('destroying the receive right sends it in the notification instead; the port keeps its queue', () => {
    const { k, a, b, c, svc } = setup();
    const guard = newPort(k, c, 'guard');
    k.insertRight(b, 0x800, c, guard, Disposition.MAKE_SEND_ONCE);
    k.requestNotification(b, svc, 'port-destroyed', 0, 0x800, Disposition.MOVE_SEND_ONCE);
    k.send(a, simple(SVC, 1));
    k.send(a, simple(SVC, 2));
    receiveNow(k, b, svc);
    k.destroy(b, svc);
    expectMachError(() => k.type(b, svc), 'KERN_INVALID_NAME');
    expect(rightsOf(k, a, SVC)).toBe(PortType.SEND); // not a dead name: the port lives
    const msgs = drain(k, c, guard);
    expect(msgs.map((m) => m.id)).toEqual([NotifyId.PORT_DESTROYED]);
    const n = decodeNotification(msgs[0]!);
    expect(n?.kind).toBe('port-destroyed');
    const rescued = n?.kind === 'port-destroyed' ? n.rights : 0;
    expect((msgs[0]!.body[0] as ReceivedPortItem).right).toBe(ReceivedRight.PORT_RECEIVE);
    expect(rightsOf(k, c, rescued)).toBe(PortType.RECEIVE);
    // The queued message is still there, and senders still reach the port.
    k.send(a, simple(SVC, 3));
    expect(drain(k, c, rescued).map((m) => [m.id, m.seqno])).toEqual([
      [2, 0],
      [3, 1],
    ]);
    expectConsistent(k);
  });

  it('also rescues the port when its holder`s task ends', () => {
    const { k, a, b, c, svc } = setup();
    const guard = newPort(k, c, 'guard');
    k.insertRight(b, 0x800, c, guard, Disposition.MAKE_SEND_ONCE);
    k.requestNotification(b, svc, 'port-destroyed', 0, 0x800, Disposition.MOVE_SEND_ONCE);
    k.destroySpace(b);
    const n = decodeNotification(receiveNow(k, c, guard));
    expect(n?.kind).toBe('port-destroyed');
    expect(rightsOf(k, a, SVC)).toBe(PortType.SEND);
    expectConsistent(k);
  });

  it('is one-shot: destroying the rescued right again kills the port', () => {
    const { k, a, b, svc } = setup();
    const guard = newPort(k, b, 'guard');
    k.requestNotification(b, svc, 'port-destroyed', 0, guard);
    k.destroy(b, svc);
    const n = decodeNotification(receiveNow(k, b, guard));
    const rescued = n?.kind === 'port-destroyed' ? n.rights : 0;
    k.destroy(b, rescued);
    expect(rightsOf(k, a, SVC)).toBe(PortType.DEAD_NAME);
    expectConsistent(k);
  });

  it('survives a move of the receive right (principles ch. 4)', () => {
    const { k, a, b, c, svc } = setup();
    const guard = newPort(k, a, 'guard');
    k.insertRight(b, 0x800, a, guard, Disposition.MAKE_SEND_ONCE);
    k.requestNotification(b, svc, 'port-destroyed', 0, 0x800, Disposition.MOVE_SEND_ONCE);
    const inC = k.extractRight(b, svc, Disposition.MOVE_RECEIVE, c);
    k.destroy(c, inC);
    const n = decodeNotification(receiveNow(k, a, guard));
    // a already holds send rights to the port, so the rescued receive right joins that name.
    expect(n).toEqual({ kind: 'port-destroyed', rights: SVC });
    expect(rightsOf(k, a, SVC)).toBe(PortType.SEND | PortType.RECEIVE);
    expectConsistent(k);
  });

  it('needs sync 0 (KERN_INVALID_VALUE) and a receive right (KERN_INVALID_RIGHT)', () => {
    const { k, a, b, svc, notify } = setup();
    const guard = newPort(k, b, 'guard');
    expectMachError(
      () => k.requestNotification(b, svc, 'port-destroyed', 1, guard),
      'KERN_INVALID_VALUE',
    );
    expectMachError(
      () => k.requestNotification(a, SVC, 'port-destroyed', 0, notify),
      'KERN_INVALID_RIGHT',
    );
    expect(k.getAttributes(b, guard).sorights).toBe(0);
  });
});

describe('send-once notifications: every send-once right yields exactly one message', () => {
  it('a send-once right deallocated unused sends a send-once notification to its port', () => {
    const { k, a, b, svc } = setup();
    k.insertRight(a, 0x610, b, svc, Disposition.MAKE_SEND_ONCE);
    k.deallocate(a, 0x610);
    const msgs = drain(k, b, svc);
    expect(msgs.map((m) => [m.id, m.localRight])).toEqual([
      [NotifyId.SEND_ONCE, ReceivedRight.PORT_SEND_ONCE],
    ]);
    expect(notifications(msgs)).toEqual([{ kind: 'send-once' }]);
    expect(k.getAttributes(b, svc).sorights).toBe(0);
    expectConsistent(k);
  });

  it('a send-once right destroyed inside a destroyed message sends one too', () => {
    const { k, a, b, c, svc } = setup();
    const reply = newPort(k, c, 'reply');
    giveSend(k, b, svc, c, 0x900);
    k.send(c, simple(0x900, 1, { localPort: reply, localDisposition: Disposition.MAKE_SEND_ONCE }));
    k.send(
      c,
      simple(0x900, 2, {
        body: [{ type: 'port', name: reply, disposition: Disposition.MAKE_SEND_ONCE }],
      }),
    );
    k.destroy(b, svc); // both queued messages die, each with a send-once right for `reply`
    expect(notifications(drain(k, c, reply))).toEqual([
      { kind: 'send-once' },
      { kind: 'send-once' },
    ]);
    expect(rightsOf(k, a, SVC)).toBe(PortType.DEAD_NAME);
    expectConsistent(k);
  });

  it('mach_port_destroy and the end of the holding task destroy send-once rights the same way', () => {
    const { k, a, b, c, svc } = setup();
    k.insertRight(a, 0x610, b, svc, Disposition.MAKE_SEND_ONCE);
    k.insertRight(c, 0x611, b, svc, Disposition.MAKE_SEND_ONCE);
    k.destroy(a, 0x610);
    k.destroySpace(c);
    expect(notifications(drain(k, b, svc))).toEqual([{ kind: 'send-once' }, { kind: 'send-once' }]);
    expectConsistent(k);
  });

  it('a send-once right for a dead port yields nothing', () => {
    const { k, a, b, svc } = setup();
    k.insertRight(a, 0x610, b, svc, Disposition.MAKE_SEND_ONCE);
    k.destroy(b, svc);
    k.deallocate(a, 0x610);
    expect(a.names()).not.toContain(0x610);
    expectConsistent(k);
  });

  it('a used send-once right yields only its message', () => {
    const { k, a, b, svc } = setup();
    k.insertRight(a, 0x610, b, svc, Disposition.MAKE_SEND_ONCE);
    k.send(a, { remotePort: 0x610, remoteDisposition: Disposition.MOVE_SEND_ONCE, id: 5 });
    expect(drain(k, b, svc).map((m) => m.id)).toEqual([5]);
    expect(k.getAttributes(b, svc).sorights).toBe(0);
  });
});

describe('decodeNotification', () => {
  it('returns null for ordinary messages', () => {
    const { k, a, b, svc } = setup();
    k.send(a, simple(SVC, NotifyId.DEAD_NAME)); // a notification id but no body
    k.send(a, simple(SVC, 1234));
    expect(drain(k, b, svc).map((m) => decodeNotification(m))).toEqual([null, null]);
  });
});
