import { describe, expect, it } from 'vitest';
import { helloIpc } from '../examples/library/hello-ipc.ts';
import { migratePrimes } from '../examples/library/migrate-primes.ts';

describe('the README library example', () => {
  it('delivers the greeting to the blocked server and traces each step in virtual time', () => {
    const log = helloIpc(1);
    expect(log).toEqual([
      '0.000 ipc.block',
      '0.000 ipc.send',
      '0.000 ipc.receive',
      'server got {"hello":"mach"}',
    ]);
  });
});

describe('the README migration example', () => {
  it('migrates primes mid-run and the output is that of an unmigrated run', () => {
    const { result, output } = migratePrimes('demand');
    expect(result.outcome).toBe('committed');
    expect(result.phases.map((p) => p.step)).toEqual([
      'lookUp',
      'suspend',
      'duplicate',
      'create',
      'copy',
      'restore',
      'commit',
      'resume',
    ]);
    expect(output).toContain('total primes <= 100000: 9592');
    expect(output.endsWith('checksum: 0x4f45071b\n')).toBe(true);
  });
});
