import { INSTRUCTION_SIZE } from '../cpu/isa.ts';
import type { MemoryAccessFault } from '../cpu/memory.ts';
import { KERN, MACH_MSG_OPTION, SYS, setSyscallResult } from '../cpu/syscalls.ts';
import { createThreadState } from '../cpu/thread.ts';
import { MachError } from '../protocol/errors.ts';
import type { ReceivedMessage } from '../protocol/message.ts';
import type { PortRight } from '../protocol/rights.ts';
import { raiseException } from './exceptions.ts';
import type { Host } from './host.ts';
import { parseSendBuffer, receivedSize, writeReceived } from './msgLayout.ts';
import type { Task } from './task.ts';
import { createThread, resumeThread, terminateTask, terminateThread } from './taskOps.ts';
import type { PendingSyscall, SyscallRestart, Thread } from './thread.ts';
import { copyinBytes, copyoutBytes } from './userMemory.ts';

/**
 * System calls: what a `trap` does (the ABI is in cpu/syscalls.ts). A call either completes at once
 * (results in r0/r1, the thread runs on) or blocks the thread in the kernel (a message, a page, a
 * sleep) and completes later. Bad arguments (a buffer outside the address space, an unknown call)
 * raise the bad_syscall exception, which ends the task; Mach-level failures return their codes.
 */

const MAX_CONSOLE_WRITE = 1 << 20;

export function handleTrap(host: Host, t: Thread, number: number): void {
  const regs = t.state.regs;
  const call = new Call(host, t, number);
  // A call taken back out of the kernel (backOutOfKernel) and now re-executed.
  const restart = t.restart?.call === number ? t.restart : null;
  t.restart = null;
  switch (number) {
    case SYS.EXIT:
      terminateTask(t.task, regs[1]!, 'exit');
      return;
    case SYS.CONSOLE_WRITE: {
      const addr = regs[1]! >>> 0;
      const len = regs[2]!;
      if (len < 0 || len > MAX_CONSOLE_WRITE)
        return call.bad(`console_write length ${len} is outside 0..${MAX_CONSOLE_WRITE}`);
      copyinBytes(t.task.memory, addr, len, (r) => {
        if (call.finished) return; // thread_abort interrupted it while a page came in
        if (!(r instanceof Uint8Array)) return call.bad(`console_write buffer ${describeFault(r)}`);
        t.task.write(r);
        call.done(KERN.SUCCESS, len);
      });
      return call.started('page');
    }
    case SYS.SLEEP: {
      const ms =
        restart?.kind === 'sleep' ? Math.max(0, restart.until - host.world.now()) : regs[1]!;
      if (ms < 0) return call.bad(`sleep of ${ms} ms`);
      const until = host.world.now() + ms;
      t.timer = host.world.schedule(
        ms,
        () => {
          t.timer = null;
          call.done(KERN.SUCCESS);
        },
        'thread.sleep',
      );
      // Backed out, the sleep keeps its wake-up time.
      call.restartable(
        () => {
          if (t.timer) host.world.cancel(t.timer);
          t.timer = null;
          return true;
        },
        { call: number, kind: 'sleep', until },
      );
      return call.started('sleep');
    }
    case SYS.YIELD:
      host.scheduler.rotate(t);
      return call.done(KERN.SUCCESS);
    case SYS.TASK_SELF:
      return call.done(t.task.selfName);
    case SYS.THREAD_SELF:
      return call.done(t.selfName);
    case SYS.THREAD_CREATE: {
      const state = createThreadState(regs[1]! >>> 0, regs[2]!);
      state.regs[1] = regs[3]!;
      const nt = createThread(t.task, state);
      nt.priority = t.priority;
      nt.policy = t.policy;
      resumeThread(nt);
      return call.done(KERN.SUCCESS, nt.selfName);
    }
    case SYS.THREAD_EXIT:
      terminateThread(t);
      return;
    case SYS.PORT_ALLOCATE:
      return call.mach(() => host.ipc.allocate(t.task.space, regs[1]! as PortRight));
    case SYS.PORT_DEALLOCATE:
      return call.mach(() => {
        host.ipc.deallocate(t.task.space, regs[1]!);
        return undefined;
      });
    case SYS.MACH_MSG:
      return machMsg(host, t, call, restart?.kind === 'receive');
    case SYS.NETNAME_CHECK_IN:
    case SYS.NETNAME_LOOK_UP:
      return netname(host, t, call, number);
    default:
      return call.bad(`unknown system call ${number}`);
  }
}

/**
 * One system call in progress: completes at once, or blocks the thread until `done`.
 *
 * While it blocks, the call says whether it can be taken back out of the kernel without a side
 * effect (`restartable`): nothing it did is visible yet (pages being read for a console_write
 * or a message to send, a sleep, a receive still waiting). Migration needs that: the wait lives
 * in closures on this host, so a thread that moves must leave it behind and re-issue the call
 * where it lands (backOutOfKernel). Once a call is past that point (a message taken off its
 * queue and being copied out, a send waiting for queue room) it must be let finish.
 */
class Call {
  /** Done, failed, interrupted or backed out: later completions are ignored and do nothing. */
  finished = false;
  private blocked = false;
  /** Undoes the wait in progress; null past the point of no return. */
  private undo: (() => boolean) | null = () => true;
  private note: SyscallRestart | null = null;
  /** Why the call cannot be backed out now (past its point of no return). */
  private why = '';
  /** What the thread shows of this call while it blocks (Thread.syscall). */
  private pending: PendingSyscall | null = null;

  constructor(
    private readonly host: Host,
    private readonly t: Thread,
    private readonly number: number,
  ) {}

  done(r0: number, r1?: number): void {
    if (this.finished || this.t.terminated) return;
    this.finished = true;
    this.release();
    setSyscallResult(this.t.state.regs, r0, r1);
    if (this.blocked) {
      this.t.cancelWait = null;
      this.t.send({ type: 'WAKE' });
      this.host.scheduler.kick();
    }
  }

  /** From here the call can be backed out by `undo` (which says whether it could), and re-run. */
  restartable(undo: () => boolean, note: SyscallRestart | null = null): void {
    this.undo = undo;
    this.note = note;
  }

  /** From here the call has effects that cannot be taken back (`why`): it must be let finish. */
  committed(why: string): void {
    this.undo = null;
    this.why = why;
  }

  private release(): void {
    if (this.t.syscall?.number === this.number && this.pending === this.t.syscall)
      this.t.syscall = null;
  }

  private backOut(): boolean {
    if (this.finished) return true;
    if (this.undo === null || !this.undo()) return false;
    const t = this.t;
    this.finished = true;
    this.release();
    t.cancelWait = null;
    t.restart = this.note;
    // r0 still holds the call number (results are written only on completion): back onto the trap.
    t.state.pc = (t.state.pc - INSTRUCTION_SIZE) >>> 0;
    if (this.blocked) t.send({ type: 'ABORT' });
    return true;
  }

  /** Runs a call that either returns a value (r0 = KERN_SUCCESS, r1 = value) or throws. */
  mach(fn: () => number | undefined): void {
    try {
      const v = fn();
      this.done(KERN.SUCCESS, v);
    } catch (e) {
      if (!(e instanceof MachError)) throw e;
      this.done(e.code);
    }
  }

  /**
   * The call did not finish synchronously: the thread waits in the kernel. Unless the wait set
   * its own (a blocked receive does), thread_abort ends the call entirely with `interrupted`: no
   * side effect happens afterwards (mach3-kernel-interfaces.txt, thread_abort).
   */
  started(reason: 'page' | 'message' | 'sleep', interrupted: number = KERN.ABORTED): void {
    if (this.finished || this.blocked || this.t.terminated) return;
    this.blocked = true;
    if (this.t.cancelWait === null) this.t.cancelWait = () => this.done(interrupted);
    this.pending = {
      number: this.number,
      backOut: () => this.backOut(),
      why: () => this.why,
    };
    this.t.syscall = this.pending;
    this.t.send({ type: 'WAIT', reason });
  }

  bad(detail: string): void {
    if (this.finished) return;
    this.finished = true;
    this.release();
    raiseException(this.host, this.t, 'bad_syscall', detail);
  }
}

function describeFault(f: MemoryAccessFault): string {
  return `at 0x${(f.address >>> 0).toString(16)} is ${f.kind === 'unmapped' ? 'not mapped' : 'not accessible'}`;
}

/**
 * mach_msg(msg, option, send_size, rcv_size, rcv_name, timeout, notify). `receiveOnly`: the call
 * is re-executed after being backed out of its receive, its send part already done.
 */
function machMsg(host: Host, t: Thread, call: Call, receiveOnly = false): void {
  const regs = t.state.regs;
  const addr = regs[1]! >>> 0;
  const option = regs[2]!;
  const sendSize = regs[3]!;
  const rcvSize = regs[4]!;
  const rcvName = regs[5]!;
  const timeout = regs[6]!;
  const task = t.task;
  const receivePart = () => {
    if (!(option & MACH_MSG_OPTION.RCV_MSG)) return call.done(KERN.SUCCESS);
    const deliver = (m: ReceivedMessage) => {
      // The message is off its queue: the call can only finish now.
      call.committed('a message it received is being copied out');
      const size = receivedSize(m);
      const out = new Uint8Array(size);
      const oolAddresses = new Map<number, number>();
      m.body.forEach((item, i) => {
        if (item.type === 'ool' && item.data.length > 0)
          oolAddresses.set(i, task.memory.allocateOol(item.data));
      });
      writeReceived(m, out, oolAddresses);
      copyoutBytes(task.memory, addr, out, (fault) => {
        if (fault) return call.bad(`mach_msg receive buffer ${describeFault(fault)}`);
        call.done(KERN.SUCCESS);
      });
    };
    try {
      const m = host.ipc.receive(
        task.space,
        rcvName,
        {
          timeout: option & MACH_MSG_OPTION.RCV_TIMEOUT ? timeout : undefined,
          maxSize: rcvSize,
          large: (option & MACH_MSG_OPTION.RCV_LARGE) !== 0,
          onBlock: (cancel) => {
            t.cancelWait = () => {
              cancel();
              call.done(0x10004005); // MACH_RCV_INTERRUPTED
            };
            // Still waiting, the receive can be withdrawn and re-issued (without the send part).
            call.restartable(cancel, { call: SYS.MACH_MSG, kind: 'receive' });
          },
        },
        (r) => (r.ok ? deliver(r.message) : call.done(r.error.code)),
      );
      if (m !== null) deliver(m);
      else call.started('message');
    } catch (e) {
      if (!(e instanceof MachError)) throw e;
      call.done(e.code);
    }
  };
  if (!(option & MACH_MSG_OPTION.SEND_MSG) || receiveOnly) {
    receivePart();
    // A message taken at once may still be copying out into a page that is not in: wait for it.
    call.started('page', 0x10004005); // MACH_RCV_INTERRUPTED
    return;
  }
  if (sendSize < 24 || sendSize > 1 << 20) return call.done(0x10000008); // MACH_SEND_MSG_TOO_SMALL
  copyinBytes(task.memory, addr, sendSize, (bytes) => {
    if (call.finished) return; // interrupted while the message's pages came in: nothing sent
    if (!(bytes instanceof Uint8Array))
      return call.bad(`mach_msg send buffer ${describeFault(bytes)}`);
    let parsed: ReturnType<typeof parseSendBuffer>;
    try {
      parsed = parseSendBuffer(bytes);
    } catch (e) {
      if (!(e instanceof MachError)) throw e;
      return call.done(e.code);
    }
    readOol(
      task.memory,
      parsed.ool,
      0,
      parsed.message.body as unknown as { data: Uint8Array }[],
      (fault) => {
        if (call.finished) return;
        if (fault) return call.done(0x1000000c); // MACH_SEND_INVALID_MEMORY
        try {
          const sent = host.ipc.send(
            task.space,
            parsed.message,
            { timeout: option & MACH_MSG_OPTION.SEND_TIMEOUT ? timeout : undefined },
            (r) => {
              if (r.ok) receivePart();
              else call.done(r.error.code);
            },
          );
          if (sent) receivePart();
          else {
            // Waiting for room in the destination's queue: the message is the kernel's now.
            call.committed('its message waits for room in a full queue');
            call.started('message');
          }
        } catch (e) {
          if (!(e instanceof MachError)) throw e;
          call.done(e.code);
        }
      },
    );
  });
  call.started('page', 0x10000007); // MACH_SEND_INTERRUPTED
}

function readOol(
  mem: Thread['task']['memory'],
  refs: ReturnType<typeof parseSendBuffer>['ool'],
  i: number,
  items: { data: Uint8Array }[],
  cont: (fault: MemoryAccessFault | null) => void,
): void {
  const ref = refs[i];
  if (ref === undefined) return cont(null);
  copyinBytes(mem, ref.address, ref.size, (r) => {
    if (!(r instanceof Uint8Array)) return cont(r);
    (items[ref.item] as { data: Uint8Array }).data = r;
    readOol(mem, refs, i + 1, items, cont);
  });
}

/** netname_check_in / netname_look_up on the host's name service. */
function netname(host: Host, t: Thread, call: Call, number: number): void {
  const regs = t.state.regs;
  const len = regs[2]!;
  if (len < 1 || len > 256) return call.bad(`netname length ${len} is outside 1..256`);
  copyinBytes(t.task.memory, regs[1]! >>> 0, len, (nameBytes) => {
    if (call.finished) return;
    if (!(nameBytes instanceof Uint8Array))
      return call.bad(`netname buffer ${describeFault(nameBytes)}`);
    const name = new TextDecoder().decode(nameBytes);
    if (number === SYS.NETNAME_CHECK_IN) {
      return call.mach(() => {
        host.names.checkIn(name, t.task.space, regs[3]!);
        return undefined;
      });
    }
    const hostLen = regs[4]!;
    const lookUp = (hostName: string | null) =>
      call.mach(() => host.names.lookUp(name, hostName, t.task.space));
    if (regs[3] === 0 || hostLen === 0) return lookUp(null);
    if (hostLen < 0 || hostLen > 256)
      return call.bad(`host name length ${hostLen} is outside 0..256`);
    copyinBytes(t.task.memory, regs[3]! >>> 0, hostLen, (hb) => {
      if (call.finished) return;
      if (!(hb instanceof Uint8Array)) return call.bad(`host name buffer ${describeFault(hb)}`);
      lookUp(new TextDecoder().decode(hb));
    });
  });
  call.started('page');
}

/**
 * Takes every thread of `task` out of the system calls it is blocked in, so that what the task
 * is comes down to its registers, memory and ports (migration moves exactly that): each blocked
 * call is cancelled with no side effect and its thread set back on the trap, to re-issue the
 * call when it runs again, on this host or another (with `Thread.restart` for what the call
 * must remember). Returns null when no thread is in the kernel any more; otherwise, having
 * backed out what it could, says which thread cannot be taken out yet and why: its CPU slice is
 * still in flight, or its call is past the point of no return. Call it on a suspended task,
 * and again a little later while it returns a reason.
 */
export function backOutOfKernel(task: Task): string | null {
  const running = task.host.scheduler.running;
  if (running !== null && running.task === task)
    return `thread ${running.name} is in the middle of a CPU slice`;
  let busy: string | null = null;
  for (const t of task.threads) {
    if (t.terminated || t.syscall === null) continue;
    const call = t.syscall;
    if (!call.backOut())
      busy ??= `thread ${t.name} is in system call ${call.number}, which cannot be backed out: ${call.why()}`;
  }
  return busy;
}
