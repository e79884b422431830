import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** One benchmark figure beside the baseline measured in the same run. */
export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline: { readonly name: string; readonly value: number } | null;
  /** Ours divided by the baseline's throughput (or as each entry defines it); null if no baseline. */
  readonly ratio: number | null;
  readonly note?: string;
}

/**
 * Operations per second of `fn(n)` (which performs n operations): warm up, then the best of
 * several timed rounds, each at least `minMs` long, so one slow round (GC, JIT) does not decide.
 */
export function opsPerSecond(
  fn: (n: number) => void,
  opts: { rounds?: number; minMs?: number } = {},
): number {
  const rounds = opts.rounds ?? 5;
  const minMs = opts.minMs ?? 150;
  let n = 1000;
  fn(n); // warm-up
  for (;;) {
    const t0 = performance.now();
    fn(n);
    const dt = performance.now() - t0;
    if (dt >= minMs / 4 || n > 1e9) break;
    n *= 4;
  }
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    let done = 0;
    while (performance.now() - t0 < minMs) {
      fn(n);
      done += n;
    }
    const rate = done / ((performance.now() - t0) / 1000);
    if (rate > best) best = rate;
  }
  return best;
}

export function ratioResult(
  name: string,
  unit: string,
  value: number,
  baselineName: string,
  baseline: number,
  note?: string,
): BenchResult {
  return {
    name,
    value,
    unit,
    baseline: { name: baselineName, value: baseline },
    ratio: value / baseline,
    ...(note ? { note } : {}),
  };
}

let gcFn: (() => void) | null = null;

/**
 * A full garbage collection (global.gc, exposed at run time if node was not started with
 * --expose-gc): a timed section then starts with no garbage of earlier ones to collect, and a
 * heap figure counts only what is live.
 */
export function collectGarbage(): void {
  if (gcFn === null) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (typeof g === 'function') gcFn = g;
    else {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
    }
  }
  gcFn();
}
