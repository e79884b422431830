import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function xmach(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/xmach.mjs', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the xmach command', () => {
  it('prints help with --help and exits 0', () => {
    const r = xmach('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('usage: npx xmach <command>');
    expect(r.stdout).toContain('demo');
  });

  it('runs the migration demo: every strategy commits, the cut one rolls back, outputs match', () => {
    const r = xmach('demo', '--seed', '3');
    expect(r.status).toBe(0);
    for (const s of ['eager', 'precopy', 'demand', 'prepage', 'flush']) {
      expect(r.stdout).toMatch(new RegExp(`== ${s}: committed`));
    }
    expect(r.stdout).toContain('== eager, network cut during the copy: rolled-back');
    expect(r.stdout).not.toContain('DIFFERS');
  });

  it('prints the demo as one JSON document with --json', () => {
    const r = xmach('demo', '--json', '--strategy', 'demand');
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(
      doc.migrations.map((m: { strategy: string; committed: boolean }) => [
        m.strategy,
        m.committed,
      ]),
    ).toEqual([
      ['demand', true],
      ['eager', false],
    ]);
    for (const m of doc.migrations) {
      expect(m.output_matches_reference).toBe(true);
      expect(m.phases[0].step).toBe('lookUp');
      expect(typeof m.freeze_ms).toBe('number');
    }
  });

  it('still runs the IPC scenario with --ipc', () => {
    const r = xmach('demo', '--ipc');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('right accounting: consistent');
  });

  it('rejects an unknown command with one line, a hint and exit status 2', () => {
    const r = xmach('migrate-everything');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'xmach: unknown command "migrate-everything"\nhint: run `npx xmach --help` for usage\n',
    );
  });

  it('rejects an unknown strategy, naming it', () => {
    const r = xmach('demo', '--strategy', 'teleport');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown strategy "teleport"');
  });

  it('rejects an unknown flag and a bad value without a stack trace', () => {
    const a = xmach('demo', '--bogus');
    expect(a.status).toBe(2);
    expect(a.stderr).toContain("Unknown option '--bogus'");
    expect(a.stderr).not.toContain('    at ');
    const b = xmach('demo', '--seed', 'ten');
    expect(b.status).toBe(2);
    expect(b.stderr).toContain('--seed must be an integer, got "ten"');
  });

  it('rejects a bench filter that matches nothing', () => {
    const r = xmach('bench', '--only', 'nothing.');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no benchmark matches "nothing."');
  });
});
