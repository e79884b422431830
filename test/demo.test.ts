import { describe, expect, it } from 'vitest';
import { runIpcDemo } from '../src/demo/ipcDemo.ts';

describe('the demo scenario (Mach IPC on the paper cluster)', () => {
  const r = runIpcDemo(1);

  it('answers every well-formed request, including application errors as error replies', () => {
    expect(r.replies.map((x) => x.reply.ok)).toEqual([
      true,
      true,
      true,
      true,
      false,
      true,
      false,
      true,
    ]);
    const sum = r.replies.find((x) => (x.request as { op: string }).op === 'sum')!.reply;
    const puts = r.replies.filter((x) => (x.request as { op: string }).op === 'put');
    const expected = puts.reduce((a, x) => a + (x.request as { value: number }).value, 0);
    expect(sum).toEqual({ ok: true, result: expected });
  });

  it('rejects the malformed message and carries on serving', () => {
    expect(r.rejected).toBe(1);
    expect(r.served).toBe(8);
  });

  it('refuses a send on a name the client does not hold, with a typed error', () => {
    expect(r.refused).toEqual([
      'MACH_SEND_INVALID_DEST: remotePort: name 0x999 is not in space "client-b"',
    ]);
  });

  it('closes the server when its last client drops its send right (no-senders)', () => {
    expect(r.serverState).toBe('closed');
    expect(r.trace.some((e) => e.kind === 'ipc.notify' && e.notification === 'no-senders')).toBe(
      true,
    );
    expect(r.trace.some((e) => e.kind === 'ipc.port-dead' && e.portLabel === 'kv')).toBe(true);
  });

  it('leaves the right accounting consistent', () => {
    expect(r.invariantViolations).toEqual([]);
  });

  it('is deterministic: same seed, same trace digest; another seed, another trace', () => {
    expect(runIpcDemo(1).digest).toBe(r.digest);
    expect(runIpcDemo(2).digest).not.toBe(r.digest);
  });
});
