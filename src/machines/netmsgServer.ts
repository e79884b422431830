import { emit, setup } from 'xstate';
import type { MachMessageEvent } from '../actors/mailbox.ts';
import type { Frame } from '../world/network.ts';

/** What a port of the server's space is for. */
export type NetmsgPortRole = 'service' | 'notify' | 'proxy' | 'proxy-notify' | 'other';

/** The one query the chart makes of its runtime: what a port is for. */
export interface NetmsgServerIo {
  roleOf(port: number): NetmsgPortRole;
}

export interface NetmsgServerInput {
  readonly io: NetmsgServerIo;
}

export type NetmsgServerEvent =
  | MachMessageEvent
  | { type: 'net.frame'; frame: Frame }
  | { type: 'stop' };

/**
 * The work the chart hands to its runtime (src/netmsg), one kind per thread of
 * mach-network-server.txt section 2.2. Emitted events run after the transition, outside any
 * action, so a handler may start actors of its own.
 */
export type NetmsgServerWork =
  /** Name Service thread: a netname request from a task. */
  | { type: 'serveRequest'; message: MachMessageEvent }
  /** Notify Messages thread: a kernel notification about a port the server holds. */
  | { type: 'notified'; message: MachMessageEvent }
  /** IPC Send thread: a message sent to a local representative of a remote port. */
  | { type: 'sendFromProxy'; message: MachMessageEvent }
  /** A proxy lost its last local sender. */
  | { type: 'proxyNotified'; message: MachMessageEvent }
  /** Transport Receive thread: a frame from the network. */
  | { type: 'receiveFrame'; frame: Frame }
  /** A message on a port the server no longer recognises: its rights are released. */
  | { type: 'discard'; message: MachMessageEvent }
  | { type: 'shutdown' };

type Args = { context: NetmsgServerInput; event: NetmsgServerEvent };

const on =
  (role: NetmsgPortRole) =>
  ({ context, event }: Args) =>
    event.type === 'mach.message' && context.io.roleOf(event.port) === role;

const msg = (e: NetmsgServerEvent) => e as MachMessageEvent;

/**
 * One network message server per host. Its mailboxes are ports in its own space: the service port
 * (netname calls), the notify port (dead names), every proxy (a local port that stands for a
 * remote one) and each proxy's no-senders port; frames arrive from the network. The protocols behind
 * these events have charts of their own: netmsgTransport (per peer: retransmit, give up),
 * netmsgLookup (look-up) and netmsgPortMove (transfer, forwarding, location update).
 */
export const netmsgServer = setup({
  types: {
    context: {} as NetmsgServerInput,
    events: {} as NetmsgServerEvent,
    input: {} as NetmsgServerInput,
    emitted: {} as NetmsgServerWork,
  },
  guards: {
    onServicePort: on('service'),
    onNotifyPort: on('notify'),
    onProxy: on('proxy'),
    onProxyNotifyPort: on('proxy-notify'),
  },
  actions: {
    serveRequest: emit(({ event }) => ({ type: 'serveRequest', message: msg(event) }) as const),
    handleNotification: emit(({ event }) => ({ type: 'notified', message: msg(event) }) as const),
    sendFromProxy: emit(({ event }) => ({ type: 'sendFromProxy', message: msg(event) }) as const),
    handleProxyNotification: emit(
      ({ event }) => ({ type: 'proxyNotified', message: msg(event) }) as const,
    ),
    discard: emit(({ event }) => ({ type: 'discard', message: msg(event) }) as const),
    receiveFrame: emit(
      ({ event }) => ({ type: 'receiveFrame', frame: (event as { frame: Frame }).frame }) as const,
    ),
    shutdown: emit({ type: 'shutdown' } as const),
  },
}).createMachine({
  id: 'netmsgServer',
  context: ({ input }) => input,
  initial: 'running',
  states: {
    running: {
      on: {
        'mach.message': [
          { guard: 'onProxy', actions: 'sendFromProxy' },
          { guard: 'onServicePort', actions: 'serveRequest' },
          { guard: 'onNotifyPort', actions: 'handleNotification' },
          { guard: 'onProxyNotifyPort', actions: 'handleProxyNotification' },
          { actions: 'discard' },
        ],
        'net.frame': { actions: 'receiveFrame' },
        stop: 'stopped',
      },
    },
    stopped: { type: 'final', entry: 'shutdown' },
  },
});
