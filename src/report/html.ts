import { type ReportData, type ReportMigration, stepHost } from './model.ts';

/**
 * Renders a report as one self-contained HTML page: inline CSS, inline SVG charts and a few lines
 * of inline script (tooltips come from SVG <title>; the script only switches the bar charts
 * between linear and log scale). No external resource is referenced, so it opens offline.
 */

export const STEP_COLORS: Readonly<Record<string, string>> = {
  lookUp: '#8e9aaf',
  suspend: '#e07a5f',
  duplicate: '#f2a65a',
  create: '#81b29a',
  precopy: '#7fb7d6',
  copy: '#3d85c6',
  restore: '#9c89b8',
  commit: '#2a9d8f',
  resume: '#52b788',
  rollBack: '#c1121f',
};
const OUTCOME_COLORS: Readonly<Record<string, string>> = {
  committed: '#2a9d8f',
  'rolled-back': '#c1121f',
  unresolved: '#f4a261',
  interrupted: '#9d4edd',
  refused: '#6c757d',
  skipped: '#adb5bd',
};

export function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const ms = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(3));
const r2 = (v: number) => Math.round(v * 100) / 100;

export function formatBytes(b: number): string {
  if (b < 1024) return `${b} B`;
  if (b < 1024 * 1024) return `${r2(b / 1024)} KiB`;
  return `${r2(b / (1024 * 1024))} MiB`;
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(r2(v * 1e6) / 1e6);
  return out;
}

const LANE_H = 26;
const LEFT = 110;
const WIDTH = 940;

/** One migration's steps on two lanes (source, destination) over its own time span. */
export function migrationTimeline(m: ReportMigration): string {
  const hosts = [m.from, m.to];
  const t0 = m.startMs;
  const t1 = Math.max(m.endMs, ...m.phases.map((p) => p.end_ms), t0 + 1e-6);
  const plotW = WIDTH - LEFT - 20;
  const x = (t: number) => LEFT + ((t - t0) / (t1 - t0)) * plotW;
  const top = 22;
  const h = top + hosts.length * LANE_H + 34;
  const parts: string[] = [];
  parts.push(
    `<svg class="timeline" viewBox="0 0 ${WIDTH} ${h}" width="${WIDTH}" height="${h}" role="img" aria-label="${esc(`timeline of ${m.label}`)}">`,
  );
  // Freeze band: from the suspension until the task ran again.
  const suspend = m.phases.find((p) => p.step === 'suspend');
  if (suspend && m.freezeMs > 0) {
    const fx = x(suspend.start_ms);
    const fw = Math.max(1, x(suspend.start_ms + m.freezeMs) - fx);
    parts.push(
      `<rect class="freeze" x="${fx.toFixed(1)}" y="${top - 14}" width="${fw.toFixed(1)}" height="${hosts.length * LANE_H + 14}"><title>task frozen for ${ms(m.freezeMs)} ms</title></rect>`,
      `<text class="freeze-label" x="${(fx + 3).toFixed(1)}" y="${top - 4}">frozen ${ms(m.freezeMs)} ms</text>`,
    );
  }
  hosts.forEach((host, i) => {
    const y = top + i * LANE_H;
    parts.push(
      `<text class="lane-label" x="${LEFT - 8}" y="${y + LANE_H / 2 + 4}" text-anchor="end">${esc(host)}</text>`,
      `<line class="lane" x1="${LEFT}" x2="${LEFT + plotW}" y1="${y + LANE_H / 2}" y2="${y + LANE_H / 2}"/>`,
    );
  });
  for (const p of m.phases) {
    const lane = hosts.indexOf(stepHost(p.step, m.from, m.to));
    const y = top + lane * LANE_H + 4;
    const px = x(p.start_ms);
    const pw = Math.max(2, x(p.end_ms) - px);
    const color = STEP_COLORS[p.step] ?? '#999';
    parts.push(
      `<rect class="step" data-step="${esc(p.step)}" x="${px.toFixed(1)}" y="${y}" width="${pw.toFixed(1)}" height="${LANE_H - 8}" fill="${color}"><title>${esc(`${p.step} on ${stepHost(p.step, m.from, m.to)}: ${ms(p.start_ms)} → ${ms(p.end_ms)} ms (${ms(p.end_ms - p.start_ms)} ms)`)}</title></rect>`,
    );
    if (pw > 7 * p.step.length)
      parts.push(
        `<text class="step-label" x="${(px + pw / 2).toFixed(1)}" y="${y + LANE_H / 2 + 1}" text-anchor="middle">${esc(p.step)}</text>`,
      );
  }
  const axisY = top + hosts.length * LANE_H + 6;
  parts.push(axis(niceTicks(t0, t1), x, axisY, LEFT, LEFT + plotW));
  parts.push('</svg>');
  return parts.join('');
}

function axis(
  ticks: number[],
  x: (t: number) => number,
  y: number,
  x0: number,
  x1: number,
  unit = 'ms',
): string {
  const out = [`<line class="axis" x1="${x0}" x2="${x1}" y1="${y}" y2="${y}"/>`];
  for (const t of ticks) {
    const tx = x(t);
    if (tx < x0 - 0.5 || tx > x1 + 0.5) continue;
    out.push(
      `<line class="axis" x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${y}" y2="${y + 4}"/>`,
      `<text class="tick" x="${tx.toFixed(1)}" y="${y + 16}" text-anchor="middle">${r2(t)}</text>`,
    );
  }
  out.push(
    `<text class="tick" x="${x1}" y="${y + 28}" text-anchor="end">virtual time (${unit})</text>`,
  );
  return out.join('');
}

/** Every migration of a scenario on one clock: a lane per host, overlapping steps on sub-rows. */
export function overviewTimeline(d: ReportData): string {
  const ms_ = d.migrations.filter((m) => m.phases.length > 0);
  const times = [
    ...ms_.flatMap((m) => [m.startMs, ...m.phases.map((p) => p.end_ms)]),
    ...d.events.map((e) => e.timeMs),
  ];
  if (times.length === 0) return '<p class="muted">No migration ran.</p>';
  const t0 = Math.min(0, ...times);
  const t1 = Math.max(...times, t0 + 1);
  const plotW = WIDTH - LEFT - 20;
  const x = (t: number) => LEFT + ((t - t0) / (t1 - t0)) * plotW;
  // Sub-rows per host: a migration takes the first row free over its span on that host.
  const rows = new Map<string, number[]>(d.hosts.map((h) => [h.name, []]));
  const placed: { m: ReportMigration; rowOf: Map<string, number>; index: number }[] = [];
  const byStart = d.migrations
    .map((m, index) => ({ m, index }))
    .sort((a, b) => a.m.startMs - b.m.startMs || a.index - b.index);
  for (const { m, index } of byStart) {
    if (m.phases.length === 0) continue;
    const rowOf = new Map<string, number>();
    for (const host of [m.from, m.to]) {
      const ends = rows.get(host) ?? [];
      rows.set(host, ends);
      let r = ends.findIndex((end) => end <= m.startMs);
      if (r < 0) r = ends.length;
      ends[r] = Math.max(m.endMs, ...m.phases.map((p) => p.end_ms));
      rowOf.set(host, r);
    }
    placed.push({ m, rowOf, index });
  }
  const laneTop = new Map<string, number>();
  let y = 30;
  for (const h of d.hosts) {
    laneTop.set(h.name, y);
    y += Math.max(1, rows.get(h.name)?.length ?? 0) * (LANE_H - 4) + 10;
  }
  const height = y + 34;
  const parts = [
    `<svg class="timeline overview" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="every migration on one time axis">`,
  ];
  for (const h of d.hosts) {
    const ly = laneTop.get(h.name)!;
    const lh = Math.max(1, rows.get(h.name)?.length ?? 0) * (LANE_H - 4);
    parts.push(
      `<rect class="lane-bg" x="${LEFT}" y="${ly - 2}" width="${plotW}" height="${lh + 4}"/>`,
      `<text class="lane-label" x="${LEFT - 8}" y="${ly + 14}" text-anchor="end">${esc(h.name)}</text>`,
    );
  }
  // Faults: a dashed line each, numbered as in the faults table (labels would collide).
  d.events.forEach((e, i) => {
    const ex = x(e.timeMs);
    const mark = `${e.text.startsWith('cleared') ? '✓' : '⚡'}${i + 1}`;
    parts.push(
      `<line class="event" x1="${ex.toFixed(1)}" x2="${ex.toFixed(1)}" y1="14" y2="${y - 4}"><title>${esc(`${ms(e.timeMs)} ms: ${e.text}`)}</title></line>`,
      `<text class="event-label" x="${(ex + 2).toFixed(1)}" y="${i % 2 === 0 ? 11 : 21}">${mark}</text>`,
    );
  });
  for (const { m, rowOf, index } of placed) {
    for (const p of m.phases) {
      const host = stepHost(p.step, m.from, m.to);
      const py = laneTop.get(host)! + rowOf.get(host)! * (LANE_H - 4);
      const px = x(p.start_ms);
      const pw = Math.max(2, x(p.end_ms) - px);
      parts.push(
        `<rect class="step" data-migration="${index}" x="${px.toFixed(1)}" y="${py}" width="${pw.toFixed(1)}" height="${LANE_H - 8}" fill="${STEP_COLORS[p.step] ?? '#999'}"><title>${esc(`${m.label}: ${p.step} on ${host}, ${ms(p.start_ms)} → ${ms(p.end_ms)} ms`)}</title></rect>`,
      );
    }
    const first = m.phases[0]!;
    const fy = laneTop.get(m.from)! + rowOf.get(m.from)! * (LANE_H - 4);
    parts.push(
      `<text class="mig-label" x="${(x(first.start_ms) + 2).toFixed(1)}" y="${fy + LANE_H - 9}">#${index + 1}</text>`,
    );
  }
  parts.push(axis(niceTicks(t0, t1), x, y, LEFT, LEFT + plotW));
  parts.push('</svg>');
  return parts.join('');
}

/** A horizontal bar chart of one figure across the migrations; bars carry data-value for rescaling. */
export function barChart(
  title: string,
  rows: readonly { label: string; value: number; color: string }[],
  format: (v: number) => string,
): string {
  const barLeft = 270;
  const barW = WIDTH - barLeft - 120;
  const rowH = 22;
  const h = 28 + rows.length * rowH + 6;
  const max = Math.max(...rows.map((r) => r.value), 0);
  const parts = [
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${h}" width="${WIDTH}" height="${h}" role="img" aria-label="${esc(title)}">`,
    `<text class="chart-title" x="0" y="16">${esc(title)}</text>`,
  ];
  rows.forEach((r, i) => {
    const y = 28 + i * rowH;
    const w = max > 0 ? (r.value / max) * barW : 0;
    parts.push(
      `<text class="bar-label" x="${barLeft - 8}" y="${y + 14}" text-anchor="end">${esc(r.label)}</text>`,
      `<rect class="bar" data-value="${r.value}" data-max="${max}" data-width="${barW}" x="${barLeft}" y="${y + 2}" width="${Math.max(r.value > 0 ? 1 : 0, w).toFixed(1)}" height="${rowH - 6}" fill="${r.color}"><title>${esc(`${r.label}: ${format(r.value)}`)}</title></rect>`,
      `<text class="bar-value" data-for="${i}" x="${(barLeft + Math.max(1, w) + 6).toFixed(1)}" y="${y + 14}">${esc(format(r.value))}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

const CSS = `
:root { --fg:#1d2433; --muted:#5c6578; --line:#d5dae3; --bg:#fbfcfe; --card:#fff; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); margin: 0; padding: 24px 32px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 14px; margin: 18px 0 4px; }
p.sub, .muted { color: var(--muted); max-width: 940px; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 22px; margin: 12px 0; }
.facts div span { color: var(--muted); margin-right: 6px; }
.badge { display: inline-block; white-space: nowrap; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; font-weight: 600; }
.verdict { font-weight: 600; }
.ok { color: #1b7f4b; } .bad { color: #b00020; }
table { border-collapse: collapse; margin: 6px 0; background: var(--card); }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f0f3f8; font-weight: 600; }
svg { display: block; max-width: 100%; height: auto; background: var(--card); border: 1px solid var(--line); border-radius: 4px; margin: 6px 0; font: 12px system-ui, sans-serif; }
svg text { fill: var(--fg); }
.lane { stroke: #e3e7ee; stroke-width: 1; }
.lane-bg { fill: #f5f7fb; }
.lane-label { font-weight: 600; }
.axis { stroke: #8a93a6; }
.tick { fill: var(--muted); font-size: 11px; }
.step { stroke: #fff; stroke-width: .5; }
.step:hover, .bar:hover { opacity: .8; }
.step-label { fill: #fff; font-size: 11px; pointer-events: none; }
.mig-label { fill: #fff; font-size: 10px; font-weight: 700; pointer-events: none; }
.freeze { fill: rgba(224, 122, 95, .13); stroke: rgba(224, 122, 95, .6); stroke-dasharray: 3 2; }
.freeze-label { fill: #b4532a; font-size: 11px; }
.event { stroke: #b00020; stroke-dasharray: 4 3; }
.event-label { fill: #b00020; font-size: 10px; }
.chart-title { font-weight: 600; }
.bar-value { fill: var(--muted); font-size: 11px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 6px 0 2px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px; vertical-align: -2px; }
.controls { margin: 8px 0; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
`;

const SCRIPT = `
(function () {
  var box = document.getElementById('log-scale');
  if (!box) return;
  function rescale() {
    var log = box.checked;
    document.querySelectorAll('svg.chart').forEach(function (svg) {
      svg.querySelectorAll('rect.bar').forEach(function (bar, i) {
        var v = Number(bar.dataset.value), max = Number(bar.dataset.max), w = Number(bar.dataset.width);
        var f = max <= 0 ? 0 : log ? Math.log10(1 + v) / Math.log10(1 + max) : v / max;
        var width = Math.max(v > 0 ? 1 : 0, f * w);
        bar.setAttribute('width', width.toFixed(1));
        var label = svg.querySelector('text.bar-value[data-for="' + i + '"]');
        if (label) label.setAttribute('x', (Number(bar.getAttribute('x')) + Math.max(1, width) + 6).toFixed(1));
      });
    });
  }
  box.addEventListener('change', rescale);
})();
`;

function badge(outcome: string): string {
  return `<span class="badge" style="background:${OUTCOME_COLORS[outcome] ?? '#6c757d'}">${esc(outcome)}</span>`;
}

function verdict(v: boolean | null): string {
  if (v === null) return '<span class="muted">n/a</span>';
  return v ? '<span class="ok">matches</span>' : '<span class="bad">DIFFERS</span>';
}

/** The whole page. Deterministic: the same data gives the same bytes (no timestamps). */
export function renderReport(d: ReportData): string {
  const ran = d.migrations.filter((m) => m.phases.length > 0);
  const usedSteps = Object.keys(STEP_COLORS).filter((s) =>
    ran.some((m) => m.phases.some((p) => p.step === s)),
  );
  const legend = `<div class="legend">${usedSteps
    .map((s) => `<span><i style="background:${STEP_COLORS[s]}"></i>${esc(s)}</span>`)
    .join('')}</div>`;
  const color = (m: ReportMigration) => OUTCOME_COLORS[m.outcome] ?? '#6c757d';
  const rows = (f: (m: ReportMigration) => number) =>
    ran.map((m) => ({ label: m.label, value: f(m), color: color(m) }));
  const html: string[] = [];
  html.push(
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(d.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    `<h1>${esc(d.title)}</h1>`,
    `<p class="sub">${esc(d.subtitle)}</p>`,
    `<div class="facts">${d.facts.map(([k, v]) => `<div><span>${esc(k)}</span>${esc(v)}</div>`).join('')}</div>`,
    `<p class="verdict ${d.ok ? 'ok' : 'bad'}">${d.ok ? '✔ every task printed exactly what its unmigrated run prints, and every migration ended as expected' : '✘ some output differs from the unmigrated run, or a migration did not end as expected'}</p>`,
    '<h2>Hosts</h2>',
    `<table><tr><th>host</th><th>hardware</th></tr>${d.hosts.map((h) => `<tr><td>${esc(h.name)}</td><td>${esc(h.description)}</td></tr>`).join('')}</table>`,
  );
  html.push('<h2>Migration timeline</h2>');
  html.push(
    '<p class="muted">Each step of the migration in the lane of the host that does it, over virtual time: look-up, suspend, duplicate and the copy on the source; create, restore, commit and resume on the destination. The shaded band is the time the task was frozen. Hover a bar for its exact times.</p>',
    legend,
  );
  if (d.sharedClock) {
    html.push('<h3>All migrations on one clock</h3>', overviewTimeline(d));
  }
  for (const m of d.migrations) {
    html.push(
      `<h3>${esc(m.label)} ${badge(m.outcome)} <span class="muted">${esc(`${m.task}: ${m.from} → ${m.to}, ${m.strategy}`)}${m.reason ? `; ${esc(m.reason)}` : ''}</span></h3>`,
    );
    html.push(
      m.phases.length > 0
        ? migrationTimeline(m)
        : '<p class="muted">Did not run (see the reason above).</p>',
    );
  }
  html.push('<h2>Strategies compared</h2>');
  if (ran.length === 0) html.push('<p class="muted">No migration ran.</p>');
  else {
    html.push(
      '<p class="controls"><label><input type="checkbox" id="log-scale"> log scale</label> <span class="muted">(bars are coloured by outcome: committed, rolled back, unresolved)</span></p>',
      barChart(
        'Freeze time (ms, virtual)',
        rows((m) => m.freezeMs),
        (v) => `${ms(v)} ms`,
      ),
      barChart(
        'Total migration time (ms, virtual)',
        rows((m) => m.totalMs),
        (v) => `${ms(v)} ms`,
      ),
      barChart(
        'Bytes moved',
        rows((m) => m.bytes),
        formatBytes,
      ),
    );
  }
  html.push(
    '<table><tr><th>migration</th><th>outcome</th><th>freeze ms</th><th>total ms</th><th>bytes</th><th>pages</th><th>remote faults</th><th>pre-copy rounds</th><th>output</th></tr>',
    ...d.migrations.map(
      (m) =>
        `<tr><td>${esc(m.label)}</td><td>${badge(m.outcome)}</td><td class="num">${ms(m.freezeMs)}</td><td class="num">${ms(m.totalMs)}</td><td class="num">${m.bytes.toLocaleString('en-US')}</td><td class="num">${m.pagesMoved}</td><td class="num">${m.remoteFaults}</td><td class="num">${m.precopyRounds}</td><td>${verdict(m.outputMatches)}</td></tr>`,
    ),
    '</table>',
  );
  if (d.tasks.length > 0) {
    html.push(
      '<h2>Tasks</h2>',
      '<table><tr><th>task</th><th>home</th><th>ended on</th><th>end</th><th>output vs unmigrated run</th></tr>',
      ...d.tasks.map(
        (t) =>
          `<tr><td>${esc(t.name)}</td><td>${esc(t.home)}</td><td>${esc(t.host ?? '-')}</td><td>${esc(t.exit)}</td><td>${verdict(t.outputMatches)}</td></tr>`,
      ),
      '</table>',
    );
  }
  if (d.events.length > 0) {
    html.push(
      '<h2>Faults</h2>',
      '<table><tr><th>virtual time</th><th>event</th></tr>',
      ...d.events.map(
        (e) => `<tr><td class="num">${ms(e.timeMs)} ms</td><td>${esc(e.text)}</td></tr>`,
      ),
      '</table>',
    );
  }
  html.push(
    `<footer>Generated by xmach. Virtual times come from the simulation's clock; the same seed gives the same report.</footer>`,
    `<script type="application/json" id="xmach-report-data">${JSON.stringify(d).replace(/</g, '\\u003c')}</script>`,
    `<script>${SCRIPT}</script>`,
    '</body>',
    '</html>',
  );
  return `${html.join('\n')}\n`;
}
