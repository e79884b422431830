/**
 * mach_msg send and receive (mach3-kernel-interfaces.txt, mach_msg: "Message Send",
 * "Message Receive", "Memory", RETURN VALUE; mach_port_set_qlimit, mach_port_set_seqno).
 * Time is virtual: blocking calls take a callback and finish on the world's clock.
 */
import { describe, expect, it } from 'vitest';
import type { ReceiveOutcome, SendOutcome } from '../src/actors/outcomes.ts';
import { decodeData, encodeData, inlineData } from '../src/protocol/codec.ts';
import {
  HEADER_BYTES,
  inlineItemBytes,
  MACH_MSG_SIZE_MAX,
  type MachMessage,
  OOL_ITEM_BYTES,
  type ReceivedPortItem,
} from '../src/protocol/message.ts';
import { NotifyId } from '../src/protocol/notifications.ts';
import {
  Disposition,
  MACH_PORT_DEAD,
  MACH_PORT_NULL,
  MACH_PORT_QLIMIT_DEFAULT,
  MACH_PORT_QLIMIT_MAX,
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
  recorder,
  rightsOf,
  simple,
  tryReceive,
} from './support/ipcFixtures.ts';

const SVC = 0x500; // the client's name for the service port

/** Client space a holds a send right SVC to b's service port `svc`. */
function service() {
  const f = makeFixture();
  const svc = newPort(f.k, f.b, 'svc');
  giveSend(f.k, f.b, svc, f.a, SVC);
  return { ...f, svc };
}

/** Fills the service port's queue up to its limit. */
function fill(k: ReturnType<typeof service>['k'], a: ReturnType<typeof service>['a'], n: number) {
  for (let i = 0; i < n; i++) expect(k.send(a, simple(SVC, 100 + i))).toBe(true);
}

describe('send and receive', () => {
  it('a message is received with its id and data; local and remote are reversed (Message Receive)', () => {
    const { k, a, b, svc } = service();
    const reply = newPort(k, a, 'reply');
    k.send(a, {
      remotePort: SVC,
      remoteDisposition: Disposition.COPY_SEND,
      localPort: reply,
      localDisposition: Disposition.MAKE_SEND,
      id: 42,
      body: [inlineData({ hello: 'world' })],
    });
    const m = receiveNow(k, b, svc);
    expect(m.id).toBe(42);
    expect(m.localPort).toBe(svc);
    expect(m.localRight).toBe(ReceivedRight.PORT_SEND);
    expect(m.remoteRight).toBe(ReceivedRight.PORT_SEND);
    expect(portOf(b, m.remotePort)).toBe(portOf(a, reply));
    const item = m.body[0]!;
    expect(item.type).toBe('inline');
    expect(decodeData(item.type === 'inline' ? item.data : new Uint8Array())).toEqual({
      hello: 'world',
    });
    expectConsistent(k);
  });

  it('msgh_size counts the header and inline data, not out-of-line data (Memory)', () => {
    const { k, a, b, svc } = service();
    const bytes = new Uint8Array(10);
    k.send(a, simple(SVC, 1, { body: [{ type: 'inline', data: bytes }] }));
    k.send(a, simple(SVC, 2, { body: [{ type: 'ool', data: new Uint8Array(100_000) }] }));
    k.send(a, simple(SVC, 3));
    expect(drain(k, b, svc).map((m) => m.size)).toEqual([
      HEADER_BYTES + inlineItemBytes(10),
      HEADER_BYTES + OOL_ITEM_BYTES,
      HEADER_BYTES,
    ]);
  });

  it('messages from one sender arrive in the order sent', () => {
    const { k, a, b, svc } = service();
    k.setQlimit(b, svc, MACH_PORT_QLIMIT_MAX);
    for (let i = 0; i < 10; i++) k.send(a, simple(SVC, i));
    expect(drain(k, b, svc).map((m) => m.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('every send and receive is a trace event at its virtual time', () => {
    const { world, k, a, b, svc } = service();
    const rec = world.trace.record();
    world.schedule(7, () => k.send(a, simple(SVC, 5)));
    world.schedule(9, () => receiveNow(k, b, svc));
    world.runUntilIdle();
    rec.stop();
    expect(rec.events.map((e) => [e.kind, e.time])).toEqual([
      ['ipc.send', 7],
      ['ipc.receive', 9],
    ]);
  });
});

describe('the queue limit (Message Send; mach_port_set_qlimit)', () => {
  it('is 5 by default: the sixth message with a zero timeout gets MACH_SEND_TIMED_OUT and changes nothing', () => {
    const { k, a, b, c, svc } = service();
    expect(k.getAttributes(b, svc).qlimit).toBe(MACH_PORT_QLIMIT_DEFAULT);
    fill(k, a, 5);
    const other = newPort(k, c, 'other');
    giveSend(k, c, other, a, 0x600);
    const e = expectMachError(
      () =>
        k.send(
          a,
          simple(SVC, 6, {
            body: [{ type: 'port', name: 0x600, disposition: Disposition.MOVE_SEND }],
          }),
          { timeout: 0 },
        ),
      'MACH_SEND_TIMED_OUT',
    );
    expect(e.detail).toMatch(/full \(5\/5\)/);
    expect(k.getAttributes(b, svc).msgcount).toBe(5);
    expect(k.getRefs(a, 0x600, PortRight.SEND)).toBe(1); // the right never left
    expectConsistent(k);
  });

  it('without a callback a send cannot block, so a full queue fails at once', () => {
    const { k, a } = service();
    fill(k, a, 5);
    expectMachError(() => k.send(a, simple(SVC, 6), { timeout: 1000 }), 'MACH_SEND_TIMED_OUT');
  });

  it('is settable from 0 to MACH_PORT_QLIMIT_MAX (16)', () => {
    const { k, a, b, svc } = service();
    k.setQlimit(b, svc, 2);
    fill(k, a, 2);
    expectMachError(() => k.send(a, simple(SVC, 3), { timeout: 0 }), 'MACH_SEND_TIMED_OUT');
    k.setQlimit(b, svc, MACH_PORT_QLIMIT_MAX);
    fill(k, a, 14);
    expect(k.getAttributes(b, svc).msgcount).toBe(16);
    expectMachError(() => k.send(a, simple(SVC, 17), { timeout: 0 }), 'MACH_SEND_TIMED_OUT');
    for (const bad of [17, -1, 2.5, Number.NaN])
      expectMachError(() => k.setQlimit(b, svc, bad), 'KERN_INVALID_VALUE');
    expect(k.getAttributes(b, svc).qlimit).toBe(MACH_PORT_QLIMIT_MAX);
    k.setQlimit(b, svc, 0);
    expect(k.getAttributes(b, svc).qlimit).toBe(0);
  });

  it('needs the receive right: KERN_INVALID_RIGHT for a send right, KERN_INVALID_NAME for no right', () => {
    const { k, a } = service();
    expectMachError(() => k.setQlimit(a, SVC, 3), 'KERN_INVALID_RIGHT');
    expectMachError(() => k.setQlimit(a, 0x999, 3), 'KERN_INVALID_NAME');
  });

  it('a blocked send is admitted when the receiver makes room, at that virtual time', () => {
    const { world, k, a, b, svc } = service();
    fill(k, a, 5);
    const rec = recorder<SendOutcome>(world);
    expect(k.send(a, simple(SVC, 6), {}, rec.done)).toBe(false);
    expect(k.getAttributes(b, svc).msgcount).toBe(5);
    world.schedule(20, () => receiveNow(k, b, svc));
    world.runUntilIdle();
    expect(rec.results).toEqual([{ at: 20, r: { ok: true } }]);
    expect(drain(k, b, svc).map((m) => m.id)).toEqual([101, 102, 103, 104, 6]);
    expectConsistent(k);
  });

  it('blocked senders are admitted in the order they blocked (none starves)', () => {
    const { world, k, a, b, svc } = service();
    fill(k, a, 5);
    const order: number[] = [];
    for (const id of [6, 7, 8]) k.send(a, simple(SVC, id), {}, () => order.push(id));
    let got: number[] = [];
    // Each receive makes room for the next blocked sender, so one drain sees them all.
    world.schedule(5, () => (got = drain(k, b, svc).map((m) => m.id)));
    world.runUntilIdle();
    expect(order).toEqual([6, 7, 8]);
    expect(got).toEqual([100, 101, 102, 103, 104, 6, 7, 8]);
  });

  it('raising the limit admits blocked senders', () => {
    const { world, k, a, b, svc } = service();
    fill(k, a, 5);
    const rec = recorder<SendOutcome>(world);
    k.send(a, simple(SVC, 6), {}, rec.done);
    k.send(a, simple(SVC, 7), {}, rec.done);
    world.schedule(3, () => k.setQlimit(b, svc, 6));
    world.runUntilIdle();
    expect(rec.results).toEqual([{ at: 3, r: { ok: true } }]);
    expect(k.getAttributes(b, svc).msgcount).toBe(6);
    expect(b.entries.get(svc)!.port!.senders!.length).toBe(1);
  });

  it('a blocked send that times out gets MACH_SEND_TIMED_OUT and its message back, rights and all (pseudo-receive)', () => {
    const { world, k, a, b, c, svc } = service();
    fill(k, a, 5);
    const moved = newPort(k, a, 'moved'); // a receive right that exists only in the message
    const other = newPort(k, c, 'other');
    giveSend(k, c, other, a, 0x600);
    const reply = newPort(k, a, 'reply');
    const rec = recorder<SendOutcome>(world);
    const sent = k.send(
      a,
      {
        remotePort: SVC,
        remoteDisposition: Disposition.COPY_SEND,
        localPort: reply,
        localDisposition: Disposition.MAKE_SEND_ONCE,
        id: 6,
        body: [
          { type: 'port', name: moved, disposition: Disposition.MOVE_RECEIVE },
          { type: 'port', name: 0x600, disposition: Disposition.MOVE_SEND },
          { type: 'ool', data: Uint8Array.of(1, 2, 3), deallocate: true },
        ],
      },
      { timeout: 50 },
      rec.done,
    );
    expect(sent).toBe(false);
    // While blocked the moved rights are in the message, not in a's space.
    expectMachError(() => k.type(a, moved), 'KERN_INVALID_NAME');
    expectMachError(() => k.type(a, 0x600), 'KERN_INVALID_NAME');
    world.runUntilIdle();
    expect(rec.results).toHaveLength(1);
    const { at, r } = rec.results[0]!;
    expect(at).toBe(50);
    if (r.ok) throw new Error('send should have timed out');
    expect(r.error.codeName).toBe('MACH_SEND_TIMED_OUT');
    const back = r.returned!;
    // Header rights are not reversed, so the message could be sent again.
    expect(back.remotePort).toBe(SVC);
    expect(back.id).toBe(6);
    // The copied destination right was in the message; it comes back as one more user reference.
    expect(k.getRefs(a, SVC, PortRight.SEND)).toBe(2);
    expect(rightsOf(k, a, back.localPort)).toBe(PortType.SEND_ONCE);
    expect(portOf(a, back.localPort)).toBe(portOf(a, reply));
    const [r0, r1, r2] = back.body as [ReceivedPortItem, ReceivedPortItem, { data: Uint8Array }];
    expect(r0.right).toBe(ReceivedRight.PORT_RECEIVE);
    expect(rightsOf(k, a, r0.name)).toBe(PortType.RECEIVE);
    expect(rightsOf(k, a, r1.name)).toBe(PortType.SEND);
    expect(portOf(a, r1.name)).toBe(portOf(c, other));
    expect([...r2.data]).toEqual([1, 2, 3]);
    expect(k.getAttributes(b, svc).msgcount).toBe(5);
    expectConsistent(k);
  });

  it('send-once messages ignore the queue limit (Message Send)', () => {
    const { k, a, b, svc } = service();
    fill(k, a, 5);
    k.insertRight(a, 0x610, b, svc, Disposition.MAKE_SEND_ONCE);
    k.insertRight(a, 0x611, b, svc, Disposition.MAKE_SEND_ONCE);
    expect(
      k.send(
        a,
        { remotePort: 0x610, remoteDisposition: Disposition.MOVE_SEND_ONCE, id: 6 },
        { timeout: 0 },
      ),
    ).toBe(true);
    expect(
      k.send(
        a,
        { remotePort: 0x611, remoteDisposition: Disposition.MOVE_SEND_ONCE, id: 7 },
        { timeout: 0 },
      ),
    ).toBe(true);
    expect(
      k.send(
        b,
        { remotePort: svc, remoteDisposition: Disposition.MAKE_SEND_ONCE, id: 8 },
        { timeout: 0 },
      ),
    ).toBe(true);
    expect(k.getAttributes(b, svc).msgcount).toBe(8);
    const ids = drain(k, b, svc).map((m) => [m.id, m.localRight]);
    expect(ids.slice(5)).toEqual([
      [6, ReceivedRight.PORT_SEND_ONCE],
      [7, ReceivedRight.PORT_SEND_ONCE],
      [8, ReceivedRight.PORT_SEND_ONCE],
    ]);
    expectConsistent(k);
  });

  it('a blocked sender whose destination dies gets MACH_SEND_INVALID_DEST and its rights back', () => {
    const { world, k, a, b, svc } = service();
    fill(k, a, 5);
    const moved = newPort(k, a, 'moved');
    const rec = recorder<SendOutcome>(world);
    k.send(
      a,
      simple(SVC, 6, {
        body: [{ type: 'port', name: moved, disposition: Disposition.MOVE_RECEIVE }],
      }),
      {},
      rec.done,
    );
    world.schedule(4, () => k.destroy(b, svc));
    world.runUntilIdle();
    const { at, r } = rec.results[0]!;
    expect(at).toBe(4);
    if (r.ok) throw new Error('expected failure');
    expect(r.error.codeName).toBe('MACH_SEND_INVALID_DEST');
    expect(r.returned!.remotePort).toBe(MACH_PORT_DEAD);
    const back = r.returned!.body[0] as ReceivedPortItem;
    expect(rightsOf(k, a, back.name)).toBe(PortType.RECEIVE);
    expectConsistent(k);
  });
});

describe('receive', () => {
  it('an empty queue with a zero timeout gives MACH_RCV_TIMED_OUT at once', () => {
    const { k, b, svc } = service();
    const e = expectMachError(() => k.receive(b, svc, { timeout: 0 }), 'MACH_RCV_TIMED_OUT');
    expect(e.detail).toContain(`0x${svc.toString(16)}`);
  });

  it('a receive with a timeout gives up with MACH_RCV_TIMED_OUT when the time has passed', () => {
    const { world, k, b, svc } = service();
    const rec = recorder<ReceiveOutcome>(world);
    expect(k.receive(b, svc, { timeout: 30 }, rec.done)).toBeNull();
    world.runUntilIdle();
    expect(rec.results).toHaveLength(1);
    expect(rec.results[0]!.at).toBe(30);
    const r = rec.results[0]!.r;
    expect(r.ok ? null : r.error.codeName).toBe('MACH_RCV_TIMED_OUT');
  });

  it('a blocked receiver is woken by the message at the virtual time it is sent', () => {
    const { world, k, a, b, svc } = service();
    const rec = recorder<ReceiveOutcome>(world);
    k.receive(b, svc, { timeout: 100 }, rec.done);
    world.schedule(25, () => k.send(a, simple(SVC, 77)));
    world.runUntilIdle();
    expect(rec.results).toHaveLength(1);
    const { at, r } = rec.results[0]!;
    expect(at).toBe(25);
    expect(r.ok && r.message.id).toBe(77);
    expect(r.ok && r.message.seqno).toBe(0);
    expect(world.now()).toBe(25); // the timeout was cancelled
  });

  it('a receiver with no timeout waits as long as it takes', () => {
    const { world, k, a, b, svc } = service();
    const rec = recorder<ReceiveOutcome>(world);
    k.receive(b, svc, {}, rec.done);
    world.schedule(1_000_000, () => k.send(a, simple(SVC, 1)));
    world.runUntilIdle();
    expect(rec.results.map((x) => x.at)).toEqual([1_000_000]);
  });

  it('a waiting receiver gets MACH_RCV_PORT_DIED when the port is destroyed', () => {
    const { world, k, b, svc } = service();
    const rec = recorder<ReceiveOutcome>(world);
    k.receive(b, svc, { timeout: 100 }, rec.done);
    world.schedule(10, () => k.destroy(b, svc));
    world.runUntilIdle();
    expect(rec.results).toHaveLength(1);
    expect(rec.results[0]!.at).toBe(10);
    const r = rec.results[0]!.r;
    expect(r.ok ? null : r.error.codeName).toBe('MACH_RCV_PORT_DIED');
  });

  it('a waiting receiver gets MACH_RCV_PORT_DIED when its receive right is moved away', () => {
    const { world, k, a, b, svc } = service();
    const mine = newPort(k, a, 'mine');
    const rec = recorder<ReceiveOutcome>(world);
    k.receive(a, mine, {}, rec.done);
    world.schedule(12, () =>
      k.send(
        a,
        simple(SVC, 1, {
          body: [{ type: 'port', name: mine, disposition: Disposition.MOVE_RECEIVE }],
        }),
      ),
    );
    world.runUntilIdle();
    expect(rec.results).toHaveLength(1);
    expect(rec.results[0]!.at).toBe(12);
    const r = rec.results[0]!.r;
    expect(r.ok ? null : r.error.codeName).toBe('MACH_RCV_PORT_DIED');
    expect(rightsOf(k, b, (receiveNow(k, b, svc).body[0] as ReceivedPortItem).name)).toBe(
      PortType.RECEIVE,
    );
  });

  it('MACH_RCV_TOO_LARGE without `large`: the message is de-queued and destroyed with its rights', () => {
    const { k, a, b, svc } = service();
    const reply = newPort(k, a, 'reply');
    k.send(a, {
      remotePort: SVC,
      remoteDisposition: Disposition.COPY_SEND,
      localPort: reply,
      localDisposition: Disposition.MAKE_SEND_ONCE,
      id: 1,
      body: [{ type: 'inline', data: new Uint8Array(200) }],
    });
    k.send(a, simple(SVC, 2));
    const e = expectMachError(
      () => k.receive(b, svc, { timeout: 0, maxSize: 64 }),
      'MACH_RCV_TOO_LARGE',
    );
    expect(e.detail).toMatch(/destroyed/);
    const next = receiveNow(k, b, svc);
    expect(next.id).toBe(2);
    expect(next.seqno).toBe(1); // the destroyed message used sequence number 0
    // The reply send-once right died with the message: the reply port gets a send-once notification.
    expect(receiveNow(k, a, reply).id).toBe(NotifyId.SEND_ONCE);
    expectConsistent(k);
  });

  it('MACH_RCV_TOO_LARGE with `large`: the message stays queued and a bigger buffer gets it', () => {
    const { k, a, b, svc } = service();
    k.send(a, simple(SVC, 1, { body: [{ type: 'inline', data: new Uint8Array(200) }] }));
    const size = HEADER_BYTES + inlineItemBytes(200);
    const e = expectMachError(
      () => k.receive(b, svc, { timeout: 0, maxSize: 64, large: true }),
      'MACH_RCV_TOO_LARGE',
    );
    expect(e.detail).toContain(`${size} bytes`);
    expect(k.getAttributes(b, svc).msgcount).toBe(1);
    const m = k.receive(b, svc, { timeout: 0, maxSize: size })!;
    expect([m.id, m.seqno, m.size]).toEqual([1, 0, size]);
  });

  it('a blocked receiver with a small buffer is woken with MACH_RCV_TOO_LARGE', () => {
    const { world, k, a, b, svc } = service();
    const rec = recorder<ReceiveOutcome>(world);
    k.receive(b, svc, { maxSize: 30, large: true }, rec.done);
    world.schedule(5, () =>
      k.send(a, simple(SVC, 1, { body: [{ type: 'inline', data: new Uint8Array(64) }] })),
    );
    world.runUntilIdle();
    const r = rec.results[0]!.r;
    expect(r.ok ? null : r.error.codeName).toBe('MACH_RCV_TOO_LARGE');
    expect(k.getAttributes(b, svc).msgcount).toBe(1);
  });
});

describe('sequence numbers (Message Receive; mach_port_set_seqno)', () => {
  it('each de-queued message is stamped with the port`s sequence number, which then increments', () => {
    const { k, a, b, svc } = service();
    for (let i = 0; i < 4; i++) k.send(a, simple(SVC, i));
    expect(drain(k, b, svc).map((m) => m.seqno)).toEqual([0, 1, 2, 3]);
    expect(k.getAttributes(b, svc).seqno).toBe(4);
  });

  it('mach_port_set_seqno sets the number the next message gets', () => {
    const { k, a, b, svc } = service();
    k.setSeqno(b, svc, 1000);
    k.send(a, simple(SVC, 1));
    k.send(a, simple(SVC, 2));
    expect(drain(k, b, svc).map((m) => m.seqno)).toEqual([1000, 1001]);
    expectMachError(() => k.setSeqno(b, svc, -1), 'KERN_INVALID_VALUE');
    expectMachError(() => k.setSeqno(a, SVC, 0), 'KERN_INVALID_RIGHT');
    expectMachError(() => k.setSeqno(b, 0x999, 0), 'KERN_INVALID_NAME');
  });
});

describe('reply ports with send-once rights: a request/reply round trip', () => {
  it('the server replies through the send-once right, which is used up; the client sees PORT_SEND_ONCE', () => {
    const { k, a, b, svc } = service();
    const reply = newPort(k, a, 'reply');
    k.send(a, {
      remotePort: SVC,
      remoteDisposition: Disposition.COPY_SEND,
      localPort: reply,
      localDisposition: Disposition.MAKE_SEND_ONCE,
      id: 100,
      body: [inlineData({ op: 'add', x: 2, y: 3 })],
    });
    expect(k.getAttributes(a, reply).sorights).toBe(1);
    const req = receiveNow(k, b, svc);
    expect(req.remoteRight).toBe(ReceivedRight.PORT_SEND_ONCE);
    const args = decodeData<{ x: number; y: number }>((req.body[0] as { data: Uint8Array }).data);
    k.send(b, {
      remotePort: req.remotePort,
      remoteDisposition: Disposition.MOVE_SEND_ONCE,
      id: 200,
      body: [inlineData(args.x + args.y)],
    });
    expectMachError(() => k.type(b, req.remotePort), 'KERN_INVALID_NAME');
    const rep = receiveNow(k, a, reply);
    expect(rep.id).toBe(200);
    expect(rep.localRight).toBe(ReceivedRight.PORT_SEND_ONCE);
    expect(rep.remotePort).toBe(MACH_PORT_NULL);
    expect(rep.remoteRight).toBe(0); // no reply port, no reply right
    expect(decodeData((rep.body[0] as { data: Uint8Array }).data)).toBe(5);
    expect(k.getAttributes(a, reply).sorights).toBe(0);
    expectConsistent(k);
  });

  it('a send-once reply right cannot be copied: COPY_SEND on it gives MACH_SEND_INVALID_DEST', () => {
    const { k, a, b, svc } = service();
    const reply = newPort(k, a, 'reply');
    k.send(a, simple(SVC, 1, { localPort: reply, localDisposition: Disposition.MAKE_SEND_ONCE }));
    const req = receiveNow(k, b, svc);
    expectMachError(
      () =>
        k.send(b, { remotePort: req.remotePort, remoteDisposition: Disposition.COPY_SEND, id: 2 }),
      'MACH_SEND_INVALID_DEST',
    );
    expect(rightsOf(k, b, req.remotePort)).toBe(PortType.SEND_ONCE);
  });
});

describe('inline and out-of-line data are copied at send (Message Send; Memory)', () => {
  it('changing the sender`s inline buffer after the send does not change the message', () => {
    const { k, a, b, svc } = service();
    const data = encodeData({ v: 1 });
    const copy = data.slice();
    k.send(a, simple(SVC, 1, { body: [{ type: 'inline', data }] }));
    data.fill(0);
    const got = receiveNow(k, b, svc).body[0] as { data: Uint8Array };
    expect([...got.data]).toEqual([...copy]);
    expect(decodeData(got.data)).toEqual({ v: 1 });
  });

  it('changing the sender`s out-of-line region after the send does not change the message', () => {
    const { k, a, b, svc } = service();
    const region = new Uint8Array(8192).map((_, i) => i & 0xff);
    k.send(a, simple(SVC, 1, { body: [{ type: 'ool', data: region }] }));
    region.fill(0xee);
    const got = receiveNow(k, b, svc).body[0] as { type: string; data: Uint8Array };
    expect(got.type).toBe('ool');
    expect(got.data.length).toBe(8192);
    expect(got.data[1]).toBe(1);
    expect(got.data[300]).toBe(300 & 0xff);
  });

  it('null out-of-line memory is legal', () => {
    const { k, a, b, svc } = service();
    k.send(a, simple(SVC, 1, { body: [{ type: 'ool', data: new Uint8Array(0) }] }));
    expect((receiveNow(k, b, svc).body[0] as { data: Uint8Array }).data.length).toBe(0);
  });

  it('inline data beyond the kernel`s message buffer gives MACH_SEND_NO_BUFFER; out of line it goes', () => {
    const { k, a, b, svc } = service();
    const big = new Uint8Array(MACH_MSG_SIZE_MAX);
    const e = expectMachError(
      () => k.send(a, simple(SVC, 1, { body: [{ type: 'inline', data: big }] })),
      'MACH_SEND_NO_BUFFER',
    );
    expect(e.detail).toMatch(/out of line/);
    expect(k.getAttributes(b, svc).msgcount).toBe(0);
    k.send(a, simple(SVC, 2, { body: [{ type: 'ool', data: big }] }));
    expect((receiveNow(k, b, svc).body[0] as { data: Uint8Array }).data.length).toBe(big.length);
  });
});

describe('send return codes (mach_msg RETURN VALUE): each rejects the message and queues nothing', () => {
  const cases: [
    string,
    (f: ReturnType<typeof service> & { mine: number }) => MachMessage,
    string,
  ][] = [
    [
      'MACH_SEND_INVALID_DEST: a name the sender does not hold',
      () => simple(0x999, 1),
      'MACH_SEND_INVALID_DEST',
    ],
    [
      'MACH_SEND_INVALID_DEST: MACH_PORT_NULL',
      () => simple(MACH_PORT_NULL, 1),
      'MACH_SEND_INVALID_DEST',
    ],
    [
      'MACH_SEND_INVALID_DEST: a receive right used with COPY_SEND',
      ({ mine }) => simple(mine, 1),
      'MACH_SEND_INVALID_DEST',
    ],
    [
      'MACH_SEND_INVALID_DEST: a send right used with MOVE_SEND_ONCE',
      () => ({ remotePort: SVC, remoteDisposition: Disposition.MOVE_SEND_ONCE, id: 1 }),
      'MACH_SEND_INVALID_DEST',
    ],
    [
      'MACH_SEND_INVALID_REPLY: a reply name the sender does not hold',
      () => simple(SVC, 1, { localPort: 0x999, localDisposition: Disposition.MAKE_SEND_ONCE }),
      'MACH_SEND_INVALID_REPLY',
    ],
    [
      'MACH_SEND_INVALID_REPLY: MAKE_SEND_ONCE from a send right',
      () => simple(SVC, 1, { localPort: SVC, localDisposition: Disposition.MAKE_SEND_ONCE }),
      'MACH_SEND_INVALID_REPLY',
    ],
    [
      'MACH_SEND_INVALID_RIGHT: a body right the sender does not hold',
      () =>
        simple(SVC, 1, {
          body: [{ type: 'port', name: 0x999, disposition: Disposition.COPY_SEND }],
        }),
      'MACH_SEND_INVALID_RIGHT',
    ],
    [
      'MACH_SEND_INVALID_RIGHT: MOVE_RECEIVE of a send right',
      () =>
        simple(SVC, 1, {
          body: [{ type: 'port', name: SVC, disposition: Disposition.MOVE_RECEIVE }],
        }),
      'MACH_SEND_INVALID_RIGHT',
    ],
    [
      'MACH_SEND_INVALID_HEADER: a header disposition that is not a send kind',
      () => ({ remotePort: SVC, remoteDisposition: 99 as Disposition, id: 1 }),
      'MACH_SEND_INVALID_HEADER',
    ],
    [
      'MACH_SEND_INVALID_HEADER: a reply port without a disposition',
      () => ({ remotePort: SVC, remoteDisposition: Disposition.COPY_SEND, localPort: SVC, id: 1 }),
      'MACH_SEND_INVALID_HEADER',
    ],
    [
      'MACH_SEND_INVALID_HEADER: a non-integer id',
      () => ({ remotePort: SVC, remoteDisposition: Disposition.COPY_SEND, id: 1.5 }),
      'MACH_SEND_INVALID_HEADER',
    ],
    [
      'MACH_SEND_INVALID_TYPE: an item of unknown type',
      () => simple(SVC, 1, { body: [{ type: 'bogus' } as never] }),
      'MACH_SEND_INVALID_TYPE',
    ],
    [
      'MACH_SEND_INVALID_TYPE: a port item with an invalid disposition',
      () => simple(SVC, 1, { body: [{ type: 'port', name: SVC, disposition: 3 as Disposition }] }),
      'MACH_SEND_INVALID_TYPE',
    ],
    [
      'MACH_SEND_INVALID_DATA: inline data that is not bytes',
      () => simple(SVC, 1, { body: [{ type: 'inline', data: 'text' as never }] }),
      'MACH_SEND_INVALID_DATA',
    ],
    [
      'MACH_SEND_INVALID_DATA: a body that is not an array',
      () => simple(SVC, 1, { body: {} as never }),
      'MACH_SEND_INVALID_DATA',
    ],
    [
      'MACH_SEND_INVALID_MEMORY: out-of-line data that is not bytes',
      () => simple(SVC, 1, { body: [{ type: 'ool', data: [1, 2] as never }] }),
      'MACH_SEND_INVALID_MEMORY',
    ],
  ];
  for (const [title, build, code] of cases) {
    it(title, () => {
      const f = service();
      const mine = newPort(f.k, f.a, 'mine');
      const before = k0(f);
      const e = expectMachError(() => f.k.send(f.a, build({ ...f, mine })), code as never);
      expect(e.detail.length).toBeGreaterThan(5);
      expect(k0(f)).toEqual(before);
      expectConsistent(f.k);
    });
  }

  function k0(f: ReturnType<typeof service>) {
    return {
      attrs: f.k.getAttributes(f.b, f.svc),
      names: f.a.names(),
      refs: f.k.getRefs(f.a, SVC, PortRight.SEND),
    };
  }

  it('MACH_SEND_INVALID_DEST: the destination is a port set or a dead name', () => {
    const { k, a, b, svc } = service();
    const set = k.allocate(a, PortRight.PORT_SET);
    expectMachError(() => k.send(a, simple(set, 1)), 'MACH_SEND_INVALID_DEST');
    k.destroy(b, svc);
    expectMachError(() => k.send(a, simple(SVC, 1)), 'MACH_SEND_INVALID_DEST');
  });

  it('MACH_SEND_INVALID_DEST: a terminated task cannot send', () => {
    const { k, a } = service();
    k.destroySpace(a);
    expectMachError(() => k.send(a, simple(SVC, 1)), 'MACH_SEND_INVALID_DEST');
  });
});

describe('receive return codes', () => {
  it('MACH_RCV_INVALID_NAME: a name not held, a send right, a dead name, a send-once right', () => {
    const { k, a, b, svc } = service();
    k.insertRight(a, 0x610, b, svc, Disposition.MAKE_SEND_ONCE);
    const dead = k.allocate(a, PortRight.DEAD_NAME);
    for (const n of [0x999, SVC, dead, 0x610]) {
      const r = tryReceive(k, a, n);
      expect('codeName' in r && r.codeName).toBe('MACH_RCV_INVALID_NAME');
    }
  });

  it('MACH_RCV_IN_SET: a port in a port set cannot be received from directly', () => {
    const { k, a, b, svc } = service();
    const set = k.allocate(b, PortRight.PORT_SET);
    k.moveMember(b, svc, set);
    k.send(a, simple(SVC, 1));
    const e = expectMachError(() => k.receive(b, svc, { timeout: 0 }), 'MACH_RCV_IN_SET');
    expect(e.detail).toMatch(/port set/);
    expect(k.getAttributes(b, svc).msgcount).toBe(1);
  });
});
