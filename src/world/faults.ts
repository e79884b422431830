import type { Impairment, Network } from './network.ts';
import type { Random } from './random.ts';
import type { World } from './world.ts';

/**
 * A fault plan: network impairments, partitions and node crashes, each at a virtual time. The same
 * plan on the same seed injects the same faults at the same instants, so a failing run replays.
 */

type Pair = [string, string];
type Impaired = { pair?: Pair; durationMs?: number };

export type Fault = { at: number } & (
  | ({ kind: 'loss'; probability: number } & Impaired)
  | ({ kind: 'duplicate'; probability: number } & Impaired)
  | ({ kind: 'reorder'; probability: number; jitterMs: number } & Impaired)
  | { kind: 'partition'; groups: [string[], string[]]; durationMs?: number }
  | { kind: 'crash'; node: string; restartAfterMs?: number }
  | { kind: 'restart'; node: string }
);

export type FaultKind = Fault['kind'];

const KINDS: readonly FaultKind[] = [
  'loss',
  'duplicate',
  'reorder',
  'partition',
  'crash',
  'restart',
];

export class FaultPlanError extends Error {
  /** `field` names the offending field, e.g. `faults[2].probability` or `opts.nodes`. */
  constructor(
    readonly field: string,
    message: string,
    readonly index?: number,
  ) {
    super(`${field}: ${message}`);
    this.name = 'FaultPlanError';
  }
}

declare module './trace.ts' {
  interface TraceEventMap {
    'fault.inject': { fault: string; index: number; detail: string };
    'fault.clear': { fault: string; index: number; detail: string };
  }
}

export interface RandomPlanOptions {
  readonly nodes: readonly string[];
  readonly horizonMs: number;
  readonly count: number;
  /** Kinds to draw from; default every kind but 'restart' (crashes carry their own restart). */
  readonly kinds?: readonly FaultKind[];
}

export class FaultPlan {
  readonly faults: readonly Fault[];

  constructor(faults: readonly Fault[]) {
    faults.forEach(validate);
    this.faults = faults.map((f) => structuredClone(f));
  }

  /** A plan drawn from `random`: every impairment, partition and crash heals within the horizon. */
  static random(random: Random, opts: RandomPlanOptions): FaultPlan {
    const { nodes, horizonMs, count } = opts;
    if (nodes.length === 0) throw new FaultPlanError('opts.nodes', 'needs at least one node');
    if (!(horizonMs >= 1 && Number.isFinite(horizonMs))) {
      throw new FaultPlanError('opts.horizonMs', `must be finite and >= 1, got ${horizonMs}`);
    }
    if (!(Number.isInteger(count) && count >= 0)) {
      throw new FaultPlanError('opts.count', `must be an integer >= 0, got ${count}`);
    }
    const wanted = opts.kinds ?? KINDS.filter((k) => k !== 'restart');
    for (const k of wanted)
      if (!KINDS.includes(k)) throw new FaultPlanError('opts.kinds', `unknown ${k}`);
    // A partition needs two nodes; on one node, leave it out rather than fail.
    const kinds = wanted.filter((k) => k !== 'partition' || nodes.length >= 2);
    if (kinds.length === 0) throw new FaultPlanError('opts.kinds', 'no kind fits these nodes');

    const h = Math.floor(horizonMs);
    const duration = () => random.int(1, Math.max(1, Math.floor(h / 4)));
    const prob = (lo: number, hi: number) =>
      Math.round((lo + random.float() * (hi - lo)) * 1000) / 1000;
    const pair = (): Pair | undefined => {
      if (nodes.length < 2 || random.chance(0.5)) return undefined;
      const a = random.int(0, nodes.length - 1);
      const b = (a + random.int(1, nodes.length - 1)) % nodes.length;
      return [nodes[a]!, nodes[b]!];
    };
    const faults: Fault[] = [];
    for (let i = 0; i < count; i++) {
      const at = random.int(0, h - 1);
      const kind = random.pick(kinds);
      switch (kind) {
        case 'loss':
        case 'duplicate':
          faults.push(
            withPair({ at, kind, probability: prob(0.05, 0.5), durationMs: duration() }, pair()),
          );
          break;
        case 'reorder': {
          const f = {
            at,
            kind,
            probability: prob(0.1, 1),
            jitterMs: random.int(1, 20),
            durationMs: duration(),
          };
          faults.push(withPair(f, pair()));
          break;
        }
        case 'partition': {
          const shuffled = shuffle(random, nodes);
          const cut = random.int(1, shuffled.length - 1);
          const groups: [string[], string[]] = [shuffled.slice(0, cut), shuffled.slice(cut)];
          faults.push({ at, kind, groups, durationMs: duration() });
          break;
        }
        case 'crash':
          faults.push({ at, kind, node: random.pick(nodes), restartAfterMs: duration() });
          break;
        case 'restart':
          faults.push({ at, kind, node: random.pick(nodes) });
          break;
      }
    }
    faults.sort((a, b) => a.at - b.at);
    return new FaultPlan(faults);
  }

  /** Schedules every fault on the world clock. Node names are checked against the network. */
  install(world: World, network: Network): void {
    const known = new Set(network.nodes());
    this.faults.forEach((f, i) => {
      for (const [field, node] of nodesOf(f)) {
        if (!known.has(node))
          throw new FaultPlanError(`faults[${i}].${field}`, `unknown node "${node}"`, i);
      }
      if (f.at < world.now()) {
        throw new FaultPlanError(
          `faults[${i}].at`,
          `${f.at} is before the current time ${world.now()}`,
          i,
        );
      }
    });
    const impairments = new ImpairmentStack(network);
    this.faults.forEach((f, i) => {
      world.schedule(f.at - world.now(), () => inject(f, i), `fault.${f.kind}`);
    });

    function inject(f: Fault, index: number): void {
      const detail = describe(f);
      world.trace.emit('fault.inject', { fault: f.kind, index, detail });
      const clearAfter = (ms: number | undefined, undo: () => void) => {
        if (ms === undefined) return;
        world.schedule(
          ms,
          () => {
            undo();
            world.trace.emit('fault.clear', { fault: f.kind, index, detail });
          },
          `fault.clear.${f.kind}`,
        );
      };
      switch (f.kind) {
        case 'loss':
        case 'duplicate':
        case 'reorder': {
          const value: Partial<Impairment> =
            f.kind === 'reorder'
              ? { reorder: f.probability, reorderJitterMs: f.jitterMs }
              : { [f.kind]: f.probability };
          const token = impairments.push(f.kind, f.pair, value);
          clearAfter(f.durationMs, () => impairments.remove(token));
          break;
        }
        case 'partition': {
          const id = network.partition(f.groups[0], f.groups[1]);
          clearAfter(f.durationMs, () => network.heal(id));
          break;
        }
        case 'crash':
          network.crash(f.node);
          clearAfter(f.restartAfterMs, () => network.restart(f.node));
          break;
        case 'restart':
          network.restart(f.node);
          break;
      }
    }
  }
}

/**
 * Overlapping impairment faults on the same scope (global or one pair) and field: the latest
 * active one wins, and when the last one clears, the setting from before the first returns.
 */
class ImpairmentStack {
  private readonly active = new Map<string, { before: Partial<Impairment>; stack: Token[] }>();

  constructor(private readonly network: Network) {}

  push(field: string, pair: Pair | undefined, value: Partial<Impairment>): Token {
    const key = `${pair ? [...pair].sort().join('\0') : '*'}|${field}`;
    let entry = this.active.get(key);
    if (!entry) {
      const current = this.network.impairmentSettings(pair);
      const before: { -readonly [K in keyof Impairment]?: number } = {};
      for (const k of Object.keys(value) as (keyof Impairment)[]) before[k] = current[k];
      entry = { before, stack: [] };
      this.active.set(key, entry);
    }
    const token: Token = { key, pair, value };
    entry.stack.push(token);
    this.network.setImpairment(value, pair);
    return token;
  }

  remove(token: Token): void {
    const entry = this.active.get(token.key);
    if (!entry) return;
    entry.stack = entry.stack.filter((t) => t !== token);
    const top = entry.stack.at(-1);
    // `before` may hold undefined fields: for a pair that removes the override.
    this.network.setImpairment(top ? top.value : entry.before, token.pair);
    if (!top) this.active.delete(token.key);
  }
}

interface Token {
  readonly key: string;
  readonly pair: Pair | undefined;
  readonly value: Partial<Impairment>;
}

function validate(f: Fault, i: number): void {
  const bad = (field: string, why: string): never => {
    throw new FaultPlanError(`faults[${i}].${field}`, why, i);
  };
  if (!KINDS.includes(f.kind)) bad('kind', `unknown fault kind "${f.kind}"`);
  if (!(f.at >= 0 && Number.isFinite(f.at))) bad('at', `must be a finite time >= 0, got ${f.at}`);
  const positive = (field: string, v: number | undefined) => {
    if (v !== undefined && !(v > 0 && Number.isFinite(v)))
      bad(field, `must be finite and > 0, got ${v}`);
  };
  switch (f.kind) {
    case 'loss':
    case 'duplicate':
    case 'reorder':
      if (!(f.probability >= 0 && f.probability <= 1)) {
        bad('probability', `must be in [0, 1], got ${f.probability}`);
      }
      if (f.kind === 'reorder' && !(f.jitterMs >= 0 && Number.isFinite(f.jitterMs))) {
        bad('jitterMs', `must be finite and >= 0, got ${f.jitterMs}`);
      }
      if (f.pair !== undefined && (f.pair.length !== 2 || f.pair[0] === f.pair[1])) {
        bad('pair', 'must name two different nodes');
      }
      positive('durationMs', f.durationMs);
      break;
    case 'partition': {
      const [a, b] = f.groups ?? [];
      if (!a?.length || !b?.length) bad('groups', 'needs two non-empty groups');
      if (a!.some((n) => b!.includes(n))) bad('groups', 'groups must be disjoint');
      positive('durationMs', f.durationMs);
      break;
    }
    case 'crash':
      positive('restartAfterMs', f.restartAfterMs);
      break;
  }
}

/** Every node a fault names, with the field it sits in (for error messages). */
function nodesOf(f: Fault): [string, string][] {
  switch (f.kind) {
    case 'partition':
      return f.groups.flatMap((g, gi) =>
        g.map((n, ni): [string, string] => [`groups[${gi}][${ni}]`, n]),
      );
    case 'crash':
    case 'restart':
      return [['node', f.node]];
    default:
      return f.pair ? f.pair.map((n, pi): [string, string] => [`pair[${pi}]`, n]) : [];
  }
}

function describe(f: Fault): string {
  switch (f.kind) {
    case 'loss':
    case 'duplicate':
    case 'reorder': {
      const jitter = f.kind === 'reorder' ? ` jitter=${f.jitterMs}ms` : '';
      const scope = f.pair ? ` ${f.pair[0]}<->${f.pair[1]}` : ' everywhere';
      const dur = f.durationMs === undefined ? '' : ` for ${f.durationMs}ms`;
      return `${f.kind} p=${f.probability}${jitter}${scope}${dur}`;
    }
    case 'partition':
      return `partition [${f.groups[0].join(',')}] | [${f.groups[1].join(',')}]${
        f.durationMs === undefined ? '' : ` for ${f.durationMs}ms`
      }`;
    case 'crash':
      return `crash ${f.node}${f.restartAfterMs === undefined ? '' : ` restart after ${f.restartAfterMs}ms`}`;
    case 'restart':
      return `restart ${f.node}`;
  }
}

function withPair<T extends object>(f: T, pair: Pair | undefined): T & { pair?: Pair } {
  return pair ? { ...f, pair } : f;
}

function shuffle<T>(random: Random, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
