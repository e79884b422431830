import { existsSync } from 'node:fs';
import { basename, extname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Strategy } from '../protocol/migration.ts';
import { STRATEGIES } from '../protocol/migration.ts';
import type { Fault } from '../world/faults.ts';
import type { Impairment } from '../world/network.ts';
import {
  HOST_PROFILES,
  type HostProfile,
  LINK_PROFILES,
  type LinkProfile,
} from '../world/profiles.ts';

/**
 * A scenario: hosts, the network between them, programs started on them, migrations and faults
 * at given virtual times, and the seed. Files use snake_case keys (`at_ms`, `page_size`); this
 * module checks one (parsed from JSON or YAML) and returns it resolved: profiles looked up, paths
 * made absolute, defaults filled in. Every error names the field it is about, as
 * `migrations[1].to: unknown host "x" (hosts: a, b)`.
 */

export interface ScenarioHost {
  readonly name: string;
  readonly profile: HostProfile;
}

export interface ScenarioLink {
  readonly between: readonly [string, string];
  readonly link: LinkProfile;
  readonly impairments: Partial<Impairment> | null;
}

export interface ScenarioNetwork {
  readonly link: LinkProfile;
  readonly links: readonly ScenarioLink[];
  readonly impairments: Partial<Impairment> | null;
}

export interface ScenarioProgram {
  /** The task's name (unique in the scenario). */
  readonly name: string;
  /** Absolute path of the assembly source. */
  readonly file: string;
  readonly defines: Readonly<Record<string, number>>;
  readonly host: string;
  readonly startMs: number;
}

export interface MigrationTimeoutsSpec {
  readonly lookUpMs?: number;
  readonly stepMs?: number;
  readonly copyMs?: number;
  readonly statusRetryMs?: number;
  readonly statusAttempts?: number;
}

export type ExpectedOutcome = 'committed' | 'rolled-back' | 'unresolved' | 'interrupted';

export interface ScenarioMigration {
  readonly task: string;
  readonly to: string;
  readonly atMs: number;
  readonly strategy: Strategy;
  readonly precopyThreshold?: number;
  readonly precopyMaxRounds?: number;
  readonly batchPages?: number;
  readonly timeouts: MigrationTimeoutsSpec;
  /** When set, `xmach run` fails unless the migration ends this way. */
  readonly expect: ExpectedOutcome | null;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** The file it came from (absolute), or null. */
  readonly file: string | null;
  readonly seed: number;
  /** The run stops at this virtual time at the latest. */
  readonly untilMs: number;
  readonly hosts: readonly ScenarioHost[];
  readonly network: ScenarioNetwork;
  readonly programs: readonly ScenarioProgram[];
  readonly migrations: readonly ScenarioMigration[];
  /** In FaultPlan terms (camelCase), in file order. */
  readonly faults: readonly Fault[];
}

/** A scenario that does not hold together; `field` is the path of the offending value. */
export class ScenarioError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(field ? `${field}: ${problem}` : problem);
    this.name = 'ScenarioError';
  }
}

/** Where `example: NAME` programs come from: the package's examples/ folder. */
export const EXAMPLES_DIR = fileURLToPath(new URL('../../examples/', import.meta.url));

const EXPECTED: readonly ExpectedOutcome[] = [
  'committed',
  'rolled-back',
  'unresolved',
  'interrupted',
];
const FAULT_KINDS = ['loss', 'duplicate', 'reorder', 'partition', 'crash', 'restart'] as const;

type Raw = Record<string, unknown>;

const describeValue = (v: unknown): string =>
  v === undefined
    ? 'nothing'
    : typeof v === 'string'
      ? `"${v}"`
      : Array.isArray(v)
        ? 'a list'
        : v === null
          ? 'null'
          : typeof v === 'object'
            ? 'a mapping'
            : String(v);

/** Reads the fields of one mapping, remembering which it read, so unknown keys can be refused. */
class Fields {
  private readonly seen = new Set<string>();

  constructor(
    readonly path: string,
    readonly raw: Raw,
  ) {}

  static of(path: string, v: unknown, what = 'a mapping'): Fields {
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      throw new ScenarioError(path, `must be ${what}, got ${describeValue(v)}`);
    return new Fields(path, v as Raw);
  }

  at(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  has(key: string): boolean {
    this.seen.add(key);
    return this.raw[key] !== undefined;
  }

  get(key: string): unknown {
    this.seen.add(key);
    return this.raw[key];
  }

  fail(key: string, problem: string): never {
    throw new ScenarioError(this.at(key), problem);
  }

  string(key: string, fallback?: string): string;
  string(key: string, fallback: string | null): string | null;
  string(key: string, fallback?: string | null): string | null {
    const v = this.get(key);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      this.fail(key, 'is required');
    }
    if (typeof v !== 'string' || v.length === 0)
      this.fail(key, `must be a non-empty string, got ${describeValue(v)}`);
    return v as string;
  }

  number(key: string, opts: NumberOpts & { fallback: number }): number;
  number(key: string, opts?: NumberOpts): number | undefined;
  number(key: string, opts: NumberOpts & { fallback?: number } = {}): number | undefined {
    const v = this.get(key);
    if (v === undefined) {
      if (opts.required) this.fail(key, 'is required');
      return opts.fallback;
    }
    return checkNumber(this.at(key), v, opts);
  }

  /** Refuses keys that no reader asked for (a typo would otherwise be ignored silently). */
  done(): void {
    for (const k of Object.keys(this.raw)) {
      if (!this.seen.has(k))
        throw new ScenarioError(
          this.at(k),
          `unknown field (known here: ${[...this.seen].join(', ')})`,
        );
    }
  }
}

interface NumberOpts {
  readonly required?: boolean;
  readonly integer?: boolean;
  readonly min?: number;
  /** Strictly greater than. */
  readonly above?: number;
  readonly max?: number;
}

function checkNumber(path: string, v: unknown, opts: NumberOpts): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new ScenarioError(path, `must be a number, got ${describeValue(v)}`);
  if (opts.integer && !Number.isInteger(v))
    throw new ScenarioError(path, `must be an integer, got ${v}`);
  if (opts.min !== undefined && v < opts.min)
    throw new ScenarioError(path, `must be >= ${opts.min}, got ${v}`);
  if (opts.above !== undefined && !(v > opts.above))
    throw new ScenarioError(path, `must be > ${opts.above}, got ${v}`);
  if (opts.max !== undefined && v > opts.max)
    throw new ScenarioError(path, `must be <= ${opts.max}, got ${v}`);
  return v;
}

function list(path: string, v: unknown, required = false): unknown[] {
  if (v === undefined) {
    if (required) throw new ScenarioError(path, 'is required');
    return [];
  }
  if (!Array.isArray(v)) throw new ScenarioError(path, `must be a list, got ${describeValue(v)}`);
  return v;
}

function oneOf<T extends string>(path: string, v: string, known: readonly T[], what: string): T {
  if (!known.includes(v as T))
    throw new ScenarioError(path, `unknown ${what} "${v}" (known: ${known.join(', ')})`);
  return v as T;
}

export interface ValidateOptions {
  /** Program paths are relative to this folder (the scenario file's); default the cwd. */
  readonly baseDir?: string;
  readonly file?: string | null;
  /** Check that program files exist (default true). */
  readonly checkFiles?: boolean;
}

/** Checks a parsed scenario and resolves it; throws a ScenarioError naming the bad field. */
export function validateScenario(raw: unknown, opts: ValidateOptions = {}): Scenario {
  const top = Fields.of('', raw, 'a mapping with hosts, programs, migrations, ...');
  const baseDir = opts.baseDir ?? process.cwd();
  const name =
    top.string('name', null) ?? (opts.file ? basename(opts.file, extname(opts.file)) : 'scenario');
  const description = top.string('description', null) ?? '';
  const seed = top.number('seed', { integer: true, fallback: 1 });
  const untilMs = top.number('until_ms', { above: 0, fallback: 600_000 });

  // ---- hosts
  const hosts: ScenarioHost[] = [];
  const rawHosts = list('hosts', top.get('hosts'), true);
  if (rawHosts.length === 0) throw new ScenarioError('hosts', 'needs at least one host');
  rawHosts.forEach((h, i) => {
    hosts.push(parseHost(Fields.of(`hosts[${i}]`, h)));
  });
  const hostNames = hosts.map((h) => h.name);
  hosts.forEach((h, i) => {
    if (hostNames.indexOf(h.name) !== i)
      throw new ScenarioError(`hosts[${i}].name`, `duplicate host "${h.name}"`);
  });
  const knownHost = (path: string, v: unknown): string => {
    if (typeof v !== 'string' || v.length === 0)
      throw new ScenarioError(path, `must be a host name, got ${describeValue(v)}`);
    if (!hostNames.includes(v))
      throw new ScenarioError(path, `unknown host "${v}" (hosts: ${hostNames.join(', ')})`);
    return v;
  };
  const hostPair = (path: string, v: unknown): [string, string] => {
    const l = list(path, v);
    if (l.length !== 2) throw new ScenarioError(path, 'must name two hosts');
    const pair: [string, string] = [knownHost(`${path}[0]`, l[0]), knownHost(`${path}[1]`, l[1])];
    if (pair[0] === pair[1]) throw new ScenarioError(path, 'must name two different hosts');
    return pair;
  };

  // ---- network
  const network = parseNetwork(
    top.has('network') ? Fields.of('network', top.get('network')) : null,
  );
  network.links.forEach((l, i) => {
    hostPair(`network.links[${i}].between`, l.between);
  });

  // ---- programs
  const programs: ScenarioProgram[] = [];
  const rawPrograms = list('programs', top.get('programs'), true);
  rawPrograms.forEach((p, i) => {
    const f = Fields.of(`programs[${i}]`, p);
    let file: string;
    if (f.has('file') && f.has('example')) f.fail('example', 'give either file or example');
    if (f.has('example')) {
      const ex = f.string('example');
      file = resolve(EXAMPLES_DIR, ex.endsWith('.s') ? ex : `${ex}.s`);
      if ((opts.checkFiles ?? true) && !existsSync(file))
        f.fail('example', `no example program "${ex}" in examples/`);
    } else {
      const given = f.string('file');
      file = isAbsolute(given) ? given : resolve(baseDir, given);
      if ((opts.checkFiles ?? true) && !existsSync(file))
        f.fail('file', `no such program file "${given}"`);
    }
    const name = f.string('name', null) ?? basename(file, '.s');
    const defines: Record<string, number> = {};
    if (f.has('defines')) {
      const d = Fields.of(f.at('defines'), f.get('defines'));
      for (const [k, v] of Object.entries(d.raw)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) d.fail(k, 'is not an assembler symbol name');
        defines[k] = checkNumber(d.at(k), v, { integer: true });
      }
    }
    const host = knownHost(f.at('host'), f.get('host'));
    const startMs = f.number('start_ms', { min: 0, fallback: 0 });
    f.done();
    if (programs.some((q) => q.name === name))
      throw new ScenarioError(
        `programs[${i}].name`,
        `duplicate task name "${name}" (give each program a distinct name)`,
      );
    programs.push({ name, file, defines, host, startMs });
  });
  if (programs.length === 0) throw new ScenarioError('programs', 'needs at least one program');
  const programNames = programs.map((p) => p.name);

  // ---- migrations
  const migrations: ScenarioMigration[] = [];
  list('migrations', top.get('migrations')).forEach((m, i) => {
    const f = Fields.of(`migrations[${i}]`, m);
    const task = f.string('task');
    if (!programNames.includes(task))
      f.fail('task', `unknown task "${task}" (programs: ${programNames.join(', ')})`);
    const to = knownHost(f.at('to'), f.get('to'));
    const atMs = f.number('at_ms', { required: true, min: 0 })!;
    const strategy = oneOf(f.at('strategy'), f.string('strategy', 'eager'), STRATEGIES, 'strategy');
    const precopyThreshold = f.number('precopy_threshold', { integer: true, min: 0 });
    const precopyMaxRounds = f.number('precopy_max_rounds', { integer: true, min: 1 });
    const batchPages = f.number('batch_pages', { integer: true, min: 1 });
    let timeouts: MigrationTimeoutsSpec = {};
    if (f.has('timeouts')) {
      const t = Fields.of(f.at('timeouts'), f.get('timeouts'));
      timeouts = dropUndefined({
        lookUpMs: t.number('look_up_ms', { above: 0 }),
        stepMs: t.number('step_ms', { above: 0 }),
        copyMs: t.number('copy_ms', { above: 0 }),
        statusRetryMs: t.number('status_retry_ms', { above: 0 }),
        statusAttempts: t.number('status_attempts', { integer: true, min: 1 }),
      });
      t.done();
    }
    const expectRaw = f.string('expect', null);
    const expect =
      expectRaw === null ? null : oneOf(f.at('expect'), expectRaw, EXPECTED, 'outcome');
    f.done();
    const program = programs.find((p) => p.name === task)!;
    const fromPage = hosts.find((h) => h.name === program.host)!.profile.pageSize;
    const toPage = hosts.find((h) => h.name === to)!.profile.pageSize;
    if (fromPage !== toPage)
      f.fail(
        'to',
        `host "${to}" uses ${toPage}-byte pages but "${task}" was laid out for ${fromPage}-byte pages on "${program.host}"`,
      );
    if (atMs < program.startMs)
      f.fail('at_ms', `${atMs} is before "${task}" starts (start_ms ${program.startMs})`);
    migrations.push(
      dropUndefined({
        task,
        to,
        atMs,
        strategy,
        precopyThreshold,
        precopyMaxRounds,
        batchPages,
        timeouts,
        expect,
      }) as ScenarioMigration,
    );
  });

  // ---- faults
  const faults: Fault[] = [];
  list('faults', top.get('faults')).forEach((x, i) => {
    const f = Fields.of(`faults[${i}]`, x);
    const kind = oneOf(f.at('kind'), f.string('kind'), FAULT_KINDS, 'fault kind');
    const at = f.number('at_ms', { required: true, min: 0 })!;
    switch (kind) {
      case 'loss':
      case 'duplicate':
      case 'reorder': {
        const probability = f.number('probability', { required: true, min: 0, max: 1 })!;
        const jitterMs =
          kind === 'reorder' ? f.number('jitter_ms', { min: 0, fallback: 5 }) : undefined;
        const pair = f.has('between') ? hostPair(f.at('between'), f.get('between')) : undefined;
        const durationMs = f.number('duration_ms', { above: 0 });
        faults.push(dropUndefined({ at, kind, probability, jitterMs, pair, durationMs }) as Fault);
        break;
      }
      case 'partition': {
        const groups = list(f.at('groups'), f.get('groups'), true);
        if (groups.length !== 2) f.fail('groups', 'must be two lists of hosts');
        const g = groups.map((gr, gi) =>
          list(`${f.at('groups')}[${gi}]`, gr).map((h, hi) =>
            knownHost(`${f.at('groups')}[${gi}][${hi}]`, h),
          ),
        ) as [string[], string[]];
        if (g[0].length === 0 || g[1].length === 0) f.fail('groups', 'needs two non-empty groups');
        const both = g[0].find((h) => g[1].includes(h));
        if (both) f.fail('groups', `host "${both}" is in both groups`);
        const durationMs = f.number('duration_ms', { above: 0 });
        faults.push(dropUndefined({ at, kind, groups: g, durationMs }) as Fault);
        break;
      }
      case 'crash': {
        const node = knownHost(f.at('host'), f.get('host'));
        const restartAfterMs = f.number('restart_after_ms', { above: 0 });
        faults.push(dropUndefined({ at, kind, node, restartAfterMs }) as Fault);
        break;
      }
      case 'restart':
        faults.push({ at, kind, node: knownHost(f.at('host'), f.get('host')) });
        break;
    }
    f.done();
  });
  top.done();
  return {
    name,
    description,
    file: opts.file ?? null,
    seed,
    untilMs,
    hosts,
    network,
    programs,
    migrations,
    faults,
  };
}

const MiB = 1024 * 1024;

function parseHost(f: Fields): ScenarioHost {
  const name = f.string('name');
  if (!/^[A-Za-z0-9_.-]+$/.test(name))
    f.fail('name', `"${name}" may hold only letters, digits, '_', '.' and '-'`);
  const profileName = f.string('profile', null);
  const base: HostProfile | null =
    profileName === null
      ? null
      : (HOST_PROFILES as Record<string, HostProfile>)[
          oneOf(
            f.at('profile'),
            profileName,
            Object.keys(HOST_PROFILES) as (keyof typeof HOST_PROFILES)[],
            'host profile',
          )
        ]!;
  const mips = f.number('cpu_mips', { above: 0 });
  const memoryMb = f.number('memory_mb', { above: 0 });
  const pageSize = f.number('page_size', { integer: true, min: 512 });
  const description = f.string('description', null);
  f.done();
  if (pageSize !== undefined && (pageSize & (pageSize - 1)) !== 0)
    f.fail('page_size', `must be a power of two, got ${pageSize}`);
  if (base === null) {
    if (mips === undefined) f.fail('cpu_mips', 'is required without a profile');
    if (memoryMb === undefined) f.fail('memory_mb', 'is required without a profile');
  }
  const profile: HostProfile = {
    name: base?.name ?? 'custom',
    description:
      description ??
      (base && mips === undefined && memoryMb === undefined && pageSize === undefined
        ? base.description
        : `${mips ?? base!.instructionsPerSecond / 1e6} MIPS, ${memoryMb ?? base!.memoryBytes / MiB} MB${base ? ` (from ${base.name})` : ''}`),
    instructionsPerSecond:
      mips !== undefined ? Math.round(mips * 1e6) : base!.instructionsPerSecond,
    memoryBytes: memoryMb !== undefined ? Math.round(memoryMb * MiB) : base!.memoryBytes,
    pageSize: pageSize ?? base?.pageSize ?? 4096,
  };
  return { name, profile };
}

function parseLink(path: string, v: unknown): LinkProfile {
  if (typeof v === 'string')
    return (LINK_PROFILES as Record<string, LinkProfile>)[
      oneOf(path, v, Object.keys(LINK_PROFILES) as (keyof typeof LINK_PROFILES)[], 'link profile')
    ]!;
  const f = Fields.of(path, v, 'a link profile name or a mapping');
  const latencyMs = f.number('latency_ms', { required: true, min: 0 })!;
  const mbit = f.number('mbit_per_s', { required: true, above: 0 })!;
  const frameOverheadBytes = f.number('frame_overhead_bytes', {
    integer: true,
    min: 0,
    fallback: 38,
  });
  f.done();
  return {
    name: `${mbit} Mbit/s`,
    latencyMs,
    bitsPerSecond: mbit * 1e6,
    frameOverheadBytes,
  };
}

function parseImpairments(path: string, v: unknown): Partial<Impairment> {
  const f = Fields.of(path, v);
  const p = { min: 0, max: 1 };
  const out = dropUndefined({
    loss: f.number('loss', p),
    duplicate: f.number('duplicate', p),
    reorder: f.number('reorder', p),
    reorderJitterMs: f.number('reorder_jitter_ms', { min: 0 }),
  });
  f.done();
  return out;
}

function parseNetwork(f: Fields | null): ScenarioNetwork {
  if (f === null) return { link: LINK_PROFILES.ethernet10, links: [], impairments: null };
  const link = f.has('link') ? parseLink(f.at('link'), f.get('link')) : LINK_PROFILES.ethernet10;
  const links = list(f.at('links'), f.get('links')).map((l, i) => {
    const g = Fields.of(`${f.at('links')}[${i}]`, l);
    const between = list(g.at('between'), g.get('between'), true) as [string, string];
    const lp = g.has('link') ? parseLink(g.at('link'), g.get('link')) : link;
    const impairments = g.has('impairments')
      ? parseImpairments(g.at('impairments'), g.get('impairments'))
      : null;
    g.done();
    return { between, link: lp, impairments };
  });
  const impairments = f.has('impairments')
    ? parseImpairments(f.at('impairments'), f.get('impairments'))
    : null;
  f.done();
  return { link, links, impairments };
}

function dropUndefined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]: Exclude<T[K], undefined> };
}
