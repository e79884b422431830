import { type Actor, createActor } from 'xstate';
import type { Port } from '../actors/port.ts';
import type { ThreadState } from '../cpu/thread.ts';
import { type ThreadEvent, threadMachine } from '../machines/thread.ts';
import type { ScheduledEvent } from '../world/eventQueue.ts';
import type { Task } from './task.ts';

/** A system call a thread is blocked in. */
export interface PendingSyscall {
  /** The call's number (r0 at the trap). */
  readonly number: number;
  /**
   * Cancels the call with no side effect and sets the thread back on its trap instruction, so
   * that running it again re-issues the call. Returns false when the call is past the point
   * where that is possible (a message already taken off its queue and being copied out): it
   * completes shortly, try again then.
   */
  backOut(): boolean;
  /** Why it cannot be backed out, when backOut() says so. */
  why(): string;
}

/**
 * What a backed-out system call carries to its re-execution: a sleep keeps its wake-up time, a
 * mach_msg whose send part was done only receives. Plain data, so it travels with migration.
 */
export type SyscallRestart =
  | { readonly call: number; readonly kind: 'sleep'; readonly until: number }
  | { readonly call: number; readonly kind: 'receive' };

/** Scheduling policies (Mach 3's POLICY_TIMESHARE round robin and POLICY_FIFO). */
export type SchedulingPolicy = 'round-robin' | 'fifo';

/** Mach 3 priorities run 0 (highest) to 31; user threads start at 12 (BASEPRI_USER). */
export const PRIORITY_DEFAULT = 12;
export const PRIORITY_LOWEST = 31;

/**
 * A kernel thread: the CPU state a program runs on, its scheduling attributes, its thread port
 * and its lifecycle statechart. The scheduler runs it; the statechart says whether it may run.
 */
export class Thread {
  readonly actor: Actor<typeof threadMachine>;
  priority = PRIORITY_DEFAULT;
  policy: SchedulingPolicy = 'round-robin';
  /** Instructions left in the current round-robin quantum. */
  quantumLeft = 0;
  /** Orders threads of equal priority: lower runs first (round robin moves a thread back). */
  turn = 0;
  instructions = 0;
  /** A pending wake-up (sleep or a timed wait), cancelled if the thread ends first. */
  timer: ScheduledEvent | null = null;
  /** Undoes the current kernel wait (thread_abort): cancels a blocked receive, for example. */
  cancelWait: (() => void) | null = null;
  /** Name of this thread's port in its task's space (thread_self). */
  selfName = 0;
  /** The system call the thread is blocked in, if any (see syscalls.ts, backOutOfKernel). */
  syscall: PendingSyscall | null = null;
  /**
   * Set when a blocked system call was taken back out of the kernel (the pc is on its trap
   * again): what the call must remember when the trap runs again, here or on another host.
   */
  restart: SyscallRestart | null = null;

  constructor(
    readonly id: number,
    readonly task: Task,
    readonly state: ThreadState,
    public port: Port,
    suspended: boolean,
  ) {
    // A child of the task's actor: it joins the task's actor system instead of creating one of
    // its own (about 1.9 KB less heap per thread). The done event it sends its parent when it
    // terminates is ignored by the task machine. A child actor cannot be stopped directly; its
    // TERMINATE event ends it.
    this.actor = createActor(threadMachine, {
      input: { name: `${task.name}.${id}`, suspended },
      clock: task.host.world.clock,
      parent: task.actor,
    }).start();
  }

  get name(): string {
    return `${this.task.name}.${this.id}`;
  }

  get suspendCount(): number {
    return this.actor.getSnapshot().context.suspendCount;
  }

  get terminated(): boolean {
    return this.actor.getSnapshot().status === 'done';
  }

  get waiting(): boolean {
    return this.actor.getSnapshot().context.waitingFor !== null;
  }

  /** Whether the scheduler may run it now. */
  get runnable(): boolean {
    const s = this.actor.getSnapshot();
    return (
      s.status === 'active' &&
      s.context.suspendCount === 0 &&
      s.context.waitingFor === null &&
      this.task.runnable
    );
  }

  send(event: ThreadEvent): void {
    this.actor.send(event);
  }
}
