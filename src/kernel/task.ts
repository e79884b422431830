import { type Actor, createActor } from 'xstate';
import type { Port } from '../actors/port.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import { type TaskEvent, taskMachine } from '../machines/task.ts';
import type { AddressSpace } from '../memory/addressSpace.ts';
import { type ConsoleBinding, consoleWrite } from './console.ts';
import type { Host } from './host.ts';
import type { Thread } from './thread.ts';

/** How a task ended: its exit status, or the exception that killed it. */
export interface TaskExit {
  readonly status: number;
  readonly reason: string;
  readonly time: number;
}

/**
 * A kernel task: a port name space, an address space and threads (mach3-kernel-principles.txt,
 * Tasks). Its task port is a kernel port: whoever holds a send right to it controls the task.
 */
export class Task {
  readonly actor: Actor<typeof taskMachine>;
  readonly threads: Thread[] = [];
  /** Console output, in order, as the program wrote it. */
  readonly output: string[] = [];
  exit: TaskExit | null = null;
  /**
   * Where console output goes besides `output`: a console send right in the task's space, to the
   * user manager of its home host (see console.ts). Null: output stays in `output` only.
   */
  console: ConsoleBinding | null = null;
  /** Name of the task's own task port in its space (mach_task_self). */
  selfName = 0;
  private readonly exitListeners: ((t: Task) => void)[] = [];
  private readonly decoder = new TextDecoder();

  constructor(
    readonly id: number,
    readonly name: string,
    readonly host: Host,
    readonly space: PortSpace,
    readonly memory: AddressSpace,
    /** The task port; replaced when the task arrives by migration with its old port. */
    public port: Port,
  ) {
    this.actor = createActor(taskMachine, { input: { name }, clock: host.world.clock }).start();
  }

  get suspendCount(): number {
    return this.actor.getSnapshot().context.suspendCount;
  }

  get terminated(): boolean {
    return this.actor.getSnapshot().status === 'done';
  }

  /** Whether its threads may run (started, not suspended, not terminated). */
  get runnable(): boolean {
    const s = this.actor.getSnapshot();
    return s.status === 'active' && s.context.suspendCount === 0 && s.value === 'running';
  }

  send(event: TaskEvent): void {
    this.actor.send(event);
  }

  /** Appends console output (console_write). */
  write(bytes: Uint8Array): void {
    const text = this.decoder.decode(bytes, { stream: true });
    if (text.length === 0) return;
    this.output.push(text);
    const world = this.host.world;
    if (world.trace.enabled)
      world.trace.emit('task.output', { host: this.host.name, task: this.name, text });
    if (this.console !== null) consoleWrite(this, text);
  }

  get outputText(): string {
    return this.output.join('');
  }

  onExit(cb: (t: Task) => void): void {
    if (this.exit) cb(this);
    else this.exitListeners.push(cb);
  }

  /** Called once by the kernel when the task has ended. */
  notifyExit(): void {
    for (const cb of this.exitListeners.splice(0)) cb(this);
  }
}
