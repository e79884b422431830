import { assign, setup } from 'xstate';
import type { MachMessageEvent } from '../actors/mailbox.ts';
import { type ProcessRequest, parseProcessRequest } from '../protocol/managers.ts';

/**
 * The process manager of a host (reference/seed section 4): it knows the processes on this host,
 * those started here for a user and those that arrived by migration; it starts processes, reports
 * their status and delivers user requests to them. A request for a process that left this host is
 * answered with where it went (the migration manager's forwarding pointer), so the sender can
 * follow it; one for a process being migrated right now may only ask its status (suspending or
 * resuming it under the migration would break the migration's hold on it).
 */
export interface ProcessManagerIo {
  /** Where the process is, as this host knows it. */
  where(task: string): 'here' | 'migrating' | 'departed' | 'unknown';
  /** Performs a request on a process here and answers it. */
  deliver(m: MachMessageEvent['message'], req: ProcessRequest): void;
  /** Answers a request for a process that is not here (gone elsewhere, or never here). */
  redirect(m: MachMessageEvent['message'], req: ProcessRequest): void;
  /** Answers a request that cannot be performed now (the process is being migrated). */
  busy(m: MachMessageEvent['message'], req: ProcessRequest): void;
  /** Answers (or drops) a malformed message. */
  reject(m: MachMessageEvent['message'], why: string): void;
  /** A process arrived here by migration: takes it into the table. */
  adopt(task: string): void;
  /** A process here ended (or left). */
  ended(task: string): void;
  close(): void;
}

export type ProcessManagerEvent =
  | MachMessageEvent
  /** A process was started here for a user (this host is its home). */
  | { type: 'spawned'; task: string }
  | { type: 'arrived'; task: string }
  | { type: 'ended'; task: string }
  | { type: 'shutdown' };

const requestOf = (e: ProcessManagerEvent): ProcessRequest | null => {
  if (e.type !== 'mach.message') return null;
  const r = parseProcessRequest(e.message);
  return 'malformed' in r ? null : r;
};
const whereOf = (io: ProcessManagerIo, e: ProcessManagerEvent) => {
  const r = requestOf(e);
  return r === null ? null : io.where(r.task);
};

export const processManager = setup({
  types: {
    context: {} as {
      io: ProcessManagerIo;
      spawned: number;
      delivered: number;
      redirected: number;
      rejected: number;
    },
    events: {} as ProcessManagerEvent,
    input: {} as { io: ProcessManagerIo },
  },
  guards: {
    isRequest: ({ event }) => requestOf(event) !== null,
    processHere: ({ context, event }) => {
      const w = whereOf(context.io, event);
      return w === 'here' || w === 'migrating';
    },
    /** Status is always answered; control waits until the migration is over. */
    processMigrating: ({ context, event }) => {
      const r = requestOf(event);
      return r !== null && r.request.op !== 'status' && context.io.where(r.task) === 'migrating';
    },
  },
  actions: {
    deliver: ({ context, event }) => {
      if (event.type === 'mach.message') context.io.deliver(event.message, requestOf(event)!);
    },
    redirect: ({ context, event }) => {
      if (event.type === 'mach.message') context.io.redirect(event.message, requestOf(event)!);
    },
    busy: ({ context, event }) => {
      if (event.type === 'mach.message') context.io.busy(event.message, requestOf(event)!);
    },
    reject: ({ context, event }) => {
      if (event.type !== 'mach.message') return;
      const r = parseProcessRequest(event.message);
      context.io.reject(event.message, 'malformed' in r ? r.malformed : 'unexpected message');
    },
    adopt: ({ context, event }) => {
      if (event.type === 'arrived') context.io.adopt(event.task);
    },
    ended: ({ context, event }) => {
      if (event.type === 'ended') context.io.ended(event.task);
    },
    countSpawned: assign({ spawned: ({ context }) => context.spawned + 1 }),
    countDelivered: assign({ delivered: ({ context }) => context.delivered + 1 }),
    countRedirected: assign({ redirected: ({ context }) => context.redirected + 1 }),
    countRejected: assign({ rejected: ({ context }) => context.rejected + 1 }),
    close: ({ context }) => context.io.close(),
  },
}).createMachine({
  id: 'processManager',
  context: ({ input }) => ({ io: input.io, spawned: 0, delivered: 0, redirected: 0, rejected: 0 }),
  initial: 'serving',
  states: {
    serving: {
      on: {
        'mach.message': [
          { guard: 'processMigrating', actions: 'busy' },
          { guard: 'processHere', actions: ['deliver', 'countDelivered'] },
          { guard: 'isRequest', actions: ['redirect', 'countRedirected'] },
          { actions: ['reject', 'countRejected'] },
        ],
        spawned: { actions: 'countSpawned' },
        arrived: { actions: 'adopt' },
        ended: { actions: 'ended' },
        shutdown: 'stopped',
      },
    },
    stopped: { type: 'final', entry: 'close' },
  },
});
