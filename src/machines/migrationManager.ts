import { assign, enqueueActions, fromCallback, setup } from 'xstate';
import type { MachMessageEvent } from '../actors/mailbox.ts';
import {
  type Location,
  ManagerId,
  type MigrateReply,
  type MigrationManagerRequest,
  type MigrationSummary,
  type ProcessReply,
  parseLocation,
  parseMigrationManagerRequest,
  type UserRequest,
} from '../protocol/managers.ts';

/**
 * The migration manager of a host (reference/seed section 4): it performs migrations (the
 * migration client of section 3, for a task on this host) and knows where every task went. Its
 * location table is updated when a migration it performed commits, and by the LOCATION notices
 * the other hosts' migration managers send on their commits; a task its table does not know is
 * asked of every other migration manager. A user request to a process goes through it: the
 * requestRoute chart finds the process's host and delivers the request to the process manager
 * there, following the forwarding pointer of a process that moved on meanwhile.
 */

// ---- requestRoute: one user request on its way to a process -----------------------------------

export interface RouteIo {
  /**
   * Where `task` runs: from the location table, or (`everywhere`) by asking every migration
   * manager. Reports null if nobody knows it.
   */
  locate(
    task: string,
    everywhere: boolean,
    done: (host: string | null) => void,
    fail: (why: string) => void,
  ): void;
  /** Sends the request to the process manager of `host` and reports its answer. */
  deliver(
    host: string,
    task: string,
    request: UserRequest,
    done: (reply: ProcessReply) => void,
    fail: (why: string) => void,
  ): void;
  /** A process manager said the task moved on to `host`: the table learns it. */
  hint(task: string, host: string): void;
}

export interface RouteInput {
  readonly io: RouteIo;
  readonly task: string;
  readonly request: UserRequest;
  /** Forwarding pointers followed at most. */
  readonly maxHops: number;
  /** Timeout of each remote step (ms). */
  readonly stepMs: number;
}

type RouteEvent =
  | { type: 'FOUND'; host: string | null }
  | { type: 'REPLY'; reply: ProcessReply }
  | { type: 'FAILED'; reason: string };

interface RouteContext extends RouteInput {
  host: string | null;
  hops: number;
  /** Whether the location came from asking everyone (after the table's answer failed). */
  relocated: boolean;
  reply: ProcessReply | null;
  error: string | null;
  visited: string[];
}

const routeStep = <I>(run: (input: I, send: (e: RouteEvent) => void) => void) =>
  fromCallback<RouteEvent, I>(({ input, sendBack }) => {
    let live = true;
    run(input, (e) => {
      if (live) sendBack(e);
    });
    return () => {
      live = false;
    };
  });

const replyOf = (e: RouteEvent) => (e.type === 'REPLY' ? e.reply : null);

export const requestRoute = setup({
  types: {
    context: {} as RouteContext,
    events: {} as RouteEvent,
    input: {} as RouteInput,
    output: {} as ProcessReply,
  },
  actors: {
    locate: routeStep<{ io: RouteIo; task: string; everywhere: boolean }>((i, send) =>
      i.io.locate(
        i.task,
        i.everywhere,
        (host) => send({ type: 'FOUND', host }),
        (reason) => send({ type: 'FAILED', reason }),
      ),
    ),
    deliver: routeStep<{ io: RouteIo; host: string; task: string; request: UserRequest }>(
      (i, send) =>
        i.io.deliver(
          i.host,
          i.task,
          i.request,
          (reply) => send({ type: 'REPLY', reply }),
          (reason) => send({ type: 'FAILED', reason }),
        ),
    ),
  },
  guards: {
    found: ({ event }) => event.type === 'FOUND' && event.host !== null,
    answered: ({ event }) => replyOf(event)?.ok === true,
    movedOn: ({ context, event }) => {
      const r = replyOf(event);
      return (
        r !== null &&
        !r.ok &&
        r.movedTo !== undefined &&
        context.hops < context.maxHops &&
        !context.visited.includes(r.movedTo)
      );
    },
    /** The table's answer led nowhere: ask everyone once. */
    mayRelocate: ({ context, event }) => {
      const r = replyOf(event);
      if (context.relocated) return false;
      return r === null || r.ok === false;
    },
  },
  delays: { stepTimeout: ({ context }) => context.stepMs },
  actions: {
    setHost: assign({
      host: ({ event }) => (event.type === 'FOUND' ? event.host : null),
      visited: ({ event }) => (event.type === 'FOUND' && event.host ? [event.host] : []),
    }),
    follow: enqueueActions(({ context, event, enqueue }) => {
      const to = (replyOf(event) as { movedTo: string }).movedTo;
      context.io.hint(context.task, to);
      enqueue.assign({
        host: to,
        hops: context.hops + 1,
        visited: [...context.visited, to],
      });
    }),
    relocate: assign({ relocated: true }),
    keepReply: assign({ reply: ({ event }) => replyOf(event) }),
    keepError: assign({
      error: ({ event }) =>
        event.type === 'FAILED'
          ? event.reason
          : event.type === 'FOUND'
            ? 'no migration manager knows this task'
            : null,
    }),
    timedOut: assign({ error: 'no answer in time' }),
  },
}).createMachine({
  id: 'requestRoute',
  context: ({ input }) => ({
    ...input,
    host: null,
    hops: 0,
    relocated: false,
    reply: null,
    error: null,
    visited: [],
  }),
  initial: 'locating',
  states: {
    /** Which host runs the process: the table, or every migration manager. */
    locating: {
      invoke: {
        src: 'locate',
        input: ({ context }) => ({
          io: context.io,
          task: context.task,
          everywhere: context.relocated,
        }),
      },
      on: {
        FOUND: [
          { guard: 'found', target: 'delivering', actions: 'setHost' },
          { target: 'failed', actions: 'keepError' },
        ],
        FAILED: { target: 'failed', actions: 'keepError' },
      },
      after: { stepTimeout: { target: 'failed', actions: 'timedOut' } },
    },
    /** The process manager of that host performs the request, or says where the task went. */
    delivering: {
      invoke: {
        src: 'deliver',
        input: ({ context }) => ({
          io: context.io,
          host: context.host!,
          task: context.task,
          request: context.request,
        }),
      },
      on: {
        REPLY: [
          { guard: 'answered', target: 'done', actions: 'keepReply' },
          { guard: 'movedOn', target: 'delivering', reenter: true, actions: 'follow' },
          { guard: 'mayRelocate', target: 'locating', actions: ['keepReply', 'relocate'] },
          { target: 'failed', actions: 'keepReply' },
        ],
        FAILED: [
          { guard: 'mayRelocate', target: 'locating', actions: ['keepError', 'relocate'] },
          { target: 'failed', actions: 'keepError' },
        ],
      },
      after: {
        stepTimeout: [
          { guard: 'mayRelocate', target: 'locating', actions: ['timedOut', 'relocate'] },
          { target: 'failed', actions: 'timedOut' },
        ],
      },
    },
    done: { type: 'final' },
    failed: { type: 'final' },
  },
  output: ({ context }) =>
    context.reply?.ok
      ? context.reply
      : (context.reply ?? { ok: false, error: context.error ?? 'request failed' }),
});

// ---- migrationManager ------------------------------------------------------------------------

export interface MigrationManagerIo {
  readonly host: string;
  /** Where `task` is as this host sees it. */
  where(task: string): 'here' | 'migrating' | 'elsewhere';
  /** Keeps the reply right of a remote migrate request; returns the id its answer will use. */
  hold(m: MachMessageEvent['message']): number;
  /** Starts migrating a task of this host; `migration.done` follows when it ends. */
  startMigration(id: number, task: string, to: string, strategy: string | undefined): void;
  /** Sends the migrate request on to the migration manager where the task runs. */
  forwardMigration(
    id: number,
    task: string,
    to: string,
    strategy: string | undefined,
    hops: number,
  ): void;
  /** Answers migrate request `id`. */
  answerMigration(id: number, reply: MigrateReply): void;
  answerLocate(m: MachMessageEvent['message'], task: string): void;
  /** Records a location if it is newer than what the table has; returns whether it was. */
  record(l: Location): boolean;
  /** Tells the other migration managers where a task now is. */
  announce(l: Location): void;
  /** A task arrived on this host: its process manager takes it in. */
  arrived(task: string): void;
  /** A task of this host left for `to`: its process manager keeps the forwarding pointer. */
  departed(task: string, to: string): void;
  /** The io of a user request's route. */
  readonly route: RouteIo;
  answerRoute(id: number, reply: ProcessReply): void;
  reject(m: MachMessageEvent['message'], why: string): void;
  close(): void;
}

export interface MigrateEvent {
  type: 'migrate';
  id: number;
  task: string;
  to: string;
  strategy?: string;
  hops: number;
}

export type MigrationManagerEvent =
  | MachMessageEvent
  | MigrateEvent
  | { type: 'migration.done'; id: number; home: string; result: MigrationSummary }
  /** The migration client refused to start (bad input: see migration/migrate.ts). */
  | { type: 'migration.refused'; id: number; task: string; reason: string }
  | { type: 'user.route'; id: number; task: string; request: UserRequest }
  | { type: 'shutdown' };

export interface MigrationManagerInput {
  readonly io: MigrationManagerIo;
  readonly maxHops: number;
  readonly stepMs: number;
}

interface MigrationManagerContext extends MigrationManagerInput {
  migrating: Record<string, number>;
  performed: number;
  forwarded: number;
  routes: number;
}

const requestOf = (e: MigrationManagerEvent): MigrationManagerRequest | null => {
  if (e.type !== 'mach.message' || e.message.id !== ManagerId.MIGRATION) return null;
  const r = parseMigrationManagerRequest(e.message);
  return 'malformed' in r ? null : r;
};
const migrateOf = (e: MigrationManagerEvent) => (e.type === 'migrate' ? e : null);

export const migrationManager = setup({
  types: {
    context: {} as MigrationManagerContext,
    events: {} as MigrationManagerEvent,
    input: {} as MigrationManagerInput,
  },
  actors: { requestRoute },
  guards: {
    isMigrateRequest: ({ event }) => requestOf(event)?.op === 'migrate',
    isLocateRequest: ({ event }) => requestOf(event)?.op === 'locate',
    isLocation: ({ event }) =>
      event.type === 'mach.message' &&
      event.message.id === ManagerId.LOCATION &&
      !('malformed' in parseLocation(event.message)),
    alreadyMigrating: ({ context, event }) => {
      const m = migrateOf(event);
      return m !== null && context.migrating[m.task] !== undefined;
    },
    taskHere: ({ context, event }) => {
      const m = migrateOf(event);
      return m !== null && context.io.where(m.task) === 'here';
    },
    tooManyHops: ({ context, event }) => {
      const m = migrateOf(event);
      return m !== null && m.hops >= context.maxHops;
    },
    committed: ({ event }) =>
      event.type === 'migration.done' && event.result.outcome === 'committed',
  },
  actions: {
    /** A remote migrate request becomes a `migrate` event whose answer goes back to it. */
    acceptMigrateRequest: enqueueActions(({ context, event, enqueue }) => {
      const r = requestOf(event);
      if (r?.op !== 'migrate' || event.type !== 'mach.message') return;
      const id = context.io.hold(event.message);
      enqueue.raise({
        type: 'migrate',
        id,
        task: r.task,
        to: r.to,
        ...(r.strategy !== undefined ? { strategy: r.strategy } : {}),
        hops: r.hops ?? 0,
      });
    }),
    answerLocate: ({ context, event }) => {
      const r = requestOf(event);
      if (r?.op === 'locate' && event.type === 'mach.message')
        context.io.answerLocate(event.message, r.task);
    },
    recordNotice: ({ context, event }) => {
      if (event.type !== 'mach.message') return;
      const l = parseLocation(event.message);
      if ('malformed' in l) return;
      if (context.io.record(l) && l.host === context.io.host) context.io.arrived(l.task);
    },
    reject: ({ context, event }) => {
      if (event.type !== 'mach.message') return;
      context.io.reject(event.message, `unexpected message ${event.message.id}`);
    },
    refuseBusy: ({ context, event }) => {
      const m = migrateOf(event)!;
      context.io.answerMigration(m.id, {
        ok: false,
        error: `task ${m.task} is already being migrated`,
      });
    },
    refuseLost: ({ context, event }) => {
      const m = migrateOf(event)!;
      context.io.answerMigration(m.id, {
        ok: false,
        error: `task ${m.task} not found after ${m.hops} hops`,
      });
    },
    startMigration: ({ context, event }) => {
      const m = migrateOf(event)!;
      context.io.startMigration(m.id, m.task, m.to, m.strategy);
    },
    markMigrating: assign({
      migrating: ({ context, event }) => {
        const m = migrateOf(event)!;
        return { ...context.migrating, [m.task]: m.id };
      },
      performed: ({ context }) => context.performed + 1,
    }),
    forwardMigration: ({ context, event }) => {
      const m = migrateOf(event)!;
      context.io.forwardMigration(m.id, m.task, m.to, m.strategy, m.hops + 1);
    },
    countForwarded: assign({ forwarded: ({ context }) => context.forwarded + 1 }),
    /** The commit moved the task: the table, every other host, and the process managers learn it. */
    recordCommit: ({ context, event }) => {
      if (event.type !== 'migration.done') return;
      const r = event.result;
      const l: Location = { task: r.task, host: r.to, home: event.home, at: r.endMs };
      context.io.record(l);
      context.io.departed(r.task, r.to);
      context.io.announce(l);
    },
    answerMigration: ({ context, event }) => {
      if (event.type === 'migration.done')
        context.io.answerMigration(event.id, { ok: true, result: event.result });
    },
    answerRefusal: ({ context, event }) => {
      if (event.type === 'migration.refused')
        context.io.answerMigration(event.id, { ok: false, error: event.reason });
    },
    unmarkMigrating: assign({
      migrating: ({ context, event }) => {
        const task =
          event.type === 'migration.done'
            ? event.result.task
            : event.type === 'migration.refused'
              ? event.task
              : null;
        if (task === null) return context.migrating;
        const { [task]: _, ...rest } = context.migrating;
        return rest;
      },
    }),
    /** The route is a child: its final output comes back as xstate.done.actor.route:<id>. */
    spawnRoute: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'user.route') return;
      enqueue.spawnChild('requestRoute', {
        id: `route:${event.id}`,
        input: {
          io: context.io.route,
          task: event.task,
          request: event.request,
          maxHops: context.maxHops,
          stepMs: context.stepMs,
        },
      });
      enqueue.assign({ routes: context.routes + 1 });
    }),
    /** A route ended: its answer goes to the user, and the finished child goes. */
    answerRoute: enqueueActions(({ context, event, enqueue }) => {
      const e = event as unknown as { type: string; output: ProcessReply };
      const child = e.type.slice('xstate.done.actor.'.length);
      if (!child.startsWith('route:')) return;
      context.io.answerRoute(Number(child.slice('route:'.length)), e.output);
      enqueue.stopChild(child);
    }),
    close: ({ context }) => context.io.close(),
  },
}).createMachine({
  id: 'migrationManager',
  context: ({ input }) => ({ ...input, migrating: {}, performed: 0, forwarded: 0, routes: 0 }),
  initial: 'serving',
  states: {
    serving: {
      on: {
        'mach.message': [
          { guard: 'isMigrateRequest', actions: 'acceptMigrateRequest' },
          { guard: 'isLocateRequest', actions: 'answerLocate' },
          { guard: 'isLocation', actions: 'recordNotice' },
          { actions: 'reject' },
        ],
        migrate: [
          { guard: 'alreadyMigrating', actions: 'refuseBusy' },
          { guard: 'taskHere', actions: ['markMigrating', 'startMigration'] },
          { guard: 'tooManyHops', actions: 'refuseLost' },
          { actions: ['forwardMigration', 'countForwarded'] },
        ],
        'migration.done': [
          {
            guard: 'committed',
            actions: ['unmarkMigrating', 'recordCommit', 'answerMigration'],
          },
          { actions: ['unmarkMigrating', 'answerMigration'] },
        ],
        'migration.refused': { actions: ['unmarkMigrating', 'answerRefusal'] },
        'user.route': { actions: 'spawnRoute' },
        'xstate.done.actor.*': { actions: 'answerRoute' },
        shutdown: 'stopped',
      },
    },
    stopped: { type: 'final', entry: 'close' },
  },
});
