import { run, type StopReason } from '../cpu/interpreter.ts';
import type { Host } from './host.ts';
import type { Thread } from './thread.ts';

/**
 * One CPU per host, shared by its threads in quanta of simulated time (Mach 3 Kernel Principles,
 * chapter 6: processors and scheduling). The highest priority runnable thread runs (0 is highest);
 * round-robin threads of equal priority take turns every quantum, FIFO threads keep the CPU until
 * they block, yield or end. A slice runs the interpreter at once and then holds the CPU for the
 * simulated time its instructions take (instructions / the host's speed); what the slice did
 * (a system call, a fault) takes effect at the end of that time.
 */
export class Scheduler {
  readonly threads = new Set<Thread>();
  /** Round-robin quantum, in ms of simulated time. */
  quantumMs = 10;
  /** Longest slice between scheduling decisions, ms: bounds how late other events see the CPU. */
  sliceMs = 1;
  private busy = false;
  /** The thread whose slice is in flight (its instructions ran, their effects are pending). */
  private current: Thread | null = null;
  private pending = false;
  private nextTurn = 1;
  /** Called at the end of each slice with what stopped the thread; the kernel handles it. */
  onStop: (thread: Thread, stop: StopReason) => void = () => {};

  constructor(private readonly host: Host) {}

  private get ips(): number {
    return this.host.profile.instructionsPerSecond;
  }

  add(t: Thread): void {
    t.quantumLeft = this.quantumInstructions();
    t.turn = this.nextTurn++;
    this.threads.add(t);
    this.kick();
  }

  remove(t: Thread): void {
    this.threads.delete(t);
  }

  quantumInstructions(): number {
    return Math.max(1, Math.round((this.quantumMs / 1000) * this.ips));
  }

  /** Something may have become runnable: make sure a scheduling decision is coming. */
  kick(): void {
    if (this.busy || this.pending || !this.host.up) return;
    this.pending = true;
    this.host.world.schedule(
      0,
      () => {
        this.pending = false;
        this.dispatch();
      },
      'sched.dispatch',
    );
  }

  /** Puts a round-robin thread behind its equals (yield, or its quantum ran out). */
  rotate(t: Thread): void {
    t.turn = this.nextTurn++;
    t.quantumLeft = this.quantumInstructions();
  }

  private pick(): Thread | undefined {
    let best: Thread | undefined;
    for (const t of this.threads) {
      if (!t.runnable) continue;
      if (
        best === undefined ||
        t.priority < best.priority ||
        (t.priority === best.priority && t.turn < best.turn)
      )
        best = t;
    }
    return best;
  }

  private dispatch(): void {
    if (this.busy || !this.host.up) return;
    const t = this.pick();
    if (t === undefined) return; // idle until something kicks
    const slice = Math.max(1, Math.round((this.sliceMs / 1000) * this.ips));
    const budget = t.policy === 'fifo' ? slice : Math.min(slice, Math.max(1, t.quantumLeft));
    const stop = run(t.state, t.task.memory, budget);
    t.instructions += stop.executed;
    t.quantumLeft -= stop.executed;
    this.busy = true;
    this.current = t;
    const host = this.host;
    host.world.schedule(
      (stop.executed / this.ips) * 1000,
      () => {
        this.busy = false;
        this.current = null;
        if (!host.up) return;
        if (stop.reason === 'budget' && t.policy === 'round-robin' && t.quantumLeft <= 0)
          this.rotate(t);
        if (this.threads.has(t)) this.onStop(t, stop);
        this.kick();
      },
      'sched.slice',
    );
  }

  /**
   * The thread whose slice is in flight: its registers and memory are already past the slice,
   * and what stopped it (a trap, a fault) is handled when the slice's time is up.
   */
  get running(): Thread | null {
    return this.current;
  }

  /** Simulated CPU time a host has spent running threads is the sum of their instructions / speed. */
  get busyNow(): boolean {
    return this.busy;
  }
}
