import { describe, expect, it } from 'vitest';
import { helloIpc } from '../examples/library/hello-ipc.ts';

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
