import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { demoCommand } from '../src/cli/demoCommand.ts';
import { UsageError } from '../src/cli/errors.ts';
import { createProgress, NO_PROGRESS, renderBar } from '../src/cli/progress.ts';
import { runCommand } from '../src/cli/runCommand.ts';
import { plain } from '../src/inspect/inspector.ts';

// biome-ignore lint/suspicious/noExplicitAny: JSON documents and scenario files are untyped data
type Doc = any;

const SCENARIOS = join(import.meta.dirname, '..', 'examples', 'scenarios');
const PAPER = join(SCENARIOS, 'paper.yaml');

/**
 * Runs a command in-process the way src/cli/main.ts does: a UsageError becomes one line on
 * stderr, a hint and status 2; anything else status 1 with no stack unless --verbose.
 */
async function cli(command: (argv: string[]) => number | Promise<number>, ...argv: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a) => stdout.push(`${a.join(' ')}\n`));
  vi.spyOn(console, 'error').mockImplementation((...a) => stderr.push(`${a.join(' ')}\n`));
  let status: number;
  try {
    status = await command(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    stderr.push(`xmach: ${e.message}\nhint: ${e.hint}\n`);
    status = 2;
  }
  vi.restoreAllMocks();
  return { status, stdout: stdout.join(''), stderr: stderr.join('') };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'xmach-cli-run-'));
}

afterEach(() => vi.restoreAllMocks());

describe('xmach run', () => {
  it('prints each migration’s steps and whether each task’s output matched', async () => {
    const r = await cli(runCommand, PAPER);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('xmach run: paper');
    expect(r.stdout).toMatch(
      /== #1 primes pentium -> i486 at 34 ms \(eager\): committed \[as expected\]/,
    );
    for (const step of [
      'lookUp',
      'suspend',
      'duplicate',
      'create',
      'copy',
      'restore',
      'commit',
      'resume',
    ])
      expect(r.stdout).toMatch(new RegExp(`^ {3}${step} +[\\d.]+ -> +[\\d.]+ ms$`, 'm'));
    expect(r.stdout).toContain('primes       pentium -> i486; exit (status 0)');
    expect(r.stdout).toContain('output matches the unmigrated run');
    expect(r.stdout).toMatch(/^ok: ended at [\d.]+ ms virtual/m);
  });

  it('prints one JSON document with --json', async () => {
    const r = await cli(runCommand, join(SCENARIOS, 'chain.yaml'), '--json');
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.ok).toBe(true);
    expect(doc.migrations.map((m: Doc) => [m.task, m.from, m.to, m.strategy, m.outcome])).toEqual([
      ['workset', 'alpha', 'beta', 'eager', 'committed'],
      ['workset', 'beta', 'gamma', 'precopy', 'committed'],
      ['primes', 'gamma', 'alpha', 'demand', 'committed'],
    ]);
    for (const m of doc.migrations) {
      expect(m.phases[0].step).toBe('lookUp');
      expect(typeof m.freeze_ms).toBe('number');
    }
    expect(doc.tasks.map((t: Doc) => [t.name, t.host, t.output_matches_reference])).toEqual([
      ['workset', 'gamma', true],
      ['primes', 'alpha', true],
    ]);
  });

  it('writes an HTML report with --report and overrides the seed with --seed', async () => {
    const file = join(tempDir(), 'failure.html');
    const r = await cli(
      runCommand,
      join(SCENARIOS, 'failure.yaml'),
      '--report',
      file,
      '--seed',
      '4',
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`report: ${file}`);
    expect(r.stdout).toContain('seed 4');
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('<svg class="timeline overview"');
    expect(html).toContain('rolled-back');
  });

  it('exits 1 when a migration does not end as the scenario expects', async () => {
    const dir = tempDir();
    const file = join(dir, 'wrong.yaml');
    writeFileSync(
      file,
      readFileSync(PAPER, 'utf8')
        .replace('../primes.s', join(SCENARIOS, '..', 'primes.s'))
        .replace('expect: committed', 'expect: rolled-back'),
    );
    const r = await cli(runCommand, file);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('[EXPECTED rolled-back]');
    expect(r.stdout).toMatch(/^FAILED: /m);
  });

  it.each([
    [['no-such.yaml'], 'xmach: run: no such scenario file "no-such.yaml"'],
    [[], 'xmach: run: missing the scenario file'],
    [[PAPER, 'extra'], 'xmach: run: unexpected argument "extra"'],
    [[PAPER, '--bogus'], "xmach: run: Unknown option '--bogus'"],
    [[PAPER, '--seed', 'x'], 'xmach: run: --seed must be an integer, got "x"'],
  ])('refuses %j with one line, a hint and status 2', async (argv, line) => {
    const r = await cli(runCommand, ...argv);
    expect(r.status).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(line);
    expect(lines[1]).toMatch(/^hint: /);
    expect(r.stderr).not.toContain('    at ');
  });

  it('names the bad field of a bad scenario: an unknown host or program', async () => {
    const dir = tempDir();
    const host = join(dir, 'host.json');
    writeFileSync(
      host,
      JSON.stringify({
        hosts: [
          { name: 'a', profile: 'pentium90' },
          { name: 'b', profile: 'pentium90' },
        ],
        programs: [{ example: 'primes', host: 'a' }],
        migrations: [
          { task: 'primes', to: 'b', at_ms: 1 },
          { task: 'primes', to: 'x', at_ms: 2 },
        ],
      }),
    );
    const a = await cli(runCommand, host);
    expect(a.status).toBe(2);
    expect(a.stderr).toContain(
      `xmach: run: ${host}: migrations[1].to: unknown host "x" (hosts: a, b)`,
    );
    expect(a.stderr).toContain('hint: see examples/scenarios/');
    const prog = join(dir, 'prog.yaml');
    writeFileSync(
      prog,
      'hosts: [{ name: a, profile: pentium90 }]\nprograms: [{ file: missing.s, host: a }]\n',
    );
    const b = await cli(runCommand, prog);
    expect(b.stderr).toContain('programs[0].file: no such program file "missing.s"');
    const bad = join(dir, 'asm.yaml');
    writeFileSync(join(dir, 'broken.s'), '_start:\n  frobnicate r1\n');
    writeFileSync(
      bad,
      'hosts: [{ name: a, profile: pentium90 }]\nprograms: [{ file: broken.s, host: a }]\n',
    );
    const c = await cli(runCommand, bad);
    expect(c.status).toBe(2);
    expect(c.stderr.split('\n')[0]).toMatch(/programs\[0\]: .*broken\.s:2/);
  });

  it('explains the scenario format with --help', async () => {
    const r = await cli(runCommand, '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('xmach run <scenario.json|scenario.yaml>');
    expect(r.stdout).toContain('faults:');
  });
});

describe('xmach demo --report', () => {
  it('writes the demo’s HTML report', async () => {
    const file = join(tempDir(), 'demo.html');
    const r = await cli(demoCommand, '--strategy', 'eager', '--report', file);
    expect(r.status).toBe(0);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain('Strategies compared');
  });

  it('refuses a report path in a missing folder with one line', async () => {
    const r = await cli(demoCommand, '--strategy', 'eager', '--report', '/no/such/dir/demo.html');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      'xmach: demo: cannot write the report "/no/such/dir/demo.html": no such folder',
    );
  });
});

describe('--inspect', () => {
  it('sends the inspection events of a run to a WebSocket inspector', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const port = (wss.address() as { port: number }).port;
    const got: Doc[] = [];
    wss.on('connection', (ws) => ws.on('message', (m) => got.push(JSON.parse(String(m)))));
    try {
      const r = await cli(runCommand, PAPER, '--inspect-url', `ws://127.0.0.1:${port}`);
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/inspector: \d+ inspection events sent to ws:\/\/127\.0\.0\.1:\d+/);
      await vi.waitFor(() => expect(got.length).toBeGreaterThan(10));
      const types = new Set(got.map((e) => e.type));
      expect(types).toEqual(new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot']));
      const actors = got.filter((e) => e.type === '@xstate.actor').map((e) => e.name);
      expect(actors).toEqual(expect.arrayContaining(['migrationClient', 'task']));
      const client = got.find((e) => e.type === '@xstate.actor' && e.name === 'migrationClient');
      expect(JSON.parse(client.definition).id).toBe('migrationClient');
      const values = got
        .filter((e) => e.type === '@xstate.snapshot' && e.sessionId === client.sessionId)
        .map((e) => e.snapshot.value);
      expect(values).toEqual(expect.arrayContaining(['copying', 'committing', 'done']));
    } finally {
      await new Promise((r) => wss.close(r));
    }
  });

  it('fails with one clear line when no inspector answers', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const r = await cli(runCommand, PAPER, '--inspect-url', `ws://127.0.0.1:${port}`);
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      `xmach: run: --inspect: cannot reach the inspector at ws://127.0.0.1:${port}: ECONNREFUSED`,
    );
    expect(r.stderr.split('\n')[1]).toMatch(/^hint: start an inspector server/);
    const d = await cli(demoCommand, '--inspect-url', 'http://localhost:1');
    expect(d.stderr).toContain('expected a ws:// or wss:// URL');
  });

  it('cuts contexts to plain data before sending them', () => {
    class Host {}
    const cyclic: Doc = { a: 1 };
    cyclic.self = cyclic;
    expect(
      plain({ h: new Host(), f: function step() {}, b: new Uint8Array(9), c: cyclic }, 3),
    ).toEqual({
      h: '[Host]',
      f: '[function step]',
      b: '[9 bytes]',
      c: { a: 1, self: '[circular]' },
    });
  });
});

describe('the progress bar', () => {
  it('draws only when enabled, throttled, after a short delay, and clears its line', () => {
    expect(createProgress('x', { enabled: false })).toBe(NO_PROGRESS);
    const out: string[] = [];
    let now = 0;
    const p = createProgress('bench', {
      enabled: true,
      stream: { write: (s: string) => out.push(s), columns: 60 },
      now: () => now,
      delayMs: 100,
      intervalMs: 50,
    });
    p.update(0.1, 'early');
    expect(out).toEqual([]);
    now = 150;
    p.update(0.5, 'half');
    now = 160;
    p.update(0.6, 'throttled');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^\rbench \[#{15}\.{15}\] {2}50% half/);
    p.done();
    expect(out[1]).toMatch(/^\r +\r$/);
  });

  it('fits the bar to the terminal width', () => {
    expect(renderBar('scale', 1, 'done', 40)).toHaveLength(39);
    expect(renderBar('scale', 2, '', 80)).toContain('100%');
  });
});
