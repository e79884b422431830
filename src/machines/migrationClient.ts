import { assign, fromCallback, setup } from 'xstate';
import type { SessionState, Strategy } from '../protocol/migration.ts';

/**
 * The migration client (reference/seed, section 3): the paper's seven steps as states. It runs on
 * the source host. Each remote step has a timeout and a failure transition; every failure before
 * the commit point rolls back (the partial remote task is destroyed, the duplicate discarded, the
 * source task resumed as it was). The commit point is the destination's acceptance of COMMIT:
 * after it the destination owns the task. If the answer to COMMIT is lost, the client is in
 * doubt and asks the destination for the session's state until it learns it; it never resumes
 * the source task while the destination might run it.
 *
 * Pre-copy reorders the steps (copy rounds while the task runs, then suspend): the paper's
 * freeze-everything order is the `eager` path.
 */
export type MigrationStep =
  | 'lookUp'
  | 'suspend'
  | 'duplicate'
  | 'create'
  | 'precopy'
  | 'copy'
  | 'restore'
  | 'commit'
  | 'resume'
  | 'rollBack';

/** What each step does, implemented by the runtime (src/migration/client.ts). */
export interface MigrationClientIo {
  now(): number;
  lookUp(done: () => void, fail: (reason: string) => void): void;
  suspend(done: () => void, fail: (reason: string) => void): void;
  duplicate(done: () => void, fail: (reason: string) => void): void;
  create(done: () => void, fail: (reason: string) => void): void;
  /** One pre-copy round while the task runs; reports how many pages were still dirty. */
  precopyRound(done: (dirtyPages: number) => void, fail: (reason: string) => void): void;
  copy(done: () => void, fail: (reason: string) => void): void;
  restore(done: () => void, fail: (reason: string) => void): void;
  commit(done: (state: SessionState) => void, fail: (reason: string) => void): void;
  status(done: (state: SessionState) => void, fail: (reason: string) => void): void;
  /** In doubt, with the destination still prepared: asks it to abort; reports what it decided. */
  abort(done: (state: SessionState) => void, fail: (reason: string) => void): void;
  /** After the commit point: the source's remains go; the destination runs the task. */
  finish(done: () => void, fail: (reason: string) => void): void;
  rollBack(done: () => void, fail: (reason: string) => void): void;
}

export interface MigrationTimeouts {
  readonly lookUpMs: number;
  readonly stepMs: number;
  /** For copying: scales with the bytes to move, so it is computed by the runtime. */
  readonly copyMs: number;
  readonly statusRetryMs: number;
  readonly statusAttempts: number;
}

export interface MigrationClientInput {
  readonly io: MigrationClientIo;
  readonly strategy: Strategy;
  readonly timeouts: MigrationTimeouts;
  /** Pre-copy: stop when a round leaves at most this many dirty pages, or after maxRounds. */
  readonly precopyThreshold: number;
  readonly precopyMaxRounds: number;
}

export interface PhaseRecord {
  step: MigrationStep;
  start: number;
  end: number | null;
}

export interface MigrationClientContext extends MigrationClientInput {
  phases: PhaseRecord[];
  failure: string | null;
  failedStep: MigrationStep | null;
  created: boolean;
  precopyRounds: number;
  lastDirty: number;
  frozenAt: number | null;
  resumedAt: number | null;
  statusAttempts: number;
  committed: boolean;
}

type StepEvent =
  | { type: 'STEP.DONE'; value?: number | SessionState }
  | { type: 'STEP.FAILED'; reason: string };

type Runner = (
  io: MigrationClientIo,
  done: (value?: number | SessionState) => void,
  fail: (reason: string) => void,
) => void;

/** Each step is an invoked actor, so the visualizer shows what runs in each state. */
function step(run: Runner) {
  return fromCallback<StepEvent, { io: MigrationClientIo }>(({ input, sendBack }) => {
    let live = true;
    run(
      input.io,
      (value) => live && sendBack({ type: 'STEP.DONE', value }),
      (reason) => live && sendBack({ type: 'STEP.FAILED', reason }),
    );
    return () => {
      live = false;
    };
  });
}

export const migrationClient = setup({
  types: {
    context: {} as MigrationClientContext,
    events: {} as StepEvent,
    input: {} as MigrationClientInput,
  },
  actors: {
    lookUpServer: step((io, d, f) => io.lookUp(d, f)),
    suspendTask: step((io, d, f) => io.suspend(d, f)),
    duplicateTask: step((io, d, f) => io.duplicate(d, f)),
    createRemoteTask: step((io, d, f) => io.create(d, f)),
    precopyRound: step((io, d, f) => io.precopyRound(d, f)),
    copyMemory: step((io, d, f) => io.copy(d, f)),
    restoreState: step((io, d, f) => io.restore(d, f)),
    commitMigration: step((io, d, f) => io.commit(d, f)),
    askStatus: step((io, d, f) => io.status(d, f)),
    abortSession: step((io, d, f) => io.abort(d, f)),
    finishAtSource: step((io, d, f) => io.finish(d, f)),
    rollBack: step((io, d, f) => io.rollBack(d, f)),
  },
  guards: {
    precopy: ({ context }) => context.strategy === 'precopy',
    created: ({ context }) => context.created,
    roundsDone: ({ context, event }) =>
      event.type === 'STEP.DONE' &&
      ((event.value as number) <= context.precopyThreshold ||
        context.precopyRounds + 1 >= context.precopyMaxRounds),
    answeredCommitted: ({ event }) => event.type === 'STEP.DONE' && event.value === 'committed',
    answeredInDoubt: ({ event }) =>
      event.type === 'STEP.DONE' && (event.value === 'prepared' || event.value === 'receiving'),
    answeredAborted: ({ event }) =>
      event.type === 'STEP.DONE' && (event.value === 'aborted' || event.value === 'unknown'),
    attemptsLeft: ({ context }) => context.statusAttempts < context.timeouts.statusAttempts,
  },
  actions: {
    recordFailure: assign(({ event }, params: { step: MigrationStep; why?: string }) => ({
      failure:
        event.type === 'STEP.FAILED' ? event.reason : (params.why ?? `${params.step} timed out`),
      failedStep: params.step,
    })),
    begin: assign(({ context }, params: { step: MigrationStep }) => ({
      phases: [...context.phases, { step: params.step, start: context.io.now(), end: null }],
    })),
    end: assign(({ context }) => {
      const phases = context.phases.slice();
      const last = phases[phases.length - 1];
      if (last && last.end === null) phases[phases.length - 1] = { ...last, end: context.io.now() };
      return { phases };
    }),
    markFrozen: assign({ frozenAt: ({ context }) => context.io.now() }),
    markResumed: assign({ resumedAt: ({ context }) => context.io.now() }),
    markCreated: assign({ created: true }),
    markCommitted: assign({ committed: true }),
    countRound: assign({
      precopyRounds: ({ context }) => context.precopyRounds + 1,
      lastDirty: ({ event }) => (event.type === 'STEP.DONE' ? (event.value as number) : 0),
    }),
    countStatusAttempt: assign({ statusAttempts: ({ context }) => context.statusAttempts + 1 }),
  },
  delays: {
    lookUpTimeout: ({ context }) => context.timeouts.lookUpMs,
    stepTimeout: ({ context }) => context.timeouts.stepMs,
    copyTimeout: ({ context }) => context.timeouts.copyMs,
    statusRetry: ({ context }) => context.timeouts.statusRetryMs,
  },
}).createMachine({
  id: 'migrationClient',
  context: ({ input }) => ({
    ...input,
    phases: [],
    failure: null,
    failedStep: null,
    created: false,
    precopyRounds: 0,
    lastDirty: 0,
    frozenAt: null,
    resumedAt: null,
    statusAttempts: 0,
    committed: false,
  }),
  initial: 'lookingUp',
  states: {
    // Step 1: a send right to the destination's migration server, through netmsg.
    lookingUp: {
      entry: { type: 'begin', params: { step: 'lookUp' } },
      exit: 'end',
      invoke: {
        src: 'lookUpServer',
        input: ({ context }) => ({ io: context.io }),
      },
      on: {
        'STEP.DONE': [{ guard: 'precopy', target: 'creating' }, { target: 'suspending' }],
        'STEP.FAILED': {
          target: 'rollingBack',
          actions: { type: 'recordFailure', params: { step: 'lookUp' } },
        },
      },
      after: {
        lookUpTimeout: {
          target: 'rollingBack',
          actions: { type: 'recordFailure', params: { step: 'lookUp' } },
        },
      },
    },
    // Step 2.
    suspending: {
      entry: [{ type: 'begin', params: { step: 'suspend' } }, 'markFrozen'],
      exit: 'end',
      invoke: { src: 'suspendTask', input: ({ context }) => ({ io: context.io }) },
      on: {
        'STEP.DONE': 'duplicating',
        'STEP.FAILED': {
          target: 'rollingBack',
          actions: { type: 'recordFailure', params: { step: 'suspend' } },
        },
      },
      after: {
        stepTimeout: {
          target: 'rollingBack',
          actions: { type: 'recordFailure', params: { step: 'suspend' } },
        },
      },
    },
    // Step 3: the safety copy; a failure before the commit point falls back to it.
    duplicating: {
      entry: { type: 'begin', params: { step: 'duplicate' } },
      exit: 'end',
      invoke: { src: 'duplicateTask', input: ({ context }) => ({ io: context.io }) },
      on: {
        'STEP.DONE': [{ guard: 'created', target: 'copying' }, { target: 'creating' }],
        'STEP.FAILED': {
          target: 'rollingBack',
          actions: { type: 'recordFailure', params: { step: 'duplicate' } },
        },
      },
      after: {
        stepTimeout: {
          target: 'rollingBack',
          actions: { type: 'recordFailure', params: { step: 'duplicate' } },
        },
      },
    },
    // Step 4: a new task on the destination, with no inherited address space.
    creating: {
      entry: { type: 'begin', params: { step: 'create' } },
      exit: 'end',
      invoke: { src: 'createRemoteTask', input: ({ context }) => ({ io: context.io }) },
      on: {
        'STEP.DONE': [
          { guard: 'precopy', target: 'precopying', actions: 'markCreated' },
          { target: 'copying', actions: 'markCreated' },
        ],
        'STEP.FAILED': {
          target: 'rollingBack',
          actions: { type: 'recordFailure', params: { step: 'create' } },
        },
      },
      after: {
        stepTimeout: {
          target: 'rollingBack',
          actions: { type: 'recordFailure', params: { step: 'create' } },
        },
      },
    },
    // Pre-copy: rounds of dirty pages while the task runs, until few remain.
    precopying: {
      entry: { type: 'begin', params: { step: 'precopy' } },
      exit: 'end',
      invoke: { src: 'precopyRound', input: ({ context }) => ({ io: context.io }) },
      on: {
        'STEP.DONE': [
          { guard: 'roundsDone', target: 'suspending', actions: 'countRound' },
          { target: 'precopying', reenter: true, actions: 'countRound' },
        ],
        'STEP.FAILED': {
          target: 'rollingBack',
          actions: { type: 'recordFailure', params: { step: 'precopy' } },
        },
      },
      after: {
        copyTimeout: {
          target: 'rollingBack',
          actions: { type: 'recordFailure', params: { step: 'precopy' } },
        },
      },
    },
    // Step 5: the address space (or, for demand strategies, the mapping to the memory server).
    copying: {
      entry: { type: 'begin', params: { step: 'copy' } },
      exit: 'end',
      invoke: { src: 'copyMemory', input: ({ context }) => ({ io: context.io }) },
      on: {
        'STEP.DONE': 'restoring',
        'STEP.FAILED': {
          target: 'rollingBack',
          actions: { type: 'recordFailure', params: { step: 'copy' } },
        },
      },
      after: {
        copyTimeout: {
          target: 'rollingBack',
          actions: { type: 'recordFailure', params: { step: 'copy' } },
        },
      },
    },
    // Step 6: thread state and the port space's shape.
    restoring: {
      entry: { type: 'begin', params: { step: 'restore' } },
      exit: 'end',
      invoke: { src: 'restoreState', input: ({ context }) => ({ io: context.io }) },
      on: {
        'STEP.DONE': 'committing',
        'STEP.FAILED': {
          target: 'rollingBack',
          actions: { type: 'recordFailure', params: { step: 'restore' } },
        },
      },
      after: {
        stepTimeout: {
          target: 'rollingBack',
          actions: { type: 'recordFailure', params: { step: 'restore' } },
        },
      },
    },
    // Step 7: the rights go with COMMIT; the destination's acceptance is the commit point.
    committing: {
      entry: { type: 'begin', params: { step: 'commit' } },
      exit: 'end',
      invoke: { src: 'commitMigration', input: ({ context }) => ({ io: context.io }) },
      on: {
        'STEP.DONE': [
          { guard: 'answeredCommitted', target: 'committed', actions: 'markCommitted' },
          {
            target: 'rollingBack',
            actions: {
              type: 'recordFailure',
              params: { step: 'commit', why: 'the destination aborted the session' },
            },
          },
        ],
        'STEP.FAILED': 'inDoubt',
      },
      after: { stepTimeout: 'inDoubt' },
    },
    // The answer to COMMIT was lost: ask until the destination says what it decided. (It asks
    // the session's port, or the migration server's, looked up again if the host restarted.)
    inDoubt: {
      entry: 'countStatusAttempt',
      invoke: { src: 'askStatus', input: ({ context }) => ({ io: context.io }) },
      on: {
        'STEP.DONE': [
          { guard: 'answeredCommitted', target: 'committed', actions: 'markCommitted' },
          { guard: 'answeredInDoubt', target: 'cancelling' },
          {
            target: 'rollingBack',
            actions: {
              type: 'recordFailure',
              params: { step: 'commit', why: 'the destination did not commit' },
            },
          },
        ],
        'STEP.FAILED': 'waitingToAsk',
      },
      after: { stepTimeout: 'waitingToAsk' },
    },
    // Still prepared after COMMIT: the COMMIT was lost (a later request overtook nothing). Ask
    // the destination to abort; it decides once, so whichever of COMMIT and ABORT it saw first
    // wins, and its answer says which (presumed abort).
    cancelling: {
      invoke: { src: 'abortSession', input: ({ context }) => ({ io: context.io }) },
      on: {
        'STEP.DONE': [
          { guard: 'answeredCommitted', target: 'committed', actions: 'markCommitted' },
          {
            guard: 'answeredAborted',
            target: 'rollingBack',
            actions: {
              type: 'recordFailure',
              params: {
                step: 'commit',
                why: 'COMMIT was lost: the destination aborted the session',
              },
            },
          },
          { target: 'waitingToAsk' },
        ],
        'STEP.FAILED': 'waitingToAsk',
      },
      after: { stepTimeout: 'waitingToAsk' },
    },
    waitingToAsk: {
      after: {
        statusRetry: [{ guard: 'attemptsLeft', target: 'inDoubt' }, { target: 'unresolved' }],
      },
    },
    committed: {
      entry: { type: 'begin', params: { step: 'resume' } },
      exit: ['end', 'markResumed'],
      invoke: { src: 'finishAtSource', input: ({ context }) => ({ io: context.io }) },
      on: { 'STEP.DONE': 'done', 'STEP.FAILED': 'done' },
    },
    rollingBack: {
      entry: { type: 'begin', params: { step: 'rollBack' } },
      exit: ['end', 'markResumed'],
      invoke: { src: 'rollBack', input: ({ context }) => ({ io: context.io }) },
      on: { 'STEP.DONE': 'rolledBack', 'STEP.FAILED': 'rolledBack' },
    },
    done: { type: 'final' },
    rolledBack: { type: 'final' },
    // The destination stayed unreachable after COMMIT: neither side runs the task until it answers.
    unresolved: { type: 'final' },
  },
});
