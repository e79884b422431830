import { setup } from 'xstate';

/**
 * What the per-peer transport statechart needs from its channel. The frames themselves (sequence
 * numbers, the unacknowledged list, the receive window) stay in plain code; the chart owns the
 * timers and the decisions: when to retransmit and when to give a silent peer up.
 */
export interface TransportIo {
  /** Resends every unacknowledged frame and backs the timeout off. */
  retransmit(): void;
  /** Fails every pending frame: the peer is unreachable. */
  giveUp(): void;
  /** The current retransmission timeout (ms). */
  rtoMs(): number;
  giveUpMs(): number;
}

export interface TransportInput {
  readonly io: TransportIo;
}

export type TransportEvent =
  /** A new frame went out. */
  | { type: 'SENT' }
  /** An acknowledgement moved the window; `idle` when nothing is left unacknowledged. */
  | { type: 'PROGRESS'; idle: boolean }
  /** The channel was reset from outside (peer restarted or severed us): nothing is pending. */
  | { type: 'RESET' };

/**
 * Reliable delivery to one peer, as the network server's transport modules do it
 * (mach-network-server.txt, 4.3.1 Delta-t: acknowledged packets, retransmissions scheduled by the
 * timer, duplicates detected by the receiver). Progress resets both timers; a retransmission
 * resets only the retransmission timer, so a peer that never answers is given up on time.
 */
export const netmsgTransport = setup({
  types: {
    context: {} as TransportInput,
    events: {} as TransportEvent,
    input: {} as TransportInput,
  },
  guards: {
    nothingPending: ({ event }) => event.type === 'PROGRESS' && event.idle,
  },
  actions: {
    retransmit: ({ context }) => context.io.retransmit(),
    giveUp: ({ context }) => context.io.giveUp(),
  },
  delays: {
    retransmitTimeout: ({ context }) => context.io.rtoMs(),
    giveUpTimeout: ({ context }) => context.io.giveUpMs(),
  },
}).createMachine({
  id: 'netmsgTransport',
  context: ({ input }) => input,
  initial: 'idle',
  states: {
    idle: {
      on: { SENT: 'sending' },
    },
    sending: {
      initial: 'awaitingAck',
      after: { giveUpTimeout: 'unreachable' },
      on: {
        PROGRESS: [
          { guard: 'nothingPending', target: 'idle' },
          { target: 'sending', reenter: true },
        ],
        RESET: 'idle',
      },
      states: {
        awaitingAck: {
          after: { retransmitTimeout: 'retransmitting' },
        },
        retransmitting: {
          entry: 'retransmit',
          always: 'awaitingAck',
        },
      },
    },
    unreachable: {
      entry: 'giveUp',
      on: { SENT: 'sending', RESET: 'idle' },
    },
  },
});
