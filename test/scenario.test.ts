import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scenarioJson } from '../src/scenario/json.ts';
import { loadScenario, parseScenarioText } from '../src/scenario/load.ts';
import { runScenario } from '../src/scenario/runner.ts';
import { ScenarioError, validateScenario } from '../src/scenario/schema.ts';

// biome-ignore lint/suspicious/noExplicitAny: JSON documents and scenario files are untyped data
type Doc = any;

const EXAMPLES = join(import.meta.dirname, '..', 'examples');

/** A small valid scenario; each validation case breaks one field of a copy of it. */
function base(): Doc {
  return {
    name: 'small',
    seed: 2,
    hosts: [
      { name: 'a', profile: 'pentium90' },
      { name: 'b', profile: 'i486dx33' },
    ],
    network: { link: 'ethernet10' },
    programs: [
      { name: 'primes', example: 'primes', host: 'a', defines: { N: 30000, STEP: 10000 } },
    ],
    migrations: [{ task: 'primes', to: 'b', at_ms: 1, strategy: 'eager' }],
    faults: [{ kind: 'loss', at_ms: 0, probability: 0.01 }],
  };
}

function errorOf(mutate: (s: Doc) => void): string {
  const s = base();
  mutate(s);
  try {
    validateScenario(s, { baseDir: EXAMPLES });
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as Error).message;
  }
  throw new Error('the scenario was accepted');
}

describe('scenario validation', () => {
  it('accepts a well-formed scenario and resolves its profiles and defaults', () => {
    const s = validateScenario(base(), { baseDir: EXAMPLES });
    expect(s.hosts.map((h) => h.profile.name)).toEqual(['pentium90', 'i486dx33']);
    expect(s.migrations[0]).toMatchObject({ task: 'primes', to: 'b', atMs: 1, strategy: 'eager' });
    expect(s.programs[0]!.file).toMatch(/examples\/primes\.s$/);
    expect(s.untilMs).toBe(600_000);
    expect(s.faults).toEqual([{ at: 0, kind: 'loss', probability: 0.01 }]);
  });

  it.each([
    [
      'an unknown destination host',
      (s: Doc) => (s.migrations[0].to = 'x'),
      'migrations[0].to: unknown host "x" (hosts: a, b)',
    ],
    [
      'a second migration to an unknown host',
      (s: Doc) => s.migrations.push({ task: 'primes', to: 'nowhere', at_ms: 5 }),
      'migrations[1].to: unknown host "nowhere"',
    ],
    [
      'an unknown task',
      (s: Doc) => (s.migrations[0].task = 'sieve'),
      'migrations[0].task: unknown task "sieve" (programs: primes)',
    ],
    [
      'an unknown strategy',
      (s: Doc) => (s.migrations[0].strategy = 'teleport'),
      'migrations[0].strategy: unknown strategy "teleport"',
    ],
    [
      'a missing migration time',
      (s: Doc) => delete s.migrations[0].at_ms,
      'migrations[0].at_ms: is required',
    ],
    [
      'a negative time',
      (s: Doc) => (s.migrations[0].at_ms = -3),
      'migrations[0].at_ms: must be >= 0, got -3',
    ],
    [
      'an unknown host profile',
      (s: Doc) => (s.hosts[1].profile = 'vax780'),
      'hosts[1].profile: unknown host profile "vax780" (known: pentium90, i486dx33, modern)',
    ],
    ['a misspelt field', (s: Doc) => (s.hosts[0].cpu = 90), 'hosts[0].cpu: unknown field'],
    [
      'a custom host without its CPU',
      (s: Doc) => (s.hosts[1] = { name: 'b', memory_mb: 8 }),
      'hosts[1].cpu_mips: is required without a profile',
    ],
    [
      'a page size that is no power of two',
      (s: Doc) => (s.hosts[0].page_size = 3000),
      'hosts[0].page_size: must be a power of two, got 3000',
    ],
    [
      'two hosts of one name',
      (s: Doc) => (s.hosts[1].name = 'a'),
      'hosts[1].name: duplicate host "a"',
    ],
    ['no hosts', (s: Doc) => (s.hosts = []), 'hosts: needs at least one host'],
    [
      'an unknown link profile',
      (s: Doc) => (s.network.link = 'token-ring'),
      'network.link: unknown link profile "token-ring"',
    ],
    [
      'a link between unknown hosts',
      (s: Doc) => (s.network.links = [{ between: ['a', 'z'] }]),
      'network.links[0].between[1]: unknown host "z"',
    ],
    [
      'a missing program file',
      (s: Doc) => (s.programs[0] = { file: 'nope.s', host: 'a' }),
      'programs[0].file: no such program file "nope.s"',
    ],
    [
      'an unknown example',
      (s: Doc) => (s.programs[0].example = 'doom'),
      'programs[0].example: no example program "doom" in examples/',
    ],
    [
      'a program on an unknown host',
      (s: Doc) => (s.programs[0].host = 'c'),
      'programs[0].host: unknown host "c"',
    ],
    [
      'a define that is not a number',
      (s: Doc) => (s.programs[0].defines.N = 'lots'),
      'programs[0].defines.N: must be a number, got "lots"',
    ],
    [
      'an unknown fault kind',
      (s: Doc) => (s.faults[0].kind = 'meteor'),
      'faults[0].kind: unknown fault kind "meteor"',
    ],
    [
      'a probability above 1',
      (s: Doc) => (s.faults[0].probability = 1.5),
      'faults[0].probability: must be <= 1, got 1.5',
    ],
    [
      'a crash of an unknown host',
      (s: Doc) => s.faults.push({ kind: 'crash', at_ms: 3, host: 'q' }),
      'faults[1].host: unknown host "q"',
    ],
    [
      'overlapping partition groups',
      (s: Doc) => s.faults.push({ kind: 'partition', at_ms: 3, groups: [['a'], ['a', 'b']] }),
      'faults[1].groups: host "a" is in both groups',
    ],
    [
      'an unknown expected outcome',
      (s: Doc) => (s.migrations[0].expect = 'maybe'),
      'migrations[0].expect: unknown outcome "maybe"',
    ],
    ['an unknown top-level field', (s: Doc) => (s.hostz = []), 'hostz: unknown field'],
  ])('names the field of %s', (_what, mutate, message) => {
    expect(errorOf(mutate)).toContain(message);
  });

  it('refuses a migration between hosts of different page sizes', () => {
    const msg = errorOf((s) => (s.hosts[1] = { name: 'b', profile: 'i486dx33', page_size: 8192 }));
    expect(msg).toContain('migrations[0].to: host "b" uses 8192-byte pages');
  });

  it('reports YAML and JSON syntax errors with the line', () => {
    expect(() => parseScenarioText('hosts:\n  - { name: a\n', 'bad.yaml')).toThrow(
      /bad\.yaml:\d+:\d+: YAML syntax error/,
    );
    expect(() => parseScenarioText('{\n  "hosts": [\n}', 'bad.json')).toThrow(
      /bad\.json:3:1: JSON syntax error/,
    );
    expect(() => parseScenarioText('x', 'scenario.txt')).toThrow(/neither \.json nor \.yaml/);
  });

  it('reads JSON and YAML files, with program paths relative to the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xmach-scenario-'));
    const json = join(dir, 's.json');
    const s = base();
    s.programs[0] = { name: 'primes', file: join(EXAMPLES, 'primes.s'), host: 'a' };
    writeFileSync(json, JSON.stringify(s));
    expect(loadScenario(json).name).toBe('small');
    expect(() => loadScenario(join(dir, 'missing.yaml'))).toThrow('no such scenario file');
  });
});

describe('running scenarios', () => {
  it('migrates a task and compares its output with its unmigrated run', () => {
    const r = runScenario(validateScenario(base(), { baseDir: EXAMPLES }));
    expect(r.migrations[0]).toMatchObject({ status: 'committed', from: 'a', asExpected: true });
    expect(r.tasks[0]).toMatchObject({ name: 'primes', home: 'a', host: 'b', outputMatches: true });
    expect(r.tasks[0]!.output).toContain('total primes <= 30000: 3245');
    expect(r.ok).toBe(true);
  });

  it('is deterministic: the same seed gives the same result', () => {
    const s = validateScenario(base(), { baseDir: EXAMPLES });
    const strip = (x: Doc) => ({ ...x, scenario: undefined });
    expect(strip(scenarioJson(runScenario(s)))).toEqual(strip(scenarioJson(runScenario(s))));
  });

  it('skips a migration of a task that has ended, and waits for one in flight', () => {
    const s = base();
    s.faults = [];
    s.migrations = [
      { task: 'primes', to: 'b', at_ms: 1 },
      { task: 'primes', to: 'a', at_ms: 1.5 },
      { task: 'primes', to: 'b', at_ms: 500_000 },
    ];
    const r = runScenario(validateScenario(s, { baseDir: EXAMPLES }));
    expect(r.migrations.map((m) => m.status)).toEqual(['committed', 'committed', 'skipped']);
    expect(r.migrations[1]!.startedMs!).toBeGreaterThan(1.5);
    expect(r.migrations[2]!.reason).toContain('ended before 500000 ms');
    expect(r.tasks[0]).toMatchObject({ host: 'a', outputMatches: true });
  });

  const shipped = readdirSync(join(EXAMPLES, 'scenarios')).filter((f) => /\.(ya?ml|json)$/.test(f));

  it('ships the demo scenario and at least two more', () => {
    expect(shipped).toEqual(expect.arrayContaining(['paper.yaml', 'chain.yaml', 'failure.yaml']));
  });

  it.each(shipped)('runs the shipped scenario %s as it expects', (file) => {
    const r = runScenario(loadScenario(join(EXAMPLES, 'scenarios', file)));
    expect(r.finished).toBe(true);
    for (const t of r.tasks) expect(t.outputMatches, `${t.name} output`).toBe(true);
    for (const m of r.migrations)
      expect(m.asExpected, `migration ${m.index} ${m.status}`).toBe(true);
    expect(r.ok).toBe(true);
  });

  it('rolls both migrations of the failure scenario back, and the tasks go on at home', () => {
    const r = runScenario(loadScenario(join(EXAMPLES, 'scenarios', 'failure.yaml')));
    expect(r.migrations.map((m) => m.status)).toEqual(['rolled-back', 'rolled-back']);
    expect(r.tasks.map((t) => t.host)).toEqual(['pentium', 'pentium']);
    expect(r.faults.map((f) => f.kind)).toContain('partition');
  });
});
