import { enqueueActions, setup } from 'xstate';
import type { MachMessageEvent } from '../actors/mailbox.ts';
import { MigrationId, type SessionState } from '../protocol/migration.ts';

/**
 * One incoming migration on the destination host (the server side of reference/seed section 3):
 * the new task is created with no inherited address space, its pages arrive, its threads and
 * port space are restored, and then COMMIT (the commit point: from here the destination owns the
 * task and resumes it) or ABORT (the partial task is destroyed). Silence for too long before
 * COMMIT means the client gave up or died: the session presumes abort. An aborted session keeps
 * answering for a while, so a late COMMIT gets its rights sent back instead of lost.
 */
export interface SessionIo {
  /** Installs pages (PAGES); returns an error to refuse them. */
  pages(m: MachMessageEvent['message']): string | null;
  /** Creates threads and the port space's shape (RESTORE). */
  restore(m: MachMessageEvent['message']): string | null;
  /** Installs the rights and resumes the task (COMMIT). */
  commit(m: MachMessageEvent['message']): string | null;
  /** Answers a request with the session's state (and, when refusing COMMIT, its rights back). */
  reply(m: MachMessageEvent['message'], ok: boolean, state: SessionState, error?: string): void;
  /** Destroys the partial task. */
  destroyTask(): void;
  /** The session is over: its port goes. */
  close(): void;
}

export interface SessionInput {
  readonly io: SessionIo;
  /** How long the session waits for the client's next message before presuming abort. */
  readonly idleMs: number;
  /** How long an ended session keeps answering. */
  readonly lingerMs: number;
}

type SessionEvent = MachMessageEvent | { type: 'RESTORED' } | { type: 'COMMITTED' };
const is =
  (id: number) =>
  ({ event }: { event: SessionEvent }) =>
    event.type === 'mach.message' && event.message.id === id;
const msg = (e: SessionEvent) => (e as MachMessageEvent).message;

export const migrationSession = setup({
  types: {
    context: {} as SessionInput & { error: string | null },
    events: {} as MachMessageEvent | { type: 'RESTORED' } | { type: 'COMMITTED' },
    input: {} as SessionInput,
  },
  guards: {
    isPages: is(MigrationId.PAGES),
    isRestore: is(MigrationId.RESTORE),
    isCommit: is(MigrationId.COMMIT),
    isAbort: is(MigrationId.ABORT),
    isStatus: is(MigrationId.STATUS),
  },
  actions: {
    ack: ({ context, event }, params: { state: SessionState }) =>
      context.io.reply(msg(event), true, params.state),
    refuse: ({ context, event }, params: { state: SessionState; error: string }) =>
      context.io.reply(msg(event), false, params.state, params.error),
    applyPages: ({ context, event }) => {
      const error = context.io.pages(msg(event));
      context.io.reply(msg(event), error === null, 'receiving', error ?? undefined);
    },
    applyRestore: enqueueActions(({ context, event, enqueue }) => {
      const error = context.io.restore(msg(event));
      context.io.reply(
        msg(event),
        error === null,
        error === null ? 'prepared' : 'receiving',
        error ?? undefined,
      );
      if (error === null) enqueue.raise({ type: 'RESTORED' });
    }),
    applyCommit: enqueueActions(({ context, event, enqueue }) => {
      const error = context.io.commit(msg(event));
      context.io.reply(
        msg(event),
        error === null,
        error === null ? 'committed' : 'prepared',
        error ?? undefined,
      );
      if (error === null) enqueue.raise({ type: 'COMMITTED' });
    }),
    destroyTask: ({ context }) => context.io.destroyTask(),
    close: ({ context }) => context.io.close(),
  },
  delays: {
    idle: ({ context }) => context.idleMs,
    linger: ({ context }) => context.lingerMs,
  },
}).createMachine({
  id: 'migrationSession',
  context: ({ input }) => ({ ...input, error: null }),
  initial: 'receiving',
  states: {
    receiving: {
      on: {
        'mach.message': [
          { guard: 'isPages', target: 'receiving', reenter: true, actions: 'applyPages' },
          { guard: 'isRestore', actions: 'applyRestore' },
          {
            guard: 'isAbort',
            target: 'aborted',
            actions: { type: 'ack', params: { state: 'aborted' } },
          },
          { guard: 'isStatus', actions: { type: 'ack', params: { state: 'receiving' } } },
          {
            actions: {
              type: 'refuse',
              params: { state: 'receiving', error: 'unexpected request before RESTORE' },
            },
          },
        ],
        RESTORED: 'prepared',
      },
      after: { idle: 'aborted' },
    },
    prepared: {
      on: {
        'mach.message': [
          { guard: 'isCommit', actions: 'applyCommit' },
          {
            guard: 'isAbort',
            target: 'aborted',
            actions: { type: 'ack', params: { state: 'aborted' } },
          },
          { guard: 'isStatus', actions: { type: 'ack', params: { state: 'prepared' } } },
          {
            actions: {
              type: 'refuse',
              params: { state: 'prepared', error: 'unexpected request after RESTORE' },
            },
          },
        ],
        COMMITTED: 'committed',
      },
      after: { idle: 'aborted' },
    },
    committed: {
      on: {
        'mach.message': [
          { guard: 'isCommit', actions: { type: 'ack', params: { state: 'committed' } } },
          { guard: 'isStatus', actions: { type: 'ack', params: { state: 'committed' } } },
          {
            actions: {
              type: 'refuse',
              params: { state: 'committed', error: 'the session has committed' },
            },
          },
        ],
      },
      after: { linger: 'closed' },
    },
    aborted: {
      entry: 'destroyTask',
      on: {
        'mach.message': [
          { guard: 'isAbort', actions: { type: 'ack', params: { state: 'aborted' } } },
          {
            actions: {
              type: 'refuse',
              params: { state: 'aborted', error: 'the session was aborted' },
            },
          },
        ],
      },
      after: { linger: 'closed' },
    },
    closed: { type: 'final', entry: 'close' },
  },
});
