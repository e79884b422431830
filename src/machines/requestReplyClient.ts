import { assign, setup } from 'xstate';
import type { MachMessageEvent } from '../actors/mailbox.ts';
import { parseReply, type Reply } from '../protocol/requestReply.ts';

/** What the client machine needs from the runtime. */
export interface ClientIo {
  /** Sends a request whose reply will arrive in the client's mailbox. */
  call(request: unknown): void;
  /** Gives up the client's send right to the server (it is done). */
  release(): void;
}

export interface ClientInput {
  readonly io: ClientIo;
  readonly requests: readonly unknown[];
  /** How long to wait for each reply, in virtual ms. */
  readonly timeoutMs: number;
}

interface ClientContext extends ClientInput {
  next: number;
  replies: Reply[];
}

/**
 * A client that issues its requests one at a time, each with a reply timeout on the virtual clock.
 * A reply that does not come in time ends the client in `failed`: Mach messages on one host are
 * reliable, so a missing reply means the server is gone or stuck.
 */
export const requestReplyClient = setup({
  types: {
    context: {} as ClientContext,
    events: {} as MachMessageEvent,
    input: {} as ClientInput,
  },
  guards: {
    moreToSend: ({ context }) => context.next < context.requests.length,
  },
  actions: {
    sendRequest: ({ context }) => context.io.call(context.requests[context.next]),
    recordReply: assign({
      replies: ({ context, event }) => [...context.replies, parseReply(event.message)],
      next: ({ context }) => context.next + 1,
    }),
    release: ({ context }) => context.io.release(),
  },
  delays: {
    replyTimeout: ({ context }) => context.timeoutMs,
  },
}).createMachine({
  id: 'requestReplyClient',
  context: ({ input }) => ({ ...input, next: 0, replies: [] }),
  initial: 'deciding',
  states: {
    deciding: {
      always: [{ guard: 'moreToSend', target: 'awaitingReply' }, { target: 'done' }],
    },
    awaitingReply: {
      entry: 'sendRequest',
      on: { 'mach.message': { target: 'deciding', actions: 'recordReply' } },
      after: { replyTimeout: 'failed' },
    },
    done: { type: 'final', entry: 'release' },
    failed: { type: 'final', entry: 'release' },
  },
});
