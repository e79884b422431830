import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster } from '../cluster.ts';
import type { Image } from '../cpu/image.ts';
import { assembleFile } from '../cpu/sourceFiles.ts';
import { spawn } from '../kernel/loader.ts';
import type { Task } from '../kernel/task.ts';
import type { MigrationResult } from '../migration/migrate.ts';
import { STRATEGIES, type Strategy } from '../protocol/migration.ts';

/**
 * The paper's scenario (reference/seed section 3): a Pentium 90 (32 MB) and an i486DX 33 (8 MB)
 * on 10 Mbit/s Ethernet; a task that computes and prints is migrated mid-run from the Pentium to
 * the i486 with each memory strategy, and once more with the network cut during the copy, which
 * must roll back to the duplicate. Each run's output is compared with an unmigrated run's.
 */
export const DEFAULT_PROGRAM = fileURLToPath(new URL('../../examples/primes.s', import.meta.url));

export interface DemoRun {
  readonly label: string;
  readonly result: MigrationResult;
  readonly output: string;
  readonly outputMatches: boolean;
  readonly endMs: number;
}

export interface MigrationDemo {
  readonly seed: number;
  readonly program: string;
  readonly referenceMs: number;
  readonly migrateAtMs: number;
  readonly runs: DemoRun[];
}

export interface DemoOptions {
  readonly seed?: number;
  readonly program?: string;
  readonly strategies?: readonly Strategy[];
  /** Include the run whose migration fails and rolls back (default true). */
  readonly failure?: boolean;
}

export function runMigrationDemo(opts: DemoOptions = {}): MigrationDemo {
  const seed = opts.seed ?? 1;
  const program = opts.program ?? DEFAULT_PROGRAM;
  const image = assembleFile(program);
  const ref = run(image, seed, null);
  const at = Math.max(1, Math.round(ref.endMs * 0.4));
  const runs: DemoRun[] = [];
  for (const strategy of opts.strategies ?? STRATEGIES) {
    const r = run(image, seed, { strategy, at, cut: false });
    runs.push({
      label: strategy,
      result: r.result!,
      output: r.output,
      outputMatches: r.output === ref.output,
      endMs: r.endMs,
    });
  }
  if (opts.failure ?? true) {
    const r = run(image, seed, { strategy: 'eager', at, cut: true });
    runs.push({
      label: 'eager, network cut during the copy',
      result: r.result!,
      output: r.output,
      outputMatches: r.output === ref.output,
      endMs: r.endMs,
    });
  }
  return {
    seed,
    program: relative(process.cwd(), program) || program,
    referenceMs: ref.endMs,
    migrateAtMs: at,
    runs,
  };
}

interface Plan {
  readonly strategy: Strategy;
  readonly at: number;
  readonly cut: boolean;
}

function run(
  image: Image,
  seed: number,
  plan: Plan | null,
): { output: string; endMs: number; result: MigrationResult | null } {
  const cluster = Cluster.paper(seed);
  const task = spawn(cluster.host('pentium'), image, 'program');
  const pieces: string[] = [];
  cluster.world.trace.events$.subscribe((e) => {
    if (e.kind === 'task.output' && e.task === task.name) pieces.push(e.text);
  });
  if (plan === null) {
    cluster.world.runUntil(() => task.exit !== null);
    return { output: pieces.join(''), endMs: cluster.world.now(), result: null };
  }
  cluster.world.runUntilTime(plan.at);
  const m = cluster.migrate(task, 'i486', { strategy: plan.strategy, timeouts: { stepMs: 500 } });
  if (plan.cut) {
    // Cut the Ethernet once the copy has begun; mend it well after the client has given up.
    const sub = cluster.world.trace.events$.subscribe((e) => {
      if (e.kind === 'netmsg.send' && m.actor.getSnapshot().value === 'copying') {
        sub.unsubscribe();
        const id = cluster.network.partition(['pentium'], ['i486']);
        cluster.world.schedule(60_000, () => cluster.network.heal(id), 'demo.heal');
      }
    });
  }
  let moved: Task | undefined;
  cluster.world.runUntil(() => {
    const r = m.result();
    if (r === null) return false;
    if (r.outcome !== 'committed') return task.exit !== null;
    moved ??= [...cluster.host('i486').tasks.values()].find((t) => t.name === task.name);
    return moved === undefined || moved.exit !== null;
  });
  return { output: pieces.join(''), endMs: cluster.world.now(), result: m.result() };
}

/** The demo as the JSON document `xmach demo --json` prints. */
export function demoJson(d: MigrationDemo): unknown {
  return {
    seed: d.seed,
    program: d.program,
    reference_ms: d.referenceMs,
    migrate_at_ms: d.migrateAtMs,
    migrations: d.runs.map((r) => ({
      label: r.label,
      strategy: r.result.strategy,
      committed: r.result.outcome === 'committed',
      outcome: r.result.outcome,
      reason: r.result.reason,
      phases: r.result.phases,
      freeze_ms: r.result.freezeMs,
      total_ms: r.result.totalMs,
      bytes: r.result.bytes,
      remote_faults: r.result.remoteFaults,
      precopy_rounds: r.result.precopyRounds,
      output_matches_reference: r.outputMatches,
    })),
  };
}
