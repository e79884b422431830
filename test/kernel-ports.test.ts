/**
 * Task and thread ports are kernel ports: whoever holds a send right to one controls the task or
 * thread by sending it requests (mach3-kernel-interfaces.txt, task and thread interfaces, the
 * MIG convention: arguments inline, a send-once reply right, the reply's id = request id + 100,
 * carrying a return code). Here a controller, a port space of its own on the same host, does
 * exactly that.
 */
import { describe, expect, it } from 'vitest';
import { checkIpcInvariants } from '../src/actors/invariants.ts';
import type { PortSpace } from '../src/actors/portSpace.ts';
import { assemble } from '../src/cpu/assembler.ts';
import { KERN, MACH_MSG_RETURN } from '../src/cpu/syscalls.ts';
import type { Host } from '../src/kernel/host.ts';
import type { Task } from '../src/kernel/task.ts';
import type { Thread } from '../src/kernel/thread.ts';
import { dataOf, inlineData } from '../src/protocol/codec.ts';
import type { MachError } from '../src/protocol/errors.ts';
import { KernelRoutine, type KernelRoutineName } from '../src/protocol/kernelInterface.ts';
import type { MessageItem, ReceivedMessage } from '../src/protocol/message.ts';
import { NotifyId } from '../src/protocol/notifications.ts';
import { Disposition, PortRight, PortType, ReceivedRight } from '../src/protocol/rights.ts';
import {
  hex32,
  mainThread,
  oneHost,
  printDec,
  printHex,
  program,
  runFor,
  runToExit,
  spawnSource,
} from './support/kernelFixtures.ts';

const MIG_BAD_ID = -303;
const MIG_BAD_ARGUMENTS = -304;

interface KernelAnswer {
  /** The reply's msgh_id. */
  readonly id: number;
  readonly code: number;
  readonly result?: unknown;
  /** Names, in the controller's space, of the rights the reply carried. */
  readonly ports: number[];
}

/** A port space on the host that holds send rights to kernel ports and calls through them. */
class Controller {
  readonly space: PortSpace;
  readonly reply: number;

  constructor(readonly host: Host) {
    this.space = host.ipc.createSpace('controller');
    this.reply = host.ipc.allocate(this.space, PortRight.RECEIVE, 'controller-reply');
  }

  /** A send right to the task's port (copied from the task's own). */
  taskPort(task: Task): number {
    return this.host.ipc.extractRight(task.space, task.selfName, Disposition.COPY_SEND, this.space);
  }

  threadPort(thread: Thread): number {
    return this.host.ipc.extractRight(
      thread.task.space,
      thread.selfName,
      Disposition.COPY_SEND,
      this.space,
    );
  }

  /** Sends a request to `port` and runs the world until the kernel's reply arrives. */
  call(
    port: number,
    routine: KernelRoutineName | number,
    args?: unknown,
    body?: MessageItem[],
  ): KernelAnswer {
    const ipc = this.host.ipc;
    ipc.send(this.space, {
      remotePort: port,
      remoteDisposition: Disposition.COPY_SEND,
      localPort: this.reply,
      localDisposition: Disposition.MAKE_SEND_ONCE,
      id: typeof routine === 'number' ? routine : KernelRoutine[routine],
      body: body ?? (args === undefined ? [] : [inlineData(args)]),
    });
    let m: ReceivedMessage | null = null;
    m = ipc.receive(this.space, this.reply, {}, (r) => {
      if (r.ok) m = r.message;
    });
    const world = this.host.world;
    world.runUntil(() => m !== null, { until: world.now() + 100 });
    if (m === null) throw new Error(`no reply to ${String(routine)}`);
    const reply = m as ReceivedMessage;
    const { code, result } = dataOf<{ code: number; result?: unknown }>(reply);
    const ports = reply.body.flatMap((i) => (i.type === 'port' ? [i.name] : []));
    for (const i of reply.body)
      if (i.type === 'port') expect(i.right).toBe(ReceivedRight.PORT_SEND);
    return { id: reply.id, code, ports, ...(result === undefined ? {} : { result }) };
  }

  /** Sends a request that asks for no reply. */
  tell(port: number, routine: KernelRoutineName, args?: unknown): void {
    this.host.ipc.send(this.space, {
      remotePort: port,
      remoteDisposition: Disposition.COPY_SEND,
      id: KernelRoutine[routine],
      body: args === undefined ? [] : [inlineData(args)],
    });
  }
}

/** Counts in r5 forever; `report` prints r5, r6 and exits with r7. */
const COUNTER = program(`
spin:   addi  r5, r5, 1
        b     spin
report: ${printDec('r5')}
        ${printDec('r6')}
        mov   r1, r7
        li    r0, SYS_EXIT
        trap`);

/** Two threads counting (main and one it creates). */
const TWO_THREADS = program(
  `
        li    r0, SYS_THREAD_CREATE
        la    r1, spin
        la    r2, stack_top
        li    r3, 0
        trap
spin:   addi  r5, r5, 1
        b     spin`,
  `
        .space 1024
stack_top:`,
);

function setup(source = COUNTER) {
  const { cluster, host } = oneHost();
  const task = spawnSource(host, source, 'target');
  runFor(cluster, 10);
  const ctl = new Controller(host);
  return { cluster, host, task, ctl, port: ctl.taskPort(task) };
}

const progresses = (cluster: ReturnType<typeof oneHost>['cluster'], t: Thread) => {
  const before = t.instructions;
  runFor(cluster, 20);
  return t.instructions > before;
};

describe('the task port', () => {
  it('suspends and resumes the task, answering with id + 100 and a return code', () => {
    const { cluster, task, ctl, port } = setup();
    const suspended = ctl.call(port, 'task_suspend');
    expect(suspended).toEqual({
      id: KernelRoutine.task_suspend + 100,
      code: KERN.SUCCESS,
      ports: [],
    });
    expect(task.suspendCount).toBe(1);
    runFor(cluster, 2);
    expect(progresses(cluster, mainThread(task))).toBe(false);

    expect(ctl.call(port, 'task_resume').code).toBe(KERN.SUCCESS);
    expect(progresses(cluster, mainThread(task))).toBe(true);
    // A resume at count 0 fails and changes nothing.
    expect(ctl.call(port, 'task_resume').code).toBe(KERN.FAILURE);
    expect(task.suspendCount).toBe(0);
  });

  it('reports the task with task_info', () => {
    const { task, ctl, port } = setup(TWO_THREADS);
    ctl.call(port, 'task_suspend');
    ctl.call(port, 'task_suspend');
    expect(ctl.call(port, 'task_info').result).toEqual({
      name: 'target',
      suspendCount: 2,
      threads: 2,
      host: 'h',
    });
    expect(task.suspendCount).toBe(2);
  });

  it('lists the threads with task_threads: a send right to each thread port', () => {
    const { host, task, ctl, port } = setup(TWO_THREADS);
    const answer = ctl.call(port, 'task_threads');
    expect(answer.code).toBe(KERN.SUCCESS);
    expect(answer.result).toBe(2);
    expect(answer.ports).toHaveLength(2);
    answer.ports.forEach((name, i) => {
      expect(host.ipc.type(ctl.space, name)).toBe(PortType.SEND);
      expect(ctl.space.lookup(name)!.port).toBe(task.threads[i]!.port);
    });
    // ... and the rights work: suspend the second thread through its port.
    expect(ctl.call(answer.ports[1]!, 'thread_suspend').code).toBe(KERN.SUCCESS);
    expect(task.threads[1]!.suspendCount).toBe(1);
  });

  it('terminates the task with task_terminate', () => {
    const { task, ctl, port } = setup();
    expect(ctl.call(port, 'task_terminate', { status: 3 }).code).toBe(KERN.SUCCESS);
    expect(task.exit).toMatchObject({ status: 3, reason: 'task_terminate' });
    expect(task.threads.every((t) => t.terminated)).toBe(true);
  });

  it('takes requests that ask for no reply', () => {
    const { cluster, task, ctl, port } = setup();
    ctl.tell(port, 'task_suspend');
    runFor(cluster, 1);
    expect(task.suspendCount).toBe(1);
  });

  it('lets a program holding a send right suspend another task with a message', () => {
    const { cluster, host, task } = setup();
    const controller = spawnSource(
      host,
      program(
        `
        li    r0, SYS_MACH_MSG
        la    r1, msg
        li    r2, MACH_SEND_MSG
        li    r3, 24
        li    r4, 0
        li    r5, MACH_PORT_NULL
        li    r6, 0
        li    r7, MACH_PORT_NULL
        trap
        ${printHex('r0')}`,
        `
        .align 4
msg:    .word MACH_MSG_TYPE_COPY_SEND, 24, TARGET, MACH_PORT_NULL, 0, ${KernelRoutine.task_suspend}`,
      ),
      'controller',
      { defines: { TARGET: 0x3000 } },
    );
    host.ipc.insertRight(
      controller.space,
      0x3000,
      task.space,
      task.selfName,
      Disposition.COPY_SEND,
    );
    runToExit(cluster, controller);
    runFor(cluster, 1);
    expect(controller.outputText).toBe(`${hex32(MACH_MSG_RETURN.SUCCESS)}\n`);
    expect(task.suspendCount).toBe(1);
  });
});

describe('a thread port', () => {
  it('suspends, resumes and reports the thread', () => {
    const { cluster, task, ctl } = setup();
    const t = mainThread(task);
    const port = ctl.threadPort(t);
    expect(ctl.call(port, 'thread_suspend')).toEqual({
      id: KernelRoutine.thread_suspend + 100,
      code: KERN.SUCCESS,
      ports: [],
    });
    expect(ctl.call(port, 'thread_suspend').code).toBe(KERN.SUCCESS);
    runFor(cluster, 2);
    expect(progresses(cluster, t)).toBe(false);
    const info = ctl.call(port, 'thread_info').result;
    expect(info).toEqual({
      suspendCount: 2,
      priority: 12,
      policy: 'round-robin',
      waiting: false,
      instructions: t.instructions,
    });
    ctl.call(port, 'thread_resume');
    ctl.call(port, 'thread_resume');
    expect(progresses(cluster, t)).toBe(true);
    expect(ctl.call(port, 'thread_resume').code).toBe(KERN.FAILURE);
  });

  it('reads and writes the registers: get_state, set_state, and the thread runs on from them', () => {
    const { cluster, task, ctl } = setup();
    const t = mainThread(task);
    const port = ctl.threadPort(t);
    ctl.call(port, 'thread_suspend');
    runFor(cluster, 2);
    const state = ctl.call(port, 'thread_get_state').result as {
      regs: number[];
      pc: number;
      flags: number;
    };
    expect(state.regs).toEqual(Array.from(t.state.regs));
    expect(state.pc).toBe(t.state.pc);
    expect(state.regs[5]).toBeGreaterThan(0);

    const regs = [...state.regs];
    regs[5] = 123;
    regs[6] = 456;
    regs[7] = 7;
    const report = assemble(COUNTER).symbols.report!;
    expect(ctl.call(port, 'thread_set_state', { regs, pc: report, flags: 0 }).code).toBe(0);
    ctl.call(port, 'thread_resume');
    runToExit(cluster, task);
    expect(task.outputText).toBe('123\n456\n');
    expect(task.exit?.status).toBe(7);
  });

  it('changes priority and policy with thread_set_priority', () => {
    const { task, ctl } = setup();
    const t = mainThread(task);
    const port = ctl.threadPort(t);
    expect(ctl.call(port, 'thread_set_priority', { priority: 20, policy: 'fifo' }).code).toBe(0);
    expect([t.priority, t.policy]).toEqual([20, 'fifo']);
    expect(ctl.call(port, 'thread_info').result).toMatchObject({ priority: 20, policy: 'fifo' });
    // Out of range (thread_priority) and unknown policies (thread_policy): KERN_INVALID_ARGUMENT.
    expect(ctl.call(port, 'thread_set_priority', { priority: 32 }).code).toBe(
      KERN.INVALID_ARGUMENT,
    );
    expect(ctl.call(port, 'thread_set_priority', { priority: 3, policy: 'lottery' }).code).toBe(
      KERN.INVALID_ARGUMENT,
    );
    expect([t.priority, t.policy]).toEqual([20, 'fifo']);
  });

  it('aborts a blocked receive with thread_abort', () => {
    const { cluster, task, ctl } = setup(
      program(`
        li    r0, SYS_PORT_ALLOCATE
        li    r1, MACH_PORT_RIGHT_RECEIVE
        trap
        mov   r5, r1
        li    r0, SYS_MACH_MSG
        la    r1, buf
        li    r2, MACH_RCV_MSG
        li    r4, 64
        trap
        mov   r6, r0
        ${printHex('r6')}
        .data
        .align 4
buf:    .space 64
        .text`),
    );
    const t = mainThread(task);
    expect(t.waiting).toBe(true);
    expect(ctl.call(ctl.threadPort(t), 'thread_info').result).toMatchObject({ waiting: true });
    expect(ctl.call(ctl.threadPort(t), 'thread_abort').code).toBe(KERN.SUCCESS);
    runToExit(cluster, task);
    expect(task.outputText).toBe(`${hex32(MACH_MSG_RETURN.RCV_INTERRUPTED)}\n`);
  });

  it('terminates the thread with thread_terminate; the last one takes the task with it', () => {
    const { host, task, ctl } = setup(TWO_THREADS);
    const [main, worker] = task.threads as [Thread, Thread];
    const workerPort = ctl.threadPort(worker);
    expect(ctl.call(workerPort, 'thread_terminate').code).toBe(KERN.SUCCESS);
    expect(worker.terminated).toBe(true);
    expect(host.ipc.type(ctl.space, workerPort)).toBe(PortType.DEAD_NAME);
    expect(task.exit).toBeNull();
    expect(ctl.call(ctl.threadPort(main), 'thread_terminate').code).toBe(KERN.SUCCESS);
    expect(task.exit).toMatchObject({ status: 0, reason: 'last thread ended' });
  });
});

describe('requests the kernel refuses', () => {
  it('a routine sent to the wrong kind of port, or an unknown one: MIG_BAD_ID', () => {
    const { task, ctl, port } = setup();
    const threadPort = ctl.threadPort(mainThread(task));
    expect(ctl.call(port, 'thread_suspend')).toMatchObject({
      code: MIG_BAD_ID,
      result: 'thread_suspend sent to a port that is not a thread port',
    });
    expect(ctl.call(threadPort, 'task_suspend')).toMatchObject({
      code: MIG_BAD_ID,
      result: 'task_suspend sent to a port that is not a task port',
    });
    expect(ctl.call(port, 4242)).toMatchObject({ id: 4342, code: MIG_BAD_ID });
    // Nothing happened to either.
    expect(task.suspendCount).toBe(0);
    expect(mainThread(task).suspendCount).toBe(0);
  });

  it('malformed arguments: MIG_BAD_ARGUMENTS, and the thread is unchanged', () => {
    const { task, ctl } = setup();
    const t = mainThread(task);
    const port = ctl.threadPort(t);
    ctl.call(port, 'thread_suspend');
    const before = Array.from(t.state.regs);
    const pc = t.state.pc;
    const bad = [
      { regs: [1, 2, 3], pc: 0x1000, flags: 0 }, // too few registers
      { regs: [...before.slice(0, 15), 1.5], pc: 0x1000, flags: 0 }, // not integers
      { regs: before, pc: 'start', flags: 0 }, // pc not a number
      { regs: before, pc: 0x1000 }, // no flags
    ];
    for (const args of bad)
      expect(ctl.call(port, 'thread_set_state', args).code).toBe(MIG_BAD_ARGUMENTS);
    expect(ctl.call(port, 'thread_set_priority', { policy: 'fifo' }).code).toBe(MIG_BAD_ARGUMENTS);
    // Inline data that does not decode at all.
    const garbage: MessageItem = { type: 'inline', data: new Uint8Array([0xc1, 0xc1, 0xc1]) };
    expect(ctl.call(port, 'thread_set_state', undefined, [garbage]).code).toBe(MIG_BAD_ARGUMENTS);
    expect(Array.from(t.state.regs)).toEqual(before);
    expect(t.state.pc).toBe(pc);
  });

  it('a request to the port of a terminated thread: the port died with it, the send fails', () => {
    const { host, task, ctl } = setup(TWO_THREADS);
    const worker = task.threads[1]!;
    const port = ctl.threadPort(worker);
    ctl.call(port, 'thread_terminate');
    // The thread port died with the thread: the send right is now a dead name.
    expect(host.ipc.type(ctl.space, port)).toBe(PortType.DEAD_NAME);
    expect(() =>
      host.ipc.send(ctl.space, {
        remotePort: port,
        remoteDisposition: Disposition.COPY_SEND,
        id: KernelRoutine.thread_resume,
      }),
    ).toThrow(/MACH_SEND_INVALID_DEST/);
  });
});

describe('when the task ends', () => {
  it('every holder of its task or thread ports sees a dead name (and asked-for notifications)', () => {
    const { cluster, host, task, ctl, port } = setup(TWO_THREADS);
    const threadPorts = task.threads.map((t) => ctl.threadPort(t));
    const notify = host.ipc.allocate(ctl.space, PortRight.RECEIVE, 'notify');
    host.ipc.requestNotification(ctl.space, port, 'dead-name', 0, notify);
    expect(ctl.call(port, 'task_terminate').code).toBe(KERN.SUCCESS);
    for (const name of [port, ...threadPorts])
      expect(host.ipc.type(ctl.space, name) & PortType.DEAD_NAME).toBeTruthy();
    runFor(cluster, 1);
    const note = host.ipc.receive(ctl.space, notify, { timeout: 0 });
    expect(note?.id).toBe(NotifyId.DEAD_NAME);
    // Sending to a dead name fails at once: MACH_SEND_INVALID_DEST.
    let error: MachError | undefined;
    try {
      ctl.call(port, 'task_info');
    } catch (e) {
      error = e as MachError;
    }
    expect(error?.codeName).toBe('MACH_SEND_INVALID_DEST');
    expect(checkIpcInvariants(host.ipc)).toEqual([]);
  });

  it('the same when it exits by itself', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, program('', ''), 'short');
    const ctl = new Controller(host);
    const port = ctl.taskPort(task);
    const threadPort = ctl.threadPort(mainThread(task));
    runToExit(cluster, task);
    expect(host.ipc.type(ctl.space, port)).toBe(PortType.DEAD_NAME);
    expect(host.ipc.type(ctl.space, threadPort)).toBe(PortType.DEAD_NAME);
    // The kernel keeps no receive right of a dead task or thread port.
    expect(host.kernelSpace.byPort.has(task.port)).toBe(false);
    expect(checkIpcInvariants(host.ipc)).toEqual([]);
  });
});
