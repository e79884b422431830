import { VirtualClock } from './clock.ts';
import type { ScheduledEvent } from './eventQueue.ts';
import { Random } from './random.ts';
import { Trace } from './trace.ts';

export interface RunLimits {
  /** Stop before running any event later than this virtual time (ms). */
  readonly until?: number;
  /** Give up (throw) after this many events: a guard against runaway simulations. */
  readonly maxEvents?: number;
}

export class RunawayError extends Error {
  constructor(readonly events: number) {
    super(`simulation ran ${events} events without reaching its goal; raise maxEvents if intended`);
    this.name = 'RunawayError';
  }
}

const DEFAULT_MAX_EVENTS = 50_000_000;

/**
 * One deterministic world: a virtual clock with its event queue, one seeded random generator and
 * the trace. Everything that happens in a simulation is an event on this clock.
 */
export class World {
  readonly clock = new VirtualClock();
  readonly random: Random;
  readonly trace: Trace;
  eventsRun = 0;

  constructor(readonly seed = 1) {
    this.random = new Random(seed);
    this.trace = new Trace(() => this.clock.now());
  }

  now(): number {
    return this.clock.now();
  }

  schedule(delay: number, fn: () => void, label = ''): ScheduledEvent {
    return this.clock.setTimeout(fn, delay, label);
  }

  /** Schedules `fn` at the absolute virtual time `time` (not before now). */
  scheduleAt(time: number, fn: () => void, label = ''): ScheduledEvent {
    return this.clock.queue.push(Math.max(time, this.clock.now()), fn, label);
  }

  cancel(ev: ScheduledEvent): void {
    this.clock.clearTimeout(ev);
  }

  /** Whether any event is pending. */
  get idle(): boolean {
    return this.clock.queue.size === 0;
  }

  /** Runs every event up to and including virtual time `t`, then sets the clock to `t`. */
  runUntilTime(t: number, maxEvents = DEFAULT_MAX_EVENTS): void {
    let n = 0;
    while (this.clock.step(t)) {
      this.eventsRun++;
      if (++n >= maxEvents && this.clock.queue.size > 0) throw new RunawayError(n);
    }
    // An infinite horizon means "run everything"; the clock itself must stay finite.
    if (Number.isFinite(t)) this.clock.advanceTo(t);
  }

  /** Runs until no event is pending (or the limits hit). Returns the number of events run. */
  runUntilIdle(limits: RunLimits = {}): number {
    const until = limits.until ?? Number.POSITIVE_INFINITY;
    const max = limits.maxEvents ?? DEFAULT_MAX_EVENTS;
    let n = 0;
    while (this.clock.step(until)) {
      this.eventsRun++;
      if (++n >= max && this.clock.queue.size > 0) throw new RunawayError(n);
    }
    return n;
  }

  /**
   * Runs until `done()` holds (checked before the first event and after each one). Returns true if
   * it held, false if the world went idle or passed `until` first.
   */
  runUntil(done: () => boolean, limits: RunLimits = {}): boolean {
    const until = limits.until ?? Number.POSITIVE_INFINITY;
    const max = limits.maxEvents ?? DEFAULT_MAX_EVENTS;
    let n = 0;
    while (!done()) {
      if (!this.clock.step(until)) return done();
      this.eventsRun++;
      if (++n >= max && !done()) throw new RunawayError(n);
    }
    return true;
  }
}
