import { setup } from 'xstate';
import type { MachMessageEvent } from '../actors/mailbox.ts';
import { MigrationId } from '../protocol/migration.ts';

/**
 * The migration server of a host (reference/seed section 3): its port is checked in with the
 * network name service, so a migration client anywhere can find it (step 1). Each CREATE opens a
 * session (a migrationSession actor on a port of its own); STATUS about a session it no longer
 * knows is answered 'unknown' (it never committed here, or the host restarted since). An ABORT
 * sent here (by a client whose right to the session died) goes to the open session it names.
 */
export interface MigrationServerIo {
  /** Creates the new task and its session; replies with the session port or a refusal. */
  openSession(m: MachMessageEvent['message']): void;
  /** Answers a STATUS request sent to the server port. */
  answerStatus(m: MachMessageEvent['message']): void;
  reject(m: MachMessageEvent['message'], reason: string): void;
  /** Hands a request about an open session (ABORT) to that session. */
  forwardToSession(m: MachMessageEvent['message']): void;
}

export const migrationServer = setup({
  types: {
    context: {} as { io: MigrationServerIo; sessions: number },
    events: {} as MachMessageEvent | { type: 'shutdown' },
    input: {} as { io: MigrationServerIo },
  },
  guards: {
    isCreate: ({ event }) =>
      event.type === 'mach.message' && event.message.id === MigrationId.CREATE,
    isStatus: ({ event }) =>
      event.type === 'mach.message' && event.message.id === MigrationId.STATUS,
    isAbort: ({ event }) => event.type === 'mach.message' && event.message.id === MigrationId.ABORT,
  },
  actions: {
    openSession: ({ context, event }) => {
      if (event.type === 'mach.message') context.io.openSession(event.message);
    },
    answerStatus: ({ context, event }) => {
      if (event.type === 'mach.message') context.io.answerStatus(event.message);
    },
    forwardToSession: ({ context, event }) => {
      if (event.type === 'mach.message') context.io.forwardToSession(event.message);
    },
    reject: ({ context, event }) => {
      if (event.type === 'mach.message')
        context.io.reject(event.message, `unexpected request ${event.message.id}`);
    },
  },
}).createMachine({
  id: 'migrationServer',
  context: ({ input }) => ({ io: input.io, sessions: 0 }),
  initial: 'serving',
  states: {
    serving: {
      on: {
        'mach.message': [
          { guard: 'isCreate', actions: 'openSession' },
          { guard: 'isStatus', actions: 'answerStatus' },
          { guard: 'isAbort', actions: 'forwardToSession' },
          { actions: 'reject' },
        ],
        shutdown: 'stopped',
      },
    },
    stopped: { type: 'final' },
  },
});
