import { planSeed, runCampaign } from '../check/campaign.ts';
import { intFlag, parseFlags } from './args.ts';
import { createProgress } from './progress.ts';

export const FUZZ_HELP = `xmach fuzz [--seeds N] [--from S] [--json] [--plan] [--broken-rollback]

The seeded fault campaign: each seed draws a cluster, workloads, migrations with random
strategies and a fault plan (loss, duplication, reordering, partitions, crashes and restarts,
and faults injected into the migration protocol: lost messages, refusals, stalled or failed
steps), runs it with the invariants checked every 25 ms of virtual time, then checks what was
left behind and each task's output against its unmigrated run. Exits 1 when any invariant broke;
each failing seed prints the one command that replays it exactly.

  --seeds N   how many seeds (default 100)
  --from S    the first seed (default 1)
  --json      print {"seeds", "migrations", "faults", "violations": [{"seed", "problems",
              "replay"}...]} (with "from", "outcomes")
  --plan      print what each seed draws (hosts, workloads, migrations, faults), run nothing
  --broken-rollback  test switch: run against a deliberately broken rollback (the destination
              keeps the partial task of an aborted migration); the campaign must then fail`;

export function fuzzCommand(argv: string[]): number {
  const { values } = parseFlags('fuzz', argv, {
    seeds: { type: 'string' },
    from: { type: 'string' },
    json: { type: 'boolean' },
    plan: { type: 'boolean' },
    'broken-rollback': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(FUZZ_HELP);
    return 0;
  }
  const seeds = intFlag('fuzz', 'seeds', values.seeds, 100, 1);
  const from = intFlag('fuzz', 'from', values.from, 1);
  if (values.plan) {
    const plans = [];
    for (let s = from; s < from + seeds; s++) plans.push(planSeed(s));
    console.log(JSON.stringify(plans, null, 2));
    return 0;
  }
  const progress = createProgress('fuzz');
  let done = 0;
  const report = runCampaign({
    seeds,
    from,
    brokenRollback: values['broken-rollback'] ?? false,
    onSeed: (r) => {
      done++;
      progress.update(done / seeds, `seed ${r.seed}`);
      if (!values.json && r.problems.length > 0) {
        progress.done();
        console.log(`seed ${r.seed}: ${r.problems.length} problem(s)`);
        for (const p of r.problems.slice(0, 6)) console.log(`  ${p}`);
        console.log(`  replay: ${r.replay}`);
      }
    },
  });
  progress.done();
  if (values.json) {
    console.log(
      JSON.stringify(
        {
          seeds: report.seeds,
          migrations: report.migrations,
          faults: report.faults,
          violations: report.violations,
          from: report.from,
          outcomes: report.outcomes,
        },
        null,
        2,
      ),
    );
  } else {
    const outcomes = Object.entries(report.outcomes)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ');
    console.log(
      `${report.seeds} seeds (${report.from}..${report.from + report.seeds - 1}): ${report.migrations} migrations (${outcomes || 'none'}), ${report.faults} faults, ${report.violations.length} seeds with violations, ${(report.wallMs / 1000).toFixed(1)} s`,
    );
  }
  return report.violations.length > 0 ? 1 : 0;
}
