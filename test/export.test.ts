import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../src/cli/errors.ts';
import { exportCommand } from '../src/cli/exportCommand.ts';
import {
  allStates,
  chartOf,
  loadMachines,
  type MachineEntry,
  render,
  toMermaid,
  toScxml,
} from '../src/export/index.ts';
import { mermaidIds } from '../src/export/mermaid.ts';

// biome-ignore lint/suspicious/noExplicitAny: JSON documents and scenario files are untyped data
type Doc = any;

/** The charts the design names; the section 4 managers join them when they exist. */
const REQUIRED = [
  'task',
  'thread',
  'defaultPager',
  'netmsgServer',
  'netmsgTransport',
  'netmsgLookup',
  'netmsgPortMove',
  'migrationClient',
  'migrationServer',
  'migrationSession',
  'requestReplyClient',
  'requestReplyServer',
];

let machines: MachineEntry[];
beforeAll(async () => {
  machines = await loadMachines();
});
afterEach(() => vi.restoreAllMocks());

describe('finding the machines', () => {
  it('finds every statechart exported from src/machines/', () => {
    const ids = machines.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(REQUIRED));
    expect(new Set(ids).size).toBe(ids.length);
    for (const m of machines) expect(m.source).toMatch(/^src\/machines\/\w+\.ts$/);
  });
});

describe('every machine in every format', () => {
  it('exports XState’s definition as JSON, with the eventless transitions added', () => {
    for (const m of machines) {
      const doc = JSON.parse(render(m, 'json'));
      expect(doc.id).toBe(m.id);
      expect(doc.definition.id).toBe(m.machine.id);
      const states = (d: Doc): string[] =>
        Object.entries(d.states ?? {}).flatMap(([, s]: [string, Doc]) => [s.id, ...states(s)]);
      expect(states(doc.definition).sort()).toEqual(
        allStates(chartOf(m.machine))
          .slice(1)
          .map((s) => s.id)
          .sort(),
      );
    }
    const thread = JSON.parse(render(machines.find((m) => m.id === 'thread')!, 'json'));
    const deciding = thread.definition.states.alive.states.suspension.states.deciding;
    expect(deciding.always.map((t: Doc) => t.target[0])).toEqual([
      '#thread.alive.suspension.suspended',
      '#thread.alive.suspension.running',
    ]);
  });

  it('draws a Mermaid stateDiagram-v2 with every state and every transition', () => {
    for (const m of machines) {
      const chart = chartOf(m.machine);
      const text = toMermaid(chart);
      expect(text.startsWith('stateDiagram-v2\n'), m.id).toBe(true);
      for (const id of mermaidIds(chart))
        expect(text, `${m.id}: state ${id}`).toMatch(new RegExp(`(^|\\s)${id}(\\s|$)`, 'm'));
      // Every line is a declaration, an edge, a region separator or a brace.
      for (const line of text.trim().split('\n').slice(1))
        expect(line.trim(), `${m.id}: ${line}`).toMatch(
          /^(state "[^"]+" as \w+|state \w+ \{|\}|--|(\[\*\]|\w+) --> (\[\*\]|\w+)( : [^:;#]+)?)$/,
        );
      const withTarget = allStates(chart).flatMap((s) =>
        s.transitions.filter((t) => t.targets.length > 0),
      );
      const edges = (text.match(/ --> \w+ : /g) ?? []).length;
      expect(edges, m.id).toBeGreaterThanOrEqual(withTarget.length);
    }
  });

  it('shows parallel regions, guards and delays the way they are defined', () => {
    const thread = toMermaid(chartOf(machines.find((m) => m.id === 'thread')!.machine));
    expect(thread).toContain('state alive {');
    expect(thread).toMatch(/\n\s+--\n/);
    expect(thread).toContain(
      'alive__suspension__suspended --> alive__suspension__running : RESUME [lastSuspension]',
    );
    const client = toMermaid(chartOf(machines.find((m) => m.id === 'migrationClient')!.machine));
    expect(client).toContain('lookingUp --> rollingBack : after lookUpTimeout');
    expect(client).toContain('waitingToAsk --> inDoubt : after statusRetry [attemptsLeft]');
    const pager = toMermaid(chartOf(machines.find((m) => m.id === 'defaultPager')!.machine));
    expect(pager).toContain('serving --> stopped : shutdown');
  });

  it('writes well-formed SCXML whose states and targets all resolve', () => {
    const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' });
    for (const m of machines) {
      const chart = chartOf(m.machine);
      const xml = toScxml(chart);
      expect(XMLValidator.validate(xml), m.id).toBe(true);
      const doc = parser.parse(xml);
      expect(doc.scxml.xmlns).toBe('http://www.w3.org/2005/07/scxml');
      const ids = [...xml.matchAll(/<(?:state|parallel|final|history) id="([^"]+)"/g)].map(
        (x) => x[1],
      );
      const expected = allStates(chart)
        .slice(1)
        .map((s) => s.id);
      expect(ids.filter((id) => id !== chart.id).sort(), m.id).toEqual(expected.sort());
      const known = new Set([...ids, chart.id]);
      for (const t of xml.matchAll(/target="([^"]+)"/g))
        for (const id of t[1]!.split(' '))
          expect(known.has(id), `${m.id}: target ${id}`).toBe(true);
      const initial = /<scxml [^>]*initial="([^"]+)"/.exec(xml)?.[1];
      if (initial) expect(known.has(initial)).toBe(true);
    }
  });

  it('turns delays into a send on entry, a cancel on exit and a transition', () => {
    const xml = toScxml(chartOf(machines.find((m) => m.id === 'migrationClient')!.machine));
    expect(xml).toContain(
      '<send id="migrationClient.lookingUp.after.lookUpTimeout" event="xstate.after.lookUpTimeout.migrationClient.lookingUp" delayexpr="lookUpTimeout"/>',
    );
    expect(xml).toContain('<cancel sendid="migrationClient.lookingUp.after.lookUpTimeout"/>');
    expect(xml).toContain(
      '<invoke id="0.migrationClient.lookingUp" type="xstate" src="lookUpServer"/>',
    );
    expect(xml).toContain(
      '<transition event="STEP.DONE" cond="precopy" target="migrationClient.creating"/>',
    );
  });
});

describe('xmach export', () => {
  it('writes every machine in the three formats, and an index, with --out', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const dir = join(mkdtempSync(join(tmpdir(), 'xmach-export-')), 'charts');
    expect(await exportCommand(['--out', dir])).toBe(0);
    const files = readdirSync(dir).sort();
    for (const m of machines)
      for (const ext of ['json', 'mmd', 'scxml']) expect(files).toContain(`${m.id}.${ext}`);
    expect(files).toContain('README.md');
    expect(readFileSync(join(dir, 'task.mmd'), 'utf8')).toContain('stateDiagram-v2');
    expect(log.mock.calls.flat().join('\n')).toContain(`wrote ${machines.length} machines`);
  });

  it('prints one format to stdout without --out', async () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
    vi.spyOn(console, 'log').mockImplementation((s) => out.push(String(s)));
    expect(await exportCommand(['--format', 'mermaid', '--machine', 'task'])).toBe(0);
    expect(out.join('')).toMatch(
      /^%% task: taskMachine in src\/machines\/task\.ts\nstateDiagram-v2/,
    );
    out.length = 0;
    expect(await exportCommand(['--format', 'scxml', '--machine', 'migrationServer'])).toBe(0);
    expect(XMLValidator.validate(out.join(''))).toBe(true);
    out.length = 0;
    expect(await exportCommand([])).toBe(0);
    expect(JSON.parse(out.join('')).machines.length).toBe(machines.length);
  });

  it('refuses an unknown format or machine with a usage error', async () => {
    await expect(exportCommand(['--format', 'dot'])).rejects.toBeInstanceOf(UsageError);
    await expect(exportCommand(['--format', 'dot'])).rejects.toThrow(
      'export: unknown format "dot"',
    );
    await expect(exportCommand(['--format', 'dot'])).rejects.toMatchObject({
      hint: '--format takes one of json, mermaid, scxml',
    });
    await expect(exportCommand(['--machine', 'toaster'])).rejects.toThrow(
      'unknown machine "toaster"',
    );
    await expect(exportCommand(['--outdir', 'x'])).rejects.toThrow("Unknown option '--outdir'");
  });
});
