import {
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type EventObject,
  initialTransition,
  transition,
} from 'xstate';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';

/**
 * Runs a model's paths against the real system. Paths come from xstate/graph: shortest paths to
 * every state and, where the state space allows, every simple path; the union is deduplicated
 * and paths that are a prefix of another are dropped (the longer one asserts the same states on
 * its way). A path runs synchronously: for each step its event's executor performs it (or injects
 * the fault) in a fresh simulated world, then the state it reached is asserted on the real
 * system, together with the invariants; at the end the world is brought to rest and checked for
 * what was left behind.
 */

export interface ModelPath {
  /** "START(eager) → OK → LOSE_REPLY" */
  readonly description: string;
  /** The events after xstate.init, in order. */
  readonly events: readonly EventObject[];
  /** The model's state after each event (same length as `events`). */
  readonly states: readonly AnyMachineSnapshot[];
  /** Whether the path includes a fault. */
  readonly failure: boolean;
}

export interface RunOptions {
  /**
   * Test switch: the runtime's rollback is deliberately broken (the destination keeps the
   * partial task of an aborted migration). The suite must then fail.
   */
  readonly brokenRollback?: boolean;
}

/** A model and what drives it: the executors of its events and the assertions of its states. */
export interface CheckModel<C = unknown> {
  readonly name: string;
  readonly description: string;
  readonly machine: AnyStateMachine;
  /** Every event the model can take (with payload variants); enabled ones are chosen per state. */
  readonly events: readonly EventObject[];
  /** Event types that are faults. */
  readonly faults: ReadonlySet<string>;
  /** Also enumerate simple paths (only where the state space is small enough). */
  readonly simplePaths: boolean;
  /** What makes two model states the same (default: value and context). */
  readonly serialize?: (s: AnyMachineSnapshot) => string;
  /** Builds the real system for one path (it may look at the whole path to prepare it). */
  begin(path: ModelPath, options: RunOptions): C;
  /** Performs the event, or injects the fault, in the real system. */
  exec(ctx: C, event: EventObject, next: AnyMachineSnapshot, index: number): void;
  /** What must hold in the real system in this model state (plus the invariants): problems. */
  check(ctx: C, state: AnyMachineSnapshot, index: number, event: EventObject): string[];
  /** Brings the world to rest and checks the end invariants: problems. */
  end(ctx: C): string[];
}

export interface PathGeneration {
  /** Distinct model states (value and context) reachable. */
  readonly states: number;
  readonly shortest: number;
  /** Simple paths (null where not enumerated). */
  readonly simple: number | null;
  /** Paths to run: the union of both, without paths that are a prefix of another. */
  readonly paths: ModelPath[];
}

export interface PathResult {
  readonly path: ModelPath;
  readonly ok: boolean;
  /** Index of the step that failed (-1: at the end), when not ok. */
  readonly step: number;
  readonly problems: readonly string[];
}

export interface ModelReport {
  readonly name: string;
  readonly states: number;
  readonly shortestPaths: number;
  readonly simplePaths: number | null;
  readonly paths: number;
  readonly failurePaths: number;
  readonly passed: number;
  readonly failed: number;
  readonly failures: readonly { path: string; step: number; problems: readonly string[] }[];
  readonly wallMs: number;
}

const eventKey = (e: EventObject) => {
  const { type, ...rest } = e as EventObject & Record<string, unknown>;
  const args = Object.values(rest);
  return args.length === 0 ? type : `${type}(${args.join(',')})`;
};

const generated = new WeakMap<CheckModel<unknown>, PathGeneration>();

/**
 * The model's states along `events`, computed afresh (the graph's stored snapshots stand for
 * every path into a state, so what a transition itself did, kept in the context, is replayed).
 */
function replay(machine: AnyStateMachine, events: readonly EventObject[]): AnyMachineSnapshot[] {
  let [s] = initialTransition(machine);
  return events.map((e) => {
    [s] = transition(machine, s, e);
    return s as AnyMachineSnapshot;
  });
}

export function generatePaths<C>(model: CheckModel<C>): PathGeneration {
  const cached = generated.get(model as CheckModel<unknown>);
  if (cached) return cached;
  const options = {
    // Only events with an enabled transition (guards included): a disabled one would be a
    // step that changes nothing in the model but would still be executed for real.
    events: (s: AnyMachineSnapshot) => model.events.filter((e) => s.can(e)),
    ...(model.serialize ? { serializeState: model.serialize } : {}),
  };
  const shortest = getShortestPaths(model.machine, options);
  const simple = model.simplePaths ? getSimplePaths(model.machine, options) : null;
  const byKey = new Map<string, ModelPath>();
  for (const p of [...shortest, ...(simple ?? [])]) {
    const steps = p.steps.slice(1); // steps[0] is xstate.init
    const events = steps.map((s) => s.event as EventObject);
    const key = events.map(eventKey).join(' → ');
    if (byKey.has(key)) continue;
    byKey.set(key, {
      description: key,
      events,
      states: replay(model.machine, events),
      failure: events.some((e) => model.faults.has(e.type)),
    });
  }
  // Every proper prefix of a path, to drop the paths that are one.
  const prefixes = new Set<string>();
  for (const p of byKey.values()) {
    let k = '';
    for (let i = 0; i < p.events.length - 1; i++) {
      k = i === 0 ? eventKey(p.events[0]!) : `${k} → ${eventKey(p.events[i]!)}`;
      prefixes.add(k);
    }
  }
  const paths = [...byKey.entries()]
    .filter(([k]) => k !== '' && !prefixes.has(k))
    .map(([, p]) => p);
  const result: PathGeneration = {
    states: shortest.length,
    shortest: shortest.length,
    simple: simple === null ? null : simple.length,
    paths,
  };
  generated.set(model as CheckModel<unknown>, result);
  return result;
}

/** Runs one path; never throws (an exception is a problem of the path). */
export function runPath<C>(
  model: CheckModel<C>,
  path: ModelPath,
  options: RunOptions = {},
): PathResult {
  let step = 0;
  try {
    const ctx = model.begin(path, options);
    for (step = 0; step < path.events.length; step++) {
      model.exec(ctx, path.events[step]!, path.states[step]!, step);
      const problems = model.check(ctx, path.states[step]!, step, path.events[step]!);
      if (problems.length > 0) return { path, ok: false, step, problems };
    }
    step = -1;
    const problems = model.end(ctx);
    return { path, ok: problems.length === 0, step: -1, problems };
  } catch (e) {
    const err = e as Error;
    return {
      path,
      ok: false,
      step,
      problems: [`exception: ${err.stack ?? err.message ?? String(e)}`],
    };
  }
}

export interface RunModelOptions extends RunOptions {
  /** Run only paths whose description contains this. */
  readonly filter?: string;
  /** Run at most this many paths. */
  readonly limit?: number;
  /** Stop at the first failing path. */
  readonly bail?: boolean;
  readonly onPath?: (r: PathResult) => void;
}

export function runModel<C>(model: CheckModel<C>, options: RunModelOptions = {}): ModelReport {
  const t0 = performance.now();
  const gen = generatePaths(model);
  let paths = gen.paths;
  if (options.filter !== undefined)
    paths = paths.filter((p) => p.description.includes(options.filter!));
  if (options.limit !== undefined) paths = paths.slice(0, options.limit);
  let passed = 0;
  const failures: { path: string; step: number; problems: readonly string[] }[] = [];
  for (const p of paths) {
    const r = runPath(model, p, options);
    options.onPath?.(r);
    if (r.ok) passed++;
    else {
      failures.push({ path: p.description, step: r.step, problems: r.problems });
      if (options.bail) break;
    }
  }
  return {
    name: model.name,
    states: gen.states,
    shortestPaths: gen.shortest,
    simplePaths: gen.simple,
    paths: paths.length,
    failurePaths: paths.filter((p) => p.failure).length,
    passed,
    failed: failures.length,
    failures,
    wallMs: performance.now() - t0,
  };
}
