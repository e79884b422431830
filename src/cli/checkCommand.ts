import { CHECK_MODELS, checkModels } from '../check/models.ts';
import type { ModelReport } from '../check/runner.ts';
import { parseFlags } from './args.ts';
import { UsageError } from './errors.ts';
import { createProgress } from './progress.ts';

export const CHECK_HELP = `xmach check [--json] [--model NAME] [--filter TEXT] [--verbose-failures]
            [--broken-rollback]

Model-based tests: generates the paths of every abstract model in models/ (xstate/graph: shortest
paths to every state, and every simple path where the state space allows) and runs each one
against a real simulated cluster, asserting each model state on the real system and checking the
invariants after every step (at most one running copy of a task, no task lost while a complete
copy survives, messages exactly once and in order per sender, nothing left behind, the output of
the unmigrated run). Exits 1 when a path fails.

  --json              print {"models": [{"name", "states", "paths", "failurePaths", "passed",
                      "failed"}...]} (with "shortestPaths", "simplePaths" and the failures)
  --model NAME        only this model: ${CHECK_MODELS.map((m) => m.name).join(', ')}
  --filter TEXT       only paths whose description contains TEXT (e.g. "START(eager)")
  --verbose-failures  print every problem of every failing path, not the first few
  --broken-rollback   test switch: run against a deliberately broken rollback (the destination
                      keeps the partial task of an aborted migration); paths must then fail`;

export function checkCommand(argv: string[]): number {
  const { values } = parseFlags('check', argv, {
    json: { type: 'boolean' },
    model: { type: 'string' },
    filter: { type: 'string' },
    'verbose-failures': { type: 'boolean' },
    'broken-rollback': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(CHECK_HELP);
    return 0;
  }
  const names = values.model === undefined ? undefined : [values.model];
  if (values.model !== undefined && !CHECK_MODELS.some((m) => m.name === values.model))
    throw new UsageError(
      `check: unknown model "${values.model}"`,
      `--model takes one of ${CHECK_MODELS.map((m) => m.name).join(', ')}`,
    );
  const progress = createProgress('check');
  let done = 0;
  const reports = checkModels({
    brokenRollback: values['broken-rollback'] ?? false,
    ...(names ? { names } : {}),
    ...(values.filter !== undefined ? { filter: values.filter } : {}),
    onPath: () => {
      done++;
      progress.update(Math.min(1, done / 3000), `${done} paths`);
    },
  });
  progress.done();
  const failed = reports.reduce((n, r) => n + r.failed, 0);
  if (values.json) {
    console.log(JSON.stringify({ models: reports.map(toJson) }, null, 2));
    return failed > 0 ? 1 : 0;
  }
  print(reports, values['verbose-failures'] ?? false);
  return failed > 0 ? 1 : 0;
}

function toJson(r: ModelReport) {
  return {
    name: r.name,
    states: r.states,
    paths: r.paths,
    failurePaths: r.failurePaths,
    passed: r.passed,
    failed: r.failed,
    shortestPaths: r.shortestPaths,
    simplePaths: r.simplePaths,
    ...(r.failed > 0
      ? { failures: r.failures.map((f) => ({ path: f.path, step: f.step, problems: f.problems })) }
      : {}),
  };
}

function print(reports: readonly ModelReport[], verbose: boolean): void {
  console.log(
    `${'model'.padEnd(18)} ${'states'.padStart(7)} ${'shortest'.padStart(9)} ${'simple'.padStart(7)} ${'paths'.padStart(6)} ${'failure'.padStart(8)} ${'passed'.padStart(7)} ${'failed'.padStart(7)} ${'wall s'.padStart(7)}`,
  );
  for (const r of reports) {
    console.log(
      `${r.name.padEnd(18)} ${String(r.states).padStart(7)} ${String(r.shortestPaths).padStart(9)} ${String(r.simplePaths ?? '-').padStart(7)} ${String(r.paths).padStart(6)} ${String(r.failurePaths).padStart(8)} ${String(r.passed).padStart(7)} ${String(r.failed).padStart(7)} ${(r.wallMs / 1000).toFixed(1).padStart(7)}`,
    );
  }
  const total = reports.reduce(
    (a, r) => ({
      paths: a.paths + r.paths,
      failure: a.failure + r.failurePaths,
      passed: a.passed + r.passed,
      failed: a.failed + r.failed,
    }),
    { paths: 0, failure: 0, passed: 0, failed: 0 },
  );
  console.log(
    `${'total'.padEnd(18)} ${''.padStart(7)} ${''.padStart(9)} ${''.padStart(7)} ${String(total.paths).padStart(6)} ${String(total.failure).padStart(8)} ${String(total.passed).padStart(7)} ${String(total.failed).padStart(7)}`,
  );
  for (const r of reports) {
    for (const f of r.failures.slice(0, verbose ? undefined : 5)) {
      console.log(
        `\nFAIL ${r.name}: ${f.path} (${f.step < 0 ? 'at the end' : `step ${f.step + 1}`})`,
      );
      for (const p of f.problems.slice(0, verbose ? undefined : 4)) console.log(`  ${p}`);
    }
    if (!verbose && r.failures.length > 5)
      console.log(`\n... and ${r.failures.length - 5} more failing paths of ${r.name}`);
  }
}
