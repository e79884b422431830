import { assign, setup } from 'xstate';

/**
 * Abstract model of one Mach port and the rights to it (mach3-kernel-interfaces.txt: mach_msg
 * dispositions, mach_port_insert_right, mach_port_deallocate, mach_port_destroy,
 * mach_port_request_notification; the runtime is src/actors/). No invoke, no after: every event
 * is one call the checker makes on the real IPC kernel (src/check/portRightsExecutors.ts), and
 * every state is asserted there: the rights each space holds, the port's queue, and the
 * notifications the kernel sent.
 *
 * The cast: space R holds the receive right (it can move to space S); A and C hold send rights
 * (MAKE_SEND into A, COPY_SEND and MOVE_SEND from A to C); B holds a send-once right. R asks for
 * no-senders notifications on its notify port; A asks for a dead-name notification on its name.
 * Failures: the receive right destroyed (senders' names turn dead, dead-name notifications go
 * out, queued messages are destroyed), A's task terminated (its space and requests go), a
 * send-once right destroyed unused (the port gets a send-once notification).
 */

export type QueuedKind = 'a1' | 'a2' | 'a3' | 'b' | 'so';

export interface PortRightsContext {
  /** Who holds the receive right. */
  recv: 'R' | 'S' | 'dead';
  /** User references of A's send right. */
  sendA: number;
  /** User references of A's name once the port died (a dead name). */
  deadA: number;
  sendC: number;
  /** C's dead name (the port died while C held a send right). */
  deadC: number;
  /** B's send-once right: held, a dead name (the port died), or none. */
  once: 'none' | 'held' | 'dead';
  /** The port's queue, oldest first. */
  queue: QueuedKind[];
  /** Messages A has sent. */
  sentA: number;
  ns: 'none' | 'armed' | 'fired';
  dn: 'none' | 'armed' | 'fired';
  aAlive: boolean;
  /** Notifications the last event made the kernel send ("R:no-senders", "A:dead-name"...). */
  notes: string[];
  /** What the last RECEIVE got. */
  got: QueuedKind | null;
}

export type PortRightsEvent =
  | { type: 'MAKE_SEND' }
  | { type: 'COPY_SEND' }
  | { type: 'MOVE_SEND' }
  | { type: 'DEALLOC_A' }
  | { type: 'DEALLOC_C' }
  | { type: 'MAKE_SEND_ONCE' }
  | { type: 'SEND_ONCE' }
  | { type: 'SEND_A' }
  | { type: 'RECEIVE' }
  | { type: 'REQUEST_NO_SENDERS' }
  | { type: 'REQUEST_DEAD_NAME' }
  | { type: 'MOVE_RECEIVE' }
  | { type: 'DESTROY_RECEIVE' }
  | { type: 'TERMINATE_A' }
  | { type: 'DROP_SEND_ONCE' };

export const PORT_RIGHTS_EVENTS: readonly PortRightsEvent[] = [
  'MAKE_SEND',
  'COPY_SEND',
  'MOVE_SEND',
  'DEALLOC_A',
  'DEALLOC_C',
  'MAKE_SEND_ONCE',
  'SEND_ONCE',
  'SEND_A',
  'RECEIVE',
  'REQUEST_NO_SENDERS',
  'REQUEST_DEAD_NAME',
  'MOVE_RECEIVE',
  'DESTROY_RECEIVE',
  'TERMINATE_A',
  'DROP_SEND_ONCE',
].map((type) => ({ type }) as PortRightsEvent);

export const PORT_RIGHTS_FAULTS: ReadonlySet<string> = new Set([
  'DESTROY_RECEIVE',
  'TERMINATE_A',
  'DROP_SEND_ONCE',
]);

const MAX_QUEUE = 2;
const MAX_SENT = 2;

type Ctx = PortRightsContext;
type Patch = Partial<Ctx>;

const live = (c: Ctx) => c.recv !== 'dead';

/**
 * Send rights to the port: those of A and C, and the one each message sent through a send right
 * holds while it waits in the queue (released when it is received).
 */
const senders = (c: Ctx) =>
  c.sendA + c.sendC + c.queue.filter((q) => q === 'a1' || q === 'a2' || q === 'a3').length;

/** No-senders fires when the last send right goes while a request is armed. */
function noSenders(c: Ctx, patch: Patch): Patch {
  const next = { ...c, ...patch };
  if (next.ns === 'armed' && live(next) && senders(next) === 0)
    return { ...patch, ns: 'fired', notes: [...(patch.notes ?? []), 'R:no-senders'] };
  return patch;
}

/** A's name loses its last reference: a dead-name request on it becomes a port-deleted notice. */
function dropA(c: Ctx, refs: number): Patch {
  const sendA = c.sendA - refs;
  if (sendA > 0) return { sendA };
  if (c.dn === 'armed') return { sendA, dn: 'none', notes: ['A:port-deleted'] };
  return { sendA };
}

/** One event's effect: the patch it makes, and nothing else carried over from the last step. */
const step = (f: (c: Ctx) => Patch) =>
  assign<Ctx, PortRightsEvent, undefined, PortRightsEvent, never>(({ context }) => {
    const patch = f(context);
    return { notes: [], got: null, ...patch } as Ctx;
  });

export const portRightsModel = setup({
  types: { context: {} as Ctx, events: {} as PortRightsEvent },
  guards: {
    canMakeSend: ({ context: c }) => live(c) && c.aAlive && c.sendA < 2,
    canCopy: ({ context: c }) => live(c) && c.sendA > 0 && c.sendC === 0,
    holdsA: ({ context: c }) => c.sendA > 0,
    holdsC: ({ context: c }) => c.sendC > 0,
    canMakeOnce: ({ context: c }) => live(c) && c.once === 'none',
    canUseOnce: ({ context: c }) => live(c) && c.once === 'held' && c.queue.length < MAX_QUEUE,
    canDropOnce: ({ context: c }) => c.once === 'held' && c.queue.length < MAX_QUEUE,
    canSendA: ({ context: c }) =>
      live(c) && c.sendA > 0 && c.queue.length < MAX_QUEUE && c.sentA < MAX_SENT,
    canReceive: ({ context: c }) => live(c) && c.queue.length > 0,
    canRequestNs: ({ context: c }) => live(c) && c.ns === 'none',
    canRequestDn: ({ context: c }) => live(c) && c.aAlive && c.sendA > 0 && c.dn === 'none',
    canMoveReceive: ({ context: c }) => c.recv === 'R',
    canDestroy: ({ context: c }) => live(c),
    aAlive: ({ context: c }) => c.aAlive,
  },
}).createMachine({
  id: 'portRightsModel',
  context: {
    recv: 'R',
    sendA: 0,
    deadA: 0,
    sendC: 0,
    deadC: 0,
    once: 'none',
    queue: [],
    sentA: 0,
    ns: 'none',
    dn: 'none',
    aAlive: true,
    notes: [],
    got: null,
  },
  initial: 'port',
  states: {
    port: {
      on: {
        MAKE_SEND: { guard: 'canMakeSend', actions: step((c) => ({ sendA: c.sendA + 1 })) },
        COPY_SEND: { guard: 'canCopy', actions: step(() => ({ sendC: 1 })) },
        MOVE_SEND: {
          guard: 'canCopy',
          actions: step((c) => noSenders(c, { ...dropA(c, 1), sendC: 1 })),
        },
        DEALLOC_A: { guard: 'holdsA', actions: step((c) => noSenders(c, dropA(c, 1))) },
        DEALLOC_C: { guard: 'holdsC', actions: step((c) => noSenders(c, { sendC: 0 })) },
        MAKE_SEND_ONCE: { guard: 'canMakeOnce', actions: step(() => ({ once: 'held' })) },
        SEND_ONCE: {
          guard: 'canUseOnce',
          actions: step((c) => ({ once: 'none', queue: [...c.queue, 'b'] })),
        },
        // A send-once right destroyed unused: the port gets a send-once notification.
        DROP_SEND_ONCE: {
          guard: 'canDropOnce',
          actions: step((c) => ({
            once: 'none',
            queue: live(c) ? [...c.queue, 'so'] : c.queue,
          })),
        },
        SEND_A: {
          guard: 'canSendA',
          actions: step((c) => ({
            sentA: c.sentA + 1,
            queue: [...c.queue, `a${c.sentA + 1}` as QueuedKind],
          })),
        },
        RECEIVE: {
          guard: 'canReceive',
          actions: step((c) => noSenders(c, { queue: c.queue.slice(1), got: c.queue[0]! })),
        },
        REQUEST_NO_SENDERS: {
          guard: 'canRequestNs',
          actions: step((c) =>
            senders(c) === 0 ? { ns: 'fired', notes: ['R:no-senders'] } : { ns: 'armed' },
          ),
        },
        REQUEST_DEAD_NAME: { guard: 'canRequestDn', actions: step(() => ({ dn: 'armed' })) },
        MOVE_RECEIVE: { guard: 'canMoveReceive', actions: step(() => ({ recv: 'S' })) },
        // The receive right destroyed: its queue goes, names turn dead, requests are answered.
        DESTROY_RECEIVE: {
          guard: 'canDestroy',
          actions: step((c) => {
            const notes: string[] = [];
            if (c.ns === 'armed') notes.push('R:send-once');
            if (c.dn === 'armed') notes.push('A:dead-name');
            return {
              recv: 'dead',
              queue: [],
              ns: c.ns === 'armed' ? 'none' : c.ns,
              dn: c.dn === 'armed' ? 'fired' : c.dn,
              deadA: c.sendA > 0 ? c.sendA + (c.dn === 'armed' ? 1 : 0) : 0,
              sendA: 0,
              deadC: c.sendC,
              sendC: 0,
              once: c.once === 'held' ? 'dead' : c.once,
              notes,
            };
          }),
        },
        // A's task ends: its space goes, with its send right and its request.
        TERMINATE_A: {
          guard: 'aAlive',
          actions: step((c) =>
            noSenders(c, {
              aAlive: false,
              sendA: 0,
              deadA: 0,
              dn: c.dn === 'armed' ? 'none' : c.dn,
            }),
          ),
        },
      },
    },
  },
});
