import type { AnyMachineSnapshot, EventObject } from 'xstate';
import {
  MIGRATION_FAULTS,
  MIGRATION_MODEL_EVENTS,
  type MigrationModelContext,
  type ModelStrategy,
  migrationModel,
} from '../../models/migration.ts';
import { describePorts } from '../migration/describe.ts';
import type { MigrationFault } from '../migration/faultInjection.ts';
import type { MigrateOptions } from '../migration/migrate.ts';
import type { PortDescription } from '../protocol/migration.ts';
import { alive, Harness, type HarnessSpec, type TrackedMigration } from './harness.ts';
import { endInvariants, ReferenceCache, stepInvariants } from './invariants.ts';
import type { CheckModel, ModelPath, RunOptions } from './runner.ts';

/**
 * Executors and state assertions of the migration model (models/migration.ts), on a real cluster:
 * a receiver task (`worker`) on the Pentium that rewrites pages and prints every message it gets
 * from two senders (one on its own host, one on a third host), migrated to the i486 while the
 * messages flow. The one fault of a path is armed when the migration starts, with the runtime's
 * failure injection (src/migration/faultInjection.ts: a message lost past netmsg's retries, a
 * refusal, a stalled or failed step, a partition or a crash struck at the exact step or message);
 * an out-of-memory destination is a real one (a host too small for the task), noise is real
 * impairment of the link. Then each event runs the world until the real client reaches the state
 * the model says.
 */

const SOURCE = 'pentium';
const DESTINATION = 'i486';
const SMALL = 'tiny';
const THIRD = 'client';

const TIMEOUTS = { lookUpMs: 1000, stepMs: 800, copyMs: 1500, statusRetryMs: 400 };
/** Longer than netmsg's give-up (2 s): what is on its way is lost. */
const LONG_PARTITION_MS = 3000;
/** Longer than the client's step timeout, shorter than netmsg's give-up: late, not lost. */
const SHORT_PARTITION_MS = 1300;

/** The cluster and workload of every migration path (the small host is the out-of-memory one). */
export function migrationSpec(seed: number, options: RunOptions): HarnessSpec {
  return {
    seed,
    hosts: {
      [SOURCE]: 'pentium90',
      [DESTINATION]: 'i486dx33',
      [SMALL]: 'tiny',
      [THIRD]: 'i486dx33',
    },
    workloads: [
      {
        kind: 'receiver',
        name: 'worker',
        host: SOURCE,
        pages: 4,
        senders: [
          { host: SOURCE, count: 10, everyMs: 20, startMs: 2 },
          { host: THIRD, count: 10, everyMs: 25, startMs: 2 },
        ],
      },
    ],
    migrationServer: {
      idleMs: 5000,
      lingerMs: 5000,
      ...(options.brokenRollback ? { keepPartialTaskOnAbort: true } : {}),
    },
  };
}

interface Plan {
  readonly strategy: ModelStrategy;
  readonly to: string;
  readonly inject: MigrationFault[];
  /** The state and event of the path's fault, if any. */
  readonly fault: { state: string; event: string } | null;
  /** The fault destroys the rights the commit request carries. */
  readonly destroysRights: boolean;
}

export interface MigrationCtx {
  readonly h: Harness;
  readonly plan: Plan;
  readonly path: ModelPath;
  m: TrackedMigration | null;
  /** Index in `m.visited` of the last client state a step reached. */
  cursor: number;
  portsBefore: PortDescription[];
  /** The model state before the current step. */
  state: string;
}

const references = new ReferenceCache();

/** The client state each model state stands for. */
const CLIENT_STATE: Record<string, string> = {
  lookingUp: 'lookingUp',
  suspending: 'suspending',
  duplicating: 'duplicating',
  creating: 'creating',
  precopying: 'precopying',
  copying: 'copying',
  restoring: 'restoring',
  committing: 'committing',
  inDoubt: 'inDoubt',
};

function plan(path: ModelPath): Plan {
  const start = path.events[0] as { type: 'START'; strategy: ModelStrategy };
  const i = path.events.findIndex((e) => MIGRATION_FAULTS.has(e.type));
  if (i < 0)
    return {
      strategy: start.strategy,
      to: DESTINATION,
      inject: [],
      fault: null,
      destroysRights: false,
    };
  const event = path.events[i]!.type;
  const state = i === 0 ? 'idle' : String(path.states[i - 1]!.value);
  const strategy = start.strategy;
  let to = DESTINATION;
  const inject: MigrationFault[] = [];
  const step = (
    {
      lookingUp: 'lookUp',
      suspending: 'suspend',
      duplicating: 'duplicate',
      creating: 'create',
      precopying: 'precopy',
      copying: 'copy',
      restoring: 'restore',
      committing: 'commit',
    } as const
  )[state as 'lookingUp'];
  const message = (
    {
      creating: 'CREATE',
      precopying: 'PAGES',
      copying: 'PAGES',
      restoring: 'RESTORE',
      committing: 'COMMIT',
    } as const
  )[state as 'creating'];
  switch (event) {
    case 'NOISE':
      break; // the executor impairs the link itself, for the step
    case 'OUT_OF_MEMORY':
      to = SMALL;
      break;
    case 'FAIL':
      inject.push({ kind: 'fail', step });
      break;
    case 'REFUSE':
      inject.push({ kind: 'refuse', message: message as 'CREATE' });
      break;
    case 'LOSE_REQUEST':
      if (state === 'lookingUp' || (state === 'copying' && strategy !== 'eager'))
        inject.push({ kind: 'partition', at: { step }, ms: LONG_PARTITION_MS });
      else inject.push({ kind: 'lose', message, what: 'request' });
      break;
    case 'LOSE_REPLY':
      inject.push({ kind: 'lose', message, what: 'reply' });
      break;
    case 'TIMEOUT':
      if (state === 'lookingUp' || state === 'copying') inject.push({ kind: 'stall', step });
      else if (state === 'precopying')
        inject.push({ kind: 'partition', at: { step }, ms: SHORT_PARTITION_MS });
      else inject.push({ kind: 'partition', at: { sent: message }, ms: SHORT_PARTITION_MS });
      break;
    case 'CRASH_SOURCE':
    case 'CRASH_DESTINATION': {
      const host = event === 'CRASH_SOURCE' ? 'source' : 'destination';
      if (state === 'committing')
        inject.push(
          event === 'CRASH_SOURCE'
            ? { kind: 'crash', host, at: { answered: 'COMMIT' } }
            : { kind: 'crash', host, at: { sent: 'COMMIT' }, restartAfterMs: 1000 },
        );
      else if (message !== undefined && state !== 'copying')
        inject.push({ kind: 'crash', host, at: { received: message } });
      else inject.push({ kind: 'crash', host, at: { step } });
      break;
    }
  }
  const destroysRights =
    state === 'committing' && (event === 'LOSE_REQUEST' || event === 'CRASH_DESTINATION');
  return { strategy, to, inject, fault: { state, event }, destroysRights };
}

function begin(path: ModelPath, options: RunOptions): MigrationCtx {
  const p = plan(path);
  const h = new Harness(migrationSpec(1, options));
  // Let the worker check in and the messages start flowing.
  h.run(() => false, 40);
  return { h, plan: p, path, m: null, cursor: 0, portsBefore: [], state: 'idle' };
}

function worker(ctx: MigrationCtx) {
  return ctx.h.tasks.get('worker')!;
}

/** Runs until the client has entered `clientState` after the cursor (or ended). */
function runToClientState(ctx: MigrationCtx, clientState: string, maxMs = 60_000): boolean {
  const m = ctx.m!;
  const found = () => m.visited.indexOf(clientState, ctx.cursor + 1);
  const ok = ctx.h.run(() => found() >= 0 || m.migration.result() !== null, maxMs);
  const i = found();
  if (i >= 0) ctx.cursor = i;
  return ok && i >= 0;
}

function runToEnd(ctx: MigrationCtx, maxMs = 120_000): void {
  const m = ctx.m!;
  ctx.h.run(() => m.migration.result() !== null, maxMs);
}

function exec(ctx: MigrationCtx, event: EventObject, next: AnyMachineSnapshot): void {
  const target = String(next.value);
  const h = ctx.h;
  switch (event.type) {
    case 'START': {
      const w = worker(ctx);
      const copy = w.copies[0]!;
      ctx.portsBefore = describePorts(copy.space);
      if (ctx.plan.destroysRights)
        w.lossy = 'the commit request was destroyed with the rights it carried';
      const opts: MigrateOptions = {
        strategy: ctx.plan.strategy,
        timeouts: TIMEOUTS,
        ...(ctx.plan.inject.length > 0 ? { inject: ctx.plan.inject } : {}),
      };
      ctx.m = h.migrate('worker', ctx.plan.to, opts);
      ctx.cursor = 0;
      break;
    }
    case 'OK':
      advance(ctx, target);
      break;
    case 'NOISE': {
      const pair: [string, string] = [SOURCE, ctx.plan.to];
      h.cluster.network.setImpairment(
        { loss: 0.2, duplicate: 0.3, reorder: 0.5, reorderJitterMs: 3 },
        pair,
      );
      try {
        advance(ctx, target);
      } finally {
        h.cluster.network.setImpairment(
          { loss: undefined, duplicate: undefined, reorder: undefined, reorderJitterMs: undefined },
          pair,
        );
      }
      break;
    }
    case 'RESOLVE':
      runToEnd(ctx);
      break;
    default:
      // The fault was armed at START; it strikes now, as the real client does this step.
      if (target === 'inDoubt') runToClientState(ctx, 'inDoubt');
      else runToEnd(ctx);
  }
  ctx.state = target;
}

/** The step succeeds: run until the client reaches the state the model went to. */
function advance(ctx: MigrationCtx, target: string): void {
  if (target === 'committed' || target === 'rolledBack' || target === 'lost') return runToEnd(ctx);
  runToClientState(ctx, CLIENT_STATE[target]!);
}

function check(ctx: MigrationCtx, state: AnyMachineSnapshot): string[] {
  const out = stepInvariants(ctx.h);
  const value = String(state.value);
  const m = ctx.m;
  const w = worker(ctx);
  const c = state.context as MigrationModelContext;
  const original = w.copies[0]!;
  const onDestination = w.copies.filter((x) => x.host.name === ctx.plan.to);
  const result = m?.migration.result() ?? null;
  const where = `${c.strategy}${c.fault ? `, fault ${c.fault}` : ''}`;
  switch (value) {
    case 'idle':
      break;
    case 'committed': {
      // Give the destination's copy time to run (a slice), then it must be the running one.
      ctx.h.run(
        () =>
          onDestination.some((x) => w.ran.has(x)) ||
          w.copies.some((x) => x.exit?.reason === 'exit'),
        5_000,
      );
      if (!onDestination.some((x) => w.ran.has(x)))
        out.push(`committed (${where}): no copy ran on ${ctx.plan.to}`);
      if (alive(original)) out.push(`committed (${where}): the source copy is still alive`);
      if (ctx.plan.fault?.event !== 'CRASH_SOURCE' && result?.outcome !== 'committed')
        out.push(
          `committed (${where}): the client says ${result?.outcome ?? 'nothing'} (${result?.reason})`,
        );
      break;
    }
    case 'rolledBack': {
      if (result?.outcome !== 'rolled-back')
        out.push(
          `rolled back (${where}): the client says ${result?.outcome ?? 'nothing yet'} (${result?.reason})`,
        );
      if (onDestination.some((x) => w.ran.has(x)))
        out.push(`rolled back (${where}): a copy ran on ${ctx.plan.to}`);
      if (!alive(original) && original.exit?.reason !== 'exit')
        out.push(`rolled back (${where}): the source copy ended: ${original.exit?.reason}`);
      else if (alive(original) && original.suspendCount !== 0)
        out.push(
          `rolled back (${where}): the source copy is still suspended (${original.suspendCount})`,
        );
      if (w.duplicates.some(alive)) out.push(`rolled back (${where}): the duplicate is alive`);
      if (!ctx.plan.destroysRights && alive(original)) {
        const now = describePorts(original.space);
        if (JSON.stringify(now) !== JSON.stringify(ctx.portsBefore))
          out.push(
            `rolled back (${where}): the port space changed: ${JSON.stringify(ctx.portsBefore)} became ${JSON.stringify(now)}`,
          );
      }
      break;
    }
    case 'lost': {
      if (!ctx.h.crashes.some((x) => x.host === SOURCE))
        out.push(`lost (${where}): the source never crashed`);
      if (onDestination.some((x) => w.ran.has(x)))
        out.push(`lost (${where}): a copy ran on ${ctx.plan.to}`);
      break;
    }
    case 'inDoubt':
      if (!m || m.visited.indexOf('inDoubt') < 0)
        out.push(`in doubt (${where}): the client never was (states: ${m?.visited.join(' ')})`);
      break;
    default: {
      const cs = CLIENT_STATE[value];
      if (!m || cs === undefined || m.visited.indexOf(cs) < 0)
        out.push(
          `${value} (${where}): the client never entered it (states: ${m?.visited.join(' ')}; result: ${result?.outcome} ${result?.reason})`,
        );
      else if (result !== null && !faultAhead(ctx))
        out.push(
          `${value} (${where}): the migration already ended: ${result.outcome} (${result.reason})`,
        );
    }
  }
  return out;
}

/** The path's fault is at a state the client has already entered (it may have struck). */
function faultAhead(ctx: MigrationCtx): boolean {
  const f = ctx.plan.fault;
  if (f === null || ctx.m === null) return false;
  const cs = CLIENT_STATE[f.state];
  return cs !== undefined && ctx.m.visited.includes(cs);
}

function end(ctx: MigrationCtx): string[] {
  ctx.h.quiesce();
  return endInvariants(ctx.h, references);
}

export const migrationCheck: CheckModel<MigrationCtx> = {
  name: 'migration',
  description:
    'one migration, client and server together, each strategy, one fault at any step or message',
  machine: migrationModel,
  events: MIGRATION_MODEL_EVENTS,
  faults: MIGRATION_FAULTS,
  simplePaths: true,
  begin,
  exec: (ctx, event, next) => exec(ctx, event, next),
  check: (ctx, state) => check(ctx, state),
  end,
};
