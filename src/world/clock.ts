import type { ActorOptions, AnyActorLogic } from 'xstate';
import { EventQueue, type ScheduledEvent } from './eventQueue.ts';

/** XState's `Clock` interface; xstate 5.33 declares it but does not export it by name. */
type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

/**
 * Simulated time in milliseconds. Implements XState's `Clock`, so passing it as an actor's `clock`
 * puts every `after` delay and delayed `sendTo` on the same timeline as the rest of the world.
 */
export class VirtualClock implements Clock {
  readonly queue = new EventQueue();
  private current = 0;

  now(): number {
    return this.current;
  }

  /** Schedules `fn` after `delay` ms of virtual time; returns a handle for `clearTimeout`. */
  setTimeout(fn: (...args: unknown[]) => void, delay: number, label = 'timer'): ScheduledEvent {
    const d = Number.isFinite(delay) && delay > 0 ? delay : 0;
    return this.queue.push(this.current + d, fn as () => void, label);
  }

  clearTimeout(id: unknown): void {
    if (id && typeof id === 'object' && 'seq' in id) this.queue.cancel(id as ScheduledEvent);
  }

  /** Runs the next due event, advancing time to it. Returns false when nothing is due by `limit`. */
  step(limit = Number.POSITIVE_INFINITY): boolean {
    const t = this.queue.peekTime();
    if (t === undefined || t > limit) return false;
    const ev = this.queue.pop()!;
    this.current = ev.time;
    const fn = ev.fn!;
    ev.fn = null;
    fn();
    return true;
  }

  /** Moves time forward to `t` without running anything (only when nothing is due before it). */
  advanceTo(t: number): void {
    if (t > this.current) this.current = t;
  }
}
