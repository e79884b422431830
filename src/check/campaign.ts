import type { MigrationFault } from '../migration/faultInjection.ts';
import { MachError } from '../protocol/errors.ts';
import { STRATEGIES, type Strategy } from '../protocol/migration.ts';
import { type Fault, FaultPlan } from '../world/faults.ts';
import { Random } from '../world/random.ts';
import {
  alive,
  Harness,
  type HarnessSpec,
  type ReceiverSpec,
  type SenderSpec,
  type WorkloadSpec,
} from './harness.ts';
import { endInvariants, finishedCopy, ReferenceCache, stepInvariants } from './invariants.ts';
import type { RunOptions } from './runner.ts';

/**
 * The seeded fault campaign: each seed draws a cluster (two to four hosts of the paper's two
 * kinds, sometimes one too small for anything), workloads (tickers and receivers with their
 * senders), migrations at random instants with random strategies, a fault plan
 * (FaultPlan.random: loss, duplication, reordering, partitions, crashes with restarts) and, for
 * some migrations, a fault injected into the protocol itself (a message lost past netmsg's
 * retries, a refusal, a stalled or failed step, a crash or partition at a given step). The world
 * runs with the invariants checked every few milliseconds of virtual time, then comes to rest and
 * is checked for leftovers and outputs. Everything comes from the seed: `fuzz --seeds 1 --from S`
 * replays seed S exactly.
 */

export interface PlannedMigration {
  readonly at: number;
  readonly task: string;
  /** Where to: this host, or (if the task is there already) the next one in the list. */
  readonly to: string;
  readonly strategy: Strategy;
  readonly inject: readonly MigrationFault[];
}

export interface SeedPlan {
  readonly seed: number;
  readonly spec: HarnessSpec;
  readonly migrations: readonly PlannedMigration[];
  readonly faults: readonly Fault[];
}

export interface SeedResult {
  readonly seed: number;
  readonly migrations: number;
  /** Migrations planned but not started (the task was not running there then). */
  readonly skipped: number;
  readonly outcomes: Record<string, number>;
  /** Faults of the plan plus faults injected into migrations. */
  readonly faults: number;
  readonly problems: readonly string[];
  /** The command that replays this seed exactly. */
  readonly replay: string;
}

const HORIZON_MS = 1500;
/** How often (virtual ms) the invariants are checked while the world runs. */
const CHECK_EVERY_MS = 25;

export function replayCommand(seed: number, options: RunOptions = {}): string {
  return `npx xmach fuzz --seeds 1 --from ${seed}${options.brokenRollback ? ' --broken-rollback' : ''}`;
}

/** Draws everything a seed runs. */
export function planSeed(seed: number): SeedPlan {
  const random = new Random(seed);
  const r = random.fork('campaign');
  const nHosts = r.int(2, 4);
  const hosts: Record<string, string> = {};
  const names: string[] = [];
  for (let i = 0; i < nHosts; i++) {
    const name = `h${i}`;
    names.push(name);
    hosts[name] = r.chance(0.5) ? 'pentium90' : 'i486dx33';
  }
  // Sometimes a host too small to take any task: migrations to it are refused.
  if (r.chance(0.15)) {
    hosts.tiny = 'tiny';
    names.push('tiny');
  }
  const big = names.filter((n) => n !== 'tiny');
  const workloads: WorkloadSpec[] = [];
  const nTasks = r.int(1, 3);
  for (let i = 0; i < nTasks; i++) {
    const host = r.pick(big);
    if (r.chance(0.5)) {
      workloads.push({
        kind: 'ticker',
        name: `t${i}`,
        host,
        ticks: r.int(6, 20),
        pages: r.int(1, 6),
        sleepMs: r.int(8, 40),
      });
    } else {
      const senders: SenderSpec[] = [];
      const nSenders = r.int(1, 2);
      for (let k = 0; k < nSenders; k++)
        senders.push({
          host: r.pick(big),
          count: r.int(4, 12),
          everyMs: r.int(10, 40),
          startMs: r.int(1, 20),
        });
      const w: ReceiverSpec = {
        kind: 'receiver',
        name: `r${i}`,
        host,
        pages: r.int(1, 4),
        senders,
      };
      workloads.push(w);
    }
  }
  const migrations: PlannedMigration[] = [];
  const nMigrations = r.int(1, 3);
  for (let i = 0; i < nMigrations; i++) {
    const task = r.pick(workloads).name;
    migrations.push({
      at: r.int(5, 300),
      task,
      to: r.pick(names),
      strategy: r.pick(STRATEGIES),
      inject: r.chance(0.3) ? [drawInjection(r)] : [],
    });
  }
  migrations.sort((a, b) => a.at - b.at);
  const plan = FaultPlan.random(random.fork('faults'), {
    nodes: names,
    horizonMs: HORIZON_MS,
    count: r.int(0, 4),
  });
  return {
    seed,
    spec: { seed, hosts, workloads },
    migrations,
    faults: plan.faults,
  };
}

function drawInjection(r: Random): MigrationFault {
  const messages = ['CREATE', 'PAGES', 'RESTORE', 'COMMIT', 'STATUS', 'ABORT'] as const;
  const steps = ['lookUp', 'suspend', 'duplicate', 'create', 'copy', 'restore', 'commit'] as const;
  switch (r.int(0, 5)) {
    case 0:
      return { kind: 'lose', message: r.pick(messages), what: r.chance(0.5) ? 'request' : 'reply' };
    case 1:
      return { kind: 'refuse', message: r.pick(['CREATE', 'PAGES', 'RESTORE', 'COMMIT'] as const) };
    case 2:
      return { kind: 'stall', step: r.pick(steps) };
    case 3:
      return { kind: 'fail', step: r.pick(steps) };
    case 4:
      return {
        kind: 'crash',
        at: { step: r.pick(steps) },
        host: r.chance(0.5) ? 'source' : 'destination',
        restartAfterMs: r.int(100, 3000),
      };
    default:
      return { kind: 'partition', at: { step: r.pick(steps) }, ms: r.int(300, 4000) };
  }
}

/** A fault injected into a migration that may destroy the rights the commit request carries. */
function destroysRights(f: MigrationFault): boolean {
  if (f.kind === 'lose') return f.message === 'COMMIT' && (f.what ?? 'request') === 'request';
  if (f.kind === 'crash' || f.kind === 'partition') return 'step' in f.at && f.at.step === 'commit';
  return false;
}

/** Runs one seed; never throws (an exception is a problem of the seed). */
export function runSeed(
  seed: number,
  references = new ReferenceCache(),
  options: RunOptions = {},
): SeedResult {
  const plan = planSeed(seed);
  const outcomes: Record<string, number> = {};
  let skipped = 0;
  const problems: string[] = [];
  let started = 0;
  try {
    const h = new Harness(
      options.brokenRollback
        ? { ...plan.spec, migrationServer: { keepPartialTaskOnAbort: true } }
        : plan.spec,
    );
    const world = h.world;
    new FaultPlan(plan.faults).install(world, h.cluster.network);
    for (const m of plan.migrations) {
      world.scheduleAt(
        m.at,
        () => {
          const t = h.tasks.get(m.task);
          const copy = t?.copies.find((c) => alive(c) && c.runnable);
          if (!t || !copy) {
            skipped++;
            return;
          }
          const hosts = Object.keys(plan.spec.hosts);
          const to =
            m.to !== copy.host.name ? m.to : hosts[(hosts.indexOf(m.to) + 1) % hosts.length]!;
          try {
            h.migrate(m.task, to, {
              strategy: m.strategy,
              ...(m.inject.length > 0 ? { inject: m.inject } : {}),
            });
            started++;
            if (m.inject.some(destroysRights))
              t.lossy ??= 'a fault injected at the commit may destroy the rights it carries';
          } catch (e) {
            if (!(e instanceof MachError)) throw e;
            skipped++;
          }
        },
        'campaign.migrate',
      );
    }
    // Run in slices, checking the invariants after each, until every task is done or lost and
    // every migration has ended.
    const settled = () =>
      world.now() > 400 &&
      [...h.tasks.values()].every(
        (t) => finishedCopy(t) !== null || ![...t.copies, ...t.duplicates].some(alive),
      ) &&
      h.migrations.every((m) => m.migration.result() !== null);
    const limit = 300_000;
    while (!settled() && world.now() < limit && !world.idle) {
      h.run(() => false, CHECK_EVERY_MS);
      const p = stepInvariants(h);
      if (p.length > 0) {
        problems.push(...p.map((x) => `at ${world.now().toFixed(1)} ms: ${x}`));
        break;
      }
    }
    if (problems.length === 0) {
      h.quiesce();
      problems.push(...endInvariants(h, references));
    }
    for (const r of h.results()) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
  } catch (e) {
    problems.push(`exception: ${(e as Error).stack ?? String(e)}`);
  }
  return {
    seed,
    migrations: started,
    skipped,
    outcomes,
    faults: plan.faults.length + plan.migrations.reduce((n, m) => n + m.inject.length, 0),
    problems,
    replay: replayCommand(seed, options),
  };
}

export interface CampaignReport {
  readonly seeds: number;
  readonly from: number;
  readonly migrations: number;
  readonly faults: number;
  readonly outcomes: Record<string, number>;
  readonly violations: { seed: number; problems: readonly string[]; replay: string }[];
  readonly wallMs: number;
}

export function runCampaign(
  opts: RunOptions & {
    readonly seeds: number;
    readonly from?: number;
    readonly onSeed?: (r: SeedResult) => void;
  },
): CampaignReport {
  const t0 = performance.now();
  const from = opts.from ?? 1;
  const references = new ReferenceCache();
  let migrations = 0;
  let faults = 0;
  const outcomes: Record<string, number> = {};
  const violations: CampaignReport['violations'] = [];
  for (let seed = from; seed < from + opts.seeds; seed++) {
    const r = runSeed(seed, references, opts);
    opts.onSeed?.(r);
    migrations += r.migrations;
    faults += r.faults;
    for (const [k, v] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
    if (r.problems.length > 0) violations.push({ seed, problems: r.problems, replay: r.replay });
  }
  return {
    seeds: opts.seeds,
    from,
    migrations,
    faults,
    outcomes,
    violations,
    wallMs: performance.now() - t0,
  };
}
