/**
 * Every program in examples/ run as a task on a simulated host (the real kernel: scheduler,
 * pager, IPC, name service), printing exactly what the same computation gives in TypeScript.
 * A new example makes the first test fail until it gets its own test here.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkIpcInvariants } from '../src/actors/invariants.ts';
import type { Task } from '../src/kernel/task.ts';
import {
  exampleSource,
  instructionsOf,
  oneHost,
  runAllToExit,
  runToExit,
  spawnSource,
} from './support/kernelFixtures.ts';

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

/** primes.s: trial division up to n, a progress line every `step`, the count and a checksum. */
function primesOutput(n: number, step: number): string {
  const lines: string[] = [];
  let count = 0;
  let last = 0;
  let checksum = 0;
  const isPrime = (k: number) => {
    if (k < 2) return false;
    for (let d = 2; d * d <= k; d++) if (k % d === 0) return false;
    return true;
  };
  for (let k = 2; k <= n; k++) {
    if (isPrime(k)) {
      count++;
      last = k;
      checksum = (Math.imul(checksum, 31) + k) >>> 0;
    }
    if (k % step === 0) lines.push(`n=${k} primes=${count} last=${last}`);
  }
  lines.push(`total primes <= ${n}: ${count}`, `checksum: 0x${hex8(checksum)}`);
  return `${lines.join('\n')}\n`;
}

/** bigmem.s: fill `size` bytes with word i = i * 0x9e3779b1 + 12345, flip a byte every `stride`, FNV-1a-like hash. */
function bigmemOutput(size: number, stride: number): string {
  const MiB = 1 << 20;
  const words = new Uint32Array(size / 4);
  const lines = [`bigmem: ${size / MiB} MiB`];
  for (let i = 0; i < words.length; i++) {
    words[i] = Math.imul(i, 0x9e3779b1) + 12345;
    if ((i + 1) % (MiB / 4) === 0) lines.push(`wrote ${(i + 1) / (MiB / 4)} MiB`);
  }
  const bytes = new Uint8Array(words.buffer);
  let touched = 0;
  for (let k = 0; k < size; k += stride) {
    bytes[k] = bytes[k]! ^ (k & 0xff);
    touched++;
  }
  lines.push(`touched ${touched} bytes`);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) {
    h = Math.imul(h ^ words[i]!, 16777619) >>> 0;
    if ((i + 1) % (MiB / 4) === 0) lines.push(`checked ${(i + 1) / (MiB / 4)} MiB`);
  }
  lines.push(`checksum: 0x${hex8(h)}`);
  return `${lines.join('\n')}\n`;
}

/** threads.s: worker k sums (i * i mod 2^32) mod 1000003 over its chunk; the total wraps at 32 bits. */
function threadsOutput(workers: number, chunk: number): string {
  const lines = [`threads: starting ${workers} workers`];
  let total = 0;
  for (let k = 0; k < workers; k++) {
    let sum = 0;
    for (let i = k * chunk; i < (k + 1) * chunk; i++)
      sum = (sum + ((Math.imul(i, i) >>> 0) % 1000003)) >>> 0;
    lines.push(`worker ${k}: ${sum}`);
    total = (total + sum) >>> 0;
  }
  lines.push(`total: ${total}`);
  return `${lines.join('\n')}\n`;
}

/**
 * workset.s: fill `size` bytes with word i = i * 0x9e3779b1, then for `rounds` rounds rewrite one
 * word every `step` bytes of the first `wset` (w = (w + round) ^ 0x5a5a), a line every `print`
 * rounds, and a checksum of the working set.
 */
function worksetOutput(size: number, wset: number, rounds: number, print: number, step: number) {
  const words = new Int32Array(size / 4);
  for (let i = 0; i < words.length; i++) words[i] = Math.imul(i, 0x9e3779b1);
  const lines: string[] = [];
  for (let r = 0; r < rounds; r++) {
    for (let off = 0; off < wset; off += step) words[off / 4] = (words[off / 4]! + r) ^ 0x5a5a;
    if ((r + 1) % print === 0) lines.push(`round ${r + 1}`);
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < wset / 4; i++) h = Math.imul(h ^ words[i]!, 16777619);
  lines.push(`checksum: 0x${hex8(h)}`);
  return `${lines.join('\n')}\n`;
}

const ROUNDS = [1, 2, 3, 4, 5];
const SERVER_OUTPUT = `server: ready\n${ROUNDS.map((n) => `server: ping ${n}\n`).join('')}server: done\n`;
const CLIENT_OUTPUT = `${ROUNDS.map((n) => `client: ping ${n}\nclient: pong ${n * 10} (id 1100)\n`).join('')}client: done\n`;

function expectCleanExit(task: Task): void {
  expect(task.exit).toMatchObject({ status: 0 });
  expect(['exit', 'last thread ended']).toContain(task.exit!.reason);
}

describe('the examples on the kernel', () => {
  it('are all covered here', () => {
    const examples = readdirSync(new URL('../examples/', import.meta.url))
      .filter((f) => f.endsWith('.s'))
      .sort();
    expect(examples).toEqual([
      'bigmem.s',
      'pingpong-client.s',
      'pingpong-server.s',
      'primes.s',
      'threads.s',
      'workset.s',
    ]);
  });

  it('primes.s prints its progress, the count of primes up to 100,000 and their checksum', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, exampleSource('primes.s'), 'primes');
    runToExit(cluster, task);
    expect(task.outputText).toBe(primesOutput(100_000, 10_000));
    expect(task.outputText).toContain('total primes <= 100000: 9592\n');
    expectCleanExit(task);
    // About 7.6 million instructions on a 90 MIPS CPU: roughly 85 ms of virtual time.
    const ms = (instructionsOf(task) / host.profile.instructionsPerSecond) * 1000;
    expect(task.exit!.time).toBeGreaterThanOrEqual(ms);
    expect(task.exit!.time).toBeLessThan(ms + 5);
  });

  it('primes.s prints the same on the i486 host, with other N and STEP', () => {
    const { cluster, host } = oneHost('i486dx33');
    const task = spawnSource(host, exampleSource('primes.s'), 'primes', {
      defines: { N: 20_000, STEP: 2_500 },
    });
    runToExit(cluster, task);
    expect(task.outputText).toBe(primesOutput(20_000, 2_500));
    expectCleanExit(task);
  });

  it('bigmem.s writes 4 MiB, reads them back, and prints the checksum', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, exampleSource('bigmem.s'), 'bigmem');
    runToExit(cluster, task);
    expect(task.outputText).toBe(bigmemOutput(4 << 20, 4093));
    expectCleanExit(task);
  });

  it('threads.s runs four workers and prints their sums in order, then the total', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, exampleSource('threads.s'), 'threads');
    runToExit(cluster, task);
    expect(task.outputText).toBe(threadsOutput(4, 50_000));
    expect(task.threads).toHaveLength(5);
    expectCleanExit(task);
  });

  it('threads.s prints the same with another number of workers and a short quantum', () => {
    const { cluster, host } = oneHost();
    host.scheduler.quantumMs = 0.05;
    const task = spawnSource(host, exampleSource('threads.s'), 'threads', {
      defines: { WORKERS: 3, CHUNK: 20_000 },
    });
    runToExit(cluster, task);
    expect(task.outputText).toBe(threadsOutput(3, 20_000));
  });

  it('workset.s fills 1 MiB, rewrites its 32 KiB working set 400 times, and prints the checksum', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, exampleSource('workset.s'), 'workset');
    runToExit(cluster, task);
    expect(task.outputText).toBe(worksetOutput(1 << 20, 32 << 10, 400, 100, 64));
    expectCleanExit(task);
  });

  it('workset.s dense: the whole buffer is the working set', () => {
    const { cluster, host } = oneHost();
    const size = 256 << 10;
    const task = spawnSource(host, exampleSource('workset.s'), 'workset', {
      defines: { SIZE: size, WSET: size, ROUNDS: 12, PRINT: 4, STEP: 64 },
    });
    runToExit(cluster, task);
    expect(task.outputText).toBe(worksetOutput(size, size, 12, 4, 64));
  });

  it.each([
    ['the server', 'first'],
    ['the client', 'first'],
  ])('pingpong-server.s and pingpong-client.s talk through ports, %s started %s', (who) => {
    const { cluster, host } = oneHost();
    const start = (name: 'server' | 'client') =>
      spawnSource(host, exampleSource(`pingpong-${name}.s`), name);
    let server: Task;
    let client: Task;
    if (who === 'the server') {
      server = start('server');
      client = start('client');
    } else {
      client = start('client');
      server = start('server');
    }
    runAllToExit(cluster, [server, client]);
    expect(server.outputText).toBe(SERVER_OUTPUT);
    expect(client.outputText).toBe(CLIENT_OUTPUT);
    expectCleanExit(server);
    expectCleanExit(client);
    // The server's port died with it; the name service forgets it on the next look-up.
    expect(host.names.names()).toEqual(['pingpong']);
    expect(() => host.names.lookUp('pingpong', null, host.kernelSpace)).toThrow(
      /KERN_INVALID_NAME/,
    );
    expect(checkIpcInvariants(host.ipc)).toEqual([]);
  });
});
