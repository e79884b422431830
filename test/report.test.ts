import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type MigrationDemo, runMigrationDemo } from '../src/demo/migrationDemo.ts';
import { niceTicks, renderReport } from '../src/report/html.ts';
import {
  type ReportData,
  reportFromDemo,
  reportFromScenario,
  writeReport,
} from '../src/report/index.ts';
import { stepHost } from '../src/report/model.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { runScenario } from '../src/scenario/runner.ts';

const EXAMPLES = join(import.meta.dirname, '..', 'examples');

/** Everything that would make a page load something from elsewhere. */
const EXTERNAL = [
  /<link\b/i,
  /\bsrc\s*=\s*["'](?!data:)/i,
  /@import/i,
  /url\(\s*["']?(https?:|\/\/)/i,
  /href\s*=\s*["']https?:/i,
];

function dataOf(html: string): ReportData {
  const m = /<script type="application\/json" id="xmach-report-data">([\s\S]*?)<\/script>/.exec(
    html,
  );
  expect(m, 'embedded report data').not.toBeNull();
  return JSON.parse(m![1]!);
}

describe('the demo report', () => {
  let demo: MigrationDemo;
  let html: string;
  beforeAll(() => {
    demo = runMigrationDemo({ strategies: ['eager', 'demand'] });
    html = renderReport(reportFromDemo(demo));
  });

  it('is one self-contained HTML page: inline style, script and SVG, nothing fetched', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).toContain('<svg');
    for (const pattern of EXTERNAL) expect(html).not.toMatch(pattern);
  });

  it('draws one timeline per run, each step as a bar in its host’s lane', () => {
    const timelines = html.match(/<svg class="timeline"/g) ?? [];
    expect(timelines).toHaveLength(demo.runs.length);
    for (const host of ['pentium', 'i486']) expect(html).toContain(`>${host}</text>`);
    const steps = [...html.matchAll(/<rect class="step" data-step="(\w+)"/g)].map((m) => m[1]);
    const expected = demo.runs.flatMap((r) => r.result.phases.map((p) => p.step));
    expect(steps).toEqual(expected);
    expect(html).toMatch(/<title>copy on pentium: [\d.]+ → [\d.]+ ms/);
    expect(html).toMatch(/<title>restore on i486: /);
    expect(html).toContain('class="freeze"');
  });

  it('compares the strategies in three charts: freeze, total and bytes', () => {
    expect(html).toContain('Freeze time (ms, virtual)');
    expect(html).toContain('Total migration time (ms, virtual)');
    expect(html).toContain('Bytes moved');
    const bars = [...html.matchAll(/<rect class="bar" data-value="([\d.e+-]+)"/g)].map((m) =>
      Number(m[1]),
    );
    const r = demo.runs.map((x) => x.result);
    expect(bars).toEqual([
      ...r.map((x) => x.freezeMs),
      ...r.map((x) => x.totalMs),
      ...r.map((x) => x.bytes),
    ]);
    expect(html).toContain('id="log-scale"');
  });

  it('says whether each run’s output matched, and carries its data', () => {
    expect(html).toContain('every task printed exactly what its unmigrated run prints');
    const data = dataOf(html);
    expect(data.migrations.map((m) => [m.strategy, m.outcome])).toEqual([
      ['eager', 'committed'],
      ['demand', 'committed'],
      ['eager', 'rolled-back'],
    ]);
    expect(data.migrations.every((m) => m.outputMatches)).toBe(true);
  });

  it('is deterministic and escapes what it prints', () => {
    expect(renderReport(reportFromDemo(demo))).toBe(html);
    const d = reportFromDemo(demo);
    const evil = renderReport({ ...d, title: '<script>alert(1)</script>' });
    expect(evil).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('is written to a file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'xmach-report-')), 'demo.html');
    const bytes = writeReport(file, reportFromDemo(demo));
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(html);
    expect(bytes).toBeGreaterThan(5000);
  });
});

describe('the scenario report', () => {
  it('puts every migration on one clock with a lane per host, and lists faults and tasks', () => {
    const r = runScenario(loadScenario(join(EXAMPLES, 'scenarios', 'failure.yaml')));
    const html = renderReport(reportFromScenario(r));
    expect(html).toContain('<svg class="timeline overview"');
    for (const h of ['pentium', 'i486', 'spare']) expect(html).toContain(`>${h}</text>`);
    expect(html).toContain('class="event"');
    expect(html).toContain('partition [pentium] | [i486]');
    expect(html).toContain('<h2>Tasks</h2>');
    expect(html).toContain('rolled-back');
    for (const pattern of EXTERNAL) expect(html).not.toMatch(pattern);
    const data = dataOf(html);
    expect(data.sharedClock).toBe(true);
    expect(data.tasks.map((t) => t.outputMatches)).toEqual([true, true]);
  });
});

describe('report helpers', () => {
  it('places the steps on the host that does them', () => {
    expect(
      ['lookUp', 'suspend', 'duplicate', 'precopy', 'copy', 'rollBack'].map((s) =>
        stepHost(s, 'a', 'b'),
      ),
    ).toEqual(['a', 'a', 'a', 'a', 'a', 'a']);
    expect(['create', 'restore', 'commit', 'resume'].map((s) => stepHost(s, 'a', 'b'))).toEqual([
      'b',
      'b',
      'b',
      'b',
    ]);
  });

  it('picks round axis ticks', () => {
    expect(niceTicks(0, 100)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(34, 47.76)).toEqual([35, 40, 45]);
  });
});
