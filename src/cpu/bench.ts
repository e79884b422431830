import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assemble } from './assembler.ts';
import { FlatMemory } from './flatMemory.ts';
import { run, setJitOptions } from './interpreter.ts';
import { readMemory } from './memory.ts';
import { fileIncluder } from './sourceFiles.ts';
import { SYS } from './syscalls.ts';
import { createThreadState } from './thread.ts';

/**
 * The `vm.primes_vs_js` measurement: examples/primes.s run by the interpreter against the same
 * algorithm on the same input in plain JavaScript (both produce the same text).
 */

/** Where primes.s's `.include`s are read from. */
const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

/** examples/primes.s in plain JavaScript: same trial division, same output. */
export function primesInJs(n: number, step: number): string {
  let count = 0;
  let checksum = 0;
  let last = 0;
  let next = step;
  const out: string[] = [];
  for (let k = 2; k <= n; k++) {
    let prime = true;
    if (k !== 2) {
      if ((k & 1) === 0) prime = false;
      else {
        for (let d = 3; d * d <= k; d += 2) {
          if (k % d === 0) {
            prime = false;
            break;
          }
        }
      }
    }
    if (prime) {
      count++;
      checksum = (Math.imul(checksum, 31) + k) | 0;
      last = k;
    }
    if (k === next) {
      out.push(`n=${k} primes=${count} last=${last}\n`);
      next += step;
    }
  }
  out.push(`total primes <= ${n}: ${count}\n`);
  out.push(`checksum: 0x${(checksum >>> 0).toString(16).padStart(8, '0')}\n`);
  return out.join('');
}

export interface PrimesBenchOptions {
  /** Count primes up to n (default 300,000); progress every n / 10. */
  n?: number;
  /** Timed repetitions of each side; the fastest counts (default 5). */
  repeats?: number;
  /** Compile hot code (default true); false measures the interpreter loop alone. */
  jit?: boolean;
  /** Instructions per run() call, like a scheduler quantum (default 1,000,000). */
  quantum?: number;
  /** Assembly source (default: examples/primes.s). */
  source?: string;
}

export interface PrimesBenchResult {
  n: number;
  jsMs: number;
  vmMs: number;
  /** Plain JavaScript's time divided by the interpreter's (goal: at least 0.1). */
  ratio: number;
  instructions: number;
  instructionsPerSecond: number;
  /** Both printed the same text. */
  outputsMatch: boolean;
}

/** Runs primes.s to its exit in a FlatMemory and returns its output and instruction count. */
function runPrimes(
  source: string,
  n: number,
  quantum: number,
): { output: string; instructions: number } {
  const image = assemble(source, {
    fileName: 'primes.s',
    include: fileIncluder(EXAMPLES),
    defines: { N: n, STEP: Math.max(1, Math.floor(n / 10)) },
  });
  const memory = new FlatMemory({ lazy: false });
  memory.loadImage(image);
  const thread = createThreadState(image.entry, image.stackTop);
  const decoder = new TextDecoder();
  let output = '';
  let instructions = 0;
  for (;;) {
    const stop = run(thread, memory, quantum);
    instructions += stop.executed;
    if (stop.reason === 'budget') continue;
    if (stop.reason === 'trap' && stop.number === SYS.CONSOLE_WRITE) {
      const bytes = readMemory(memory, thread.regs[1]!, thread.regs[2]!);
      if (bytes instanceof Uint8Array) output += decoder.decode(bytes);
      continue;
    }
    if (stop.reason === 'trap' && stop.number === SYS.EXIT) return { output, instructions };
    throw new Error(`primes.s stopped unexpectedly: ${JSON.stringify(stop)}`);
  }
}

export function benchPrimesVsJs(options: PrimesBenchOptions = {}): PrimesBenchResult {
  const n = options.n ?? 300_000;
  const repeats = options.repeats ?? 5;
  const quantum = options.quantum ?? 1_000_000;
  const source =
    options.source ?? readFileSync(new URL('../../examples/primes.s', import.meta.url), 'utf8');
  const step = Math.max(1, Math.floor(n / 10));
  const saved = setJitOptions({ enabled: options.jit ?? true });
  try {
    let jsMs = Number.POSITIVE_INFINITY;
    let vmMs = Number.POSITIVE_INFINITY;
    let js = '';
    let vm = { output: '', instructions: 0 };
    for (let i = 0; i < repeats; i++) {
      let t0 = performance.now();
      js = primesInJs(n, step);
      jsMs = Math.min(jsMs, performance.now() - t0);
      t0 = performance.now();
      vm = runPrimes(source, n, quantum);
      vmMs = Math.min(vmMs, performance.now() - t0);
    }
    return {
      n,
      jsMs,
      vmMs,
      ratio: jsMs / vmMs,
      instructions: vm.instructions,
      instructionsPerSecond: vm.instructions / (vmMs / 1000),
      outputsMatch: js === vm.output,
    };
  } finally {
    setJitOptions(saved);
  }
}
