import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { Cluster } from '../cluster.ts';
import { AssemblyError, assemble } from '../cpu/assembler.ts';
import type { Image } from '../cpu/image.ts';
import { fileIncluder } from '../cpu/sourceFiles.ts';
import { spawn } from '../kernel/loader.ts';
import type { Task } from '../kernel/task.ts';
import type { Migration, MigrationResult } from '../migration/migrate.ts';
import { isMachError } from '../protocol/errors.ts';
import { FaultPlan } from '../world/faults.ts';
import type { TraceEvent } from '../world/trace.ts';
import {
  type ExpectedOutcome,
  type Scenario,
  ScenarioError,
  type ScenarioMigration,
} from './schema.ts';

/**
 * Runs a scenario: builds its cluster, starts its programs, fires its migrations and faults at
 * their virtual times, and runs the world until every task has ended (or `until_ms`). Each
 * program also runs once on a cluster of the same hosts with no migration and no fault: the
 * reference its output is compared with.
 */

export type MigrationStatus = MigrationResult['outcome'] | 'refused' | 'skipped' | 'running';

export interface ScenarioMigrationOutcome {
  readonly index: number;
  readonly spec: ScenarioMigration;
  /** Where the task was when the migration started (null if it did not start). */
  readonly from: string | null;
  /** When it actually started: `at_ms`, or later if it waited for an earlier one to end. */
  readonly startedMs: number | null;
  readonly status: MigrationStatus;
  readonly reason: string | null;
  readonly result: MigrationResult | null;
  /** Whether the outcome is the `expect`ed one (true when nothing was expected). */
  readonly asExpected: boolean;
}

export interface ScenarioTaskOutcome {
  readonly name: string;
  readonly file: string;
  readonly home: string;
  /** The host it ended on (or runs on at the time limit); null if it never started. */
  readonly host: string | null;
  readonly output: string;
  readonly referenceOutput: string;
  readonly outputMatches: boolean;
  readonly exit: {
    readonly status: number;
    readonly reason: string;
    readonly timeMs: number;
  } | null;
  readonly referenceEndMs: number | null;
}

export interface ScenarioFaultRecord {
  readonly timeMs: number;
  readonly kind: string;
  readonly detail: string;
  readonly cleared: boolean;
}

export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly endMs: number;
  /** World events run (the scenario run, not the reference). */
  readonly events: number;
  /** Whether the run ended because every task ended (false: the time limit or an idle world). */
  readonly finished: boolean;
  readonly migrations: readonly ScenarioMigrationOutcome[];
  readonly tasks: readonly ScenarioTaskOutcome[];
  readonly faults: readonly ScenarioFaultRecord[];
  /** Every output matched and every migration ended as expected. */
  readonly ok: boolean;
  readonly wallMs: number;
}

export interface ScenarioRunOptions {
  /** Progress, as a fraction in [0, 1], now and then (for a progress bar). */
  readonly onProgress?: (fraction: number, label: string) => void;
  /** Each cluster once it has its hosts and network (e.g. to attach an inspector). */
  readonly onCluster?: (cluster: Cluster, role: 'reference' | 'scenario') => void;
  /** Each migration as it starts. */
  readonly onMigration?: (migration: Migration, index: number) => void;
}

/** Builds the scenario's cluster: its hosts, the default link, per-pair links and impairments. */
export function buildCluster(s: Scenario): Cluster {
  const cluster = new Cluster({
    seed: s.seed,
    link: s.network.link,
    hosts: Object.fromEntries(s.hosts.map((h) => [h.name, h.profile])),
  });
  for (const l of s.network.links) {
    cluster.network.setLink(l.between[0], l.between[1], l.link);
    if (l.impairments) cluster.network.setImpairment(l.impairments, l.between);
  }
  if (s.network.impairments) cluster.network.setImpairment(s.network.impairments);
  return cluster;
}

/** Assembles every program for its home host's page size; errors name the program's field. */
export function assemblePrograms(s: Scenario): Map<string, Image> {
  const images = new Map<string, Image>();
  s.programs.forEach((p, i) => {
    const pageSize = s.hosts.find((h) => h.name === p.host)!.profile.pageSize;
    let source: string;
    try {
      source = readFileSync(p.file, 'utf8');
    } catch (e) {
      throw new ScenarioError(
        `programs[${i}].file`,
        `cannot read "${p.file}": ${(e as Error).message}`,
      );
    }
    try {
      images.set(
        p.name,
        assemble(source, {
          fileName: relative(process.cwd(), p.file),
          include: fileIncluder(),
          defines: p.defines,
          pageSize,
        }),
      );
    } catch (e) {
      if (e instanceof AssemblyError) throw new ScenarioError(`programs[${i}]`, e.message);
      throw e;
    }
  });
  return images;
}

export function runScenario(s: Scenario, opts: ScenarioRunOptions = {}): ScenarioResult {
  const t0 = performance.now();
  const images = assemblePrograms(s);
  const reference = runReference(s, images, opts);
  opts.onProgress?.(0.2, 'scenario');

  const cluster = buildCluster(s);
  opts.onCluster?.(cluster, 'scenario');
  const world = cluster.world;
  if (s.migrations.length > 0) void cluster.netmsg;
  if (s.faults.length > 0) cluster.installFaults(new FaultPlan(s.faults));

  const outputs = new Map<string, string[]>(s.programs.map((p) => [p.name, []]));
  const faults: ScenarioFaultRecord[] = [];
  let dirty = true;
  const sub = world.trace.events$.subscribe((e: TraceEvent) => {
    switch (e.kind) {
      case 'task.output':
        outputs.get(e.task)?.push(e.text);
        break;
      case 'task.exit':
      case 'node.down':
      case 'migration.end':
        dirty = true;
        break;
      case 'fault.inject':
        faults.push({ timeMs: e.time, kind: e.fault, detail: e.detail, cleared: false });
        break;
      case 'fault.clear':
        faults.push({ timeMs: e.time, kind: e.fault, detail: e.detail, cleared: true });
        break;
    }
  });

  /**
   * The incarnation of each task that counts: the spawned one, then after each committed
   * migration the one on the destination. (Duplicates and partial copies never count.)
   */
  const primaries = new Map<string, Task>();
  const notStarted = new Map<string, string>();
  const lostAt = new Map<string, { host: string; timeMs: number }>();
  const startProgram = (name: string, home: string) => {
    const host = cluster.host(home);
    if (!host.up) {
      notStarted.set(name, `its host ${home} was down at start_ms`);
      dirty = true;
      return;
    }
    primaries.set(name, spawn(host, images.get(name)!, name));
    dirty = true;
  };
  for (const p of s.programs) {
    if (p.startMs <= world.now()) startProgram(p.name, p.host);
    else world.scheduleAt(p.startMs, () => startProgram(p.name, p.host), 'scenario.start');
  }
  const started = (name: string) => primaries.has(name) || notStarted.has(name);
  /** The running incarnation of a task, or null once it has ended (or its host went down). */
  const liveTask = (name: string): Task | null => {
    const t = primaries.get(name);
    return t && t.exit === null && t.host.up ? t : null;
  };

  const outcomes: (ScenarioMigrationOutcome | null)[] = s.migrations.map(() => null);
  const handles = new Map<number, Migration>();
  const inFlight = new Map<string, number>();
  const waiting = new Map<string, number[]>();
  const record = (
    i: number,
    o: Omit<ScenarioMigrationOutcome, 'index' | 'spec' | 'asExpected'>,
  ) => {
    const spec = s.migrations[i]!;
    outcomes[i] = {
      index: i,
      spec,
      ...o,
      asExpected: spec.expect === null || spec.expect === (o.status as ExpectedOutcome),
    };
  };
  const fire = (i: number) => {
    const spec = s.migrations[i]!;
    if (inFlight.has(spec.task)) {
      const q = waiting.get(spec.task) ?? [];
      q.push(i);
      waiting.set(spec.task, q);
      return;
    }
    const base = { from: null, startedMs: null, result: null };
    const task = liveTask(spec.task);
    if (task === null) {
      const why = !started(spec.task)
        ? 'had not started'
        : notStarted.has(spec.task)
          ? `never started: ${notStarted.get(spec.task)}`
          : `had ended (${primaries.get(spec.task)?.exit?.reason ?? 'lost'})`;
      return record(i, { ...base, status: 'skipped', reason: `task "${spec.task}" ${why}` });
    }
    if (task.host.name === spec.to)
      return record(i, {
        ...base,
        status: 'skipped',
        reason: `task "${spec.task}" is already on ${spec.to}`,
      });
    let m: Migration;
    try {
      m = cluster.migrate(task, spec.to, {
        strategy: spec.strategy,
        timeouts: spec.timeouts,
        ...(spec.precopyThreshold !== undefined ? { precopyThreshold: spec.precopyThreshold } : {}),
        ...(spec.precopyMaxRounds !== undefined ? { precopyMaxRounds: spec.precopyMaxRounds } : {}),
        ...(spec.batchPages !== undefined ? { batchPages: spec.batchPages } : {}),
      });
    } catch (e) {
      if (!isMachError(e)) throw e;
      return record(i, { ...base, status: 'refused', reason: e.message });
    }
    const from = task.host.name;
    const startedMs = world.now();
    inFlight.set(spec.task, i);
    record(i, { from, startedMs, status: 'running', reason: null, result: null });
    handles.set(i, m);
    opts.onMigration?.(m, i);
    m.onDone((r) => {
      inFlight.delete(spec.task);
      if (r.outcome === 'committed') {
        const dest = cluster.hosts.get(spec.to);
        const moved = dest?.up
          ? [...dest.tasks.values()].find((t) => t.name === spec.task && t.exit === null)
          : undefined;
        if (moved) primaries.set(spec.task, moved);
        else lostAt.set(spec.task, { host: spec.to, timeMs: world.now() });
      }
      record(i, { from, startedMs, status: r.outcome, reason: r.reason, result: r });
      dirty = true;
      const next = waiting.get(spec.task)?.shift();
      if (next !== undefined) world.schedule(0, () => fire(next), 'scenario.migrate');
    });
  };
  s.migrations.forEach((spec, i) => {
    world.scheduleAt(spec.atMs, () => fire(i), 'scenario.migrate');
  });

  const total = s.programs.length;
  let finishedCount = 0;
  let checks = 0;
  const done = (): boolean => {
    if (opts.onProgress && (++checks & 0xfff) === 0)
      opts.onProgress(
        0.2 + 0.8 * Math.max(finishedCount / total, world.now() / s.untilMs) * 0.999,
        `scenario, ${world.now().toFixed(0)} ms virtual`,
      );
    if (!dirty) return false;
    dirty = false;
    if (inFlight.size > 0) return false;
    finishedCount = 0;
    for (const p of s.programs) if (started(p.name) && liveTask(p.name) === null) finishedCount++;
    return finishedCount === total && [...waiting.values()].every((q) => q.length === 0);
  };
  const eventsBefore = world.eventsRun;
  const finished = world.runUntil(done, { until: s.untilMs });
  sub.unsubscribe();

  s.migrations.forEach((spec, i) => {
    if (outcomes[i] !== null) return;
    record(i, {
      from: null,
      startedMs: null,
      result: null,
      status: 'skipped',
      reason:
        spec.atMs > world.now()
          ? `every task had ended before ${spec.atMs} ms`
          : `still waiting for an earlier migration of "${spec.task}"`,
    });
  });
  // Demand strategies keep serving pages after the commit: read the final figures.
  const finalOutcomes = outcomes.map((o, i) => {
    const live = handles.get(i)?.result();
    return live ? { ...o!, result: live } : o!;
  });

  const tasks: ScenarioTaskOutcome[] = s.programs.map((p) => {
    const output = outputs.get(p.name)!.join('');
    const ref = reference.get(p.name)!;
    const t = primaries.get(p.name);
    const lost = lostAt.get(p.name);
    let exit: ScenarioTaskOutcome['exit'] = null;
    if (lost)
      exit = {
        status: -1,
        reason: `lost: ${lost.host} went down at the commit`,
        timeMs: lost.timeMs,
      };
    else if (t?.exit) exit = { status: t.exit.status, reason: t.exit.reason, timeMs: t.exit.time };
    else if (t && !t.host.up)
      exit = { status: -1, reason: `host ${t.host.name} crashed`, timeMs: world.now() };
    return {
      name: p.name,
      file: relative(process.cwd(), p.file) || p.file,
      home: p.host,
      host: lost ? lost.host : (t?.host.name ?? null),
      output,
      referenceOutput: ref.output,
      outputMatches: output === ref.output,
      exit,
      referenceEndMs: ref.endMs,
    };
  });
  const ok = tasks.every((t) => t.outputMatches) && finalOutcomes.every((m) => m.asExpected);
  opts.onProgress?.(1, 'done');
  return {
    scenario: s,
    endMs: world.now(),
    events: world.eventsRun - eventsBefore,
    finished,
    migrations: finalOutcomes,
    tasks,
    faults,
    ok,
    wallMs: performance.now() - t0,
  };
}

/** Every program on the scenario's hosts, unmigrated and without faults: the expected output. */
function runReference(
  s: Scenario,
  images: Map<string, Image>,
  opts: ScenarioRunOptions,
): Map<string, { output: string; endMs: number | null }> {
  const cluster = buildCluster(s);
  opts.onCluster?.(cluster, 'reference');
  const world = cluster.world;
  const tasks = new Map<string, Task>();
  for (const p of s.programs) {
    const start = () => tasks.set(p.name, spawn(cluster.host(p.host), images.get(p.name)!, p.name));
    if (p.startMs <= 0) start();
    else world.scheduleAt(p.startMs, start, 'scenario.start');
  }
  let n = 0;
  world.runUntil(
    () => {
      if ((++n & 0xfff) === 0)
        opts.onProgress?.(0.2 * Math.min(1, world.now() / s.untilMs), 'reference');
      if (tasks.size < s.programs.length) return false;
      for (const t of tasks.values()) if (t.exit === null) return false;
      return true;
    },
    { until: s.untilMs },
  );
  const out = new Map<string, { output: string; endMs: number | null }>();
  for (const p of s.programs) {
    const t = tasks.get(p.name);
    out.set(p.name, { output: t?.outputText ?? '', endMs: t?.exit?.time ?? null });
  }
  return out;
}
