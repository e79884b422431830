import { Cluster } from '../cluster.ts';
import { assemble } from '../cpu/assembler.ts';
import { spawn } from '../kernel/loader.ts';
import type { Task } from '../kernel/task.ts';
import type { Migration } from '../migration/migrate.ts';
import { HOST_PROFILES, LINK_PROFILES } from '../world/profiles.ts';
import { type BenchResult, collectGarbage } from './measure.ts';

/**
 * `scale.*`: how cost grows with the size of the simulation. One cluster of `hosts` hosts on
 * gigabit Ethernet with every netmsg and migration server running, `tasks` tasks spread round
 * robin (each a small program that wakes every 10 ms of virtual time, bumps a counter in its
 * memory and sleeps again), then `migrations` migrations at once, task i from host i to host
 * i + 1, eagerly. Figures: the wall time of each phase, world events per wall second while the
 * migrations run, and heap bytes per task.
 */
export interface ScaleOptions {
  /**
   * Fraction of the full size (1,000 hosts, 10,000 tasks, 1,000 migrations) when the counts are
   * not given: default XMACH_SCALE from the environment, else 1 (the full size runs in about
   * 16 s with the default heap, since netmsg opens a peer's channel on first contact).
   */
  readonly factor?: number;
  readonly hosts?: number;
  readonly tasks?: number;
  readonly migrations?: number;
  readonly seed?: number;
  /** Progress callback, fraction in [0, 1] (for a progress bar on a terminal). */
  readonly onProgress?: (fraction: number, label: string) => void;
}

export const FULL_SCALE = { hosts: 1000, tasks: 10_000, migrations: 1000 } as const;

const TICKER = `
        .equ ROUNDS, 1000000
        .text
_start:
        li    r11, 0
        la    r6, counter
        li    r7, 0
        li    r8, ROUNDS
loop:
        ldw   r1, [r6]
        addi  r1, r1, 1
        stw   r1, [r6]
        li    r0, SYS_SLEEP
        li    r1, 10
        trap
        addi  r7, r7, 1
        blt   r7, r8, loop
        li    r0, SYS_EXIT
        li    r1, 0
        trap
        .data
counter: .word 0
`;

export interface ScaleRun {
  readonly hosts: number;
  readonly tasks: number;
  readonly migrations: number;
  readonly buildMs: number;
  readonly spawnMs: number;
  readonly heapPerTaskBytes: number;
  readonly warmMs: number;
  readonly migrateMs: number;
  readonly migrateEvents: number;
  readonly eventsPerSecond: number;
  readonly committed: number;
  readonly virtualMs: number;
  readonly totalMs: number;
}

/** The size factor: the option, else XMACH_SCALE, else 1 (see ScaleOptions.factor). */
export function scaleFactor(given?: number): number {
  const env = Number(process.env.XMACH_SCALE);
  const f = given ?? (Number.isFinite(env) && env > 0 ? env : 1);
  if (!(f > 0 && f <= 1)) throw new RangeError(`scale factor must be in (0, 1], got ${f}`);
  return f;
}

export function runScale(opts: ScaleOptions = {}): ScaleRun {
  const f = scaleFactor(opts.factor);
  const nHosts = opts.hosts ?? Math.max(2, Math.round(FULL_SCALE.hosts * f));
  const nTasks = opts.tasks ?? Math.max(1, Math.round(FULL_SCALE.tasks * f));
  const nMig = Math.min(
    opts.migrations ?? Math.round(FULL_SCALE.migrations * f),
    nTasks,
    nHosts > 1 ? nTasks : 0,
  );
  const progress = opts.onProgress ?? (() => {});
  const t0 = performance.now();
  const hosts: Record<string, typeof HOST_PROFILES.modern> = {};
  for (let i = 0; i < nHosts; i++) hosts[`h${i}`] = HOST_PROFILES.modern;
  const cluster = new Cluster({ seed: opts.seed ?? 1, link: LINK_PROFILES.gigabit, hosts });
  void cluster.netmsg;
  const buildMs = performance.now() - t0;
  progress(0.1, `${nHosts} hosts`);

  const image = assemble(TICKER, { fileName: 'ticker.s' });
  collectGarbage();
  const heap0 = process.memoryUsage().heapUsed;
  const t1 = performance.now();
  const tasks: Task[] = [];
  for (let i = 0; i < nTasks; i++) {
    tasks.push(spawn(cluster.host(`h${i % nHosts}`), image, `t${i}`));
    if ((i & 1023) === 0) progress(0.1 + 0.3 * (i / nTasks), `${i} tasks`);
  }
  // Let every task load and run its first round.
  cluster.world.runUntilTime(cluster.world.now() + 20);
  const spawnMs = performance.now() - t1;
  collectGarbage();
  const heapPerTaskBytes = (process.memoryUsage().heapUsed - heap0) / Math.max(1, nTasks);
  progress(0.4, `${nTasks} tasks`);

  const t2 = performance.now();
  cluster.world.runUntilTime(cluster.world.now() + 50);
  const warmMs = performance.now() - t2;

  const migrations: Migration[] = [];
  const events0 = cluster.world.eventsRun;
  const v0 = cluster.world.now();
  const t3 = performance.now();
  for (let i = 0; i < nMig; i++)
    migrations.push(
      cluster.migrate(tasks[i]!, `h${((i % nHosts) + 1) % nHosts}`, { strategy: 'eager' }),
    );
  let pending = migrations.length;
  for (const m of migrations) m.onDone(() => pending--);
  let n = 0;
  cluster.world.runUntil(() => {
    if ((++n & 0xffff) === 0)
      progress(
        0.5 + 0.5 * (1 - pending / Math.max(1, nMig)),
        `${nMig - pending}/${nMig} migrations`,
      );
    return pending === 0;
  });
  const migrateMs = performance.now() - t3;
  const migrateEvents = cluster.world.eventsRun - events0;
  progress(1, 'done');
  return {
    hosts: nHosts,
    tasks: nTasks,
    migrations: nMig,
    buildMs,
    spawnMs,
    heapPerTaskBytes,
    warmMs,
    migrateMs,
    migrateEvents,
    eventsPerSecond: migrateEvents / (migrateMs / 1000),
    committed: migrations.filter((m) => m.result()?.outcome === 'committed').length,
    virtualMs: cluster.world.now() - v0,
    totalMs: performance.now() - t0,
  };
}

export function scaleBenchmarks(opts: ScaleOptions = {}): BenchResult[] {
  const r = runScale(opts);
  const size = `${r.hosts} hosts, ${r.tasks} tasks, ${r.migrations} migrations`;
  const res = (name: string, value: number, unit: string, note?: string): BenchResult => ({
    name: `scale.${name}`,
    value,
    unit,
    baseline: null,
    ratio: null,
    ...(note ? { note } : {}),
  });
  return [
    res(
      'build_wall_ms',
      r.buildMs,
      'ms (wall)',
      `${r.hosts} hosts with netmsg and migration servers`,
    ),
    res('spawn_wall_ms', r.spawnMs, 'ms (wall)', `${r.tasks} tasks loaded, 20 ms virtual`),
    res('heap_per_task', r.heapPerTaskBytes, 'bytes', 'heap growth / tasks, after a GC'),
    res('run_50ms_wall_ms', r.warmMs, 'ms (wall)', `${r.tasks} tasks, 50 ms virtual`),
    res(
      'migrations_wall_ms',
      r.migrateMs,
      'ms (wall)',
      `${r.migrations} concurrent eager migrations, ${r.committed} committed, ${r.virtualMs.toFixed(2)} ms virtual`,
    ),
    res('events_per_second', r.eventsPerSecond, 'events/s', `during the migrations; ${size}`),
    res('total_wall_ms', r.totalMs, 'ms (wall)', size),
  ];
}
