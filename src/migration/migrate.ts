import { type Actor, createActor } from 'xstate';
import type { Cluster } from '../cluster.ts';
import type { Task } from '../kernel/task.ts';
import {
  type MigrationClientContext,
  type MigrationClientIo,
  type MigrationStep,
  type MigrationTimeouts,
  migrationClient,
  type PhaseRecord,
} from '../machines/migrationClient.ts';
import type { NetmsgInstallation } from '../netmsg/install.ts';
import { MachError } from '../protocol/errors.ts';
import { STRATEGIES, type Strategy } from '../protocol/migration.ts';
import { type LinkProfile, wireTimeMs } from '../world/profiles.ts';
import { type ClientState, clientIo } from './client.ts';
import { checkFaults, injectFaults, type MigrationFault } from './faultInjection.ts';
import './traceEvents.ts';

export interface MigrateOptions {
  readonly strategy?: Strategy;
  readonly timeouts?: Partial<MigrationTimeouts>;
  /** Pre-copy: stop the rounds when at most this many pages are dirty (default 8) ... */
  readonly precopyThreshold?: number;
  /** ... or after this many rounds (default 5). */
  readonly precopyMaxRounds?: number;
  /** Pages per PAGES message (default: about 64 ms of the link, 16 to 2048; see defaultBatchPages). */
  readonly batchPages?: number;
  /** Faults to inject into this migration (tests, fault studies): see faultInjection.ts. */
  readonly inject?: readonly MigrationFault[];
}

/** What a migration did, in virtual time (ms) and bytes. */
export interface MigrationResult {
  readonly task: string;
  readonly from: string;
  readonly to: string;
  readonly strategy: Strategy;
  /**
   * `interrupted`: the source host (where the client runs) crashed, so the client died with it
   * and cannot know whether the destination committed; look at the destination to find out.
   */
  readonly outcome: 'committed' | 'rolled-back' | 'unresolved' | 'interrupted';
  readonly reason: string | null;
  readonly failedStep: string | null;
  readonly phases: readonly { step: string; start_ms: number; end_ms: number }[];
  readonly startMs: number;
  readonly endMs: number;
  readonly totalMs: number;
  /** From suspension until the task ran again (at the destination, or at home after a rollback). */
  readonly freezeMs: number;
  readonly pagesMoved: number;
  readonly bytes: number;
  readonly remoteFaults: number;
  readonly precopyRounds: number;
  /** What the destination still depends on at the source (the memory server, for demand strategies). */
  readonly residual: readonly string[];
}

export interface Migration {
  readonly actor: Actor<typeof migrationClient>;
  /** The result once the migration has ended (null while it runs). */
  result(): MigrationResult | null;
  onDone(cb: (r: MigrationResult) => void): void;
}

/** Sessions are numbered per world, so the same seed gives the same trace in any process. */
const sessionCounts = new WeakMap<object, number>();

/**
 * Migrates `task` to host `to` (reference/seed section 3). Throws a MachError, having changed
 * nothing, for a task that is not running here, an unknown host, its own host, or a task already
 * being migrated; every later failure ends in a result instead (rolled-back; unresolved when the
 * destination never says whether it committed; interrupted when the source host crashes).
 */
export function migrate(
  cluster: Cluster,
  netmsg: NetmsgInstallation,
  task: Task,
  to: string,
  opts: MigrateOptions = {},
): Migration {
  const host = task.host;
  const strategy = opts.strategy ?? 'eager';
  if (!STRATEGIES.includes(strategy))
    throw new MachError(
      'KERN_INVALID_ARGUMENT',
      `unknown strategy "${String(strategy)}" (known: ${STRATEGIES.join(', ')})`,
    );
  if (cluster.hosts.get(host.name) !== host)
    throw new MachError(
      'KERN_INVALID_TASK',
      `task ${task.name} is on a host "${host.name}" that is not this cluster's`,
    );
  if (task.terminated || !host.up || host.tasks.get(task.id) !== task)
    throw new MachError('KERN_INVALID_TASK', `task ${task.name} is not running on ${host.name}`);
  if (!cluster.hosts.has(to))
    throw new MachError(
      'KERN_INVALID_HOST',
      `unknown host "${to}" (hosts: ${[...cluster.hosts.keys()].join(', ')})`,
    );
  if (to === host.name)
    throw new MachError('KERN_INVALID_ARGUMENT', `task ${task.name} is already on ${to}`);
  if (migrating.has(task))
    throw new MachError('KERN_FAILURE', `task ${task.name} is already being migrated`);
  if (opts.inject !== undefined) checkFaults(opts.inject);
  checkOptions(opts);
  migrating.add(task);
  const world = cluster.world;
  const state: ClientState = {
    host,
    netmsg: netmsg.server(host.name),
    task,
    to,
    strategy,
    session: `${host.name}-${task.name}-${nextSession(cluster.world)}`,
    batchPages:
      opts.batchPages ??
      defaultBatchPages(cluster.network.link(host.name, to), host.profile.pageSize),
    space: host.ipc.createSpace(`${host.name}:migration-client:${task.name}`),
    serverName: 0,
    sessionName: 0,
    suspendedByUs: false,
    duplicate: null,
    threads: [],
    ports: [],
    memoryServer: null,
    inFlight: null,
    transfer: { pages: 0, bytes: 0 },
    precopyRound: 0,
    resumedAt: null,
  };
  // Copying may take as long as the whole address space on the wire, three times over.
  const link = cluster.network.link(host.name, to);
  const maxBytes = task.memory.regionList().reduce((n, r) => n + r.size, 0);
  const timeouts: MigrationTimeouts = {
    lookUpMs: 2_000,
    stepMs: 2_000,
    copyMs: 5_000 + 3 * wireTimeMs(link, maxBytes),
    statusRetryMs: 1_000,
    statusAttempts: 30,
    ...opts.timeouts,
  };
  const startMs = world.now();
  const injection =
    opts.inject && opts.inject.length > 0
      ? injectFaults(cluster, state.session, host.name, to, opts.inject)
      : null;
  let io = tracedIo(clientIo(state), state);
  if (injection) io = injection.wrap(io);
  const actor = createActor(migrationClient, {
    clock: world.clock,
    input: {
      io,
      strategy,
      timeouts,
      precopyThreshold: opts.precopyThreshold ?? 8,
      precopyMaxRounds: opts.precopyMaxRounds ?? 5,
    },
  });
  let result: MigrationResult | null = null;
  const listeners: ((r: MigrationResult) => void)[] = [];
  // The client runs on the source host and dies with it: from the crash on, nothing it does
  // counts, and it is stopped at the next event (not inside whatever action struck the crash).
  let sourceCrashed = false;
  const offCrash = cluster.network.onNodeDown((node) => {
    if (node !== host.name || result !== null || sourceCrashed) return;
    sourceCrashed = true;
    world.schedule(
      0,
      () => {
        if (result === null) end(actor.getSnapshot().context, 'interrupted');
        actor.stop();
      },
      'migration.source-crashed',
    );
  });
  actor.subscribe((snap) => {
    if (snap.status !== 'done' || result !== null) return;
    end(
      snap.context,
      sourceCrashed
        ? 'interrupted'
        : snap.value === 'done'
          ? 'committed'
          : snap.value === 'unresolved'
            ? 'unresolved'
            : 'rolled-back',
    );
  });
  function end(c: MigrationClientContext, outcome: MigrationResult['outcome']): void {
    migrating.delete(task);
    injection?.stop();
    offCrash();
    const interrupted = outcome === 'interrupted';
    const current = c.phases[c.phases.length - 1]?.step ?? 'lookUp';
    const frozenAt = c.frozenAt ?? c.phases[0]?.start ?? startMs;
    const resumed =
      outcome === 'committed' ? (state.resumedAt ?? world.now()) : (c.resumedAt ?? world.now());
    const pager = state.memoryServer?.pager;
    const remoteFaults = pager ? pager.stats().requests : 0;
    result = {
      task: task.name,
      from: host.name,
      to,
      strategy,
      outcome,
      reason: interrupted ? `host ${host.name} crashed during ${current}` : c.failure,
      failedStep: interrupted ? current : c.failedStep,
      phases: c.phases.map((p: PhaseRecord) => ({
        step: p.step,
        start_ms: p.start,
        end_ms: p.end ?? world.now(),
      })),
      startMs,
      endMs: world.now(),
      totalMs: world.now() - startMs,
      freezeMs: c.frozenAt === null ? 0 : resumed - frozenAt,
      pagesMoved: state.transfer.pages,
      bytes: state.transfer.bytes,
      remoteFaults,
      precopyRounds: c.precopyRounds,
      residual:
        outcome === 'committed' && pager
          ? [`memory server on ${host.name} (${state.memoryServer!.pages} pages)`]
          : [],
    };
    if (world.trace.enabled)
      world.trace.emit('migration.end', {
        task: task.name,
        from: host.name,
        to,
        strategy,
        outcome,
        reason: c.failure ?? '',
      });
    for (const cb of listeners.splice(0)) cb(result);
  }
  if (world.trace.enabled)
    world.trace.emit('migration.start', { task: task.name, from: host.name, to, strategy });
  actor.start();
  // Demand strategies keep moving pages after the commit: faults and bytes are read live.
  const live = (): MigrationResult | null => {
    if (result === null) return null;
    const pager = state.memoryServer?.pager;
    if (!pager) return result;
    const st = pager.stats();
    return {
      ...result,
      remoteFaults: st.requests,
      bytes: state.transfer.bytes + st.supplied * task.memory.pageSize,
    };
  };
  return {
    actor,
    result: live,
    onDone(cb) {
      if (result) cb(result);
      else listeners.push(cb);
    },
  };
}

const migrating = new Set<Task>();

/** A batch should take about this long to put on the link. */
const BATCH_WIRE_MS = 64;
/** At most this many pages a batch: one out-of-line item each keeps the message under 64 KiB. */
const MAX_BATCH_PAGES = 2048;

/**
 * Pages per PAGES message when the caller gives none: about BATCH_WIRE_MS of the link's
 * bandwidth, 16 to 2048 pages. A batch is one acknowledged message, so a slow link gets small
 * ones (progress and failures are seen within tens of milliseconds) and a fast one big ones
 * (fewer round trips, and less work per page on the hosts).
 */
export function defaultBatchPages(link: LinkProfile, pageSize: number): number {
  const pages = Math.floor(((link.bitsPerSecond / 8) * BATCH_WIRE_MS) / 1000 / pageSize);
  return Math.min(MAX_BATCH_PAGES, Math.max(16, pages));
}

/** Throws a MachError naming the first option out of range (a batch of 0 pages never ends). */
function checkOptions(opts: MigrateOptions): void {
  const bad = (what: string, v: unknown) => {
    throw new MachError('KERN_INVALID_ARGUMENT', `${what}, got ${String(v)}`);
  };
  const int = (v: unknown, min: number) => Number.isInteger(v) && (v as number) >= min;
  if (
    opts.batchPages !== undefined &&
    (!int(opts.batchPages, 1) || opts.batchPages > MAX_BATCH_PAGES)
  )
    bad(`batchPages must be an integer from 1 to ${MAX_BATCH_PAGES}`, opts.batchPages);
  if (opts.precopyMaxRounds !== undefined && !int(opts.precopyMaxRounds, 1))
    bad('precopyMaxRounds must be an integer >= 1', opts.precopyMaxRounds);
  if (opts.precopyThreshold !== undefined && !int(opts.precopyThreshold, 0))
    bad('precopyThreshold must be an integer >= 0', opts.precopyThreshold);
  for (const [k, v] of Object.entries(opts.timeouts ?? {})) {
    if (
      k === 'statusAttempts' ? !int(v, 1) : !(typeof v === 'number' && Number.isFinite(v) && v > 0)
    )
      bad(
        `timeouts.${k} must be ${k === 'statusAttempts' ? 'an integer >= 1' : 'a finite number > 0'}`,
        v,
      );
  }
}

/** The client's io, tracing each step as it starts (`migration.step`). */
function tracedIo(io: MigrationClientIo, s: ClientState): MigrationClientIo {
  const steps: [keyof MigrationClientIo, MigrationStep][] = [
    ['lookUp', 'lookUp'],
    ['suspend', 'suspend'],
    ['duplicate', 'duplicate'],
    ['create', 'create'],
    ['precopyRound', 'precopy'],
    ['copy', 'copy'],
    ['restore', 'restore'],
    ['commit', 'commit'],
    ['finish', 'resume'],
    ['rollBack', 'rollBack'],
  ];
  const out: MigrationClientIo = { ...io };
  const world = s.host.world;
  for (const [key, step] of steps) {
    const original = io[key] as (...a: unknown[]) => void;
    (out as unknown as Record<string, unknown>)[key] = (...a: unknown[]) => {
      if (world.trace.enabled)
        world.trace.emit('migration.step', {
          host: s.host.name,
          session: s.session,
          task: s.task.name,
          step,
        });
      original(...a);
    };
  }
  return out;
}

function nextSession(world: object): number {
  const n = (sessionCounts.get(world) ?? 0) + 1;
  sessionCounts.set(world, n);
  return n;
}
