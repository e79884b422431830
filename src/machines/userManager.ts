import { type ActorRefFrom, assign, enqueueActions, setup } from 'xstate';
import type { MachMessageEvent } from '../actors/mailbox.ts';
import type { MigrateReply, ProcessReply, UserRequest } from '../protocol/managers.ts';
import { type ConsoleWrite, parseConsoleArrived, parseConsoleWrite } from '../protocol/managers.ts';
import { NotifyId } from '../protocol/notifications.ts';
import { type ConsoleStreamIo, consoleStream } from './consoleStream.ts';

/**
 * The user manager of a host (reference/seed section 4): the user's side. It relays the user's
 * requests to the migration manager (a request to a process wherever it runs, a migration; the
 * process manager starts processes for the user directly), and it shows the user the output of the processes
 * whose home is this host, each in order and exactly once, wherever they run now.
 *
 * Its console port is where its processes' kernel sides send their console writes; each task's
 * writes go through a consoleStream child that puts them in order. When a process that migrated
 * here loses its home (a dead-name notification on the home's console port, which this manager
 * watches for every process that arrived), the user manager takes its output over: the process
 * continues here, with its I/O here.
 */
export interface UserManagerIo {
  /** The host this user manager runs on. */
  readonly host: string;
  /** How long a console stream waits for a missing write (ms). */
  readonly gapMs: number;
  /** Relays a request to a process, wherever it runs, through the migration manager. */
  route(id: number, task: string, request: UserRequest): void;
  /** Relays a migration request to the migration manager. */
  migrate(id: number, task: string, to: string, strategy: string | undefined): void;
  /** Hands the user the answer to request `id`. */
  answer(id: number, reply: ProcessReply | MigrateReply): void;
  /** A console stream's io (display and skipped writes), for task `task`. */
  streamIo(task: string): ConsoleStreamIo;
  /** Starts watching the home console of a process that arrived here. */
  watch(task: string): void;
  /** A watched home console died: this host takes over the output of that home's processes. */
  takeOver(deadName: number): void;
  /** A message the user manager does not handle: its rights are released. */
  discard(m: MachMessageEvent['message']): void;
  /** Closes the console port (the user manager is going away). */
  close(): void;
}

export type UserManagerEvent =
  | MachMessageEvent
  | { type: 'user.request'; id: number; task: string; request: UserRequest }
  | { type: 'user.migrate'; id: number; task: string; to: string; strategy?: string }
  | { type: 'relay.done'; id: number; reply: ProcessReply | MigrateReply }
  | { type: 'process.arrived'; task: string }
  /** Writes of a process that ended here before its home was found dead, shown from its record. */
  | { type: 'console.replay'; write: ConsoleWrite }
  | { type: 'shutdown' };

type StreamRef = ActorRefFrom<typeof consoleStream>;

interface UserManagerContext {
  io: UserManagerIo;
  streams: Record<string, StreamRef>;
  relayed: number;
  answered: number;
  writes: number;
  rejected: number;
  takeovers: number;
}

const message = (e: UserManagerEvent) => (e as MachMessageEvent).message;
const isMessage = (e: UserManagerEvent): e is MachMessageEvent => e.type === 'mach.message';
const writeOf = (e: UserManagerEvent): ConsoleWrite | null => {
  if (e.type === 'console.replay') return e.write;
  if (!isMessage(e)) return null;
  const w = parseConsoleWrite(e.message);
  return 'malformed' in w ? null : w;
};

export const userManager = setup({
  types: {
    context: {} as UserManagerContext,
    events: {} as UserManagerEvent,
    input: {} as { io: UserManagerIo },
  },
  actors: { consoleStream },
  guards: {
    isConsoleWrite: ({ event }) => writeOf(event) !== null,
    isDeadName: ({ event }) => isMessage(event) && event.message.id === NotifyId.DEAD_NAME,
    isArrival: ({ event }) =>
      isMessage(event) && !('malformed' in parseConsoleArrived(event.message)),
  },
  actions: {
    /** A console write goes to its task's stream (started on the task's first write). */
    showWrite: enqueueActions(({ context, event, enqueue }) => {
      const w = writeOf(event)!;
      if (context.streams[w.task] === undefined) {
        enqueue.assign({
          streams: ({ context: c, spawn }) => ({
            ...c.streams,
            [w.task]: spawn('consoleStream', {
              id: `console:${w.task}`,
              input: { io: c.io.streamIo(w.task), task: w.task, gapMs: c.io.gapMs },
            }),
          }),
        });
      }
      enqueue.sendTo(({ context: c }) => c.streams[w.task]!, {
        type: 'LINE',
        seq: w.seq,
        start: w.start,
        text: w.text,
      });
      enqueue.assign({ writes: context.writes + 1 });
    }),
    takeOver: ({ context, event }) => {
      const m = message(event);
      const first = m.body[0];
      if (first?.type !== 'inline') return;
      const name = new DataView(first.data.buffer, first.data.byteOffset, 4).getInt32(0, true);
      context.io.takeOver(name);
    },
    countTakeover: assign({ takeovers: ({ context }) => context.takeovers + 1 }),
    discard: ({ context, event }) => {
      if (isMessage(event)) context.io.discard(event.message);
    },
    countRejected: assign({ rejected: ({ context }) => context.rejected + 1 }),
    relayRequest: ({ context, event }) => {
      if (event.type === 'user.request') context.io.route(event.id, event.task, event.request);
    },
    relayMigrate: ({ context, event }) => {
      if (event.type === 'user.migrate')
        context.io.migrate(event.id, event.task, event.to, event.strategy);
    },
    countRelayed: assign({ relayed: ({ context }) => context.relayed + 1 }),
    answer: ({ context, event }) => {
      if (event.type === 'relay.done') context.io.answer(event.id, event.reply);
    },
    countAnswered: assign({ answered: ({ context }) => context.answered + 1 }),
    watchHome: ({ context, event }) => {
      if (event.type === 'process.arrived') context.io.watch(event.task);
      if (!isMessage(event)) return;
      const a = parseConsoleArrived(event.message);
      if (!('malformed' in a)) context.io.watch(a.task);
    },
    close: ({ context }) => context.io.close(),
  },
}).createMachine({
  id: 'userManager',
  context: ({ input }) => ({
    io: input.io,
    streams: {},
    relayed: 0,
    answered: 0,
    writes: 0,
    rejected: 0,
    takeovers: 0,
  }),
  initial: 'serving',
  states: {
    serving: {
      on: {
        'mach.message': [
          { guard: 'isConsoleWrite', actions: 'showWrite' },
          { guard: 'isArrival', actions: 'watchHome' },
          { guard: 'isDeadName', actions: ['takeOver', 'countTakeover'] },
          { actions: ['discard', 'countRejected'] },
        ],
        'user.request': { actions: ['relayRequest', 'countRelayed'] },
        'user.migrate': { actions: ['relayMigrate', 'countRelayed'] },
        'relay.done': { actions: ['answer', 'countAnswered'] },
        'process.arrived': { actions: 'watchHome' },
        'console.replay': { actions: 'showWrite' },
        shutdown: 'stopped',
      },
    },
    stopped: { type: 'final', entry: 'close' },
  },
});
