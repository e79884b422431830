import { relative } from 'node:path';
import {
  connectInspector,
  DEFAULT_INSPECT_URL,
  type InspectSession,
} from '../inspect/inspector.ts';
import { reportFromScenario, writeReport } from '../report/index.ts';
import { scenarioJson } from '../scenario/json.ts';
import { loadScenario } from '../scenario/load.ts';
import { runScenario, type ScenarioResult } from '../scenario/runner.ts';
import { type Scenario, ScenarioError } from '../scenario/schema.ts';
import { intFlag, parseFlags } from './args.ts';
import { UsageError } from './errors.ts';
import { inspectorError, reportError } from './outputs.ts';
import { createProgress, progressAllowed } from './progress.ts';

export const RUN_HELP = `xmach run <scenario.json|scenario.yaml> [--json] [--report FILE.html] [--seed N] [--inspect]

Runs a scenario: hosts, network, programs, migrations and faults described in a JSON or YAML
file (examples in examples/scenarios/). Each program also runs once with no migration and no
fault, and its output there is what the migrated run must print. Prints each migration's steps
and figures, and whether each task's output matched. Exit status 0 when every output matched
and every migration with an "expect" ended that way, 1 otherwise, 2 for a bad scenario.

  --json              print {"scenario", "ok", "end_ms", "migrations": [{"task", "from", "to",
                      "strategy", "outcome", "phases", "freeze_ms", "total_ms", "bytes", ...}],
                      "tasks": [{"name", "host", "output_matches_reference", ...}], "faults"}
  --report FILE.html  also write a self-contained HTML report (timeline and charts)
  --seed N            override the scenario's seed
  --inspect           send the XState inspection events to a Stately inspector over WebSocket
  --inspect-url URL   the inspector's WebSocket (default ${DEFAULT_INSPECT_URL}; implies --inspect)

Scenario format (YAML shown; JSON has the same fields):
  name: paper                      # optional; seed: 1, until_ms: 600000 (time limit)
  hosts:                           # profile: pentium90 | i486dx33 | modern, and/or
    - { name: a, profile: pentium90 }          # cpu_mips, memory_mb, page_size
    - { name: b, cpu_mips: 60, memory_mb: 16 }
  network:                         # link: ethernet10 | ethernet100 | gigabit
    link: ethernet10               #   or { latency_ms, mbit_per_s, frame_overhead_bytes }
    links: [{ between: [a, b], link: gigabit }]
    impairments: { loss: 0.01, duplicate: 0, reorder: 0, reorder_jitter_ms: 0 }
  programs:                        # file (relative to the scenario) or example: NAME
    - { name: p, file: ../primes.s, host: a, start_ms: 0, defines: { N: 5000 } }
  migrations:                      # strategy: eager | precopy | demand | prepage | flush
    - { task: p, to: b, at_ms: 30, strategy: eager, expect: committed,
        timeouts: { step_ms: 500 } }
  faults:                          # loss | duplicate | reorder | partition | crash | restart
    - { kind: partition, at_ms: 40, groups: [[a], [b]], duration_ms: 1000 }
    - { kind: crash, at_ms: 50, host: b, restart_after_ms: 100 }`;

export function runCommand(argv: string[]): number | Promise<number> {
  const { values, positionals } = parseFlags('run', argv, {
    json: { type: 'boolean' },
    report: { type: 'string' },
    seed: { type: 'string' },
    inspect: { type: 'boolean' },
    'inspect-url': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(RUN_HELP);
    return 0;
  }
  const file = positionals[0];
  if (file === undefined)
    throw new UsageError(
      'run: missing the scenario file',
      'usage: npx xmach run <scenario.yaml>; examples are in examples/scenarios/',
    );
  if (positionals.length > 1)
    throw new UsageError(
      `run: unexpected argument "${positionals[1]}"`,
      'usage: npx xmach run <scenario.yaml> [flags]',
    );
  let scenario = load(file);
  if (values.seed !== undefined)
    scenario = { ...scenario, seed: intFlag('run', 'seed', values.seed, 1) };
  const json = values.json ?? false;
  const inspectUrl = values['inspect-url'] ?? (values.inspect ? DEFAULT_INSPECT_URL : undefined);
  const finish = (result: ScenarioResult): number => {
    if (values.report !== undefined) {
      try {
        writeReport(values.report, reportFromScenario(result));
      } catch (e) {
        throw reportError('run', values.report, e);
      }
    }
    if (json) console.log(JSON.stringify(scenarioJson(result), null, 2));
    else {
      printResult(result);
      if (values.report !== undefined) console.log(`report: ${values.report}`);
    }
    return result.ok ? 0 : 1;
  };
  if (inspectUrl === undefined) return finish(execute(scenario, file, json, null));
  return (async () => {
    let session: InspectSession;
    try {
      session = await connectInspector(inspectUrl);
    } catch (e) {
      throw inspectorError('run', e);
    }
    let result: ScenarioResult;
    try {
      result = execute(scenario, file, json, session);
    } finally {
      await session.close().catch((e) => {
        throw inspectorError('run', e);
      });
    }
    if (!json) console.error(`inspector: ${session.sent} inspection events sent to ${inspectUrl}`);
    return finish(result);
  })();
}

function load(file: string): Scenario {
  try {
    return loadScenario(file);
  } catch (e) {
    if (e instanceof ScenarioError)
      throw new UsageError(
        `run: ${e.field ? `${file}: ` : ''}${oneLine(e.message)}`,
        'see examples/scenarios/ for working scenarios, or `npx xmach run --help` for the format',
      );
    throw e;
  }
}

function execute(
  scenario: Scenario,
  file: string,
  json: boolean,
  session: InspectSession | null,
): ScenarioResult {
  const progress = createProgress(`run ${scenario.name}`, { enabled: !json && progressAllowed() });
  try {
    return runScenario(scenario, {
      ...(progress.enabled ? { onProgress: (f, label) => progress.update(f, label) } : {}),
      ...(session
        ? {
            onCluster: (c, role) => {
              if (role === 'scenario') session.attachCluster(c);
            },
            onMigration: (m) => session.attachMigration(m),
          }
        : {}),
    });
  } catch (e) {
    if (e instanceof ScenarioError)
      throw new UsageError(`run: ${file}: ${oneLine(e.message)}`, 'fix the program source');
    throw e;
  } finally {
    progress.done();
  }
}

const oneLine = (s: string) => s.split('\n')[0]!;
const f3 = (v: number) => v.toFixed(3);

function printResult(r: ScenarioResult): void {
  const s = r.scenario;
  const where = s.file ? relative(process.cwd(), s.file) || s.file : s.name;
  console.log(`xmach run: ${s.name} (${where}, seed ${s.seed})`);
  if (s.description) console.log(s.description);
  console.log(
    `hosts: ${s.hosts.map((h) => `${h.name} (${h.profile.description})`).join(', ')}; network ${s.network.link.name}\n`,
  );
  for (const m of r.migrations) {
    const head = `#${m.index + 1} ${m.spec.task} ${m.from ?? '?'} -> ${m.spec.to} at ${m.spec.atMs} ms (${m.spec.strategy})`;
    const expect =
      m.spec.expect === null
        ? ''
        : m.asExpected
          ? ' [as expected]'
          : ` [EXPECTED ${m.spec.expect}]`;
    console.log(`== ${head}: ${m.status}${m.reason ? ` (${m.reason})` : ''}${expect}`);
    const res = m.result;
    if (!res) continue;
    for (const ph of res.phases)
      console.log(
        `   ${ph.step.padEnd(10)} ${f3(ph.start_ms).padStart(11)} -> ${f3(ph.end_ms).padStart(11)} ms`,
      );
    console.log(
      `   freeze ${res.freezeMs.toFixed(2)} ms, total ${res.totalMs.toFixed(2)} ms, ${res.bytes} bytes, ${res.pagesMoved} pages, ${res.remoteFaults} remote faults${res.precopyRounds ? `, ${res.precopyRounds} pre-copy rounds` : ''}`,
    );
  }
  if (r.faults.length > 0) {
    console.log('\nfaults:');
    for (const f of r.faults)
      console.log(
        `  ${f3(f.timeMs).padStart(11)} ms  ${f.cleared ? 'cleared' : 'inject '}  ${f.detail}`,
      );
  }
  console.log('\ntasks:');
  for (const t of r.tasks) {
    const end = t.exit
      ? `${t.exit.reason} (status ${t.exit.status}) at ${t.exit.timeMs.toFixed(1)} ms`
      : 'still running at the time limit';
    console.log(
      `  ${t.name.padEnd(12)} ${t.home} -> ${t.host ?? '-'}; ${end}; output ${t.outputMatches ? 'matches' : 'DIFFERS FROM'} the unmigrated run`,
    );
  }
  console.log(
    `\n${r.ok ? 'ok' : 'FAILED'}: ended at ${r.endMs.toFixed(3)} ms virtual${r.finished ? '' : ' (time limit)'}, ${r.events} events, ${(r.wallMs / 1000).toFixed(2)} s`,
  );
}
