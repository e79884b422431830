/**
 * Ports as actor mailboxes. A port's queue is drained either by an XState actor (each message
 * arrives as a `mach.message` event, in queue order, stamped with its sequence number) or by a
 * thread blocked in mach_msg receive that is woken. Both run on the world's virtual clock, so
 * XState `after` delays and IPC timeouts share one timeline.
 */
import { describe, expect, it } from 'vitest';
import { assign, createActor, setup } from 'xstate';
import type { IpcKernel } from '../src/actors/ipcKernel.ts';
import { bindMailbox, type MachMessageEvent } from '../src/actors/mailbox.ts';
import type { ReceiveOutcome } from '../src/actors/outcomes.ts';
import type { PortSpace } from '../src/actors/portSpace.ts';
import { decodeData, inlineData } from '../src/protocol/codec.ts';
import type { ReceivedMessage } from '../src/protocol/message.ts';
import { Disposition, PortType, ReceivedRight } from '../src/protocol/rights.ts';
import type { World } from '../src/world/world.ts';
import {
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

interface Seen {
  id: number;
  seqno: number;
  port: number;
  at: number;
  remotePort: number;
}

/** A machine that records every message event it gets, with the virtual time. */
function recorderMachine(world: World) {
  return setup({
    types: { context: {} as { seen: Seen[] }, events: {} as MachMessageEvent },
  }).createMachine({
    context: { seen: [] },
    on: {
      'mach.message': {
        actions: assign({
          seen: ({ context, event }) => [
            ...context.seen,
            {
              id: event.message.id,
              seqno: event.message.seqno,
              port: event.port,
              at: world.now(),
              remotePort: event.message.remotePort,
            },
          ],
        }),
      },
    },
  });
}

/** b's port `inbox` is the mailbox of a recording actor; a holds send right 0x500 to it. */
function mailbox() {
  const f = makeFixture();
  const inbox = newPort(f.k, f.b, 'inbox');
  giveSend(f.k, f.b, inbox, f.a, 0x500);
  const actor = createActor(recorderMachine(f.world), { clock: f.world.clock }).start();
  const seen = () => actor.getSnapshot().context.seen;
  return { ...f, inbox, actor, seen };
}

describe('a mailbox drained by an XState actor', () => {
  it('delivers each message as a mach.message event, in order, with its sequence number', () => {
    const { world, k, a, b, inbox, actor, seen } = mailbox();
    bindMailbox(k, b, inbox, actor);
    for (const id of [1, 2, 3]) k.send(a, simple(0x500, id));
    world.runUntilIdle();
    expect(seen().map((s) => [s.id, s.seqno, s.port])).toEqual([
      [1, 0, inbox],
      [2, 1, inbox],
      [3, 2, inbox],
    ]);
    expect(k.getAttributes(b, inbox).msgcount).toBe(0);
    expectConsistent(k);
  });

  it('delivers later, in the same virtual instant: a send never re-enters the actor', () => {
    const { world, k, a, b, inbox, actor, seen } = mailbox();
    bindMailbox(k, b, inbox, actor);
    world.schedule(40, () => {
      k.send(a, simple(0x500, 1));
      expect(seen()).toEqual([]);
    });
    world.runUntilIdle();
    expect(seen().map((s) => [s.id, s.at])).toEqual([[1, 40]]);
  });

  it('waits the kernel`s delivery latency when one is set', () => {
    const { world, k, a, b, inbox, actor, seen } = mailbox();
    k.deliveryLatencyMs = 3;
    bindMailbox(k, b, inbox, actor);
    world.schedule(10, () => k.send(a, simple(0x500, 1)));
    world.runUntilIdle();
    expect(seen().map((s) => s.at)).toEqual([13]);
  });

  it('delivers messages that were queued before the mailbox was bound, first', () => {
    const { world, k, a, b, inbox, actor, seen } = mailbox();
    k.send(a, simple(0x500, 1));
    k.send(a, simple(0x500, 2));
    bindMailbox(k, b, inbox, actor);
    k.send(a, simple(0x500, 3));
    world.runUntilIdle();
    expect(seen().map((s) => s.id)).toEqual([1, 2, 3]);
  });

  it('drains past the queue limit, admitting blocked senders in order', () => {
    const { world, k, a, b, inbox, actor, seen } = mailbox();
    for (let i = 0; i < 5; i++) k.send(a, simple(0x500, i));
    const admitted: number[] = [];
    for (const id of [5, 6, 7]) k.send(a, simple(0x500, id), {}, () => admitted.push(id));
    bindMailbox(k, b, inbox, actor);
    world.runUntilIdle();
    expect(seen().map((s) => s.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(seen().map((s) => s.seqno)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(admitted).toEqual([5, 6, 7]);
  });

  it('copies the rights a message carries into the actor`s space', () => {
    const { world, k, a, b, inbox, actor, seen } = mailbox();
    const reply = newPort(k, a, 'reply');
    bindMailbox(k, b, inbox, actor);
    k.send(a, simple(0x500, 1, { localPort: reply, localDisposition: Disposition.MAKE_SEND_ONCE }));
    world.runUntilIdle();
    expect(rightsOf(k, b, seen()[0]!.remotePort)).toBe(PortType.SEND_ONCE);
    expectConsistent(k);
  });

  it('stops when unbound; later messages stay queued for a plain receive', () => {
    const { world, k, a, b, inbox, actor, seen } = mailbox();
    const unbind = bindMailbox(k, b, inbox, actor);
    k.send(a, simple(0x500, 1));
    world.runUntilIdle();
    unbind();
    k.send(a, simple(0x500, 2));
    world.runUntilIdle();
    expect(seen().map((s) => s.id)).toEqual([1]);
    expect(receiveNow(k, b, inbox)).toMatchObject({ id: 2, seqno: 1 });
  });

  it('has one reader: binding a second actor gives KERN_RIGHT_EXISTS', () => {
    const { world, k, b, inbox, actor } = mailbox();
    bindMailbox(k, b, inbox, actor);
    const other = createActor(recorderMachine(world), { clock: world.clock }).start();
    expectMachError(() => bindMailbox(k, b, inbox, other), 'KERN_RIGHT_EXISTS');
  });

  it('follows the receive right: when it moves away, the new holder gets the messages', () => {
    const { world, k, a, b, c, inbox, actor, seen } = mailbox();
    bindMailbox(k, b, inbox, actor);
    const moved = k.extractRight(b, inbox, Disposition.MOVE_RECEIVE, c);
    k.send(a, simple(0x500, 9));
    world.runUntilIdle();
    expect(seen()).toEqual([]);
    expect(receiveNow(k, c, moved).id).toBe(9);
  });
});

// ---------------------------------------------------------------------------------------------
// Request/reply in both styles. The protocol: request id 100 carries {x, y} and a send-once reply
// right; the reply (id 200) carries x + y.

interface AddRequest {
  x: number;
  y: number;
}

const requestTo = (dest: number, reply: number, args: AddRequest) => ({
  remotePort: dest,
  remoteDisposition: Disposition.COPY_SEND,
  localPort: reply,
  localDisposition: Disposition.MAKE_SEND_ONCE,
  id: 100,
  body: [inlineData(args)],
});

const dataOf = <T>(m: ReceivedMessage): T =>
  decodeData<T>((m.body[0] as { data: Uint8Array }).data);

function replyTo(k: IpcKernel, space: PortSpace, req: ReceivedMessage): void {
  expect(req.remoteRight).toBe(ReceivedRight.PORT_SEND_ONCE);
  const { x, y } = dataOf<AddRequest>(req);
  k.send(space, {
    remotePort: req.remotePort,
    remoteDisposition: Disposition.MOVE_SEND_ONCE,
    id: 200,
    body: [inlineData(x + y)],
  });
}

/**
 * An adding server as an XState machine: each request arrives as an event and joins the server's
 * backlog; it serves one at a time, replying after `work` ms of (virtual) work.
 */
function serverMachine(k: IpcKernel, space: PortSpace, work: number) {
  return setup({
    types: {
      context: {} as { served: number; backlog: ReceivedMessage[] },
      events: {} as MachMessageEvent,
    },
    actions: {
      enqueue: assign({ backlog: ({ context, event }) => [...context.backlog, event.message] }),
      replyToFirst: ({ context }) => replyTo(k, space, context.backlog[0]!),
      done: assign({
        served: ({ context }) => context.served + 1,
        backlog: ({ context }) => context.backlog.slice(1),
      }),
    },
    guards: { hasWork: ({ context }) => context.backlog.length > 0 },
  }).createMachine({
    context: { served: 0, backlog: [] },
    initial: 'idle',
    on: { 'mach.message': { actions: 'enqueue' } },
    states: {
      idle: { always: { guard: 'hasWork', target: 'working' } },
      working: { after: { [work]: { target: 'idle', actions: ['replyToFirst', 'done'] } } },
    },
  });
}

/** A client as an XState machine: sends a request on start, waits for the reply or gives up. */
function clientMachine(
  k: IpcKernel,
  space: PortSpace,
  service: number,
  reply: number,
  patience: number,
) {
  return setup({
    types: {
      context: {} as { result: number | null; at: number | null },
      events: {} as MachMessageEvent,
    },
    actions: {
      request: () => k.send(space, requestTo(service, reply, { x: 20, y: 22 })),
    },
  }).createMachine({
    context: { result: null, at: null },
    initial: 'waiting',
    states: {
      waiting: {
        entry: 'request',
        on: {
          'mach.message': {
            target: 'done',
            actions: assign({
              result: ({ event }) => dataOf<number>(event.message),
              at: () => k.world.now(),
            }),
          },
        },
        after: { [patience]: 'timedOut' },
      },
      done: { type: 'final' },
      // Not final: a late reply still arrives as an event, and is ignored here.
      timedOut: {},
    },
  });
}

describe('request/reply: an actor-mailbox server and a blocked-receiver client', () => {
  it('the client blocks in receive on its reply port and is woken by the actor`s reply', () => {
    const { world, k, a, b } = makeFixture();
    const svc = newPort(k, b, 'svc');
    giveSend(k, b, svc, a, 0x500);
    const server = createActor(serverMachine(k, b, 30), { clock: world.clock }).start();
    bindMailbox(k, b, svc, server);
    const reply = newPort(k, a, 'reply');
    const rec = recorder<ReceiveOutcome>(world);
    world.schedule(10, () => {
      k.send(a, requestTo(0x500, reply, { x: 2, y: 3 }));
      expect(k.receive(a, reply, { timeout: 100 }, rec.done)).toBeNull();
    });
    world.runUntilIdle();
    expect(rec.results).toHaveLength(1);
    const { at, r } = rec.results[0]!;
    expect(at).toBe(40); // sent at 10, 30 ms of work
    if (!r.ok) throw r.error;
    expect(r.message.id).toBe(200);
    expect(r.message.localRight).toBe(ReceivedRight.PORT_SEND_ONCE);
    expect(dataOf<number>(r.message)).toBe(5);
    expect(server.getSnapshot().context.served).toBe(1);
    expectConsistent(k);
  });

  it('a client that gives up gets MACH_RCV_TIMED_OUT; the late reply stays queued', () => {
    const { world, k, a, b } = makeFixture();
    const svc = newPort(k, b, 'svc');
    giveSend(k, b, svc, a, 0x500);
    const server = createActor(serverMachine(k, b, 80), { clock: world.clock }).start();
    bindMailbox(k, b, svc, server);
    const reply = newPort(k, a, 'reply');
    const rec = recorder<ReceiveOutcome>(world);
    k.send(a, requestTo(0x500, reply, { x: 1, y: 1 }));
    k.receive(a, reply, { timeout: 50 }, rec.done);
    world.runUntilIdle();
    const { at, r } = rec.results[0]!;
    expect([at, r.ok ? 'ok' : r.error.codeName]).toEqual([50, 'MACH_RCV_TIMED_OUT']);
    expect(world.now()).toBe(80);
    expect(dataOf<number>(receiveNow(k, a, reply))).toBe(2);
  });

  it('serves several clients in arrival order, one at a time', () => {
    const { world, k, a, b, c } = makeFixture();
    const svc = newPort(k, b, 'svc');
    giveSend(k, b, svc, a, 0x500);
    giveSend(k, b, svc, c, 0x500);
    const server = createActor(serverMachine(k, b, 10), { clock: world.clock }).start();
    bindMailbox(k, b, svc, server);
    const ra = newPort(k, a, 'ra');
    const rc = newPort(k, c, 'rc');
    const got: [string, number, number][] = [];
    k.send(a, requestTo(0x500, ra, { x: 1, y: 2 }));
    k.send(c, requestTo(0x500, rc, { x: 10, y: 20 }));
    k.receive(a, ra, {}, (r) => r.ok && got.push(['a', world.now(), dataOf<number>(r.message)]));
    k.receive(c, rc, {}, (r) => r.ok && got.push(['c', world.now(), dataOf<number>(r.message)]));
    world.runUntilIdle();
    expect(got).toEqual([
      ['a', 10, 3],
      ['c', 20, 30],
    ]);
    expect(server.getSnapshot().context.served).toBe(2);
  });
});

describe('request/reply: a blocked-receiver server and an actor-mailbox client', () => {
  /** A server thread: blocks in receive, replies after `work` ms, blocks again. */
  function serveForever(k: IpcKernel, space: PortSpace, port: number, work: number) {
    const loop = () =>
      k.receive(space, port, {}, (r) => {
        if (!r.ok) return;
        k.world.schedule(work, () => {
          replyTo(k, space, r.message);
          loop();
        });
      });
    loop();
  }

  it('the client machine sends on entry and finishes when the reply event arrives', () => {
    const { world, k, a, b } = makeFixture();
    const svc = newPort(k, b, 'svc');
    giveSend(k, b, svc, a, 0x500);
    serveForever(k, b, svc, 25);
    const reply = newPort(k, a, 'reply');
    const client = createActor(clientMachine(k, a, 0x500, reply, 100), { clock: world.clock });
    bindMailbox(k, a, reply, client);
    client.start();
    world.runUntilIdle();
    const snap = client.getSnapshot();
    expect(snap.value).toBe('done');
    expect(snap.context).toEqual({ result: 42, at: 25 });
    expect(k.getAttributes(a, reply)).toMatchObject({ msgcount: 0, sorights: 0, seqno: 1 });
    expectConsistent(k);
  });

  it('the client`s `after` timeout runs on the same virtual clock as the server`s work', () => {
    const { world, k, a, b } = makeFixture();
    const svc = newPort(k, b, 'svc');
    giveSend(k, b, svc, a, 0x500);
    serveForever(k, b, svc, 150);
    const reply = newPort(k, a, 'reply');
    const client = createActor(clientMachine(k, a, 0x500, reply, 100), { clock: world.clock });
    bindMailbox(k, a, reply, client);
    client.start();
    let timedOutAt = -1;
    client.subscribe((s) => {
      if (s.value === 'timedOut' && timedOutAt < 0) timedOutAt = world.now();
    });
    world.runUntilIdle();
    expect(client.getSnapshot().value).toBe('timedOut');
    expect(timedOutAt).toBe(100);
    expect(world.now()).toBe(150); // the server still replied, later
  });

  it('if the server dies, the client`s reply right yields a send-once notification event', () => {
    const { world, k, a, b } = makeFixture();
    const svc = newPort(k, b, 'svc');
    giveSend(k, b, svc, a, 0x500);
    const reply = newPort(k, a, 'reply');
    const events: number[] = [];
    const client = createActor(
      setup({ types: { events: {} as MachMessageEvent } }).createMachine({
        on: { 'mach.message': { actions: ({ event }) => events.push(event.message.id) } },
      }),
      { clock: world.clock },
    ).start();
    bindMailbox(k, a, reply, client);
    k.send(a, requestTo(0x500, reply, { x: 1, y: 1 }));
    world.schedule(5, () => k.destroySpace(b)); // the server's task ends with the request queued
    world.runUntilIdle();
    expect(events).toEqual([0o107]);
    expect(rightsOf(k, a, 0x500)).toBe(PortType.DEAD_NAME);
    expectConsistent(k);
  });
});
