import { relative } from 'node:path';
import type { MigrationDemo } from '../demo/migrationDemo.ts';
import type { MigrationResult } from '../migration/migrate.ts';
import type { ScenarioResult } from '../scenario/runner.ts';
import { HOST_PROFILES } from '../world/profiles.ts';

/**
 * What a report shows, independent of where it came from (the demo or a scenario): the hosts,
 * one entry per migration with its steps in virtual time and its figures, and the tasks' verdicts.
 */
export interface ReportPhase {
  readonly step: string;
  readonly start_ms: number;
  readonly end_ms: number;
}

export interface ReportMigration {
  readonly label: string;
  readonly task: string;
  readonly strategy: string;
  readonly from: string;
  readonly to: string;
  /** committed, rolled-back, unresolved, interrupted, or (scenarios) refused / skipped. */
  readonly outcome: string;
  readonly reason: string | null;
  readonly phases: readonly ReportPhase[];
  readonly startMs: number;
  readonly endMs: number;
  readonly freezeMs: number;
  readonly totalMs: number;
  readonly bytes: number;
  readonly pagesMoved: number;
  readonly remoteFaults: number;
  readonly precopyRounds: number;
  /** Whether the task's output matched its unmigrated run (null: not known for this run). */
  readonly outputMatches: boolean | null;
}

export interface ReportTask {
  readonly name: string;
  readonly home: string;
  readonly host: string | null;
  readonly outputMatches: boolean;
  readonly exit: string;
}

export interface ReportEvent {
  readonly timeMs: number;
  readonly text: string;
}

export interface ReportData {
  readonly title: string;
  readonly subtitle: string;
  readonly hosts: readonly { readonly name: string; readonly description: string }[];
  /** Facts shown at the top (seed, program, ...). */
  readonly facts: readonly (readonly [string, string])[];
  readonly migrations: readonly ReportMigration[];
  /** True when every migration ran in one world (a scenario): an overview on one time axis. */
  readonly sharedClock: boolean;
  readonly tasks: readonly ReportTask[];
  /** Faults injected and cleared, on the shared clock. */
  readonly events: readonly ReportEvent[];
  readonly ok: boolean;
}

/** The host a step's work happens on: the source until the copy, the destination after it. */
export function stepHost(step: string, from: string, to: string): string {
  return step === 'create' || step === 'restore' || step === 'commit' || step === 'resume'
    ? to
    : from;
}

function fromResult(
  label: string,
  r: MigrationResult,
  outputMatches: boolean | null,
): ReportMigration {
  return {
    label,
    task: r.task,
    strategy: r.strategy,
    from: r.from,
    to: r.to,
    outcome: r.outcome,
    reason: r.reason,
    phases: r.phases.map((p) => ({ step: p.step, start_ms: p.start_ms, end_ms: p.end_ms })),
    startMs: r.startMs,
    endMs: r.endMs,
    freezeMs: r.freezeMs,
    totalMs: r.totalMs,
    bytes: r.bytes,
    pagesMoved: r.pagesMoved,
    remoteFaults: r.remoteFaults,
    precopyRounds: r.precopyRounds,
    outputMatches,
  };
}

/** The report of `xmach demo`: every strategy on the paper's hosts, each in a world of its own. */
export function reportFromDemo(d: MigrationDemo): ReportData {
  const p = HOST_PROFILES;
  return {
    title: 'xmach demo: migrating a running task between the paper’s hosts',
    subtitle:
      'A Pentium 90 (32 MB) and an i486DX 33 (8 MB) on 10 Mbit/s Ethernet; the task is migrated mid-run with each memory strategy, and once with the network cut during the copy. Each run is a world of its own, started from the same seed.',
    hosts: [
      { name: 'pentium', description: p.pentium90.description },
      { name: 'i486', description: p.i486dx33.description },
    ],
    facts: [
      ['seed', String(d.seed)],
      ['program', d.program],
      ['unmigrated run', `${d.referenceMs.toFixed(1)} ms`],
      ['migration starts at', `${d.migrateAtMs} ms`],
    ],
    migrations: d.runs.map((r) => fromResult(r.label, r.result, r.outputMatches)),
    sharedClock: false,
    tasks: [],
    events: [],
    ok: d.runs.every((r) => r.outputMatches),
  };
}

/** The report of `xmach run`: the scenario's migrations on its one clock, and its tasks. */
export function reportFromScenario(r: ScenarioResult): ReportData {
  const s = r.scenario;
  const matches = new Map(r.tasks.map((t) => [t.name, t.outputMatches]));
  const migrations: ReportMigration[] = r.migrations.map((m) => {
    const label = `#${m.index + 1} ${m.spec.task} → ${m.spec.to} (${m.spec.strategy})`;
    if (m.result) return fromResult(label, m.result, matches.get(m.spec.task) ?? null);
    return {
      label,
      task: m.spec.task,
      strategy: m.spec.strategy,
      from: m.from ?? '?',
      to: m.spec.to,
      outcome: m.status,
      reason: m.reason,
      phases: [],
      startMs: m.spec.atMs,
      endMs: m.spec.atMs,
      freezeMs: 0,
      totalMs: 0,
      bytes: 0,
      pagesMoved: 0,
      remoteFaults: 0,
      precopyRounds: 0,
      outputMatches: matches.get(m.spec.task) ?? null,
    };
  });
  return {
    title: `xmach run: ${s.name}`,
    subtitle: s.description || `Scenario ${s.file ?? s.name}`,
    hosts: s.hosts.map((h) => ({ name: h.name, description: h.profile.description })),
    facts: [
      ['seed', String(s.seed)],
      ['scenario', s.file ? relative(process.cwd(), s.file) || s.file : s.name],
      ['network', s.network.link.name],
      ['ended at', `${r.endMs.toFixed(1)} ms virtual${r.finished ? '' : ' (time limit)'}`],
      ['world events', r.events.toLocaleString('en-US')],
    ],
    migrations,
    sharedClock: true,
    tasks: r.tasks.map((t) => ({
      name: t.name,
      home: t.home,
      host: t.host,
      outputMatches: t.outputMatches,
      exit: t.exit
        ? `${t.exit.reason} (status ${t.exit.status}) at ${t.exit.timeMs.toFixed(1)} ms`
        : 'still running at the time limit',
    })),
    events: r.faults.map((f) => ({
      timeMs: f.timeMs,
      text: `${f.cleared ? 'cleared' : 'fault'}: ${f.detail}`,
    })),
    ok: r.ok,
  };
}
