import { checkIpcInvariants } from '../../src/actors/invariants.ts';
import { Cluster } from '../../src/cluster.ts';
import { assemble } from '../../src/cpu/assembler.ts';
import type { Host } from '../../src/kernel/host.ts';
import { type SpawnOptions, spawn } from '../../src/kernel/loader.ts';
import type { Task } from '../../src/kernel/task.ts';
import type { MigrateOptions, Migration, MigrationResult } from '../../src/migration/migrate.ts';
import type { Strategy } from '../../src/protocol/migration.ts';
import { LINK_PROFILES } from '../../src/world/profiles.ts';
import type { TraceEvent } from '../../src/world/trace.ts';
import { exampleIncluder, exampleSource } from './kernelFixtures.ts';

/**
 * Shared tools of the migration specifications: the paper's cluster (optionally with a third
 * host), programs small enough to run many times, the unmigrated baseline of a program, a log of
 * console output by host, and a census of each host's IPC state to show nothing leaked.
 */

export const STRATEGY_LIST: readonly Strategy[] = [
  'eager',
  'precopy',
  'demand',
  'prepage',
  'flush',
];

/**
 * The example programs, with defines that keep each run to tens of milliseconds of virtual time
 * (long enough for a pre-copy round of their data on 10 Mbit/s Ethernet to finish first).
 */
export const PROGRAMS = {
  primes: { file: 'primes.s', defines: { N: 60000, STEP: 6000 } },
  threads: { file: 'threads.s', defines: { CHUNK: 200000 } },
  bigmem: {
    file: 'bigmem.s',
    // 512 KiB: every page written, read back and checksummed ("MiB" here is 128 KiB).
    defines: { SIZE: 512 * 1024, MIB: 128 * 1024, MIB_WORDS_MASK: 32 * 1024 - 1 },
  },
  workset: {
    file: 'workset.s',
    defines: { SIZE: 256 * 1024, WSET: 16 * 1024, ROUNDS: 300, PRINT: 50 },
  },
} as const;
export type ProgramName = keyof typeof PROGRAMS;

export interface PaperCluster {
  readonly cluster: Cluster;
  readonly pentium: Host;
  readonly i486: Host;
  /** The third host ('i386', an i486 profile), when asked for. */
  readonly third: Host | null;
}

/**
 * The paper's two hosts; `third` adds 'i386' before the netmsg and migration servers start.
 * The servers are started at once, so the hosts' IPC census includes them from the beginning.
 */
export function paperCluster(
  opts: { seed?: number; third?: boolean; link?: keyof typeof LINK_PROFILES } = {},
): PaperCluster {
  const cluster = Cluster.paper(opts.seed ?? 1);
  if (opts.link) cluster.network.setLink('pentium', 'i486', LINK_PROFILES[opts.link]);
  const third = opts.third
    ? cluster.addHost('i386', { ...cluster.host('i486').profile, name: 'i386' })
    : null;
  void cluster.netmsg;
  return { cluster, pentium: cluster.host('pentium'), i486: cluster.host('i486'), third };
}

/** Assembles an example (or a source text) with defines and spawns it on `host`. */
export function spawnProgram(
  host: Host,
  program: ProgramName | { source: string; defines?: Record<string, number> },
  name = 'prog',
  opts: SpawnOptions = {},
): Task {
  const { source, defines } =
    typeof program === 'string'
      ? { source: exampleSource(PROGRAMS[program].file), defines: PROGRAMS[program].defines }
      : { source: program.source, defines: program.defines ?? {} };
  const image = assemble(source, {
    pageSize: host.profile.pageSize,
    fileName: `${name}.s`,
    include: exampleIncluder,
    defines,
  });
  return spawn(host, image, name, opts);
}

export interface RunOutcome {
  readonly output: string;
  readonly status: number | null;
  /** Virtual time the run took (ms). */
  readonly endMs: number;
}

const baselines = new Map<string, RunOutcome>();

/** What the program prints and its exit status when it runs on `pentium`, unmigrated. */
export function baseline(
  program: ProgramName | { source: string; defines?: Record<string, number> },
): RunOutcome {
  const key = typeof program === 'string' ? program : JSON.stringify(program);
  const known = baselines.get(key);
  if (known) return known;
  const { cluster, pentium } = paperCluster();
  const task = spawnProgram(pentium, program);
  cluster.world.runUntil(() => task.exit !== null, { until: 600_000 });
  const r = {
    output: task.outputText,
    status: task.exit?.status ?? null,
    endMs: cluster.world.now(),
  };
  baselines.set(key, r);
  return r;
}

/** Console output as the trace shows it: by host and task, in order. */
export class OutputLog {
  readonly writes: { time: number; host: string; task: string; text: string }[] = [];
  private readonly stop: () => void;

  constructor(cluster: Cluster) {
    const sub = cluster.world.trace.events$.subscribe((e: TraceEvent) => {
      if (e.kind === 'task.output')
        this.writes.push({ time: e.time, host: e.host, task: e.task, text: e.text });
    });
    this.stop = () => sub.unsubscribe();
  }

  /** Everything task `task` printed, wherever it ran. */
  text(task = 'prog'): string {
    return this.writes
      .filter((w) => w.task === task)
      .map((w) => w.text)
      .join('');
  }

  /** What it printed on `host`. */
  textOn(host: string, task = 'prog'): string {
    return this.writes
      .filter((w) => w.task === task && w.host === host)
      .map((w) => w.text)
      .join('');
  }

  /** The hosts it printed on, in order, each run of writes collapsed: ['pentium', 'i486']. */
  hostRuns(task = 'prog'): string[] {
    const out: string[] = [];
    for (const w of this.writes)
      if (w.task === task && out[out.length - 1] !== w.host) out.push(w.host);
    return out;
  }

  close(): void {
    this.stop();
  }
}

/** The live task named `name` on `host` (not the duplicate), if any. */
export function taskOn(host: Host, name = 'prog'): Task | undefined {
  for (const t of host.tasks.values()) if (t.name === name && !t.terminated) return t;
  return undefined;
}

/** Every task on `host`, by name. */
export function taskNames(host: Host): string[] {
  return [...host.tasks.values()].map((t) => t.name).sort();
}

/** How many port spaces and live ports a host's kernel has, and any broken invariant. */
export interface IpcCensus {
  readonly spaces: number;
  readonly ports: number;
  readonly problems: readonly string[];
}

export function census(host: Host): IpcCensus {
  return {
    spaces: host.ipc.spaces.size,
    ports: host.ipc.ports.size,
    problems: checkIpcInvariants(host.ipc),
  };
}

/** Spaces and labels of live ports, for a readable difference when a census differs. */
export function portLabels(host: Host): string[] {
  return [...host.ipc.ports].map((p) => p.label).sort();
}

/** Runs the world until the migration has a result and every task named `name` has ended. */
export function runMigration(
  cluster: Cluster,
  m: Migration,
  name = 'prog',
  untilMs = 600_000,
): MigrationResult {
  cluster.world.runUntil(
    () => {
      if (m.result() === null) return false;
      for (const h of cluster.hosts.values()) if (h.up && taskOn(h, name)) return false;
      return true;
    },
    { until: untilMs },
  );
  const r = m.result();
  if (r === null) throw new Error('the migration did not end');
  return r;
}

/** Exit statuses of the task named `name` wherever it ended (from the trace). */
export class ExitLog {
  readonly exits: { host: string; task: string; status: number; reason: string }[] = [];
  private readonly stop: () => void;

  constructor(cluster: Cluster) {
    const sub = cluster.world.trace.events$.subscribe((e: TraceEvent) => {
      if (e.kind === 'task.exit')
        this.exits.push({ host: e.host, task: e.task, status: e.status, reason: e.reason });
    });
    this.stop = () => sub.unsubscribe();
  }

  /** The exit of `name` that was not the migration retiring its source. */
  final(name = 'prog'): { host: string; status: number; reason: string } | undefined {
    return this.exits.find(
      (x) =>
        x.task === name && !x.reason.startsWith('migrated to') && !x.reason.includes('migration'),
    );
  }

  close(): void {
    this.stop();
  }
}

export type { MigrateOptions, MigrationResult };

/**
 * Watches, at every trace event, where the task named `name` lives: it must never be able to run
 * on two hosts at once, and never be lost (from its start until it exits, some up host keeps a
 * live copy: the task itself, suspended or not).
 */
export class RunWatch {
  /** Moments when two copies could run at once. */
  readonly twice: string[] = [];
  /** Moments when no copy was left anywhere before the task had ended. */
  readonly lost: string[] = [];
  private ended = false;
  private readonly stop: () => void;

  constructor(
    private readonly cluster: Cluster,
    private readonly name = 'prog',
  ) {
    const sub = cluster.world.trace.events$.subscribe((e: TraceEvent) => {
      if (e.kind === 'task.exit' && e.task === name && !e.reason.includes('migrat'))
        this.ended = true;
      this.check(e.kind);
    });
    this.stop = () => sub.unsubscribe();
  }

  private check(at: string): void {
    let live = 0;
    let runnable = 0;
    for (const h of this.cluster.hosts.values()) {
      if (!h.up) continue;
      for (const t of h.tasks.values()) {
        if (t.name !== this.name) continue;
        // Ending of its own accord (its exit is under way), it is not lost.
        if (t.exit !== null && !t.exit.reason.includes('migrat')) this.ended = true;
        if (t.terminated) continue;
        live++;
        if (t.runnable) runnable++;
      }
    }
    const when = `${at} at ${this.cluster.world.now().toFixed(3)} ms`;
    if (runnable > 1 && this.twice.length < 5) this.twice.push(when);
    if (live === 0 && !this.ended && this.lost.length < 5) this.lost.push(when);
  }

  close(): void {
    this.stop();
  }
}
