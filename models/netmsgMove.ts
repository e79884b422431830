import { assign, setup } from 'xstate';

/**
 * Abstract model of netmsg's location updates when a receive right moves between hosts
 * (mach-network-server.txt 7.2, transfer of receive rights; 9.1, a port that moved; the runtime
 * is src/netmsg/migration.ts and dispatch.ts). Three hosts a, b, c; the receive right of port P
 * starts on a; a sender on a (a local right, which becomes a proxy when the right leaves) and one
 * on b (a proxy) send numbered messages; c has never heard of P until the right comes to it. No
 * invoke, no after: each event is done for real by src/check/netmsgMoveExecutors.ts, each state
 * asserted there: where the receive right is, what every proxy host believes about its location
 * once things settle, and that every sender's messages arrive exactly once and in order.
 *
 * MOVE_TO moves the receive right (with its queue) to another host; SETTLE lets the world run
 * until the move is done and every message sent so far is queued at the port; RECEIVE drains it.
 * Faults: NOISE (frames lost, duplicated and reordered from then on: the transport must hide
 * it), DELAY (the link between the old and the new home partitioned for less than netmsg's
 * give-up while the right is on its way: senders must not overtake it), CRASH_OLD_HOME (a, after
 * the right left it and everyone learnt the new location: nothing may depend on it any more),
 * DESTROY (the receive right destroyed: senders learn the port is dead).
 */

export type NetHost = 'a' | 'b' | 'c';

export interface NetmsgMoveContext {
  /** Where the receive right is, or is going. */
  at: NetHost;
  moving: boolean;
  moves: number;
  sentA: number;
  sentB: number;
  /** Messages sent that have not been received (drained) yet. */
  pending: boolean;
  /** A message was sent while the right was on its way (it races the right). */
  racing: number;
  noisy: boolean;
  delayed: boolean;
  /** Host a crashed (after the right left it). */
  aDown: boolean;
  dead: boolean;
}

export type NetmsgMoveEvent =
  | { type: 'MOVE_TO'; host: NetHost }
  | { type: 'SEND'; from: 'a' | 'b' }
  | { type: 'SETTLE' }
  | { type: 'RECEIVE' }
  | { type: 'NOISE' }
  | { type: 'DELAY' }
  | { type: 'CRASH_OLD_HOME' }
  | { type: 'DESTROY' };

export const NETMSG_MOVE_EVENTS: readonly NetmsgMoveEvent[] = [
  { type: 'MOVE_TO', host: 'a' },
  { type: 'MOVE_TO', host: 'b' },
  { type: 'MOVE_TO', host: 'c' },
  { type: 'SEND', from: 'a' },
  { type: 'SEND', from: 'b' },
  { type: 'SETTLE' },
  { type: 'RECEIVE' },
  { type: 'NOISE' },
  { type: 'DELAY' },
  { type: 'CRASH_OLD_HOME' },
  { type: 'DESTROY' },
];

export const NETMSG_MOVE_FAULTS: ReadonlySet<string> = new Set([
  'NOISE',
  'DELAY',
  'CRASH_OLD_HOME',
  'DESTROY',
]);

const MAX_MOVES = 2;
const MAX_SENT = 2;

type Ctx = NetmsgMoveContext;
const faulted = (c: Ctx) => c.noisy || c.delayed || c.aDown || c.dead;

export const netmsgMoveModel = setup({
  types: { context: {} as Ctx, events: {} as NetmsgMoveEvent },
  guards: {
    canMove: ({ context: c, event }) => {
      const to = (event as { host: NetHost }).host;
      return !c.dead && !c.moving && c.moves < MAX_MOVES && to !== c.at && !(to === 'a' && c.aDown);
    },
    canSend: ({ context: c, event }) =>
      (event as { from: 'a' | 'b' }).from === 'a'
        ? c.sentA < MAX_SENT && !c.aDown
        : c.sentB < MAX_SENT,
    canReceive: ({ context: c }) => !c.dead && !c.moving && c.pending,
    canSettle: ({ context: c }) => c.moving,
    canNoise: ({ context: c }) => !faulted(c),
    // Right after the move starts (before any message races the right).
    canDelay: ({ context: c }) => c.moving && c.racing === 0 && !faulted(c),
    // The old home can go once the right left it and the move settled (its sender goes too).
    canCrash: ({ context: c }) =>
      !faulted(c) && !c.moving && !c.pending && c.at !== 'a' && c.moves > 0,
    canDestroy: ({ context: c }) => !faulted(c) && !c.moving,
  },
}).createMachine({
  id: 'netmsgMoveModel',
  context: {
    at: 'a',
    moving: false,
    moves: 0,
    sentA: 0,
    sentB: 0,
    pending: false,
    racing: 0,
    noisy: false,
    delayed: false,
    aDown: false,
    dead: false,
  },
  initial: 'network',
  states: {
    network: {
      on: {
        MOVE_TO: {
          guard: 'canMove',
          actions: assign(({ context: c, event }) => ({
            at: (event as { host: NetHost }).host,
            moving: true,
            moves: c.moves + 1,
            racing: 0,
          })),
        },
        SEND: {
          guard: 'canSend',
          actions: assign(({ context: c, event }) =>
            (event as { from: string }).from === 'a'
              ? { sentA: c.sentA + 1, pending: true, racing: c.moving ? 1 : c.racing }
              : { sentB: c.sentB + 1, pending: true, racing: c.moving ? 1 : c.racing },
          ),
        },
        SETTLE: { guard: 'canSettle', actions: assign({ moving: false }) },
        RECEIVE: { guard: 'canReceive', actions: assign({ pending: false }) },
        NOISE: { guard: 'canNoise', actions: assign({ noisy: true }) },
        DELAY: { guard: 'canDelay', actions: assign({ delayed: true }) },
        CRASH_OLD_HOME: { guard: 'canCrash', actions: assign({ aDown: true }) },
        DESTROY: {
          guard: 'canDestroy',
          actions: assign({ dead: true, pending: false }),
        },
      },
    },
  },
});
