import { setup } from 'xstate';

/** What the port-move chart reports; the forwarding itself is plain code. */
export interface PortMoveIo {
  phase(phase: 'forwarding' | 'settled' | 'lost'): void;
}

export interface PortMoveInput {
  readonly io: PortMoveIo;
  /** How long the old home must forward nothing before it counts as settled. */
  readonly quietMs: number;
}

export type PortMoveEvent =
  /** The new home announced that it holds the receive right. */
  | { type: 'INSTALLED' }
  /** A message for the port reached this host and was sent on. */
  | { type: 'FORWARDED' }
  /** The transfer failed or the port died: nothing to forward any more. */
  | { type: 'LOST' };

/**
 * A receive right leaving this host (mach-network-server.txt, 7.2: transfer of receiver rights;
 * 9.1: what a host the right has left answers). The old home ships the port and its queued messages,
 * then forwards whatever still arrives until every sender has learnt the new location: settled
 * means a quiet period without forwarding. The forwarding pointer itself is kept for good, so
 * a latecomer is still forwarded.
 */
export const netmsgPortMove = setup({
  types: {
    context: {} as PortMoveInput,
    events: {} as PortMoveEvent,
    input: {} as PortMoveInput,
  },
  actions: {
    reportForwarding: ({ context }) => context.io.phase('forwarding'),
    reportSettled: ({ context }) => context.io.phase('settled'),
    reportLost: ({ context }) => context.io.phase('lost'),
  },
  delays: {
    quiet: ({ context }) => context.quietMs,
  },
}).createMachine({
  id: 'netmsgPortMove',
  context: ({ input }) => input,
  initial: 'transferring',
  states: {
    transferring: {
      on: {
        INSTALLED: 'forwarding',
        // Messages can need forwarding before the announcement arrives.
        FORWARDED: 'transferring',
        LOST: 'lost',
      },
    },
    forwarding: {
      entry: 'reportForwarding',
      initial: 'waiting',
      on: { LOST: 'lost' },
      states: {
        // Each forwarded message restarts the quiet period.
        waiting: {
          after: { quiet: '#settled' },
          on: { FORWARDED: { target: 'waiting', reenter: true } },
        },
      },
    },
    settled: { id: 'settled', type: 'final', entry: 'reportSettled' },
    lost: { type: 'final', entry: 'reportLost' },
  },
});
