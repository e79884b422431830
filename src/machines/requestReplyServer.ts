import { assign, setup } from 'xstate';
import type { MachMessageEvent } from '../actors/mailbox.ts';
import { NotifyId } from '../protocol/notifications.ts';
import { parseRequest, type Reply } from '../protocol/requestReply.ts';

/**
 * What a request/reply server needs from the runtime. The machine reaches Mach only through this
 * interface, so it runs on a simulated host, inside a test, or under `.provide()` elsewhere.
 */
export interface ServerIo {
  /** Sends `reply` through the send-once right named `replyPort`. */
  reply(replyPort: number, reply: Reply): void;
  /** Deallocates a right the server will not use (a reply right of a malformed request). */
  discard(name: number): void;
  /** Destroys the service port (the server is going away). */
  close(): void;
}

export interface ServerInput {
  readonly io: ServerIo;
  readonly handle: (request: unknown) => unknown;
}

interface ServerContext extends ServerInput {
  served: number;
  rejected: number;
}

type ServerEvent = MachMessageEvent | { type: 'shutdown' };

const isMessage = (e: ServerEvent): e is MachMessageEvent => e.type === 'mach.message';

/**
 * A Mach request/reply server: its mailbox is its service port; each message arrives as an event.
 * It serves requests until its last client drops its send right (the no-senders notification),
 * then closes its port: the classic Mach server lifecycle.
 */
export const requestReplyServer = setup({
  types: {
    context: {} as ServerContext,
    events: {} as ServerEvent,
    input: {} as ServerInput,
  },
  guards: {
    noSendersLeft: ({ event }) => isMessage(event) && event.message.id === NotifyId.NO_SENDERS,
    wellFormed: ({ event }) => isMessage(event) && 'request' in parseRequest(event.message),
  },
  actions: {
    serve: ({ context, event }) => {
      if (!isMessage(event)) return;
      const parsed = parseRequest(event.message);
      if (!('request' in parsed)) return;
      let reply: Reply;
      try {
        reply = { ok: true, result: context.handle(parsed.request) };
      } catch (e) {
        reply = { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
      context.io.reply(event.message.remotePort, reply);
    },
    rejectMalformed: ({ context, event }) => {
      if (!isMessage(event)) return;
      const parsed = parseRequest(event.message);
      const why = 'malformed' in parsed ? parsed.malformed : 'unexpected message';
      const m = event.message;
      if (m.remoteRight === 18) context.io.reply(m.remotePort, { ok: false, error: why });
      else if (m.remotePort !== 0) context.io.discard(m.remotePort);
    },
    countServed: assign({ served: ({ context }) => context.served + 1 }),
    countRejected: assign({ rejected: ({ context }) => context.rejected + 1 }),
    closePort: ({ context }) => context.io.close(),
  },
}).createMachine({
  id: 'requestReplyServer',
  context: ({ input }) => ({ ...input, served: 0, rejected: 0 }),
  initial: 'serving',
  states: {
    serving: {
      on: {
        'mach.message': [
          { guard: 'noSendersLeft', target: 'closed' },
          { guard: 'wellFormed', actions: ['serve', 'countServed'] },
          { actions: ['rejectMalformed', 'countRejected'] },
        ],
        shutdown: 'closed',
      },
    },
    closed: { type: 'final', entry: 'closePort' },
  },
});
