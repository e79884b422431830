/**
 * Port rights, port name spaces and message dispositions, with Mach's user-reference counting.
 * Sources: mach3-kernel-interfaces.txt, mach_msg "Port Rights" (the MACH_MSG_TYPE_* dispositions
 * and the PORT_* values a receiver sees) and the mach_port_* calls; mach3-kernel-principles.txt
 * chapter 4, "Port Name Space".
 */
import { describe, expect, it } from 'vitest';
import type { IpcKernel } from '../src/actors/ipcKernel.ts';
import type { PortSpace } from '../src/actors/portSpace.ts';
import type { MessageItem, ReceivedPortItem } from '../src/protocol/message.ts';
import {
  Disposition,
  MACH_PORT_DEAD,
  MACH_PORT_NULL,
  MACH_PORT_QLIMIT_DEFAULT,
  MACH_PORT_UREFS_MAX,
  PortRight,
  PortType,
  ReceivedRight,
} from '../src/protocol/rights.ts';
import {
  expectConsistent,
  expectMachError,
  giveSend,
  makeFixture,
  newPort,
  portOf,
  receiveNow,
  rightsOf,
  TYPE_DNREQUEST,
} from './support/ipcFixtures.ts';

const SVC = 0x500; // a's name for b's service port

/** a holds a send right (SVC) to a service port whose receive right b holds. */
function service() {
  const f = makeFixture();
  const svc = newPort(f.k, f.b, 'svc');
  giveSend(f.k, f.b, svc, f.a, SVC);
  return { ...f, svc };
}

/** Sends one body item from a to b's service port and returns what b received. */
function carry(k: IpcKernel, a: PortSpace, b: PortSpace, svc: number, item: MessageItem) {
  k.send(a, { remotePort: SVC, remoteDisposition: Disposition.COPY_SEND, id: 1, body: [item] });
  const m = receiveNow(k, b, svc);
  return m.body[0] as ReceivedPortItem;
}

const port = (name: number, disposition: Disposition): MessageItem => ({
  type: 'port',
  name,
  disposition,
});

describe('port names are local to a space (principles ch. 4, Port Name Space)', () => {
  it('a name one space holds means nothing in another space', () => {
    const { k, a, b } = makeFixture();
    const r = newPort(k, a);
    expectMachError(() => k.type(b, r), 'KERN_INVALID_NAME');
    expectMachError(
      () => k.send(b, { remotePort: r, remoteDisposition: Disposition.MAKE_SEND, id: 1 }),
      'MACH_SEND_INVALID_DEST',
    );
    expect(rightsOf(k, a, r)).toBe(PortType.RECEIVE);
  });

  it('the same name can denote different ports in different spaces', () => {
    const { k, a, b } = makeFixture();
    k.allocate(a, PortRight.RECEIVE, 'pa', 0x700);
    k.allocate(b, PortRight.RECEIVE, 'pb', 0x700);
    expect(portOf(a, 0x700)).not.toBe(portOf(b, 0x700));
  });

  it('a received right gets a name chosen in the receiving space, for the same port', () => {
    const { k, a, b, svc } = service();
    const mine = newPort(k, a, 'mine');
    const got = carry(k, a, b, svc, port(mine, Disposition.MAKE_SEND));
    expect(portOf(b, got.name)).toBe(portOf(a, mine));
    expectConsistent(k);
  });
});

describe('mach_port_allocate and mach_port_allocate_name', () => {
  it('a new receive right has no send rights, mscount 0, seqno 0, the default queue limit', () => {
    const { k, a } = makeFixture();
    const r = newPort(k, a);
    expect(rightsOf(k, a, r)).toBe(PortType.RECEIVE);
    expect(k.getAttributes(a, r)).toEqual({
      qlimit: MACH_PORT_QLIMIT_DEFAULT,
      msgcount: 0,
      seqno: 0,
      mscount: 0,
      srights: false,
      sorights: 0,
      inSet: false,
    });
  });

  it('allocates port sets and dead names (a new dead name has one user reference)', () => {
    const { k, a } = makeFixture();
    const set = k.allocate(a, PortRight.PORT_SET);
    const dead = k.allocate(a, PortRight.DEAD_NAME);
    expect(rightsOf(k, a, set)).toBe(PortType.PORT_SET);
    expect(rightsOf(k, a, dead)).toBe(PortType.DEAD_NAME);
    expect(k.getRefs(a, dead, PortRight.DEAD_NAME)).toBe(1);
  });

  it('cannot allocate a send or send-once right out of nothing: KERN_INVALID_VALUE', () => {
    const { k, a } = makeFixture();
    expectMachError(() => k.allocate(a, PortRight.SEND), 'KERN_INVALID_VALUE');
    expectMachError(() => k.allocate(a, PortRight.SEND_ONCE), 'KERN_INVALID_VALUE');
    expect(a.names()).toEqual([]);
  });

  it('allocate_name takes the given name, refuses one in use (KERN_NAME_EXISTS) and NULL/DEAD (KERN_INVALID_VALUE)', () => {
    const { k, a } = makeFixture();
    expect(k.allocate(a, PortRight.RECEIVE, 'x', 0x42)).toBe(0x42);
    expectMachError(() => k.allocate(a, PortRight.DEAD_NAME, 'y', 0x42), 'KERN_NAME_EXISTS');
    expectMachError(
      () => k.allocate(a, PortRight.RECEIVE, 'z', MACH_PORT_NULL),
      'KERN_INVALID_VALUE',
    );
    expectMachError(
      () => k.allocate(a, PortRight.RECEIVE, 'z', MACH_PORT_DEAD),
      'KERN_INVALID_VALUE',
    );
    expect(a.names()).toEqual([0x42]);
  });

  it('never hands out a name that is in use', () => {
    const { k, a } = makeFixture();
    const names = new Set<number>();
    k.allocate(a, PortRight.RECEIVE, 'fixed', 0x104);
    names.add(0x104);
    for (let i = 0; i < 20; i++) {
      const n = k.allocate(a, PortRight.RECEIVE);
      expect(names.has(n)).toBe(false);
      names.add(n);
    }
  });

  it('a terminated task cannot allocate: KERN_INVALID_TASK', () => {
    const { k, a } = makeFixture();
    k.destroySpace(a);
    expectMachError(() => k.allocate(a, PortRight.RECEIVE), 'KERN_INVALID_TASK');
  });
});

describe('MAKE_SEND: a send right made from the receive right (mach_msg, Port Rights)', () => {
  it('in the body: the receiver gets a send right and the make-send count goes up', () => {
    const { k, a, b, svc } = service();
    const mine = newPort(k, a, 'mine');
    const got = carry(k, a, b, svc, port(mine, Disposition.MAKE_SEND));
    expect(got.right).toBe(ReceivedRight.PORT_SEND);
    expect(rightsOf(k, b, got.name)).toBe(PortType.SEND);
    expect(k.getRefs(b, got.name, PortRight.SEND)).toBe(1);
    expect(k.getAttributes(a, mine)).toMatchObject({ mscount: 1, srights: true });
    expect(rightsOf(k, a, mine)).toBe(PortType.RECEIVE); // the sender's rights are unchanged
    expectConsistent(k);
  });

  it('as the reply port: the receiver gets a send right as msgh_remote_port', () => {
    const { k, a, b, svc } = service();
    const reply = newPort(k, a, 'reply');
    k.send(a, {
      remotePort: SVC,
      remoteDisposition: Disposition.COPY_SEND,
      localPort: reply,
      localDisposition: Disposition.MAKE_SEND,
      id: 1,
    });
    const m = receiveNow(k, b, svc);
    expect(m.remoteRight).toBe(ReceivedRight.PORT_SEND);
    expect(portOf(b, m.remotePort)).toBe(portOf(a, reply));
    expect(k.getAttributes(a, reply).mscount).toBe(1);
    expectConsistent(k);
  });

  it('as the destination: the message is sent to a right made on the fly and consumed at receipt', () => {
    const { k, a } = makeFixture();
    const mine = newPort(k, a);
    k.send(a, { remotePort: mine, remoteDisposition: Disposition.MAKE_SEND, id: 9 });
    expect(k.getAttributes(a, mine)).toMatchObject({ mscount: 1, srights: true, msgcount: 1 });
    const m = receiveNow(k, a, mine);
    expect(m.localRight).toBe(ReceivedRight.PORT_SEND);
    expect(m.localPort).toBe(mine);
    expect(k.getAttributes(a, mine)).toMatchObject({ mscount: 1, srights: false });
    expectConsistent(k);
  });

  it('needs a receive right: a send right alone gives MACH_SEND_INVALID_RIGHT', () => {
    const { k, a, b, svc } = service();
    const e = expectMachError(
      () =>
        k.send(a, {
          remotePort: SVC,
          remoteDisposition: Disposition.COPY_SEND,
          id: 1,
          body: [port(SVC, Disposition.MAKE_SEND)],
        }),
      'MACH_SEND_INVALID_RIGHT',
    );
    expect(e.detail).toMatch(/MAKE_SEND needs a receive right/);
    expect(k.getAttributes(b, svc).msgcount).toBe(0);
  });
});

describe('COPY_SEND: the message carries a copy; the sender keeps its user references', () => {
  it('in the body', () => {
    const { k, a, b, c, svc } = service();
    const other = newPort(k, c, 'other');
    giveSend(k, c, other, a, 0x600);
    k.modRefs(a, 0x600, PortRight.SEND, 2); // 3 urefs
    const got = carry(k, a, b, svc, port(0x600, Disposition.COPY_SEND));
    expect(got.right).toBe(ReceivedRight.PORT_SEND);
    expect(portOf(b, got.name)).toBe(portOf(c, other));
    expect(k.getRefs(a, 0x600, PortRight.SEND)).toBe(3);
    expectConsistent(k);
  });

  it('as the destination, repeatedly, without using up the right', () => {
    const { k, a, b, svc } = service();
    for (let i = 0; i < 3; i++)
      k.send(a, { remotePort: SVC, remoteDisposition: Disposition.COPY_SEND, id: i });
    expect(k.getRefs(a, SVC, PortRight.SEND)).toBe(1);
    expect(k.getAttributes(b, svc).msgcount).toBe(3);
    expectConsistent(k);
  });

  it('as the reply port', () => {
    const { k, a, b, c, svc } = service();
    const other = newPort(k, c, 'other');
    giveSend(k, c, other, a, 0x600);
    k.send(a, {
      remotePort: SVC,
      remoteDisposition: Disposition.COPY_SEND,
      localPort: 0x600,
      localDisposition: Disposition.COPY_SEND,
      id: 1,
    });
    const m = receiveNow(k, b, svc);
    expect(m.remoteRight).toBe(ReceivedRight.PORT_SEND);
    expect(portOf(b, m.remotePort)).toBe(portOf(c, other));
    expect(k.getRefs(a, 0x600, PortRight.SEND)).toBe(1);
  });

  it('needs a send right: a receive right alone gives MACH_SEND_INVALID_RIGHT', () => {
    const { k, a, svc, b } = service();
    const mine = newPort(k, a);
    expectMachError(
      () =>
        k.send(a, {
          remotePort: SVC,
          remoteDisposition: Disposition.COPY_SEND,
          id: 1,
          body: [port(mine, Disposition.COPY_SEND)],
        }),
      'MACH_SEND_INVALID_RIGHT',
    );
    expect(k.getAttributes(b, svc).msgcount).toBe(0);
  });
});

describe('MOVE_SEND: one user reference leaves with the message', () => {
  it('with several user references the sender keeps the rest', () => {
    const { k, a, b, c, svc } = service();
    const other = newPort(k, c, 'other');
    giveSend(k, c, other, a, 0x600);
    k.modRefs(a, 0x600, PortRight.SEND, 1); // 2 urefs
    const got = carry(k, a, b, svc, port(0x600, Disposition.MOVE_SEND));
    expect(got.right).toBe(ReceivedRight.PORT_SEND);
    expect(k.getRefs(a, 0x600, PortRight.SEND)).toBe(1);
    expect(portOf(b, got.name)).toBe(portOf(c, other));
    expectConsistent(k);
  });

  it('with the last user reference the right and its name go', () => {
    const { k, a, b, c, svc } = service();
    const other = newPort(k, c, 'other');
    giveSend(k, c, other, a, 0x600);
    carry(k, a, b, svc, port(0x600, Disposition.MOVE_SEND));
    expectMachError(() => k.type(a, 0x600), 'KERN_INVALID_NAME');
    expectConsistent(k);
  });

  it('unless a receive right remains under the name', () => {
    const { k, a, b, svc } = service();
    const mine = newPort(k, a);
    k.insertRight(a, mine, a, mine, Disposition.MAKE_SEND);
    expect(rightsOf(k, a, mine)).toBe(PortType.SEND | PortType.RECEIVE);
    carry(k, a, b, svc, port(mine, Disposition.MOVE_SEND));
    expect(rightsOf(k, a, mine)).toBe(PortType.RECEIVE);
    expectConsistent(k);
  });

  it('as the destination: the message uses up the sender`s only send right', () => {
    const { k, a, b, svc } = service();
    k.send(a, { remotePort: SVC, remoteDisposition: Disposition.MOVE_SEND, id: 1 });
    expectMachError(() => k.type(a, SVC), 'KERN_INVALID_NAME');
    expect(receiveNow(k, b, svc).localRight).toBe(ReceivedRight.PORT_SEND);
    expect(k.getAttributes(b, svc).srights).toBe(false);
    expectConsistent(k);
  });

  it('as the reply port', () => {
    const { k, a, b, c, svc } = service();
    const other = newPort(k, c, 'other');
    giveSend(k, c, other, a, 0x600);
    k.send(a, {
      remotePort: SVC,
      remoteDisposition: Disposition.COPY_SEND,
      localPort: 0x600,
      localDisposition: Disposition.MOVE_SEND,
      id: 1,
    });
    expectMachError(() => k.type(a, 0x600), 'KERN_INVALID_NAME');
    const m = receiveNow(k, b, svc);
    expect(m.remoteRight).toBe(ReceivedRight.PORT_SEND);
    expect(portOf(b, m.remotePort)).toBe(portOf(c, other));
    expectConsistent(k);
  });

  it('the header is atomic: MOVE_SEND destination plus COPY_SEND reply of a one-reference right succeeds (mach_msg, Atomicity)', () => {
    const { k, a, b, svc } = service();
    k.send(a, {
      remotePort: SVC,
      remoteDisposition: Disposition.MOVE_SEND,
      localPort: SVC,
      localDisposition: Disposition.COPY_SEND,
      id: 1,
    });
    expectMachError(() => k.type(a, SVC), 'KERN_INVALID_NAME');
    const m = receiveNow(k, b, svc);
    expect(m.remotePort).toBe(svc); // the reply is a send right to b's own port: same name
    expect(rightsOf(k, b, svc)).toBe(PortType.SEND | PortType.RECEIVE);
    expectConsistent(k);
  });

  it('but moving one reference twice (destination and reply both MOVE_SEND) fails and changes nothing', () => {
    const { k, a, b, svc } = service();
    const e = expectMachError(
      () =>
        k.send(a, {
          remotePort: SVC,
          remoteDisposition: Disposition.MOVE_SEND,
          localPort: SVC,
          localDisposition: Disposition.MOVE_SEND,
          id: 1,
        }),
      'MACH_SEND_INVALID_REPLY',
    );
    expect(e.detail).toMatch(/no user references left/);
    expect(k.getRefs(a, SVC, PortRight.SEND)).toBe(1);
    expect(k.getAttributes(b, svc).msgcount).toBe(0);
  });
});

describe('MAKE_SEND_ONCE and MOVE_SEND_ONCE: send-once rights', () => {
  it('MAKE_SEND_ONCE in the body gives the receiver a send-once right; each gets a distinct name', () => {
    const { k, a, b, svc } = service();
    const mine = newPort(k, a, 'mine');
    const n1 = carry(k, a, b, svc, port(mine, Disposition.MAKE_SEND_ONCE));
    const n2 = carry(k, a, b, svc, port(mine, Disposition.MAKE_SEND_ONCE));
    expect(n1.right).toBe(ReceivedRight.PORT_SEND_ONCE);
    expect(n1.name).not.toBe(n2.name);
    for (const n of [n1.name, n2.name]) {
      expect(rightsOf(k, b, n)).toBe(PortType.SEND_ONCE);
      expect(k.getRefs(b, n, PortRight.SEND_ONCE)).toBe(1);
      expect(portOf(b, n)).toBe(portOf(a, mine));
    }
    expect(k.getAttributes(a, mine)).toMatchObject({ sorights: 2, mscount: 0 });
    expectConsistent(k);
  });

  it('MAKE_SEND_ONCE as the reply port: the usual RPC reply right', () => {
    const { k, a, b, svc } = service();
    const reply = newPort(k, a, 'reply');
    k.send(a, {
      remotePort: SVC,
      remoteDisposition: Disposition.COPY_SEND,
      localPort: reply,
      localDisposition: Disposition.MAKE_SEND_ONCE,
      id: 1,
    });
    const m = receiveNow(k, b, svc);
    expect(m.remoteRight).toBe(ReceivedRight.PORT_SEND_ONCE);
    expect(rightsOf(k, b, m.remotePort)).toBe(PortType.SEND_ONCE);
  });

  it('MAKE_SEND_ONCE as the destination', () => {
    const { k, a } = makeFixture();
    const mine = newPort(k, a);
    k.send(a, { remotePort: mine, remoteDisposition: Disposition.MAKE_SEND_ONCE, id: 3 });
    expect(k.getAttributes(a, mine).sorights).toBe(1);
    expect(receiveNow(k, a, mine).localRight).toBe(ReceivedRight.PORT_SEND_ONCE);
    expect(k.getAttributes(a, mine).sorights).toBe(0);
    expectConsistent(k);
  });

  it('MOVE_SEND_ONCE in the body: the sender loses the right, the receiver gains it', () => {
    const { k, a, b, c, svc } = service();
    const other = newPort(k, c, 'other');
    k.insertRight(a, 0x610, c, other, Disposition.MAKE_SEND_ONCE);
    const got = carry(k, a, b, svc, port(0x610, Disposition.MOVE_SEND_ONCE));
    expect(got.right).toBe(ReceivedRight.PORT_SEND_ONCE);
    expectMachError(() => k.type(a, 0x610), 'KERN_INVALID_NAME');
    expect(rightsOf(k, b, got.name)).toBe(PortType.SEND_ONCE);
    expect(k.getAttributes(c, other).sorights).toBe(1);
    expectConsistent(k);
  });

  it('MOVE_SEND_ONCE as the destination: the right is used up by the message', () => {
    const { k, a, c } = makeFixture();
    const other = newPort(k, c, 'other');
    k.insertRight(a, 0x610, c, other, Disposition.MAKE_SEND_ONCE);
    k.send(a, { remotePort: 0x610, remoteDisposition: Disposition.MOVE_SEND_ONCE, id: 5 });
    expectMachError(() => k.type(a, 0x610), 'KERN_INVALID_NAME');
    // A send-once right cannot be used twice.
    expectMachError(
      () => k.send(a, { remotePort: 0x610, remoteDisposition: Disposition.MOVE_SEND_ONCE, id: 6 }),
      'MACH_SEND_INVALID_DEST',
    );
    expect(receiveNow(k, c, other).localRight).toBe(ReceivedRight.PORT_SEND_ONCE);
    expectConsistent(k);
  });

  it('MOVE_SEND_ONCE as the reply port', () => {
    const { k, a, b, c, svc } = service();
    const other = newPort(k, c, 'other');
    k.insertRight(a, 0x610, c, other, Disposition.MAKE_SEND_ONCE);
    k.send(a, {
      remotePort: SVC,
      remoteDisposition: Disposition.COPY_SEND,
      localPort: 0x610,
      localDisposition: Disposition.MOVE_SEND_ONCE,
      id: 1,
    });
    expectMachError(() => k.type(a, 0x610), 'KERN_INVALID_NAME');
    const m = receiveNow(k, b, svc);
    expect(m.remoteRight).toBe(ReceivedRight.PORT_SEND_ONCE);
    expect(portOf(b, m.remotePort)).toBe(portOf(c, other));
  });

  it('one send-once right cannot travel twice in one message', () => {
    const { k, a, c, b, svc } = service();
    const other = newPort(k, c, 'other');
    k.insertRight(a, 0x610, c, other, Disposition.MAKE_SEND_ONCE);
    const e = expectMachError(
      () =>
        k.send(a, {
          remotePort: SVC,
          remoteDisposition: Disposition.COPY_SEND,
          id: 1,
          body: [port(0x610, Disposition.MOVE_SEND_ONCE), port(0x610, Disposition.MOVE_SEND_ONCE)],
        }),
      'MACH_SEND_INVALID_RIGHT',
    );
    expect(e.detail).toMatch(/body\[1\].*already used/);
    expect(rightsOf(k, a, 0x610)).toBe(PortType.SEND_ONCE);
    expect(k.getAttributes(b, svc).msgcount).toBe(0);
  });
});

describe('MOVE_RECEIVE: the receive right changes hands', () => {
  it('the receiver gets the receive right; the sender keeps send rights under the same name', () => {
    const { k, a, b, svc } = service();
    const mine = newPort(k, a, 'mine');
    k.insertRight(a, mine, a, mine, Disposition.MAKE_SEND);
    const got = carry(k, a, b, svc, port(mine, Disposition.MOVE_RECEIVE));
    expect(got.right).toBe(ReceivedRight.PORT_RECEIVE);
    expect(rightsOf(k, b, got.name)).toBe(PortType.RECEIVE);
    expect(rightsOf(k, a, mine)).toBe(PortType.SEND);
    expect(portOf(a, mine).receiver).toBe(b);
    expectConsistent(k);
  });

  it('resets the make-send count and sequence number but keeps queued messages (mach_msg, PORT_RECEIVE)', () => {
    const { k, a, b, svc } = service();
    const mine = newPort(k, a, 'mine');
    for (let i = 0; i < 3; i++)
      k.send(a, { remotePort: mine, remoteDisposition: Disposition.MAKE_SEND, id: 10 + i });
    receiveNow(k, a, mine); // seqno now 1
    expect(k.getAttributes(a, mine)).toMatchObject({ mscount: 3, seqno: 1, msgcount: 2 });
    const got = carry(k, a, b, svc, port(mine, Disposition.MOVE_RECEIVE));
    expect(k.getAttributes(b, got.name)).toMatchObject({ mscount: 0, seqno: 0, msgcount: 2 });
    const rest = [receiveNow(k, b, got.name), receiveNow(k, b, got.name)];
    expect(rest.map((m) => [m.id, m.seqno])).toEqual([
      [11, 0],
      [12, 1],
    ]);
    expectConsistent(k);
  });

  it('lands under the name of send rights the receiver already holds', () => {
    const { k, a, b, svc } = service();
    const mine = newPort(k, a, 'mine');
    giveSend(k, a, mine, b, 0x650);
    const got = carry(k, a, b, svc, port(mine, Disposition.MOVE_RECEIVE));
    expect(got.name).toBe(0x650);
    expect(rightsOf(k, b, 0x650)).toBe(PortType.SEND | PortType.RECEIVE);
    expectMachError(() => k.type(a, mine), 'KERN_INVALID_NAME');
    expectConsistent(k);
  });

  it('is not allowed in the header: MACH_SEND_INVALID_HEADER', () => {
    const { k, a, b, svc } = service();
    const mine = newPort(k, a);
    expectMachError(
      () =>
        k.send(a, {
          remotePort: SVC,
          remoteDisposition: Disposition.COPY_SEND,
          localPort: mine,
          localDisposition: Disposition.MOVE_RECEIVE,
          id: 1,
        }),
      'MACH_SEND_INVALID_HEADER',
    );
    expectMachError(
      () => k.send(a, { remotePort: mine, remoteDisposition: Disposition.MOVE_RECEIVE, id: 1 }),
      'MACH_SEND_INVALID_HEADER',
    );
    expect(rightsOf(k, a, mine)).toBe(PortType.RECEIVE);
    expect(k.getAttributes(b, svc).msgcount).toBe(0);
  });

  it('while the receive right is in transit, senders can still queue messages to the port', () => {
    const { k, a, b, c, svc } = service();
    const mine = newPort(k, a, 'mine');
    giveSend(k, a, mine, c, 0x660);
    k.send(a, {
      remotePort: SVC,
      remoteDisposition: Disposition.COPY_SEND,
      id: 1,
      body: [port(mine, Disposition.MOVE_RECEIVE)],
    });
    k.send(c, { remotePort: 0x660, remoteDisposition: Disposition.COPY_SEND, id: 77 });
    const m = receiveNow(k, b, svc);
    const name = (m.body[0] as ReceivedPortItem).name;
    expect(receiveNow(k, b, name).id).toBe(77);
    expectConsistent(k);
  });
});

describe('send rights coalesce under one name; send-once rights never do (principles ch. 4)', () => {
  it('receiving the same send right three times gives one name with three user references', () => {
    const { k, a, b, svc } = service();
    const mine = newPort(k, a, 'mine');
    const names = [0, 1, 2].map(() => carry(k, a, b, svc, port(mine, Disposition.MAKE_SEND)).name);
    expect(new Set(names).size).toBe(1);
    expect(k.getRefs(b, names[0]!, PortRight.SEND)).toBe(3);
    // The port counts one send right per holding space, not per user reference.
    expect(portOf(a, mine).srights).toBe(1);
    expectConsistent(k);
  });

  it('a send right for a port whose receive right the space holds shares the receive right`s name', () => {
    const { k, a, b, svc } = service();
    k.send(a, {
      remotePort: SVC,
      remoteDisposition: Disposition.COPY_SEND,
      id: 1,
      body: [port(SVC, Disposition.COPY_SEND)],
    });
    const got = receiveNow(k, b, svc).body[0] as ReceivedPortItem;
    expect(got.name).toBe(svc);
    expect(rightsOf(k, b, svc)).toBe(PortType.SEND | PortType.RECEIVE);
    expect(k.getRefs(b, svc, PortRight.SEND)).toBe(1);
    expect(k.getRefs(b, svc, PortRight.RECEIVE)).toBe(1);
  });

  it('a send-once right for a port the space holds send rights to still gets its own name', () => {
    const { k, a, b, svc } = service();
    const mine = newPort(k, a, 'mine');
    const s = carry(k, a, b, svc, port(mine, Disposition.MAKE_SEND)).name;
    const so = carry(k, a, b, svc, port(mine, Disposition.MAKE_SEND_ONCE)).name;
    expect(so).not.toBe(s);
    expect(rightsOf(k, b, s)).toBe(PortType.SEND);
    expect(rightsOf(k, b, so)).toBe(PortType.SEND_ONCE);
  });

  it('a right that would overflow the user references is destroyed; the name stays at the maximum', () => {
    const { k, a, b, svc } = service();
    const mine = newPort(k, a, 'mine');
    const n = carry(k, a, b, svc, port(mine, Disposition.MAKE_SEND)).name;
    k.modRefs(b, n, PortRight.SEND, MACH_PORT_UREFS_MAX - 1);
    expect(k.getRefs(b, n, PortRight.SEND)).toBe(MACH_PORT_UREFS_MAX);
    const again = carry(k, a, b, svc, port(mine, Disposition.MAKE_SEND));
    expect(again.name).toBe(n);
    expect(k.getRefs(b, n, PortRight.SEND)).toBe(MACH_PORT_UREFS_MAX);
    expectConsistent(k);
  });
});

describe('dead names', () => {
  it('when a port dies, send rights become dead names keeping their user references; send-once rights become dead names with one', () => {
    const { k, a, b, svc } = service();
    k.modRefs(a, SVC, PortRight.SEND, 2);
    k.insertRight(a, 0x610, b, svc, Disposition.MAKE_SEND_ONCE);
    k.destroy(b, svc);
    expect(rightsOf(k, a, SVC)).toBe(PortType.DEAD_NAME);
    expect(k.getRefs(a, SVC, PortRight.DEAD_NAME)).toBe(3);
    expect(k.getRefs(a, SVC, PortRight.SEND)).toBe(0);
    expect(rightsOf(k, a, 0x610)).toBe(PortType.DEAD_NAME);
    expect(k.getRefs(a, 0x610, PortRight.DEAD_NAME)).toBe(1);
    expectConsistent(k);
  });

  it('a dead name sent with COPY_SEND arrives as MACH_PORT_DEAD and the sender keeps its reference', () => {
    const { k, a, b, c, svc } = service();
    const other = newPort(k, c, 'other');
    giveSend(k, c, other, a, 0x600);
    k.destroy(c, other);
    const got = carry(k, a, b, svc, port(0x600, Disposition.COPY_SEND));
    expect(got.name).toBe(MACH_PORT_DEAD);
    expect(k.getRefs(a, 0x600, PortRight.DEAD_NAME)).toBe(1);
  });

  it('a dead name sent with MOVE_SEND or MOVE_SEND_ONCE loses a user reference', () => {
    const { k, a, b, c, svc } = service();
    const other = newPort(k, c, 'other');
    giveSend(k, c, other, a, 0x600);
    k.modRefs(a, 0x600, PortRight.SEND, 1);
    k.destroy(c, other);
    expect(carry(k, a, b, svc, port(0x600, Disposition.MOVE_SEND)).name).toBe(MACH_PORT_DEAD);
    expect(k.getRefs(a, 0x600, PortRight.DEAD_NAME)).toBe(1);
    expect(carry(k, a, b, svc, port(0x600, Disposition.MOVE_SEND_ONCE)).name).toBe(MACH_PORT_DEAD);
    expectMachError(() => k.type(a, 0x600), 'KERN_INVALID_NAME');
  });

  it('MACH_PORT_NULL and MACH_PORT_DEAD are always valid in place of a right in a body', () => {
    const { k, a, b, svc } = service();
    expect(carry(k, a, b, svc, port(MACH_PORT_NULL, Disposition.MOVE_RECEIVE)).name).toBe(
      MACH_PORT_NULL,
    );
    expect(carry(k, a, b, svc, port(MACH_PORT_DEAD, Disposition.COPY_SEND)).name).toBe(
      MACH_PORT_DEAD,
    );
  });

  it('a send right whose port dies in transit arrives as MACH_PORT_DEAD', () => {
    const { k, a, b, c, svc } = service();
    const other = newPort(k, c, 'other');
    giveSend(k, c, other, a, 0x600);
    k.send(a, {
      remotePort: SVC,
      remoteDisposition: Disposition.COPY_SEND,
      id: 1,
      body: [port(0x600, Disposition.COPY_SEND), port(0x600, Disposition.MOVE_SEND)],
    });
    k.destroy(c, other);
    const m = receiveNow(k, b, svc);
    expect(m.body.map((i) => (i as ReceivedPortItem).name)).toEqual([
      MACH_PORT_DEAD,
      MACH_PORT_DEAD,
    ]);
    expect(b.names()).toEqual([svc]);
    expectConsistent(k);
  });

  it('a dead name is not a destination: MACH_SEND_INVALID_DEST', () => {
    const { k, a, b, svc } = service();
    k.destroy(b, svc);
    const e = expectMachError(
      () => k.send(a, { remotePort: SVC, remoteDisposition: Disposition.COPY_SEND, id: 1 }),
      'MACH_SEND_INVALID_DEST',
    );
    expect(e.detail).toMatch(/dead name/);
    expect(k.getRefs(a, SVC, PortRight.DEAD_NAME)).toBe(1);
  });

  it('mach_port_deallocate releases dead-name references; the name goes with the last one', () => {
    const { k, a, b, svc } = service();
    k.modRefs(a, SVC, PortRight.SEND, 1);
    k.destroy(b, svc);
    k.deallocate(a, SVC);
    expect(k.getRefs(a, SVC, PortRight.DEAD_NAME)).toBe(1);
    k.deallocate(a, SVC);
    expectMachError(() => k.type(a, SVC), 'KERN_INVALID_NAME');
  });
});

describe('mach_port_deallocate', () => {
  it('drops one user reference of a send right; the right goes with the last', () => {
    const { k, a, b, svc } = service();
    k.modRefs(a, SVC, PortRight.SEND, 1);
    k.deallocate(a, SVC);
    expect(k.getRefs(a, SVC, PortRight.SEND)).toBe(1);
    k.deallocate(a, SVC);
    expectMachError(() => k.type(a, SVC), 'KERN_INVALID_NAME');
    expect(k.getAttributes(b, svc).srights).toBe(false);
    expectConsistent(k);
  });

  it('of a send right sharing a name with the receive right leaves the receive right', () => {
    const { k, a } = makeFixture();
    const r = newPort(k, a);
    k.insertRight(a, r, a, r, Disposition.MAKE_SEND);
    k.deallocate(a, r);
    expect(rightsOf(k, a, r)).toBe(PortType.RECEIVE);
    expectConsistent(k);
  });

  it('destroys a send-once right (which yields a send-once notification)', () => {
    const { k, a, b, svc } = service();
    k.insertRight(a, 0x610, b, svc, Disposition.MAKE_SEND_ONCE);
    k.deallocate(a, 0x610);
    expectMachError(() => k.type(a, 0x610), 'KERN_INVALID_NAME');
    expect(receiveNow(k, b, svc).id).toBe(0o107);
    expectConsistent(k);
  });

  it('refuses receive rights and port sets (KERN_INVALID_RIGHT) and unknown names (KERN_INVALID_NAME)', () => {
    const { k, a } = makeFixture();
    const r = newPort(k, a);
    const set = k.allocate(a, PortRight.PORT_SET);
    expectMachError(() => k.deallocate(a, r), 'KERN_INVALID_RIGHT');
    expectMachError(() => k.deallocate(a, set), 'KERN_INVALID_RIGHT');
    expectMachError(() => k.deallocate(a, 0x999), 'KERN_INVALID_NAME');
    expect(a.names()).toEqual([r, set].sort((x, y) => x - y));
  });
});

describe('mach_port_destroy', () => {
  it('removes every right the name denotes; the port dies and other spaces see dead names', () => {
    const { k, a, b, svc } = service();
    k.insertRight(b, svc, b, svc, Disposition.MAKE_SEND);
    k.destroy(b, svc);
    expectMachError(() => k.type(b, svc), 'KERN_INVALID_NAME');
    expect(rightsOf(k, a, SVC)).toBe(PortType.DEAD_NAME);
    expectConsistent(k);
  });

  it('makes the name available again at once', () => {
    const { k, a } = makeFixture();
    const r = newPort(k, a);
    k.destroy(a, r);
    expect(k.allocate(a, PortRight.DEAD_NAME, 'again', r)).toBe(r);
  });

  it('destroys the messages queued on the port, releasing the rights they carry', () => {
    const { k, a, b, c, svc } = service();
    const other = newPort(k, c, 'other');
    k.send(c, {
      remotePort: other,
      remoteDisposition: Disposition.MAKE_SEND,
      id: 1,
      body: [port(other, Disposition.MAKE_SEND)],
    });
    giveSend(k, c, other, a, 0x600);
    k.send(a, {
      remotePort: SVC,
      remoteDisposition: Disposition.COPY_SEND,
      id: 2,
      body: [port(0x600, Disposition.MOVE_SEND)],
    });
    expect(portOf(c, other).srights).toBe(3);
    k.destroy(b, svc);
    expect(portOf(c, other).srights).toBe(2);
    expectConsistent(k);
  });

  it('an unknown name gives KERN_INVALID_NAME', () => {
    const { k, a } = makeFixture();
    expectMachError(() => k.destroy(a, 0x1234), 'KERN_INVALID_NAME');
  });
});

describe('mach_port_mod_refs and mach_port_get_refs', () => {
  it('adds and removes send user references; zero destroys the right', () => {
    const { k, a, b, svc } = service();
    k.modRefs(a, SVC, PortRight.SEND, 4);
    expect(k.getRefs(a, SVC, PortRight.SEND)).toBe(5);
    k.modRefs(a, SVC, PortRight.SEND, -3);
    expect(k.getRefs(a, SVC, PortRight.SEND)).toBe(2);
    k.modRefs(a, SVC, PortRight.SEND, -2);
    expectMachError(() => k.type(a, SVC), 'KERN_INVALID_NAME');
    expect(k.getAttributes(b, svc).srights).toBe(false);
    expectConsistent(k);
  });

  it('a count that would go negative gives KERN_INVALID_VALUE and changes nothing', () => {
    const { k, a } = service();
    expectMachError(() => k.modRefs(a, SVC, PortRight.SEND, -2), 'KERN_INVALID_VALUE');
    expect(k.getRefs(a, SVC, PortRight.SEND)).toBe(1);
  });

  it('a count above MACH_PORT_UREFS_MAX gives KERN_UREFS_OVERFLOW', () => {
    const { k, a } = service();
    k.modRefs(a, SVC, PortRight.SEND, MACH_PORT_UREFS_MAX - 1);
    expectMachError(() => k.modRefs(a, SVC, PortRight.SEND, 1), 'KERN_UREFS_OVERFLOW');
    expect(k.getRefs(a, SVC, PortRight.SEND)).toBe(MACH_PORT_UREFS_MAX);
    const d = k.allocate(a, PortRight.DEAD_NAME);
    expectMachError(
      () => k.modRefs(a, d, PortRight.DEAD_NAME, MACH_PORT_UREFS_MAX),
      'KERN_UREFS_OVERFLOW',
    );
  });

  it('receive rights, send-once rights and port sets take only delta 0 or -1', () => {
    const { k, a, b, svc } = service();
    const r = newPort(k, a);
    const set = k.allocate(a, PortRight.PORT_SET);
    k.insertRight(a, 0x610, b, svc, Disposition.MAKE_SEND_ONCE);
    expectMachError(() => k.modRefs(a, r, PortRight.RECEIVE, 1), 'KERN_INVALID_VALUE');
    expectMachError(() => k.modRefs(a, 0x610, PortRight.SEND_ONCE, 1), 'KERN_INVALID_VALUE');
    expectMachError(() => k.modRefs(a, set, PortRight.PORT_SET, -2), 'KERN_INVALID_VALUE');
    k.modRefs(a, r, PortRight.RECEIVE, 0);
    expect(rightsOf(k, a, r)).toBe(PortType.RECEIVE);
    k.modRefs(a, r, PortRight.RECEIVE, -1);
    k.modRefs(a, 0x610, PortRight.SEND_ONCE, -1);
    k.modRefs(a, set, PortRight.PORT_SET, -1);
    for (const n of [r, 0x610, set]) expectMachError(() => k.type(a, n), 'KERN_INVALID_NAME');
    expectConsistent(k);
  });

  it('removing the receive right of a name that also holds send rights leaves a dead name', () => {
    const { k, a } = makeFixture();
    const r = newPort(k, a);
    k.insertRight(a, r, a, r, Disposition.MAKE_SEND);
    k.modRefs(a, r, PortRight.RECEIVE, -1);
    expect(rightsOf(k, a, r)).toBe(PortType.DEAD_NAME);
    expect(k.getRefs(a, r, PortRight.DEAD_NAME)).toBe(1);
    expectConsistent(k);
  });

  it('a name that does not denote the given right gives KERN_INVALID_RIGHT; an invalid right KERN_INVALID_VALUE', () => {
    const { k, a } = service();
    expectMachError(() => k.modRefs(a, SVC, PortRight.RECEIVE, -1), 'KERN_INVALID_RIGHT');
    expectMachError(() => k.modRefs(a, SVC, PortRight.DEAD_NAME, 1), 'KERN_INVALID_RIGHT');
    expectMachError(() => k.modRefs(a, SVC, 9 as PortRight, 1), 'KERN_INVALID_VALUE');
    expectMachError(() => k.modRefs(a, 0x999, PortRight.SEND, 1), 'KERN_INVALID_NAME');
    expect(k.getRefs(a, SVC, PortRight.SEND)).toBe(1);
  });

  it('get_refs answers 0 for a right the name does not denote, and rejects invalid rights', () => {
    const { k, a, b, svc } = service();
    k.insertRight(b, svc, b, svc, Disposition.MAKE_SEND);
    expect(k.getRefs(b, svc, PortRight.SEND)).toBe(1);
    expect(k.getRefs(b, svc, PortRight.RECEIVE)).toBe(1);
    expect(k.getRefs(b, svc, PortRight.SEND_ONCE)).toBe(0);
    expect(k.getRefs(b, svc, PortRight.DEAD_NAME)).toBe(0);
    expect(k.getRefs(a, SVC, PortRight.RECEIVE)).toBe(0);
    expectMachError(() => k.getRefs(a, SVC, 7 as PortRight), 'KERN_INVALID_VALUE');
    expectMachError(() => k.getRefs(a, 0x999, PortRight.SEND), 'KERN_INVALID_NAME');
  });
});

describe('mach_port_type', () => {
  it('reports the rights a name denotes, and MACH_PORT_TYPE_DNREQUEST when a dead-name request is registered', () => {
    const { k, a, b, svc } = service();
    const notify = newPort(k, a, 'notify');
    expect(k.type(a, SVC) >>> 0).toBe(PortType.SEND);
    k.requestNotification(a, SVC, 'dead-name', 0, notify);
    expect(k.type(a, SVC) >>> 0).toBe((PortType.SEND | TYPE_DNREQUEST) >>> 0);
    expect(k.type(b, svc) >>> 0).toBe(PortType.RECEIVE);
    expectMachError(() => k.type(a, 0x999), 'KERN_INVALID_NAME');
  });
});

describe('mach_port_insert_right', () => {
  it('MAKE_SEND into one`s own space under the receive right`s name gives a send/receive name', () => {
    const { k, a } = makeFixture();
    const r = newPort(k, a);
    k.insertRight(a, r, a, r, Disposition.MAKE_SEND);
    expect(rightsOf(k, a, r)).toBe(PortType.SEND | PortType.RECEIVE);
    expect(k.getAttributes(a, r)).toMatchObject({ mscount: 1, srights: true });
    expectConsistent(k);
  });

  it('a send right for a port the target already holds send rights to adds a user reference under that name', () => {
    const { k, a, b, svc } = service();
    k.insertRight(a, SVC, b, svc, Disposition.MAKE_SEND);
    expect(k.getRefs(a, SVC, PortRight.SEND)).toBe(2);
    expectConsistent(k);
  });

  it('MOVE_RECEIVE moves the receive right into the target', () => {
    const { k, a, b, svc } = service();
    k.insertRight(a, SVC, b, svc, Disposition.MOVE_RECEIVE);
    expect(rightsOf(k, a, SVC)).toBe(PortType.SEND | PortType.RECEIVE);
    expectMachError(() => k.type(b, svc), 'KERN_INVALID_NAME');
    expectConsistent(k);
  });

  it('a name in use for another right gives KERN_NAME_EXISTS', () => {
    const { k, a, b, c, svc } = service();
    const mine = newPort(k, a);
    const fresh = newPort(k, b, 'fresh');
    expectMachError(
      () => k.insertRight(a, mine, b, fresh, Disposition.MAKE_SEND),
      'KERN_NAME_EXISTS',
    );
    // A send-once right needs an unused name, even one that holds a send-once right for the same port.
    k.insertRight(a, 0x610, b, svc, Disposition.MAKE_SEND_ONCE);
    expectMachError(
      () => k.insertRight(a, 0x610, b, svc, Disposition.MAKE_SEND_ONCE),
      'KERN_NAME_EXISTS',
    );
    // ... and a send right cannot take over a name that holds only a send-once right.
    const other = newPort(k, c, 'other');
    k.insertRight(a, 0x611, c, other, Disposition.MAKE_SEND_ONCE);
    expectMachError(
      () => k.insertRight(a, 0x611, c, other, Disposition.MAKE_SEND),
      'KERN_NAME_EXISTS',
    );
    expect(rightsOf(k, a, 0x610)).toBe(PortType.SEND_ONCE);
    expect(rightsOf(k, a, 0x611)).toBe(PortType.SEND_ONCE);
    expectConsistent(k);
  });

  it('a send right for a port the target names differently gives KERN_RIGHT_EXISTS', () => {
    const { k, a, b, svc } = service();
    expectMachError(
      () => k.insertRight(a, 0x777, b, svc, Disposition.MAKE_SEND),
      'KERN_RIGHT_EXISTS',
    );
    expectMachError(() => k.type(a, 0x777), 'KERN_INVALID_NAME');
  });

  it('MACH_PORT_NULL or MACH_PORT_DEAD as the new name gives KERN_INVALID_VALUE', () => {
    const { k, a, b, svc } = service();
    for (const n of [MACH_PORT_NULL, MACH_PORT_DEAD])
      expectMachError(
        () => k.insertRight(a, n, b, svc, Disposition.MAKE_SEND),
        'KERN_INVALID_VALUE',
      );
  });

  it('a right type that is not a port disposition gives KERN_INVALID_VALUE', () => {
    const { k, a, b, svc } = service();
    expectMachError(() => k.insertRight(a, 0x620, b, svc, 42 as Disposition), 'KERN_INVALID_VALUE');
    expectMachError(() => k.type(a, 0x620), 'KERN_INVALID_NAME');
  });

  it('a null or dead right gives KERN_INVALID_CAPABILITY', () => {
    const { k, a, b } = makeFixture();
    for (const n of [MACH_PORT_NULL, MACH_PORT_DEAD])
      expectMachError(
        () => k.insertRight(a, 0x620, b, n, Disposition.COPY_SEND),
        'KERN_INVALID_CAPABILITY',
      );
  });

  it('a right the caller does not hold gives KERN_INVALID_RIGHT', () => {
    const { k, a, b, svc } = service();
    expectMachError(
      () => k.insertRight(b, 0x620, a, SVC, Disposition.MOVE_RECEIVE),
      'KERN_INVALID_RIGHT',
    );
    expectMachError(
      () => k.insertRight(a, 0x620, b, svc, Disposition.COPY_SEND),
      'KERN_INVALID_RIGHT',
    );
    expectMachError(
      () => k.insertRight(a, 0x620, b, 0x999, Disposition.COPY_SEND),
      'KERN_INVALID_RIGHT',
    );
    expectConsistent(k);
  });

  it('a user-reference count that would overflow gives KERN_UREFS_OVERFLOW', () => {
    const { k, a, b, svc } = service();
    k.modRefs(a, SVC, PortRight.SEND, MACH_PORT_UREFS_MAX - 1);
    const before = k.getAttributes(b, svc);
    expectMachError(
      () => k.insertRight(a, SVC, b, svc, Disposition.MAKE_SEND),
      'KERN_UREFS_OVERFLOW',
    );
    expect(k.getAttributes(b, svc)).toEqual(before);
    expect(k.getRefs(a, SVC, PortRight.SEND)).toBe(MACH_PORT_UREFS_MAX);
    expectConsistent(k);
  });
});

describe('mach_port_extract_right: as if the target sent the right', () => {
  it('extracts each kind of right and reports it in the caller`s space', () => {
    const { k, a, b, svc } = service();
    const s = k.extractRight(a, SVC, Disposition.COPY_SEND, b);
    expect(s).toBe(svc); // b holds the receive right: the send right joins its name
    expect(k.getRefs(a, SVC, PortRight.SEND)).toBe(1);
    const so = k.extractRight(b, svc, Disposition.MAKE_SEND_ONCE, a);
    expect(rightsOf(k, a, so)).toBe(PortType.SEND_ONCE);
    const moved = k.extractRight(a, SVC, Disposition.MOVE_SEND, b);
    expect(moved).toBe(svc);
    expectMachError(() => k.type(a, SVC), 'KERN_INVALID_NAME');
    const r = k.extractRight(b, svc, Disposition.MOVE_RECEIVE, a);
    expect(rightsOf(k, a, r)).toBe(PortType.RECEIVE);
    expect(rightsOf(k, b, svc)).toBe(PortType.SEND);
    expectConsistent(k);
  });

  it('an unknown name gives KERN_INVALID_NAME, the wrong right KERN_INVALID_RIGHT, a bad type KERN_INVALID_VALUE', () => {
    const { k, a, b } = service();
    expectMachError(() => k.extractRight(a, 0x999, Disposition.COPY_SEND, b), 'KERN_INVALID_NAME');
    expectMachError(
      () => k.extractRight(a, SVC, Disposition.MOVE_RECEIVE, b),
      'KERN_INVALID_RIGHT',
    );
    expectMachError(() => k.extractRight(a, SVC, 3 as Disposition, b), 'KERN_INVALID_VALUE');
    expect(k.getRefs(a, SVC, PortRight.SEND)).toBe(1);
    expect(b.names().length).toBe(1);
  });
});
