/**
 * Rollback to the duplicate (issue 5; design.md section 5, "failures are first-class"): a failure
 * at any step before the commit point (no migration server, creation refused, the destination out
 * of memory, a message lost past netmsg's retries, a partition, a crash of the destination, a
 * step that times out) ends the migration 'rolled-back', naming the step and the reason. The
 * source task then carries on and prints exactly what it prints unmigrated; nothing is left on
 * the destination; no port or port space is leaked on either host; and at no moment can the task
 * run on two hosts, or is it lost. After the commit point the destination owns the task, even if
 * the answer to COMMIT is lost: the client, in doubt, asks until it learns the decision.
 *
 * Faults are injected with `MigrateOptions.inject` (src/migration/faultInjection.ts): partitions
 * and crashes use the network's own fault machinery, struck at the instant a step starts or a
 * protocol message is sent, received or answered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../src/cluster.ts';
import type { MigrateOptions, MigrationResult } from '../src/migration/migrate.ts';
import { MIGRATION_SERVER_NAME } from '../src/migration/server.ts';
import type { Strategy } from '../src/protocol/migration.ts';
import { PortRight } from '../src/protocol/rights.ts';
import { HOST_PROFILES, LINK_PROFILES } from '../src/world/profiles.ts';
import { program } from './support/kernelFixtures.ts';
import {
  baseline,
  census,
  ExitLog,
  type IpcCensus,
  OutputLog,
  type ProgramName,
  paperCluster,
  RunWatch,
  runMigration,
  spawnProgram,
  taskNames,
  taskOn,
} from './support/migrationFixtures.ts';

const PROGRAM: ProgramName = 'primes';
const SLEEP_A_SECOND = program(`
        li    r0, SYS_SLEEP
        li    r1, 1000
        trap`);
/** Where in the run the migration starts (ms): early, so that the task has far to go. */
const AT_MS = 5;

interface Outcome {
  readonly cluster: Cluster;
  readonly result: MigrationResult;
  readonly log: OutputLog;
  readonly exits: ExitLog;
  readonly watch: RunWatch;
  /** Census of each up host before the task was spawned, and once everything settled. */
  readonly before: Record<string, IpcCensus>;
  readonly after: Record<string, IpcCensus>;
}

const open: { close(): void }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});

/**
 * Spawns the program on the Pentium, migrates it to the i486 at AT_MS with `opts`, and runs the
 * world until it is idle (sessions that presumed abort have closed, heals and restarts happened).
 */
function migrateWith(
  opts: MigrateOptions,
  setup: (c: Cluster) => void = () => {},
  cluster: Cluster = paperCluster().cluster,
): Outcome {
  setup(cluster);
  const before = censusAll(cluster);
  const log = new OutputLog(cluster);
  const exits = new ExitLog(cluster);
  const task = spawnProgram(cluster.host('pentium'), PROGRAM);
  const watch = new RunWatch(cluster);
  open.push(log, exits, watch);
  cluster.world.runUntilTime(AT_MS);
  const result = runMigration(cluster, cluster.migrate(task, 'i486', opts), 'prog', 400_000);
  cluster.world.runUntilIdle({ until: cluster.world.now() + 400_000 });
  return { cluster, result, log, exits, watch, before, after: censusAll(cluster) };
}

function censusAll(cluster: Cluster): Record<string, IpcCensus> {
  const out: Record<string, IpcCensus> = {};
  for (const h of cluster.hosts.values()) if (h.up) out[h.name] = census(h);
  return out;
}

/** What every clean rollback shows. */
function expectCleanRollback(o: Outcome, step: string, reason: RegExp): void {
  expect(o.result.outcome).toBe('rolled-back');
  expect(o.result.failedStep).toBe(step);
  expect(o.result.reason).toMatch(reason);
  // The source carried on: all of the output, at home, and its normal exit there.
  expect(o.log.text()).toBe(baseline(PROGRAM).output);
  expect(o.log.hostRuns()).toEqual(['pentium']);
  expect(o.exits.final()).toMatchObject({ host: 'pentium', status: 0 });
  expectNothingLeft(o);
}

function expectNothingLeft(o: Outcome): void {
  expect(o.watch.twice).toEqual([]);
  expect(o.watch.lost).toEqual([]);
  for (const h of o.cluster.hosts.values()) {
    if (!h.up) continue;
    expect(taskNames(h), `tasks left on ${h.name}`).toEqual([]);
    expect(o.after[h.name]!.problems).toEqual([]);
    // Same spaces and ports as before the task existed (a restarted host boots the same servers).
    expect(
      { spaces: o.after[h.name]!.spaces, ports: o.after[h.name]!.ports },
      `IPC census of ${h.name}`,
    ).toEqual({ spaces: o.before[h.name]!.spaces, ports: o.before[h.name]!.ports });
  }
}

function expectCommitted(o: Outcome): void {
  expect(o.result.outcome).toBe('committed');
  expect(o.log.text()).toBe(baseline(PROGRAM).output);
  expect(o.log.hostRuns()).toEqual(['pentium', 'i486']);
  expect(o.exits.final()).toMatchObject({ host: 'i486', status: 0 });
  expectNothingLeft(o);
}

/** Strategies that copy the memory (eager) and that leave it behind a memory server (demand). */
const BOTH: Strategy[] = ['eager', 'demand'];

describe('step 1, look-up of the migration server', () => {
  it.each(BOTH)('no migration server on the destination (%s)', (strategy) => {
    const o = migrateWith({ strategy }, (c) => {
      c.netmsg.server('i486').checkOut(MIGRATION_SERVER_NAME);
    });
    expectCleanRollback(o, 'lookUp', /no migration server on i486/);
  });

  it('a service checked in under the name that never answers: CREATE times out', () => {
    const o = migrateWith({ strategy: 'eager', timeouts: { stepMs: 200 } }, (c) => {
      const h = c.host('i486');
      c.netmsg.server('i486').checkOut(MIGRATION_SERVER_NAME);
      const space = h.ipc.createSpace('mute-service');
      const port = h.ipc.allocate(space, PortRight.RECEIVE, 'mute');
      c.netmsg.server('i486').checkIn(MIGRATION_SERVER_NAME, space, port);
      // Counted in the census from the start (it is not the migration's to remove).
    });
    expect(o.result.outcome).toBe('rolled-back');
    expect(o.result.failedStep).toBe('create');
    expect(o.result.reason).toBe('create timed out');
    expect(o.log.text()).toBe(baseline(PROGRAM).output);
    expect(taskNames(o.cluster.host('i486'))).toEqual([]);
  });

  it('a service that speaks another protocol: its answer is refused as malformed', () => {
    // The name leads to a task's kernel port: the kernel answers CREATE with "bad routine".
    const o = migrateWith({ strategy: 'eager' }, (c) => {
      const h = c.host('i486');
      c.netmsg.server('i486').checkOut(MIGRATION_SERVER_NAME);
      const other = spawnProgram(h, { source: SLEEP_A_SECOND }, 'sleeper');
      c.netmsg.server('i486').checkIn(MIGRATION_SERVER_NAME, other.space, other.selfName);
    });
    expect(o.result.outcome).toBe('rolled-back');
    expect(o.result.failedStep).toBe('create');
    expect(o.result.reason).toMatch(/creation refused: malformed reply/);
    expect(o.log.text()).toBe(baseline(PROGRAM).output);
  });

  it('the look-up times out', () => {
    const o = migrateWith({ strategy: 'eager', inject: [{ kind: 'stall', step: 'lookUp' }] });
    expectCleanRollback(o, 'lookUp', /^lookUp timed out$/);
  });
});

describe('steps 2 and 3, suspend and duplicate', () => {
  it.each(['suspend', 'duplicate'] as const)('%s fails', (step) => {
    const o = migrateWith({ strategy: 'eager', inject: [{ kind: 'fail', step }] });
    expectCleanRollback(o, step, new RegExp(`^${step} failed \\(injected\\)$`));
  });

  it('a thread stuck past the point of no return in the kernel: the suspension gives up', () => {
    // It sends to its own port until the queue is full: the blocked send cannot be taken back.
    const stuck = program(
      `
        li    r0, SYS_PORT_ALLOCATE
        li    r1, MACH_PORT_RIGHT_RECEIVE
        trap
        mov   r8, r1
        la    r10, msg
again:  li    r1, MACH_MSG_TYPE_MAKE_SEND
        stw   r1, [r10 + MSGH_BITS]
        li    r1, 24
        stw   r1, [r10 + MSGH_SIZE]
        stw   r8, [r10 + MSGH_REMOTE_PORT]
        li    r0, SYS_MACH_MSG
        mov   r1, r10
        li    r2, MACH_SEND_MSG
        li    r3, 24
        li    r4, 0
        li    r5, 0
        li    r6, 0
        li    r7, 0
        trap
        b     again`,
      `
        .align 4
msg:    .space 32`,
    );
    const { cluster, pentium, i486 } = paperCluster();
    const task = spawnProgram(pentium, { source: stuck });
    cluster.world.runUntilTime(2);
    const r = runMigration(cluster, cluster.migrate(task, 'i486'), 'none');
    expect(r.outcome).toBe('rolled-back');
    expect(r.failedStep).toBe('suspend');
    expect(r.reason).toMatch(
      /^task prog cannot leave the kernel: thread prog\.\d+ is in system call 11, which cannot be backed out: its message waits for room in a full queue$/,
    );
    expect(task.suspendCount).toBe(0);
    expect(taskNames(i486)).toEqual([]);
  });

  it('the task ends before it can be suspended: nothing to move, nothing lost', () => {
    const { cluster, pentium } = paperCluster();
    const log = new OutputLog(cluster);
    open.push(log);
    const task = spawnProgram(pentium, PROGRAM);
    cluster.world.runUntil(() => task.exit !== null);
    expect(() => cluster.migrate(task, 'i486')).toThrow(/not running/);
    expect(log.text()).toBe(baseline(PROGRAM).output);
  });
});

describe('step 4, create', () => {
  it.each(BOTH)('creation refused (%s)', (strategy) => {
    const o = migrateWith({
      strategy,
      inject: [{ kind: 'refuse', message: 'CREATE', reason: 'no more tasks here' }],
    });
    expectCleanRollback(o, 'create', /^creation refused: no more tasks here$/);
  });

  it('the destination is out of memory for the task', () => {
    // An i486 with 512 KiB cannot take bigmem's 512 KiB of data.
    const cluster = new Cluster({
      seed: 1,
      link: LINK_PROFILES.ethernet10,
      hosts: {
        pentium: HOST_PROFILES.pentium90,
        i486: { ...HOST_PROFILES.i486dx33, memoryBytes: 512 * 1024 },
      },
    });
    void cluster.netmsg;
    const before = census(cluster.host('i486'));
    const log = new OutputLog(cluster);
    open.push(log);
    const task = spawnProgram(cluster.host('pentium'), 'bigmem');
    cluster.world.runUntilTime(baseline('bigmem').endMs * 0.6);
    const r = runMigration(cluster, cluster.migrate(task, 'i486', { strategy: 'eager' }));
    cluster.world.runUntilIdle({ until: cluster.world.now() + 100_000 });
    expect(r.outcome).toBe('rolled-back');
    expect(r.failedStep).toBe('create');
    expect(r.reason).toMatch(
      /destination out of memory: the task has \d+ pages of data, i486 has 128 frames/,
    );
    expect(log.text()).toBe(baseline('bigmem').output);
    expect(taskNames(cluster.host('i486'))).toEqual([]);
    expect(census(cluster.host('i486'))).toEqual(before);
  });

  it.each([
    ['request', /no reply to CREATE/],
    ['reply', /no reply to CREATE/],
  ] as const)('CREATE lost (its %s, past netmsg retries)', (what, reason) => {
    const o = migrateWith({
      strategy: 'demand',
      inject: [{ kind: 'lose', message: 'CREATE', what }],
    });
    expectCleanRollback(o, 'create', reason);
  });

  it('CREATE times out', () => {
    const o = migrateWith({ strategy: 'eager', inject: [{ kind: 'stall', step: 'create' }] });
    expectCleanRollback(o, 'create', /^create timed out$/);
  });
});

describe('step 5, copy', () => {
  it('the second PAGES is lost', () => {
    const o = migrateWith({
      strategy: 'eager',
      batchPages: 1,
      inject: [{ kind: 'lose', message: 'PAGES', nth: 2 }],
    });
    expectCleanRollback(o, 'copy', /no reply to PAGES/);
  });

  it('the answer to the last PAGES is lost', () => {
    const o = migrateWith({
      strategy: 'eager',
      batchPages: 1,
      inject: [{ kind: 'lose', message: 'PAGES', nth: 3, what: 'reply' }],
    });
    expectCleanRollback(o, 'copy', /no reply to PAGES/);
  });

  it('the destination refuses pages', () => {
    const o = migrateWith({
      strategy: 'eager',
      inject: [{ kind: 'refuse', message: 'PAGES', reason: 'disk full' }],
    });
    expectCleanRollback(o, 'copy', /^destination refused pages: disk full$/);
  });

  it('a partition past netmsg retries during the copy', () => {
    const o = migrateWith({
      strategy: 'eager',
      inject: [{ kind: 'partition', at: { step: 'copy' }, ms: 3000 }],
    });
    expectCleanRollback(o, 'copy', /no reply to PAGES/);
  });

  it("pre-copy: the first round's PAGES is lost while the task runs on", () => {
    const o = migrateWith({
      strategy: 'precopy',
      inject: [{ kind: 'lose', message: 'PAGES' }],
    });
    expectCleanRollback(o, 'precopy', /no reply to PAGES/);
    expect(o.result.freezeMs).toBe(0);
  });

  it('a short partition only delays the pages: the migration commits', () => {
    const o = migrateWith({
      strategy: 'eager',
      inject: [{ kind: 'partition', at: { step: 'copy' }, ms: 500 }],
    });
    expectCommitted(o);
  });

  it('the copy times out', () => {
    const o = migrateWith({ strategy: 'eager', timeouts: { copyMs: 3 } });
    expectCleanRollback(o, 'copy', /^copy timed out$/);
  });

  it('flush: the flush to the shared pager times out', () => {
    const o = migrateWith({
      strategy: 'flush',
      inject: [{ kind: 'stall', step: 'copy' }],
      timeouts: { copyMs: 100 },
    });
    expectCleanRollback(o, 'copy', /^copy timed out$/);
  });
});

describe('step 6, restore', () => {
  it.each(BOTH)('the destination refuses the state (%s)', (strategy) => {
    const o = migrateWith({ strategy, inject: [{ kind: 'refuse', message: 'RESTORE' }] });
    expectCleanRollback(o, 'restore', /^restore refused: RESTORE refused \(injected\)$/);
  });

  it.each(BOTH)('the answer to RESTORE is lost (%s)', (strategy) => {
    const o = migrateWith({
      strategy,
      inject: [{ kind: 'lose', message: 'RESTORE', what: 'reply' }],
    });
    expectCleanRollback(o, 'restore', /no reply to RESTORE/);
  });

  it('RESTORE times out', () => {
    const o = migrateWith({ strategy: 'eager', inject: [{ kind: 'stall', step: 'restore' }] });
    expectCleanRollback(o, 'restore', /^restore timed out$/);
  });
});

describe('step 7, commit: the commit point', () => {
  it.each(BOTH)(
    'COMMIT refused: its rights come back and the task resumes at home (%s)',
    (strategy) => {
      const o = migrateWith({ strategy, inject: [{ kind: 'refuse', message: 'COMMIT' }] });
      expectCleanRollback(o, 'commit', /the destination aborted the session/);
    },
  );

  it.each(BOTH)(
    'COMMIT lost: in doubt, STATUS finds the session prepared, ABORT decides (%s)',
    (strategy) => {
      const o = migrateWith({ strategy, inject: [{ kind: 'lose', message: 'COMMIT' }] });
      expectCleanRollback(o, 'commit', /COMMIT was lost: the destination aborted the session/);
      // The rights that went with the lost COMMIT died with it; the task got fresh kernel ports.
      const dst = o.cluster.migrationServers.get('i486')!;
      expect([...dst.sessions.values()]).toEqual(['aborted']);
    },
  );

  it.each(BOTH)('the answer to COMMIT is lost: the destination owns the task (%s)', (strategy) => {
    const o = migrateWith({
      strategy,
      inject: [{ kind: 'lose', message: 'COMMIT', what: 'reply' }],
    });
    expectCommitted(o);
  });

  it.each(BOTH)(
    'COMMIT delayed past the step timeout by a short partition: STATUS learns it committed (%s)',
    (strategy) => {
      const o = migrateWith({
        strategy,
        timeouts: { stepMs: 300 },
        inject: [{ kind: 'partition', at: { sent: 'COMMIT' }, ms: 1500 }],
      });
      expectCommitted(o);
    },
  );

  it('the answer to COMMIT cut off by a long partition: after it heals, STATUS (through a new look-up) learns the commit', () => {
    const o = migrateWith({
      strategy: 'eager',
      inject: [{ kind: 'partition', at: { answered: 'COMMIT' }, ms: 3000 }],
    });
    expectCommitted(o);
  });

  it('COMMIT lost in a long partition: the destination never saw it, the source resumes', () => {
    const o = migrateWith({
      strategy: 'eager',
      inject: [{ kind: 'partition', at: { sent: 'COMMIT' }, ms: 3000 }],
    });
    expectCleanRollback(o, 'commit', /COMMIT was lost: the destination aborted the session/);
  });
});

describe('a crash of the destination', () => {
  it.each([
    ['lookUp', /no migration server on i486/],
    // CREATE to a host that is down: the step times out as netmsg gives up on the host.
    ['suspend', /^create timed out$|^no reply to CREATE/],
    ['duplicate', /^create timed out$|^no reply to CREATE/],
    ['create', /^create timed out$|^no reply to CREATE/],
    ['copy', /no reply to PAGES/],
    ['restore', /^restore timed out$/],
  ] as const)('as %s starts: rolled back, the source carries on', (step, reason) => {
    const o = migrateWith({ strategy: 'eager', inject: [{ kind: 'crash', at: { step } }] });
    expect(o.cluster.host('i486').up).toBe(false);
    // A crash during the local steps shows at the next remote one.
    const failed = step === 'suspend' || step === 'duplicate' ? 'create' : step;
    expectCleanRollback(o, failed, reason);
  });

  it.each(BOTH)(
    'as commit starts, restarting: the session is unknown, the source resumes (%s)',
    (strategy) => {
      const o = migrateWith({
        strategy,
        inject: [{ kind: 'crash', at: { step: 'commit' }, restartAfterMs: 100 }],
      });
      expectCleanRollback(o, 'commit', /the destination did not commit/);
    },
  );

  it('just after it committed, restarting: its copy is gone, the source copy resumes', () => {
    const o = migrateWith({
      strategy: 'eager',
      inject: [{ kind: 'crash', at: { received: 'COMMIT' }, restartAfterMs: 100 }],
    });
    expectCleanRollback(o, 'commit', /the destination did not commit/);
  });

  it('as commit starts, for good: the client cannot know, so the task stays suspended at home', () => {
    const o = migrateWith({
      strategy: 'eager',
      timeouts: { statusAttempts: 3 },
      inject: [{ kind: 'crash', at: { step: 'commit' } }],
    });
    expect(o.result.outcome).toBe('unresolved');
    const home = taskOn(o.cluster.host('pentium'))!;
    expect(home.suspendCount).toBeGreaterThan(0);
    expect(baseline(PROGRAM).output.startsWith(o.log.text())).toBe(true);
    expect(o.watch.twice).toEqual([]);
    expect(o.watch.lost).toEqual([]);
  });
});

describe('every message of the protocol lost, past netmsg retries', () => {
  // Each row: the faults, then the outcome: rolled back at a step (with a reason), or committed.
  it.each([
    ['CREATE', [{ kind: 'lose', message: 'CREATE' }], 'create', /no reply to CREATE/],
    [
      'the answer to CREATE',
      [{ kind: 'lose', message: 'CREATE', what: 'reply' }],
      'create',
      /no reply/,
    ],
    ['PAGES', [{ kind: 'lose', message: 'PAGES' }], 'copy', /no reply to PAGES/],
    [
      'the answer to PAGES',
      [{ kind: 'lose', message: 'PAGES', what: 'reply' }],
      'copy',
      /no reply/,
    ],
    ['RESTORE', [{ kind: 'lose', message: 'RESTORE' }], 'restore', /no reply to RESTORE/],
    [
      'the answer to RESTORE',
      [{ kind: 'lose', message: 'RESTORE', what: 'reply' }],
      'restore',
      /no reply/,
    ],
    ['COMMIT', [{ kind: 'lose', message: 'COMMIT' }], 'commit', /COMMIT was lost/],
    ['the answer to COMMIT', [{ kind: 'lose', message: 'COMMIT', what: 'reply' }], null, null],
    [
      'STATUS (in doubt after the answer to COMMIT was lost)',
      [
        { kind: 'lose', message: 'COMMIT', what: 'reply' },
        { kind: 'lose', message: 'STATUS' },
      ],
      null,
      null,
    ],
    [
      'the answer to STATUS',
      [
        { kind: 'lose', message: 'COMMIT', what: 'reply' },
        { kind: 'lose', message: 'STATUS', what: 'reply' },
      ],
      null,
      null,
    ],
    [
      'ABORT (after a refused RESTORE: the session presumes abort when it idles out)',
      [
        { kind: 'refuse', message: 'RESTORE' },
        { kind: 'lose', message: 'ABORT' },
      ],
      'restore',
      /restore refused/,
    ],
    [
      'ABORT (in doubt after a lost COMMIT: asked again)',
      [
        { kind: 'lose', message: 'COMMIT' },
        { kind: 'lose', message: 'ABORT' },
      ],
      'commit',
      /COMMIT was lost: the destination aborted the session/,
    ],
    [
      'the answer to ABORT',
      [
        { kind: 'lose', message: 'COMMIT' },
        { kind: 'lose', message: 'ABORT', what: 'reply' },
      ],
      'commit',
      /the destination did not commit/,
    ],
  ] as const)('%s', (_what, inject, step, reason) => {
    const o = migrateWith({ strategy: 'eager', batchPages: 1, inject: inject as never });
    if (step === null) expectCommitted(o);
    else expectCleanRollback(o, step, reason!);
  });
});
