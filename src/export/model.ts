import type { AnyStateMachine } from 'xstate';

/**
 * A statechart read off an XState machine's state nodes, in the terms the exporters need: states
 * (atomic, compound, parallel, final, history) with their initial child, entry/exit actions and
 * invoked actors, and transitions with a readable event, guard, targets and actions. Eventless
 * (`always`) transitions are included; XState's own definition JSON leaves them out.
 */
export type ChartStateType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface ChartTransition {
  /** The event as XState names it (`xstate.after.…`, `xstate.done.actor.…`); '' for always. */
  readonly event: string;
  /** A readable form: `STEP.DONE`, `after lookUpTimeout`, `done: lookUpServer`, `always`. */
  readonly label: string;
  readonly kind: 'event' | 'after' | 'always' | 'done' | 'error';
  /** The delay of an `after` transition: a named delay or milliseconds. */
  readonly delay: string | number | null;
  readonly guard: string | null;
  /** Target state ids (empty: the transition only runs actions). */
  readonly targets: readonly string[];
  readonly actions: readonly string[];
  readonly reenter: boolean;
}

export interface ChartState {
  /** XState's state id, e.g. `thread.alive.suspension`. */
  readonly id: string;
  readonly key: string;
  readonly path: readonly string[];
  readonly type: ChartStateType;
  readonly history: 'shallow' | 'deep' | null;
  /** Id of the initial child (compound states). */
  readonly initial: string | null;
  readonly children: readonly ChartState[];
  readonly entry: readonly string[];
  readonly exit: readonly string[];
  readonly invoke: readonly { readonly id: string; readonly src: string }[];
  readonly transitions: readonly ChartTransition[];
  readonly description: string | null;
}

export interface Chart {
  readonly id: string;
  readonly root: ChartState;
}

interface NodeLike {
  id: string;
  key: string;
  path: string[];
  type: ChartStateType;
  history: false | 'shallow' | 'deep';
  states: Record<string, NodeLike>;
  initial?: { target: NodeLike[] };
  entry: unknown[];
  exit: unknown[];
  invoke: { id: string; src: unknown }[];
  transitions: Map<string, TransitionLike[]>;
  always?: TransitionLike[];
  description?: string;
}

interface TransitionLike {
  eventType: string;
  target?: NodeLike[];
  actions: unknown[];
  guard?: unknown;
  reenter: boolean;
  delay?: string | number;
}

/** The name of an action as a reader should see it. */
export function actionName(a: unknown): string {
  if (typeof a === 'string') return a;
  if (typeof a === 'function') {
    const t = (a as { type?: unknown }).type;
    if (typeof t === 'string') return t;
    return a.name && a.name !== 'action' ? a.name : 'inline action';
  }
  if (a && typeof a === 'object' && typeof (a as { type?: unknown }).type === 'string')
    return (a as { type: string }).type;
  return 'inline action';
}

/** The guard as text: its name, a combinator over names (`not(objectKnown)`), or `inline`. */
export function guardName(g: unknown): string | null {
  if (g === undefined || g === null) return null;
  if (typeof g === 'string') return g;
  if (typeof g === 'object' && typeof (g as { type?: unknown }).type === 'string')
    return (g as { type: string }).type;
  if (typeof g === 'function') {
    const inner = (g as { guards?: unknown[] }).guards;
    if (Array.isArray(inner)) return `${g.name}(${inner.map((x) => guardName(x)).join(', ')})`;
    return g.name && g.name !== 'guard' ? g.name : 'inline';
  }
  return 'inline';
}

/** Actions XState adds for its own bookkeeping (scheduling and cancelling `after` events). */
function internal(a: unknown): boolean {
  const name = actionName(a);
  return (
    name === 'xstate.cancel' ||
    (name === 'xstate.raise' &&
      typeof a === 'function' &&
      String((a as { id?: unknown }).id ?? '').startsWith('xstate.after.'))
  );
}

function srcName(src: unknown): string {
  if (typeof src === 'string') return src;
  const id = (src as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : 'inline actor';
}

function transition(t: TransitionLike, invokes: Map<string, string>): ChartTransition {
  const ev = t.eventType;
  let kind: ChartTransition['kind'] = 'event';
  let label = ev;
  let delay: string | number | null = null;
  if (ev === '') {
    kind = 'always';
    label = 'always';
  } else if (ev.startsWith('xstate.after.')) {
    kind = 'after';
    delay = t.delay ?? ev.split('.')[2] ?? null;
    label = `after ${typeof delay === 'number' ? `${delay} ms` : delay}`;
  } else if (ev.startsWith('xstate.done.actor.')) {
    kind = 'done';
    const id = ev.slice('xstate.done.actor.'.length);
    label = `done: ${invokes.get(id) ?? id}`;
  } else if (ev.startsWith('xstate.error.actor.')) {
    kind = 'error';
    const id = ev.slice('xstate.error.actor.'.length);
    label = `error: ${invokes.get(id) ?? id}`;
  }
  return {
    event: ev,
    label,
    kind,
    delay,
    guard: guardName(t.guard),
    targets: (t.target ?? []).map((n) => n.id),
    actions: t.actions.filter((a) => !internal(a)).map(actionName),
    reenter: t.reenter,
  };
}

function state(n: NodeLike): ChartState {
  const invokes = new Map(n.invoke.map((i) => [i.id, srcName(i.src)]));
  const transitions: ChartTransition[] = [];
  for (const list of n.transitions.values())
    for (const t of list) transitions.push(transition(t, invokes));
  for (const t of n.always ?? []) transitions.push(transition(t, invokes));
  return {
    id: n.id,
    key: n.key,
    path: [...n.path],
    type: n.type,
    history: n.history === false ? null : n.history,
    initial: n.type === 'compound' ? (n.initial?.target[0]?.id ?? null) : null,
    children: Object.values(n.states).map(state),
    entry: n.entry.filter((a) => !internal(a)).map(actionName),
    exit: n.exit.filter((a) => !internal(a)).map(actionName),
    invoke: n.invoke.map((i) => ({ id: i.id, src: srcName(i.src) })),
    transitions,
    description: n.description ?? null,
  };
}

export function chartOf(machine: AnyStateMachine): Chart {
  return { id: machine.id, root: state(machine.root as unknown as NodeLike) };
}

/** Every state of the chart, the root first, depth first. */
export function allStates(c: Chart): ChartState[] {
  const out: ChartState[] = [];
  const walk = (s: ChartState) => {
    out.push(s);
    s.children.forEach(walk);
  };
  walk(c.root);
  return out;
}
