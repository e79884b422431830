import { assign, setup } from 'xstate';

/**
 * Abstract model of one migration, client and server together (reference/seed section 3; the
 * runtime is src/machines/migrationClient.ts and migrationSession.ts). Like every model here it
 * follows createTestModel's rules: no invoke, no after, no delayed actions; each event is
 * something the checker performs or injects in the real world (src/check/migrationExecutors.ts)
 * and each state is something it asserts there.
 *
 * A path starts a migration with one of the five strategies, then lets each step succeed (OK) or
 * strikes one fault at it: its request or its reply lost past netmsg's retries, a timeout (the
 * step's message delayed past the client's timeout, or the step stalled), a refusal, the
 * destination out of memory, a local failure, a crash of either host, or benign noise (frames
 * lost, duplicated and reordered, which the transport must hide). One fault per path: the model
 * enumerates every failure point, not combinations (the seeded campaign does combinations).
 *
 * Outcomes: `committed` (the destination runs the task), `rolledBack` (the source runs it again,
 * from the duplicate's state), `lost` (the source crashed before the commit point: the task
 * dies with its host, and the destination's partial task must go). After the commit request the
 * client may be `inDoubt` (its answer lost or late): it asks the destination until it knows.
 */

export type ModelStrategy = 'eager' | 'precopy' | 'demand' | 'prepage' | 'flush';
export const MODEL_STRATEGIES: readonly ModelStrategy[] = [
  'eager',
  'precopy',
  'demand',
  'prepage',
  'flush',
];

export type MigrationFaultEvent =
  | 'NOISE'
  | 'LOSE_REQUEST'
  | 'LOSE_REPLY'
  | 'TIMEOUT'
  | 'REFUSE'
  | 'OUT_OF_MEMORY'
  | 'FAIL'
  | 'CRASH_SOURCE'
  | 'CRASH_DESTINATION';

export type MigrationModelEvent =
  | { type: 'START'; strategy: ModelStrategy }
  | { type: 'OK' }
  | { type: 'RESOLVE' }
  | { type: MigrationFaultEvent };

export interface MigrationModelContext {
  strategy: ModelStrategy | null;
  /** The one fault of the path, once struck: "<state>:<event>". */
  fault: string | null;
  /** In doubt: whether the destination got the commit request. */
  commitReached: boolean;
}

export const MIGRATION_MODEL_EVENTS: readonly MigrationModelEvent[] = [
  ...MODEL_STRATEGIES.map((strategy) => ({ type: 'START' as const, strategy })),
  { type: 'OK' },
  { type: 'RESOLVE' },
  { type: 'NOISE' },
  { type: 'LOSE_REQUEST' },
  { type: 'LOSE_REPLY' },
  { type: 'TIMEOUT' },
  { type: 'REFUSE' },
  { type: 'OUT_OF_MEMORY' },
  { type: 'FAIL' },
  { type: 'CRASH_SOURCE' },
  { type: 'CRASH_DESTINATION' },
];

/** Events that are faults (a path with one of them is a failure path). */
export const MIGRATION_FAULTS: ReadonlySet<string> = new Set<MigrationFaultEvent>([
  'NOISE',
  'LOSE_REQUEST',
  'LOSE_REPLY',
  'TIMEOUT',
  'REFUSE',
  'OUT_OF_MEMORY',
  'FAIL',
  'CRASH_SOURCE',
  'CRASH_DESTINATION',
]);

const fault = (state: string, target: string, extra: Record<string, unknown> = {}) => ({
  guard: 'clean' as const,
  target,
  actions: { type: 'strike' as const, params: { at: state, ...extra } },
});

/** Faults that end a step in a rollback (the source keeps the task). */
const rollBackOn = (state: string, events: readonly MigrationFaultEvent[]) =>
  Object.fromEntries(events.map((e) => [e, fault(state, 'rolledBack')]));

export const migrationModel = setup({
  types: {
    context: {} as MigrationModelContext,
    events: {} as MigrationModelEvent,
  },
  guards: {
    clean: ({ context }) => context.fault === null,
    precopy: ({ context }) => context.strategy === 'precopy',
    /** The destination stores the pages itself (no remote pager): it can run out of memory. */
    storesPages: ({ context }) =>
      context.fault === null && (context.strategy === 'eager' || context.strategy === 'precopy'),
    reached: ({ context }) => context.commitReached,
  },
  actions: {
    start: assign({
      strategy: ({ event }) => (event.type === 'START' ? event.strategy : null),
    }),
    strike: assign(({ event }, params: { at: string; reached?: boolean }) => ({
      fault: `${params.at}:${event.type}`,
      commitReached: params.reached ?? false,
    })),
  },
}).createMachine({
  id: 'migrationModel',
  context: { strategy: null, fault: null, commitReached: false },
  initial: 'idle',
  states: {
    idle: {
      on: { START: { target: 'lookingUp', actions: 'start' } },
    },
    // Step 1: the migration server's port through netmsg.
    lookingUp: {
      on: {
        OK: [{ guard: 'precopy', target: 'creating' }, { target: 'suspending' }],
        NOISE: [
          {
            guard: ({ context }) => context.fault === null && context.strategy === 'precopy',
            target: 'creating',
            actions: { type: 'strike', params: { at: 'lookingUp' } },
          },
          fault('lookingUp', 'suspending'),
        ],
        ...rollBackOn('lookingUp', ['LOSE_REQUEST', 'TIMEOUT', 'CRASH_DESTINATION']),
        CRASH_SOURCE: fault('lookingUp', 'lost'),
      },
    },
    // Step 2 (after the pre-copy rounds for pre-copy).
    suspending: {
      on: {
        OK: 'duplicating',
        ...rollBackOn('suspending', ['FAIL', 'CRASH_DESTINATION']),
        CRASH_SOURCE: fault('suspending', 'lost'),
      },
    },
    // Step 3: the safety copy.
    duplicating: {
      on: {
        OK: [{ guard: 'precopy', target: 'copying' }, { target: 'creating' }],
        ...rollBackOn('duplicating', ['FAIL', 'CRASH_DESTINATION']),
        CRASH_SOURCE: fault('duplicating', 'lost'),
      },
    },
    // Step 4: the new task on the destination.
    creating: {
      on: {
        OK: [{ guard: 'precopy', target: 'precopying' }, { target: 'copying' }],
        NOISE: [
          {
            guard: ({ context }) => context.fault === null && context.strategy === 'precopy',
            target: 'precopying',
            actions: { type: 'strike', params: { at: 'creating' } },
          },
          fault('creating', 'copying'),
        ],
        ...rollBackOn('creating', [
          'LOSE_REQUEST',
          'LOSE_REPLY',
          'TIMEOUT',
          'REFUSE',
          'CRASH_DESTINATION',
        ]),
        OUT_OF_MEMORY: {
          guard: 'storesPages',
          target: 'rolledBack',
          actions: { type: 'strike', params: { at: 'creating' } },
        },
        CRASH_SOURCE: fault('creating', 'lost'),
      },
    },
    // Pre-copy: rounds of pages while the task runs.
    precopying: {
      on: {
        OK: 'suspending',
        NOISE: fault('precopying', 'suspending'),
        ...rollBackOn('precopying', ['LOSE_REQUEST', 'TIMEOUT', 'CRASH_DESTINATION']),
        CRASH_SOURCE: fault('precopying', 'lost'),
      },
    },
    // Step 5: the address space (or its mapping to the memory server).
    copying: {
      on: {
        OK: 'restoring',
        NOISE: fault('copying', 'restoring'),
        ...rollBackOn('copying', ['LOSE_REQUEST', 'TIMEOUT', 'FAIL', 'CRASH_DESTINATION']),
        CRASH_SOURCE: fault('copying', 'lost'),
      },
    },
    // Step 6: threads and the port space's shape.
    restoring: {
      on: {
        OK: 'committing',
        NOISE: fault('restoring', 'committing'),
        ...rollBackOn('restoring', [
          'LOSE_REQUEST',
          'LOSE_REPLY',
          'TIMEOUT',
          'REFUSE',
          'CRASH_DESTINATION',
        ]),
        CRASH_SOURCE: fault('restoring', 'lost'),
      },
    },
    // Step 7: the rights go with the commit request; its acceptance is the commit point.
    committing: {
      on: {
        OK: 'committed',
        NOISE: fault('committing', 'committed'),
        // The request lost (with the rights it carried): the destination never commits.
        LOSE_REQUEST: fault('committing', 'inDoubt', { reached: false }),
        // The destination committed; its answer is lost, or comes too late.
        LOSE_REPLY: fault('committing', 'inDoubt', { reached: true }),
        TIMEOUT: fault('committing', 'inDoubt', { reached: true }),
        // Refused: the rights come back in the answer.
        REFUSE: fault('committing', 'rolledBack'),
        // The source dies once the destination has committed: the destination owns the task.
        CRASH_SOURCE: fault('committing', 'committed'),
        // The destination dies as the request arrives (it restarts soon): it never committed.
        CRASH_DESTINATION: fault('committing', 'inDoubt', { reached: false }),
      },
    },
    inDoubt: {
      on: {
        RESOLVE: [{ guard: 'reached', target: 'committed' }, { target: 'rolledBack' }],
      },
    },
    committed: { type: 'final' },
    rolledBack: { type: 'final' },
    lost: { type: 'final' },
  },
});
