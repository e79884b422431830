import type { ScenarioResult } from './runner.ts';

/** A scenario run as the JSON document `xmach run --json` prints (snake_case, like the demo's). */
export function scenarioJson(r: ScenarioResult): unknown {
  const s = r.scenario;
  return {
    scenario: { name: s.name, file: s.file, seed: s.seed, description: s.description },
    ok: r.ok,
    finished: r.finished,
    end_ms: r.endMs,
    events: r.events,
    migrations: r.migrations.map((m) => ({
      task: m.spec.task,
      from: m.from,
      to: m.spec.to,
      at_ms: m.spec.atMs,
      started_ms: m.startedMs,
      strategy: m.spec.strategy,
      outcome: m.status,
      committed: m.status === 'committed',
      reason: m.reason,
      failed_step: m.result?.failedStep ?? null,
      expected: m.spec.expect,
      as_expected: m.asExpected,
      phases: m.result?.phases ?? [],
      freeze_ms: m.result?.freezeMs ?? 0,
      total_ms: m.result?.totalMs ?? 0,
      bytes: m.result?.bytes ?? 0,
      pages: m.result?.pagesMoved ?? 0,
      remote_faults: m.result?.remoteFaults ?? 0,
      precopy_rounds: m.result?.precopyRounds ?? 0,
      residual: m.result?.residual ?? [],
    })),
    tasks: r.tasks.map((t) => ({
      name: t.name,
      file: t.file,
      home: t.home,
      host: t.host,
      exit_status: t.exit?.status ?? null,
      exit_reason: t.exit?.reason ?? null,
      end_ms: t.exit?.timeMs ?? null,
      reference_end_ms: t.referenceEndMs,
      output_matches_reference: t.outputMatches,
      output: t.output,
    })),
    faults: r.faults.map((f) => ({
      time_ms: f.timeMs,
      kind: f.kind,
      detail: f.detail,
      cleared: f.cleared,
    })),
  };
}
