/**
 * A one-line progress bar for long runs (big scenarios, benchmarks). It draws on stderr, and only
 * when both stdout and stderr are terminals: piped or redirected output, and --json, never see it.
 * Redraws are throttled, so calling `update` often costs little.
 */
export interface Progress {
  /** `fraction` in [0, 1]; `label` says what is being done. */
  update(fraction: number, label?: string): void;
  /** Clears the line. */
  done(): void;
  readonly enabled: boolean;
}

export interface ProgressOptions {
  /** Override the terminal check (tests). */
  readonly enabled?: boolean;
  /** Where to draw (default process.stderr). */
  readonly stream?: { write(s: string): unknown; columns?: number };
  /** Minimum ms between redraws (default 100). */
  readonly intervalMs?: number;
  /** Draw nothing until the run has lasted this long (default 400 ms): short runs stay quiet. */
  readonly delayMs?: number;
  readonly now?: () => number;
}

export const NO_PROGRESS: Progress = { update() {}, done() {}, enabled: false };

/** Whether a progress bar may be drawn: stdout and stderr are terminals, and not CI. */
export function progressAllowed(): boolean {
  return Boolean(process.stdout.isTTY && process.stderr.isTTY) && !process.env.CI;
}

export function createProgress(title: string, opts: ProgressOptions = {}): Progress {
  const enabled = opts.enabled ?? progressAllowed();
  if (!enabled) return NO_PROGRESS;
  const stream = opts.stream ?? process.stderr;
  const interval = opts.intervalMs ?? 100;
  const now = opts.now ?? (() => performance.now());
  const start = now();
  const delay = opts.delayMs ?? 400;
  let last = Number.NEGATIVE_INFINITY;
  let drawn = false;
  return {
    enabled: true,
    update(fraction, label = '') {
      const t = now();
      if (t - start < delay || (t - last < interval && fraction < 1)) return;
      last = t;
      stream.write(`\r${renderBar(title, fraction, label, stream.columns ?? 80)}`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write(`\r${' '.repeat(Math.max(0, (stream.columns ?? 80) - 1))}\r`);
      drawn = false;
    },
  };
}

/** The bar's text: `title [#####.....]  42% label`, cut to fit `columns`. */
export function renderBar(title: string, fraction: number, label: string, columns = 80): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const width = 30;
  const full = Math.round(f * width);
  const text = `${title} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.floor(f * 100)).padStart(3)}% ${label}`;
  return text.length >= columns
    ? text.slice(0, Math.max(0, columns - 1))
    : text.padEnd(columns - 1);
}
