import { REGISTER_COUNT } from '../cpu/isa.ts';
import { dataOf, inlineData } from '../protocol/codec.ts';
import { MachError } from '../protocol/errors.ts';
import { type KernelReply, ROUTINE_NAMES } from '../protocol/kernelInterface.ts';
import type { MessageItem, ReceivedMessage } from '../protocol/message.ts';
import { Disposition, ReceivedRight } from '../protocol/rights.ts';
import type { Host } from './host.ts';
import { Task } from './task.ts';
import {
  abortThread,
  resumeTask,
  resumeThread,
  setThreadScheduling,
  suspendTask,
  suspendThread,
  terminateTask,
  terminateThread,
} from './taskOps.ts';
import { Thread } from './thread.ts';

/** MIG's answer to an unknown routine id (mig_errors.h). */
const MIG_BAD_ID = -303;
const MIG_BAD_ARGUMENTS = -304;

/**
 * The kernel as a server of its own ports: messages sent to a task or thread port are received by
 * the kernel and performed on that object, with a reply to the send-once right they carry.
 */
export function serveKernelPort(host: Host, name: number): void {
  const space = host.kernelSpace;
  const port = space.lookup(name)!.port!;
  port.drain = () => {
    while (port.msgcount > 0 && port.receiver === space) {
      const m = host.ipc.receive(space, space.byPort.get(port)!.name)!;
      handle(host, port.kobject, m);
    }
  };
}

function handle(host: Host, obj: unknown, m: ReceivedMessage): void {
  const reply = perform(host, obj, m);
  const space = host.kernelSpace;
  // Rights that came with the request are not kept.
  for (const item of m.body)
    if (item.type === 'port' && item.name > 0) host.ipc.destroy(space, item.name);
  if (m.remotePort === 0) return;
  const body: MessageItem[] = [inlineData({ code: reply.code, result: reply.result })];
  for (const p of reply.ports ?? [])
    body.push({ type: 'port', name: p, disposition: Disposition.MAKE_SEND });
  const disposition =
    m.remoteRight === ReceivedRight.PORT_SEND_ONCE
      ? Disposition.MOVE_SEND_ONCE
      : Disposition.MOVE_SEND;
  try {
    host.ipc.send(
      space,
      { remotePort: m.remotePort, remoteDisposition: disposition, id: m.id + 100, body },
      { timeout: 0 },
    );
  } catch (e) {
    if (!(e instanceof MachError)) throw e;
    host.ipc.destroy(space, m.remotePort); // the requester is gone, or its queue is full
  }
}

function perform(host: Host, obj: unknown, m: ReceivedMessage): KernelReply & { ports?: number[] } {
  const routine = ROUTINE_NAMES.get(m.id);
  if (routine === undefined) return { code: MIG_BAD_ID, result: `unknown routine id ${m.id}` };
  let args: Record<string, unknown> = {};
  if (m.body[0]?.type === 'inline') {
    try {
      const a = dataOf(m);
      if (a !== null && typeof a === 'object') args = a as Record<string, unknown>;
    } catch {
      return { code: MIG_BAD_ARGUMENTS, result: 'arguments do not decode' };
    }
  }
  try {
    if (routine.startsWith('task_')) {
      if (!(obj instanceof Task))
        return { code: MIG_BAD_ID, result: `${routine} sent to a port that is not a task port` };
      return taskRoutine(host, obj, routine, args);
    }
    if (!(obj instanceof Thread))
      return { code: MIG_BAD_ID, result: `${routine} sent to a port that is not a thread port` };
    return threadRoutine(obj, routine, args);
  } catch (e) {
    if (e instanceof MachError) return { code: e.code, result: e.detail };
    throw e;
  }
}

function taskRoutine(
  host: Host,
  task: Task,
  routine: string,
  args: Record<string, unknown>,
): KernelReply & { ports?: number[] } {
  switch (routine) {
    case 'task_suspend':
      suspendTask(task);
      return { code: 0 };
    case 'task_resume':
      resumeTask(task);
      return { code: 0 };
    case 'task_terminate':
      terminateTask(task, typeof args.status === 'number' ? args.status : 0, 'task_terminate');
      return { code: 0 };
    case 'task_info':
      return {
        code: 0,
        result: {
          name: task.name,
          suspendCount: task.suspendCount,
          threads: task.threads.filter((t) => !t.terminated).length,
          host: host.name,
        },
      };
    default: {
      const live = task.threads.filter((t) => !t.terminated);
      return {
        code: 0,
        result: live.length,
        ports: live.map((t) => host.kernelSpace.byPort.get(t.port)!.name),
      };
    }
  }
}

function threadRoutine(t: Thread, routine: string, args: Record<string, unknown>): KernelReply {
  switch (routine) {
    case 'thread_suspend':
      suspendThread(t);
      return { code: 0 };
    case 'thread_resume':
      resumeThread(t);
      return { code: 0 };
    case 'thread_abort':
      abortThread(t);
      return { code: 0 };
    case 'thread_terminate':
      terminateThread(t);
      return { code: 0 };
    case 'thread_get_state':
      return {
        code: 0,
        result: { regs: Array.from(t.state.regs), pc: t.state.pc, flags: t.state.flags },
      };
    case 'thread_set_state': {
      const regs = args.regs;
      if (!Array.isArray(regs) || regs.length !== REGISTER_COUNT || !regs.every(Number.isInteger)) {
        return { code: MIG_BAD_ARGUMENTS, result: `regs must be ${REGISTER_COUNT} integers` };
      }
      if (!Number.isInteger(args.pc) || !Number.isInteger(args.flags))
        return { code: MIG_BAD_ARGUMENTS, result: 'pc and flags must be integers' };
      t.state.regs.set(regs as number[]);
      t.state.pc = (args.pc as number) >>> 0;
      t.state.flags = (args.flags as number) & 15;
      // The thread no longer stands on a backed-out trap (syscalls.ts, backOutOfKernel).
      t.restart = null;
      return { code: 0 };
    }
    case 'thread_info':
      return {
        code: 0,
        result: {
          suspendCount: t.suspendCount,
          priority: t.priority,
          policy: t.policy,
          waiting: t.waiting,
          instructions: t.instructions,
        },
      };
    default: {
      if (!Number.isInteger(args.priority))
        return { code: MIG_BAD_ARGUMENTS, result: 'priority must be an integer' };
      setThreadScheduling(
        t,
        args.priority as number,
        (args.policy as Thread['policy']) ?? t.policy,
      );
      return { code: 0 };
    }
  }
}
