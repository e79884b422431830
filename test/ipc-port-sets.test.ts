/**
 * Port sets: receive from any member port (mach3-kernel-interfaces.txt, mach_msg "Message
 * Receive", mach_port_move_member, mach_port_destroy; mach3-kernel-principles.txt ch. 4,
 * "Port Sets").
 */
import { describe, expect, it } from 'vitest';
import type { ReceiveOutcome } from '../src/actors/outcomes.ts';
import { Disposition, PortRight, PortType } from '../src/protocol/rights.ts';
import {
  drain,
  expectConsistent,
  expectMachError,
  giveSend,
  makeFixture,
  newPort,
  receiveNow,
  recorder,
  rightsOf,
  simple,
} from './support/ipcFixtures.ts';

/** b holds a port set with members p1 and p2; a holds send rights 0x501 and 0x502 to them. */
function setup() {
  const f = makeFixture();
  const set = f.k.allocate(f.b, PortRight.PORT_SET);
  const p1 = newPort(f.k, f.b, 'p1');
  const p2 = newPort(f.k, f.b, 'p2');
  f.k.moveMember(f.b, p1, set);
  f.k.moveMember(f.b, p2, set);
  giveSend(f.k, f.b, p1, f.a, 0x501);
  giveSend(f.k, f.b, p2, f.a, 0x502);
  return { ...f, set, p1, p2 };
}

const errorOf = (r: ReceiveOutcome) => (r.ok ? null : r.error.codeName);

describe('receiving from a port set', () => {
  it('gets a message sent to any member; msgh_local_port names the member; the member`s seqno stamps it', () => {
    const { k, a, b, set, p2 } = setup();
    k.send(a, simple(0x502, 7));
    const m = receiveNow(k, b, set);
    expect([m.id, m.localPort, m.seqno]).toEqual([7, p2, 0]);
    expect(k.getAttributes(b, p2).seqno).toBe(1);
    expectConsistent(k);
  });

  it('an empty set is legal: a zero-timeout receive gives MACH_RCV_TIMED_OUT', () => {
    const { k, b } = makeFixture();
    const set = k.allocate(b, PortRight.PORT_SET);
    expectMachError(() => k.receive(b, set, { timeout: 0 }), 'MACH_RCV_TIMED_OUT');
  });

  it('a receiver blocked on the set is woken by a message to any member', () => {
    const { world, k, a, b, set, p1 } = setup();
    const rec = recorder<ReceiveOutcome>(world);
    expect(k.receive(b, set, { timeout: 100 }, rec.done)).toBeNull();
    world.schedule(15, () => k.send(a, simple(0x501, 3)));
    world.runUntilIdle();
    expect(rec.results).toHaveLength(1);
    const { at, r } = rec.results[0]!;
    expect(at).toBe(15);
    expect(r.ok && [r.message.id, r.message.localPort]).toEqual([3, p1]);
  });

  it('members with messages are served in turn, so none starves', () => {
    const { k, a, b, set, p1, p2 } = setup();
    for (let i = 0; i < 3; i++) {
      k.send(a, simple(0x501, 10 + i));
      k.send(a, simple(0x502, 20 + i));
    }
    // Three more for p1 alone: they must not delay p2's messages.
    k.setQlimit(b, p1, 6);
    for (let i = 3; i < 6; i++) k.send(a, simple(0x501, 10 + i));
    const got = drain(k, b, set);
    expect(got).toHaveLength(9);
    const firstSix = got.slice(0, 6).map((m) => m.localPort);
    expect(firstSix.filter((n) => n === p1)).toHaveLength(3);
    expect(firstSix.filter((n) => n === p2)).toHaveLength(3);
    for (let i = 0; i < 5; i += 2) expect(firstSix[i]).not.toBe(firstSix[i + 1]);
    // Per-port order is kept.
    expect(got.filter((m) => m.localPort === p1).map((m) => m.id)).toEqual([
      10, 11, 12, 13, 14, 15,
    ]);
    expect(got.filter((m) => m.localPort === p2).map((m) => m.id)).toEqual([20, 21, 22]);
  });

  it('a member cannot be received from directly: MACH_RCV_IN_SET', () => {
    const { k, a, b, p1 } = setup();
    k.send(a, simple(0x501, 1));
    expectMachError(() => k.receive(b, p1, { timeout: 0 }), 'MACH_RCV_IN_SET');
    expect(k.getAttributes(b, p1)).toMatchObject({ msgcount: 1, inSet: true });
  });
});

describe('mach_port_move_member', () => {
  it('messages queued before the port joined are received from the set', () => {
    const { k, a, b } = makeFixture();
    const p = newPort(k, b, 'p');
    giveSend(k, b, p, a, 0x501);
    k.send(a, simple(0x501, 1));
    k.send(a, simple(0x501, 2));
    const set = k.allocate(b, PortRight.PORT_SET);
    k.moveMember(b, p, set);
    expect(drain(k, b, set).map((m) => [m.id, m.localPort])).toEqual([
      [1, p],
      [2, p],
    ]);
  });

  it('a receiver already waiting on the set gets the queued messages of a port that joins', () => {
    const { world, k, a, b } = makeFixture();
    const p = newPort(k, b, 'p');
    giveSend(k, b, p, a, 0x501);
    k.send(a, simple(0x501, 1));
    const set = k.allocate(b, PortRight.PORT_SET);
    const rec = recorder<ReceiveOutcome>(world);
    k.receive(b, set, {}, rec.done);
    world.schedule(8, () => k.moveMember(b, p, set));
    world.runUntilIdle();
    expect(rec.results.map(({ at, r }) => [at, r.ok && r.message.id])).toEqual([[8, 1]]);
  });

  it('moving a port into a set wakes its direct receivers with MACH_RCV_PORT_CHANGED', () => {
    const { world, k, b } = makeFixture();
    const p = newPort(k, b, 'p');
    const set = k.allocate(b, PortRight.PORT_SET);
    const rec = recorder<ReceiveOutcome>(world);
    k.receive(b, p, { timeout: 50 }, rec.done);
    world.schedule(5, () => k.moveMember(b, p, set));
    world.runUntilIdle();
    expect(rec.results.map(({ at, r }) => [at, errorOf(r)])).toEqual([
      [5, 'MACH_RCV_PORT_CHANGED'],
    ]);
  });

  it('MACH_PORT_NULL takes a port out of its set; then it can be received from directly', () => {
    const { k, a, b, set, p1 } = setup();
    k.send(a, simple(0x501, 1));
    k.moveMember(b, p1, 0);
    expect(k.getAttributes(b, p1).inSet).toBe(false);
    expect(receiveNow(k, b, p1).id).toBe(1);
    k.send(a, simple(0x501, 2));
    expectMachError(() => k.receive(b, set, { timeout: 0 }), 'MACH_RCV_TIMED_OUT');
  });

  it('a port is in at most one set: moving it to another takes it out of the first', () => {
    const { k, a, b, set, p1 } = setup();
    const other = k.allocate(b, PortRight.PORT_SET);
    k.moveMember(b, p1, other);
    k.send(a, simple(0x501, 1));
    expectMachError(() => k.receive(b, set, { timeout: 0 }), 'MACH_RCV_TIMED_OUT');
    expect(receiveNow(k, b, other).id).toBe(1);
  });

  it('taking a port that is in no set out gives KERN_NOT_IN_SET', () => {
    const { k, b } = makeFixture();
    const p = newPort(k, b);
    const e = expectMachError(() => k.moveMember(b, p, 0), 'KERN_NOT_IN_SET');
    expect(e.detail).toMatch(/not in a port set/);
  });

  it('KERN_INVALID_NAME and KERN_INVALID_RIGHT for a bad member or set', () => {
    const { k, a, b, set, p1 } = setup();
    expectMachError(() => k.moveMember(b, 0x999, set), 'KERN_INVALID_NAME');
    expectMachError(() => k.moveMember(b, p1, 0x999), 'KERN_INVALID_NAME');
    expectMachError(() => k.moveMember(a, 0x501, 0), 'KERN_INVALID_RIGHT'); // a send right
    expectMachError(() => k.moveMember(b, set, set), 'KERN_INVALID_RIGHT'); // a set is no member
    const p3 = newPort(k, b);
    expectMachError(() => k.moveMember(b, p3, p1), 'KERN_INVALID_RIGHT'); // a port is no set
    expect(k.getAttributes(b, p3).inSet).toBe(false);
    expect(k.getAttributes(b, p1).inSet).toBe(true);
  });
});

describe('the end of a set and of its members', () => {
  it('destroying the set wakes its receivers with MACH_RCV_PORT_DIED and frees its members', () => {
    const { world, k, a, b, set, p1 } = setup();
    const rec = recorder<ReceiveOutcome>(world);
    k.receive(b, set, { timeout: 100 }, rec.done);
    k.receive(b, set, {}, rec.done);
    world.schedule(6, () => k.destroy(b, set));
    world.runUntilIdle();
    expect(rec.results.map(({ at, r }) => [at, errorOf(r)])).toEqual([
      [6, 'MACH_RCV_PORT_DIED'],
      [6, 'MACH_RCV_PORT_DIED'],
    ]);
    expectMachError(() => k.type(b, set), 'KERN_INVALID_NAME');
    expect(k.getAttributes(b, p1).inSet).toBe(false);
    k.send(a, simple(0x501, 1));
    expect(receiveNow(k, b, p1).id).toBe(1);
    expectConsistent(k);
  });

  it('mach_port_mod_refs(PORT_SET, -1) destroys the set the same way', () => {
    const { world, k, b, set } = setup();
    const rec = recorder<ReceiveOutcome>(world);
    k.receive(b, set, {}, rec.done);
    k.modRefs(b, set, PortRight.PORT_SET, -1);
    world.runUntilIdle();
    expect(rec.results.map(({ r }) => errorOf(r))).toEqual(['MACH_RCV_PORT_DIED']);
  });

  it('a destroyed member leaves the set; the set`s receivers keep waiting', () => {
    const { world, k, a, b, set, p1 } = setup();
    const rec = recorder<ReceiveOutcome>(world);
    k.receive(b, set, {}, rec.done);
    world.schedule(1, () => k.destroy(b, p1));
    world.schedule(2, () => k.send(a, simple(0x502, 9)));
    world.runUntilIdle();
    expect(rec.results.map(({ at, r }) => [at, r.ok && r.message.id])).toEqual([[2, 9]]);
    expect(rightsOf(k, a, 0x501)).toBe(PortType.DEAD_NAME);
    expectConsistent(k);
  });

  it('a member whose receive right is sent away leaves the set', () => {
    const { k, a, b, c, set, p1 } = setup();
    const inbox = newPort(k, c, 'inbox');
    giveSend(k, c, inbox, b, 0x900);
    k.send(
      b,
      simple(0x900, 1, {
        body: [{ type: 'port', name: p1, disposition: Disposition.MOVE_RECEIVE }],
      }),
    );
    k.send(a, simple(0x501, 2));
    expectMachError(() => k.receive(b, set, { timeout: 0 }), 'MACH_RCV_TIMED_OUT');
    const moved = receiveNow(k, c, inbox).body[0] as { name: number };
    expect(k.getAttributes(c, moved.name).inSet).toBe(false);
    expect(receiveNow(k, c, moved.name).id).toBe(2);
    expectConsistent(k);
  });

  it('a port set name cannot travel in a message', () => {
    const { k, a, b, set } = setup();
    giveSend(k, a, newPort(k, a, 'x'), b, 0x900);
    expectMachError(
      () =>
        k.send(
          b,
          simple(0x900, 1, {
            body: [{ type: 'port', name: set, disposition: Disposition.MOVE_RECEIVE }],
          }),
        ),
      'MACH_SEND_INVALID_RIGHT',
    );
    expect(rightsOf(k, b, set)).toBe(PortType.PORT_SET);
  });
});
