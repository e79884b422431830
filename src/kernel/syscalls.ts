import { MachError } from '../protocol/errors.ts';
import type { ReceivedMessage } from '../protocol/message.ts';
import type { PortRight } from '../protocol/rights.ts';
import type { MemoryAccessFault } from '../vm/memory.ts';
import { KERN, MACH_MSG_OPTION, SYS, setSyscallResult } from '../vm/syscalls.ts';
import { createThreadState } from '../vm/thread.ts';
import { raiseException } from './exceptions.ts';
import type { Host } from './host.ts';
import { parseSendBuffer, receivedSize, writeReceived } from './msgLayout.ts';
import { createThread, resumeThread, terminateTask, terminateThread } from './taskOps.ts';
import type { Thread } from './thread.ts';
import { copyinBytes, copyoutBytes } from './userMemory.ts';

/**
 * System calls: what a `trap` does (the ABI is in vm/syscalls.ts). A call either completes at once
 * (results in r0/r1, the thread runs on) or blocks the thread in the kernel (a message, a page, a
 * sleep) and completes later. Bad arguments (a buffer outside the address space, an unknown call)
 * raise the bad_syscall exception, which ends the task; Mach-level failures return their codes.
 */

const MAX_CONSOLE_WRITE = 1 << 20;

export function handleTrap(host: Host, t: Thread, number: number): void {
  const regs = t.state.regs;
  const call = new Call(host, t);
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
      const ms = regs[1]!;
      if (ms < 0) return call.bad(`sleep of ${ms} ms`);
      t.timer = host.world.schedule(
        ms,
        () => {
          t.timer = null;
          call.done(KERN.SUCCESS);
        },
        'thread.sleep',
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
      return machMsg(host, t, call);
    case SYS.NETNAME_CHECK_IN:
    case SYS.NETNAME_LOOK_UP:
      return netname(host, t, call, number);
    default:
      return call.bad(`unknown system call ${number}`);
  }
}

/** One system call in progress: completes at once, or blocks the thread until `done`. */
class Call {
  /** Done, failed or interrupted: later completions are ignored and do nothing. */
  finished = false;
  private blocked = false;

  constructor(
    private readonly host: Host,
    private readonly t: Thread,
  ) {}

  done(r0: number, r1?: number): void {
    if (this.finished || this.t.terminated) return;
    this.finished = true;
    setSyscallResult(this.t.state.regs, r0, r1);
    if (this.blocked) {
      this.t.cancelWait = null;
      this.t.send({ type: 'WAKE' });
      this.host.scheduler.kick();
    }
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
    this.t.send({ type: 'WAIT', reason });
  }

  bad(detail: string): void {
    if (this.finished) return;
    this.finished = true;
    raiseException(this.host, this.t, 'bad_syscall', detail);
  }
}

function describeFault(f: MemoryAccessFault): string {
  return `at 0x${(f.address >>> 0).toString(16)} is ${f.kind === 'unmapped' ? 'not mapped' : 'not accessible'}`;
}

/** mach_msg(msg, option, send_size, rcv_size, rcv_name, timeout, notify). */
function machMsg(host: Host, t: Thread, call: Call): void {
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
  if (!(option & MACH_MSG_OPTION.SEND_MSG)) return receivePart();
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
          else call.started('message');
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
