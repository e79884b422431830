import { checkBenchmarks } from '../bench/checkBench.ts';
import { ipcBenchmarks } from '../bench/ipcBench.ts';
import { kernelBenchmarks } from '../bench/kernelBench.ts';
import type { BenchResult } from '../bench/measure.ts';
import { migrationBenchmarks } from '../bench/migrationBench.ts';
import { netmsgBenchmarks } from '../bench/netmsgBench.ts';
import { scaleBenchmarks } from '../bench/scaleBench.ts';
import { wallBenchmarks } from '../bench/wallBench.ts';
import { parseFlags } from './args.ts';
import { UsageError } from './errors.ts';
import { createProgress, progressAllowed } from './progress.ts';

export const BENCH_HELP = `xmach bench [--json] [--only PREFIX]

Measures each figure beside its baseline in the same run and reports the ratio.

  --json         print {"results": [{"name", "value", "unit", "baseline", "ratio"}...]}
  --only PREFIX  run only the entries whose name starts with PREFIX (e.g. ipc.)`;

const SUITES: { prefixes: string[]; run: (json: boolean) => BenchResult[] }[] = [
  { prefixes: ['ipc.'], run: ipcBenchmarks },
  { prefixes: ['vm.', 'task.'], run: kernelBenchmarks },
  { prefixes: ['netmsg.'], run: netmsgBenchmarks },
  { prefixes: ['migration.sparse', 'migration.dense'], run: migrationBenchmarks },
  { prefixes: ['migration.wall_'], run: () => wallBenchmarks() },
  { prefixes: ['check.'], run: checkBenchmarks },
  {
    prefixes: ['scale.'],
    run: (json) => {
      const bar = createProgress('scale', { enabled: !json && progressAllowed() });
      try {
        return scaleBenchmarks({ onProgress: (f, label) => bar.update(f, label) });
      } finally {
        bar.done();
      }
    },
  },
];

export function benchCommand(argv: string[]): number {
  const { values } = parseFlags('bench', argv, {
    json: { type: 'boolean' },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(BENCH_HELP);
    return 0;
  }
  const only = values.only;
  const suites = SUITES.filter(
    (s) => only === undefined || s.prefixes.some((p) => p.startsWith(only) || only.startsWith(p)),
  );
  if (suites.length === 0)
    throw new UsageError(
      `bench: no benchmark matches "${only}"`,
      `known prefixes: ${SUITES.flatMap((s) => s.prefixes).join(', ')}`,
    );
  const results: BenchResult[] = [];
  for (const s of suites) {
    for (const r of s.run(values.json ?? false))
      if (only === undefined || r.name.startsWith(only)) results.push(r);
  }
  if (values.json) {
    console.log(JSON.stringify({ results }, null, 2));
    return 0;
  }
  const fmt = (v: number) =>
    Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3);
  console.log(
    `${'name'.padEnd(34)} ${'value'.padStart(14)} ${'unit'.padEnd(12)} ${'baseline'.padEnd(20)} ${'baseline value'.padStart(14)} ${'ratio'.padStart(7)}`,
  );
  for (const r of results) {
    console.log(
      `${r.name.padEnd(34)} ${fmt(r.value).padStart(14)} ${r.unit.padEnd(12)} ${(r.baseline?.name ?? '-').padEnd(20)} ${(r.baseline ? fmt(r.baseline.value) : '-').padStart(14)} ${(r.ratio === null ? '-' : r.ratio.toFixed(2)).padStart(7)}${r.note ? `  (${r.note})` : ''}`,
    );
  }
  return 0;
}
