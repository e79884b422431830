import { createThreadState, type ThreadState } from '../cpu/thread.ts';
import type { AddressSpace } from '../memory/addressSpace.ts';
import { MachError } from '../protocol/errors.ts';
import { Disposition, PortRight } from '../protocol/rights.ts';
import type { Host } from './host.ts';
import { Task } from './task.ts';
import { PRIORITY_LOWEST, type SchedulingPolicy, Thread } from './thread.ts';

/**
 * The kernel's task and thread calls (mach3-kernel-interfaces.txt: task_create, task_suspend,
 * task_resume, task_terminate, thread_create, thread_suspend, thread_resume, thread_abort,
 * thread_get_state, thread_set_state, thread_terminate, thread_set_priority / policy).
 * Each throws a MachError having changed nothing when its arguments are wrong.
 */

/** A new task with an empty port space; its memory is given (fresh, or a fork of a parent's). */
export function createTask(host: Host, name: string, memory: AddressSpace): Task {
  if (!host.up) throw new MachError('KERN_INVALID_HOST', `host "${host.name}" is down`);
  const ipc = host.ipc;
  const space = ipc.createSpace(name);
  const portName = ipc.allocate(host.kernelSpace, PortRight.RECEIVE, `task:${name}`);
  const port = host.kernelSpace.lookup(portName)!.port!;
  const task = new Task(host.nextId(), name, host, space, memory, port);
  port.kobject = task;
  task.selfName = space.allocateName();
  ipc.insertRight(space, task.selfName, host.kernelSpace, portName, Disposition.MAKE_SEND);
  host.serveKernelPort(portName);
  host.tasks.set(task.id, task);
  if (host.world.trace.enabled)
    host.world.trace.emit('task.create', { host: host.name, task: name });
  return task;
}

/** thread_create (+ thread_set_state): a new thread, suspended once, as Mach creates them. */
export function createThread(task: Task, state: ThreadState = createThreadState(0)): Thread {
  if (task.terminated) throw new MachError('KERN_INVALID_TASK', `task ${task.name} is terminated`);
  const host = task.host;
  const ipc = host.ipc;
  const portName = ipc.allocate(host.kernelSpace, PortRight.RECEIVE, `thread:${task.name}`);
  const port = host.kernelSpace.lookup(portName)!.port!;
  const thread = new Thread(host.nextId(), task, state, port, true);
  port.kobject = thread;
  port.label = `thread:${thread.name}`;
  thread.selfName = task.space.allocateName();
  ipc.insertRight(task.space, thread.selfName, host.kernelSpace, portName, Disposition.MAKE_SEND);
  host.serveKernelPort(portName);
  task.threads.push(thread);
  host.scheduler.add(thread);
  if (host.world.trace.enabled)
    host.world.trace.emit('thread.create', { host: host.name, thread: thread.name });
  return thread;
}

export function startTask(task: Task): void {
  task.send({ type: 'START' });
  task.host.scheduler.kick();
}

export function suspendTask(task: Task): void {
  if (task.terminated) throw new MachError('KERN_INVALID_TASK', `task ${task.name} is terminated`);
  task.send({ type: 'SUSPEND' });
  trace(task.host, 'task.suspend', {
    host: task.host.name,
    task: task.name,
    count: task.suspendCount,
  });
}

export function resumeTask(task: Task): void {
  if (task.terminated) throw new MachError('KERN_INVALID_TASK', `task ${task.name} is terminated`);
  if (task.suspendCount === 0)
    throw new MachError('KERN_FAILURE', `task ${task.name} is not suspended`);
  task.send({ type: 'RESUME' });
  trace(task.host, 'task.resume', {
    host: task.host.name,
    task: task.name,
    count: task.suspendCount,
  });
  task.host.scheduler.kick();
}

export function suspendThread(t: Thread): void {
  if (t.terminated) throw new MachError('KERN_TERMINATED', `thread ${t.name} is terminated`);
  t.send({ type: 'SUSPEND' });
}

export function resumeThread(t: Thread): void {
  if (t.terminated) throw new MachError('KERN_TERMINATED', `thread ${t.name} is terminated`);
  if (t.suspendCount === 0)
    throw new MachError('KERN_FAILURE', `thread ${t.name} is not suspended`);
  t.send({ type: 'RESUME' });
  t.task.host.scheduler.kick();
}

/** thread_abort: ends the thread's current kernel wait; the call it was in returns interrupted. */
export function abortThread(t: Thread): void {
  if (t.terminated) throw new MachError('KERN_TERMINATED', `thread ${t.name} is terminated`);
  if (!t.waiting) return;
  const cancel = t.cancelWait;
  t.cancelWait = null;
  if (t.timer) t.task.host.world.cancel(t.timer);
  t.timer = null;
  cancel?.();
  t.send({ type: 'ABORT' });
  t.task.host.scheduler.kick();
}

/**
 * thread_priority and thread_policy: an out-of-range priority or an unknown policy is
 * KERN_INVALID_ARGUMENT, as both calls define it.
 */
export function setThreadScheduling(
  t: Thread,
  priority: number,
  policy: SchedulingPolicy = t.policy,
): void {
  if (!Number.isInteger(priority) || priority < 0 || priority > PRIORITY_LOWEST) {
    throw new MachError(
      'KERN_INVALID_ARGUMENT',
      `priority must be an integer in 0..${PRIORITY_LOWEST}, got ${priority}`,
    );
  }
  if (policy !== 'round-robin' && policy !== 'fifo')
    throw new MachError('KERN_INVALID_ARGUMENT', `unknown policy "${String(policy)}"`);
  t.priority = priority;
  t.policy = policy;
  t.task.host.scheduler.kick();
}

/** thread_terminate. The task ends with status 0 when its last thread ends. */
export function terminateThread(t: Thread): void {
  if (t.terminated) return;
  const host = t.task.host;
  if (t.timer) host.world.cancel(t.timer);
  t.timer = null;
  const cancel = t.cancelWait;
  t.cancelWait = null;
  cancel?.();
  t.send({ type: 'TERMINATE', reason: 'terminated' });
  host.scheduler.remove(t);
  // A thread port that migrated away is no longer the kernel's to destroy.
  const portEntry = host.kernelSpace.byPort.get(t.port);
  if (!t.port.dead && portEntry && host.up) host.ipc.destroy(host.kernelSpace, portEntry.name);
  if (host.world.trace.enabled)
    host.world.trace.emit('thread.exit', { host: host.name, thread: t.name });
  const task = t.task;
  if (!task.terminated && task.threads.every((x) => x.terminated))
    terminateTask(task, 0, 'last thread ended');
}

/** Tasks whose termination is under way (their last thread's end must not terminate them again). */
const terminating = new WeakSet<Task>();

/**
 * task_terminate: every thread stops, the port space is destroyed (peers see dead names and
 * no-senders), the address space is released, and the task port dies. The threads end first:
 * their statecharts are children of the task's, and tell it when they are done.
 */
export function terminateTask(task: Task, status: number, reason: string): void {
  // A task that died with its host (exit set by the crash) has nothing left to terminate: its
  // space and memory went with that kernel, and the host may run a new one by now.
  if (task.terminated || terminating.has(task) || task.exit !== null) return;
  terminating.add(task);
  const host = task.host;
  task.exit = { status, reason, time: host.world.now() };
  for (const t of task.threads) terminateThread(t);
  task.send({ type: 'TERMINATE', status, reason });
  host.ipc.destroySpace(task.space);
  task.memory.destroy();
  const e = host.kernelSpace.byPort.get(task.port);
  if (e && host.up) host.ipc.destroy(host.kernelSpace, e.name);
  host.tasks.delete(task.id);
  if (host.world.trace.enabled)
    host.world.trace.emit('task.exit', { host: host.name, task: task.name, status, reason });
  task.notifyExit();
}

function trace<K extends 'task.suspend' | 'task.resume'>(
  host: Host,
  kind: K,
  fields: { host: string; task: string; count: number },
): void {
  if (host.world.trace.enabled) host.world.trace.emit(kind, fields);
}
