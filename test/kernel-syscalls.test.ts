/**
 * Every system call of the ABI (src/cpu/syscalls.ts), made by small assembly programs running as
 * tasks on a simulated host. Each program reports what the kernel returned by printing it (or by
 * exiting with it), so the expectations read as the program's output.
 */
import { describe, expect, it } from 'vitest';
import { checkIpcInvariants } from '../src/actors/invariants.ts';
import { assemble } from '../src/cpu/assembler.ts';
import { KERN, MACH_MSG_RETURN, MACH_MSG_TYPE } from '../src/cpu/syscalls.ts';
import { resumeTask } from '../src/kernel/taskOps.ts';
import { Disposition, PortRight, PortType } from '../src/protocol/rights.ts';
import {
  exitWith,
  hex32,
  mainThread,
  oneHost,
  printDec,
  printHex,
  printProgram,
  program,
  runAllToExit,
  runFor,
  runToExit,
  spawnSource,
} from './support/kernelFixtures.ts';

/** An inline mach_msg_type_t for `count` elements of `bits` bits of type `name`. */
const item = (name: number, bits: number, count: number) =>
  (name | (bits << 8) | (count << 16) | (1 << 28)) >>> 0;
const INT32_ITEM = item(MACH_MSG_TYPE.INTEGER_32, 32, 1);
const BYTES12_ITEM = item(MACH_MSG_TYPE.BYTE, 8, 12);

/** Where the tests put the rights they hand to tasks (far from names the kernel allocates). */
const SERVICE = 0x1000;
const TO_SERVICE = 0x2000;

/**
 * Sends one 48-byte message to the send right DEST: an integer (77) and 12 bytes of text, id 4242,
 * after sleeping SLEEP ms; prints the mach_msg return code.
 */
const SENDER = program(
  `
        li    r0, SYS_SLEEP
        li    r1, SLEEP
        trap
        li    r0, SYS_MACH_MSG
        la    r1, msg
        li    r2, MACH_SEND_MSG
        li    r3, msg_end - msg
        li    r4, 0
        li    r5, MACH_PORT_NULL
        li    r6, 0
        li    r7, MACH_PORT_NULL
        trap
        ${printHex('r0')}`,
  `
        .equ  SLEEP, 0
        .equ  DEST, 0
        .align 4
msg:    .word MACH_MSG_TYPE_COPY_SEND      ; msgh_bits: remote disposition
        .word msg_end - msg                ; msgh_size
        .word DEST                         ; msgh_remote_port
        .word MACH_PORT_NULL               ; msgh_local_port: no reply
        .word 0                            ; msgh_seqno
        .word 4242                         ; msgh_id
        .word ${INT32_ITEM}
        .word 77
        .word ${BYTES12_ITEM}
        .ascii "hello, port!"
msg_end:`,
);

/**
 * Receives one message on the receive right SERVICE (with RCV_TIMEOUT when TIMEOUT > 0) and
 * prints the return code, then the header (id, size, local port, remote port), the two type
 * descriptors, the integer and the text.
 */
const RECEIVER = program(
  `
        li    r0, SYS_MACH_MSG
        la    r1, buf
        li    r2, MACH_RCV_MSG | OPTIONS
        li    r3, 0
        li    r4, 128
        li    r5, SERVICE
        li    r6, TIMEOUT
        li    r7, MACH_PORT_NULL
        trap
        mov   r9, r0
        ${printHex('r9')}
        bne   r9, r11, done
        la    r10, buf
        ldw   r5, [r10 + MSGH_ID]
        ${printDec('r5')}
        ldw   r5, [r10 + MSGH_SIZE]
        ${printDec('r5')}
        ldw   r5, [r10 + MSGH_LOCAL_PORT]
        ${printHex('r5')}
        ldw   r5, [r10 + MSGH_REMOTE_PORT]
        ${printDec('r5')}
        ldw   r5, [r10 + MSGH_BODY]
        ${printHex('r5')}
        ldw   r5, [r10 + MSGH_BODY + 4]
        ${printDec('r5')}
        ldw   r5, [r10 + MSGH_BODY + 8]
        ${printHex('r5')}
        li    r0, SYS_CONSOLE_WRITE
        addi  r1, r10, MSGH_BODY + 12
        li    r2, 12
        trap
done:`,
  `
        .equ  SERVICE, 0
        .equ  OPTIONS, 0
        .equ  TIMEOUT, 0
        .align 4
buf:    .space 128`,
);

describe('exit', () => {
  it('ends the whole task with its status, other threads included', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(
      host,
      program(
        `
        li    r0, SYS_THREAD_CREATE
        la    r1, spin
        la    r2, stack_top
        li    r3, 0
        trap
        li    r0, SYS_YIELD          ; let the spinning thread start
        trap
        li    r1, 7
        li    r0, SYS_EXIT
        trap
spin:   b     spin`,
        `
        .space 1024
stack_top:`,
      ),
    );
    runToExit(cluster, task);
    expect(task.exit).toMatchObject({ status: 7, reason: 'exit' });
    expect(task.threads).toHaveLength(2);
    expect(task.threads.every((t) => t.terminated)).toBe(true);
    expect(task.threads[1]!.instructions).toBeGreaterThan(0);
    expect(host.tasks.size).toBe(0);
  });
});

describe('console_write', () => {
  it('appends the bytes to the task output and returns KERN_SUCCESS and the length', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(
      host,
      program(
        `
        li    r0, SYS_CONSOLE_WRITE
        la    r1, text
        li    r2, 6
        trap
        mov   r5, r1
        mov   r6, r0
        ${printHex('r6')}
        ${printDec('r5')}`,
        'text: .ascii "hello\\n"',
      ),
    );
    runToExit(cluster, task);
    expect(task.outputText).toBe(`hello\n${hex32(KERN.SUCCESS)}\n6\n`);
  });

  it('reads a buffer that spans a page boundary, faulting in each page', () => {
    const { cluster, host } = oneHost();
    const page = host.profile.pageSize;
    const task = spawnSource(
      host,
      program(
        `
        li    r0, SYS_CONSOLE_WRITE
        la    r1, text
        li    r2, text_end - text
        trap`,
        // data starts on a page boundary: the text starts 5 bytes before the next one
        `
pad:    .space ${page - 5}
text:   .ascii "across the page boundary\\n"
text_end:`,
      ),
    );
    runToExit(cluster, task);
    expect(task.outputText).toBe('across the page boundary\n');
    expect(task.exit).toMatchObject({ status: 0, reason: 'exit' });
  });

  it('writes a buffer of several pages of bss, faulting in the pages never touched', () => {
    const { cluster, host } = oneHost();
    const page = host.profile.pageSize;
    // Fill 3 pages with a repeating alphabet, then write them with one call.
    const task = spawnSource(
      host,
      program(
        `
        la    r5, big
        li    r6, 0
        li    r7, SIZE
fill:   remu  r1, r6, 26
        addi  r1, r1, 'a'
        add   r2, r5, r6
        stb   r1, [r2]
        addi  r6, r6, 1
        blt   r6, r7, fill
        li    r0, SYS_CONSOLE_WRITE
        mov   r1, r5
        li    r2, SIZE
        trap`,
        `
        .equ SIZE, ${3 * page}
        .bss
big:    .space SIZE`,
      ),
    );
    runToExit(cluster, task);
    const expected = Array.from({ length: 3 * page }, (_, i) =>
      String.fromCharCode(97 + (i % 26)),
    ).join('');
    expect(task.outputText).toBe(expected);
  });

  it('raises bad_syscall for a buffer outside the address space, ending only that task', () => {
    const { cluster, host } = oneHost();
    const bad = spawnSource(
      host,
      program(`
        li    r0, SYS_CONSOLE_WRITE
        li    r1, 0x10               ; page 0 is never mapped
        li    r2, 8
        trap
        la    r1, nl                 ; never reached
        call  puts`),
      'bad',
    );
    const good = spawnSource(host, printProgram('still here\n'), 'good');
    runAllToExit(cluster, [bad, good]);
    expect(bad.exit?.status).toBe(-1);
    expect(bad.exit?.reason).toMatch(
      /^EXC_SOFTWARE \(bad system call\) in thread bad\.\d+ at pc 0x[0-9a-f]+: console_write buffer at 0x10 is not mapped$/,
    );
    expect(bad.outputText).toBe('');
    expect(good.outputText).toBe('still here\n');
    expect(good.exit).toMatchObject({ status: 0, reason: 'exit' });
    expect(checkIpcInvariants(host.ipc)).toEqual([]);
  });

  it('raises bad_syscall for a buffer that runs off the end of its region', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(
      host,
      program(`
        li    r0, SYS_CONSOLE_WRITE
        la    r1, nl
        li    r2, 0x100000           ; 1 MiB from the data segment: past its end
        trap`),
    );
    runToExit(cluster, task);
    expect(task.exit?.reason).toMatch(/EXC_SOFTWARE \(bad system call\).*console_write buffer/);
  });

  it('raises bad_syscall for a negative length', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(
      host,
      program(`
        li    r0, SYS_CONSOLE_WRITE
        la    r1, nl
        li    r2, -1
        trap`),
    );
    runToExit(cluster, task);
    expect(task.exit?.reason).toMatch(/console_write length -1 is outside/);
  });
});

describe('sleep', () => {
  const sleeper = (ms: number) =>
    program(`
        li    r0, SYS_SLEEP
        li    r1, ${ms}
        trap
        ${exitWith('r0')}`);

  it('advances virtual time by the sleep, and the thread waits without running', () => {
    const a = oneHost();
    const b = oneHost();
    const short = spawnSource(a.host, sleeper(0));
    const long = spawnSource(b.host, sleeper(250));
    runToExit(a.cluster, short);
    runFor(b.cluster, 100);
    const t = mainThread(long);
    expect(t.waiting).toBe(true);
    expect(t.actor.getSnapshot().context.waitingFor).toBe('sleep');
    const executed = t.instructions;
    runFor(b.cluster, 100);
    expect(t.instructions).toBe(executed);
    runToExit(b.cluster, long);
    expect(long.exit?.status).toBe(KERN.SUCCESS);
    expect(long.exit!.time - short.exit!.time).toBeCloseTo(250, 6);
  });

  it('rejects a negative duration with bad_syscall', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, sleeper(-5));
    runToExit(cluster, task);
    expect(task.exit?.reason).toMatch(/EXC_SOFTWARE.*sleep of -5 ms/);
  });
});

describe('yield', () => {
  /** Prints its letter three times, yielding after each one when YIELD is 1. */
  const letters = (letter: string, yieldAfterEach: boolean) =>
    program(
      `
        li    r5, 3
again:  la    r1, letter
        call  puts
        ${yieldAfterEach ? 'li r0, SYS_YIELD\n        trap' : ''}
        subi  r5, r5, 1
        bne   r5, r11, again`,
      `letter: .asciz "${letter}"`,
    );

  function interleaving(withYield: boolean): string {
    const { cluster, host } = oneHost();
    const order: string[] = [];
    cluster.world.trace.events$.subscribe((e) => {
      if (e.kind === 'task.output') order.push(e.text);
    });
    // Both loaded before either runs, so neither starts alone.
    const a = spawnSource(host, letters('a', withYield), 'a', { suspended: true });
    const b = spawnSource(host, letters('b', withYield), 'b', { suspended: true });
    runFor(cluster, 5);
    resumeTask(a);
    resumeTask(b);
    runAllToExit(cluster, [a, b]);
    return order.join('');
  }

  it('gives the CPU to the next thread of equal priority at once', () => {
    expect(interleaving(true)).toBe('ababab');
  });

  it('without it, a thread keeps the CPU for its quantum', () => {
    expect(interleaving(false)).toBe('aaabbb');
  });
});

describe('task_self and thread_self', () => {
  it('return the names of send rights to the task port and the calling thread port', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(
      host,
      program(`
        li    r0, SYS_TASK_SELF
        trap
        mov   r5, r0
        li    r0, SYS_THREAD_SELF
        trap
        mov   r6, r0
        li    r0, SYS_TASK_SELF      ; the same name every time
        trap
        mov   r7, r0
        ${printDec('r5')}
        ${printDec('r6')}
        ${printDec('r7')}
        li    r0, SYS_SLEEP          ; stay alive while the test looks
        li    r1, 100
        trap`),
    );
    runFor(cluster, 5);
    const [taskName, threadName, again] = task.outputText.trim().split('\n').map(Number);
    const thread = mainThread(task);
    expect(taskName).toBe(task.selfName);
    expect(threadName).toBe(thread.selfName);
    expect(again).toBe(taskName);
    expect(taskName).not.toBe(threadName);
    // Send rights, in the task's own space, to the kernel ports of the task and the thread.
    const taskEntry = task.space.lookup(taskName!)!;
    const threadEntry = task.space.lookup(threadName!)!;
    expect(taskEntry.bits).toBe(PortType.SEND);
    expect(threadEntry.bits).toBe(PortType.SEND);
    expect(taskEntry.port).toBe(task.port);
    expect(threadEntry.port).toBe(thread.port);
    expect(task.port.receiver).toBe(host.kernelSpace);
    expect(thread.port.kobject).toBe(thread);
    runToExit(cluster, task);
  });
});

describe('thread_create and thread_exit', () => {
  it('start a thread at an entry with its own stack and argument, and end it alone', () => {
    const { cluster, host } = oneHost();
    const source = program(
      `
        li    r0, SYS_THREAD_CREATE
        la    r1, worker
        la    r2, stack_top
        li    r3, 42                 ; the worker's r1
        trap
        mov   r5, r0
        mov   r6, r1                 ; its thread port
        la    r7, result
wait:   ldw   r1, [r7]               ; wait for the worker's answer
        bne   r1, r11, seen
        li    r0, SYS_YIELD
        trap
        b     wait
seen:   ${printHex('r5')}
        ${printDec('r6')}
        la    r1, main_saw
        call  puts
        ldw   r5, [r7]
        ${printDec('r5')}
        ldw   r5, [r7 + 4]
        ${printHex('r5')}
        li    r0, SYS_THREAD_EXIT    ; the last thread out ends the task
        trap

worker: mov   r5, r1
        muli  r6, r5, 2
        la    r7, result
        stw   sp, [r7 + 4]           ; its stack pointer, as it started
        la    r1, worker_says
        call  puts
        ${printDec('r5')}
        stw   r6, [r7]
        li    r0, SYS_THREAD_EXIT
        trap`,
      `
main_saw:    .asciz "main saw "
worker_says: .asciz "worker got "
        .align 4
result: .word 0, 0
        .space 2048
stack_top:`,
    );
    const task = spawnSource(host, source);
    runToExit(cluster, task);
    const worker = task.threads[1]!;
    const stackTop = assemble(source).symbols.stack_top!;
    expect(task.threads).toHaveLength(2);
    expect(task.outputText).toBe(
      `worker got 42\n${hex32(KERN.SUCCESS)}\n${worker.selfName}\nmain saw 84\n${hex32(stackTop)}\n`,
    );
    expect(worker.terminated).toBe(true);
    expect(task.exit).toMatchObject({ status: 0, reason: 'last thread ended' });
  });

  it('a thread_exit leaves the other threads running', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(
      host,
      program(
        `
        li    r0, SYS_THREAD_CREATE
        la    r1, quitter
        la    r2, stack_top
        li    r3, 0
        trap
        li    r5, 1000
spin:   li    r0, SYS_YIELD
        trap
        subi  r5, r5, 1
        bne   r5, r11, spin
        la    r1, done_text
        call  puts
        b     out
quitter:
        li    r0, SYS_THREAD_EXIT
        trap
out:`,
        `
done_text: .asciz "main still running\\n"
        .space 1024
stack_top:`,
      ),
    );
    runToExit(cluster, task);
    expect(task.threads[1]!.terminated).toBe(true);
    expect(task.outputText).toBe('main still running\n');
    expect(task.exit).toMatchObject({ status: 0, reason: 'exit' });
  });
});

describe('port_allocate and port_deallocate', () => {
  it('allocate rights and return Mach codes for bad names and rights', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(
      host,
      program(`
        li    r0, SYS_PORT_ALLOCATE
        li    r1, MACH_PORT_RIGHT_RECEIVE
        trap
        mov   r5, r1                 ; a receive right
        ${printHex('r0')}
        ${printDec('r5')}
        li    r0, SYS_PORT_ALLOCATE
        li    r1, MACH_PORT_RIGHT_PORT_SET
        trap
        mov   r6, r1
        ${printHex('r0')}
        ${printDec('r6')}
        li    r0, SYS_PORT_ALLOCATE  ; only receive, port set and dead name can be allocated
        li    r1, MACH_PORT_RIGHT_SEND
        trap
        ${printHex('r0')}
        li    r0, SYS_PORT_DEALLOCATE ; a name that denotes nothing
        li    r1, 0x7777
        trap
        ${printHex('r0')}
        li    r0, SYS_PORT_DEALLOCATE ; a receive right is not deallocated, but destroyed
        mov   r1, r5
        trap
        ${printHex('r0')}
        li    r0, SYS_PORT_DEALLOCATE ; the send right the test gave us
        li    r1, GIFT
        trap
        ${printHex('r0')}
        li    r0, SYS_PORT_DEALLOCATE ; ... is gone now
        li    r1, GIFT
        trap
        ${printHex('r0')}
        li    r0, SYS_SLEEP
        li    r1, 100
        trap`),
      'prog',
      { defines: { GIFT: TO_SERVICE } },
    );
    const other = host.ipc.createSpace('other');
    const port = host.ipc.allocate(other, PortRight.RECEIVE, 'gift');
    host.ipc.insertRight(task.space, TO_SERVICE, other, port, Disposition.MAKE_SEND);
    runFor(cluster, 50);
    const lines = task.outputText.trim().split('\n');
    const receiveName = Number(lines[1]);
    const setName = Number(lines[3]);
    expect(lines).toEqual([
      hex32(KERN.SUCCESS),
      String(receiveName),
      hex32(KERN.SUCCESS),
      String(setName),
      hex32(KERN.INVALID_VALUE),
      hex32(KERN.INVALID_NAME),
      hex32(KERN.INVALID_RIGHT),
      hex32(KERN.SUCCESS),
      hex32(KERN.INVALID_NAME),
    ]);
    expect(host.ipc.type(task.space, receiveName)).toBe(PortType.RECEIVE);
    expect(host.ipc.type(task.space, setName)).toBe(PortType.PORT_SET);
    expect(task.space.lookup(TO_SERVICE)).toBeUndefined();
    expect(host.ipc.getAttributes(other, port).srights).toBe(false);
    runToExit(cluster, task);
    expect(checkIpcInvariants(host.ipc)).toEqual([]);
  });
});

describe('mach_msg', () => {
  /** A receiver task holding SERVICE and a sender holding a send right to it at TO_SERVICE. */
  function pair(opts: { sleep?: number; options?: number; timeout?: number } = {}) {
    const { cluster, host } = oneHost();
    const receiver = spawnSource(host, RECEIVER, 'receiver', {
      defines: { SERVICE, OPTIONS: opts.options ?? 0, TIMEOUT: opts.timeout ?? 0 },
    });
    const sender = spawnSource(host, SENDER, 'sender', {
      defines: { DEST: TO_SERVICE, SLEEP: opts.sleep ?? 0 },
    });
    host.ipc.allocate(receiver.space, PortRight.RECEIVE, 'service', SERVICE);
    host.ipc.insertRight(sender.space, TO_SERVICE, receiver.space, SERVICE, Disposition.MAKE_SEND);
    return { cluster, host, receiver, sender };
  }

  /** What the receiver prints, but for the two type descriptors (see the last test). */
  const received = [
    hex32(MACH_MSG_RETURN.SUCCESS),
    '4242', // msgh_id
    '48', // msgh_size
    hex32(SERVICE), // msgh_local_port: the port it arrived on, by the receiver's name
    '0', // msgh_remote_port: no reply port
    '77',
    'hello, port!',
  ];
  const withoutDescriptors = (output: string) =>
    output.split('\n').filter((_, i) => i !== 5 && i !== 7);

  it('moves a message between two tasks through ports set up by the host', () => {
    const { cluster, host, receiver, sender } = pair();
    runAllToExit(cluster, [receiver, sender]);
    expect(sender.outputText).toBe(`${hex32(MACH_MSG_RETURN.SUCCESS)}\n`);
    expect(withoutDescriptors(receiver.outputText)).toEqual(received);
    expect(checkIpcInvariants(host.ipc)).toEqual([]);
  });

  it('blocks a receive on an empty port until a message arrives', () => {
    const { cluster, receiver, sender } = pair({ sleep: 40 });
    runFor(cluster, 20);
    const t = mainThread(receiver);
    expect(t.actor.getSnapshot().context.waitingFor).toBe('message');
    const executed = t.instructions;
    runFor(cluster, 15);
    expect(t.instructions).toBe(executed); // a blocked thread does not run
    runAllToExit(cluster, [receiver, sender]);
    expect(withoutDescriptors(receiver.outputText)).toEqual(received);
    expect(receiver.exit!.time).toBeGreaterThan(40);
  });

  it('ends a receive with MACH_RCV_TIMED_OUT when nothing arrives in time', () => {
    const { cluster, receiver, sender } = pair({
      sleep: 500,
      options: 0x100, // MACH_RCV_TIMEOUT
      timeout: 30,
    });
    const start = cluster.world.now();
    runToExit(cluster, receiver);
    expect(receiver.outputText).toBe(`${hex32(MACH_MSG_RETURN.RCV_TIMED_OUT)}\n`);
    expect(receiver.exit!.time - start).toBeGreaterThanOrEqual(30);
    expect(receiver.exit!.time - start).toBeLessThan(31);
    // The message comes later and finds the port dead with its receiver.
    runToExit(cluster, sender);
    expect(sender.outputText).toBe(`${hex32(MACH_MSG_RETURN.SEND_INVALID_DEST)}\n`);
  });

  it('delivers inline items with the type descriptors they were sent with', () => {
    const { cluster, receiver, sender } = pair();
    runAllToExit(cluster, [receiver, sender]);
    const lines = receiver.outputText.split('\n');
    expect([lines[5], lines[7]]).toEqual([hex32(INT32_ITEM), hex32(BYTES12_ITEM)]);
  });

  it('returns MACH_SEND_INVALID_DEST for a destination name that denotes nothing', () => {
    const { cluster, host } = oneHost();
    const sender = spawnSource(host, SENDER, 'sender', { defines: { DEST: 0x4444 } });
    runToExit(cluster, sender);
    expect(sender.outputText).toBe(`${hex32(MACH_MSG_RETURN.SEND_INVALID_DEST)}\n`);
  });

  it('returns MACH_RCV_INVALID_NAME for a receive on a name that is no receive right', () => {
    const { cluster, host } = oneHost();
    const receiver = spawnSource(host, RECEIVER, 'receiver', { defines: { SERVICE: 0x4444 } });
    runToExit(cluster, receiver);
    expect(receiver.outputText).toBe(`${hex32(MACH_MSG_RETURN.RCV_INVALID_NAME)}\n`);
  });
});

describe('netname_check_in and netname_look_up', () => {
  /** Allocates a port, checks it in under "echo" and prints the integer of one message. */
  const SERVER = program(
    `
        li    r0, SYS_PORT_ALLOCATE
        li    r1, MACH_PORT_RIGHT_RECEIVE
        trap
        mov   r8, r1
        li    r0, SYS_NETNAME_CHECK_IN
        la    r1, name
        li    r2, 4
        mov   r3, r8
        trap
        ${printHex('r0')}
        li    r0, SYS_MACH_MSG
        la    r1, buf
        li    r2, MACH_RCV_MSG
        li    r3, 0
        li    r4, 64
        mov   r5, r8
        li    r6, 0
        li    r7, MACH_PORT_NULL
        trap
        la    r10, buf
        ldw   r5, [r10 + MSGH_BODY + 4]
        ${printDec('r5')}`,
    `
name:   .ascii "echo"
        .align 4
buf:    .space 64`,
  );

  /** Looks "echo" up (retrying every ms), sends it 31337, then tries the calls that must fail. */
  const CLIENT = program(
    `
look:   li    r0, SYS_NETNAME_LOOK_UP
        la    r1, name
        li    r2, 4
        li    r3, 0
        li    r4, 0
        trap
        beq   r0, r11, found
        li    r0, SYS_SLEEP
        li    r1, 1
        trap
        b     look
found:  la    r10, msg
        stw   r1, [r10 + MSGH_REMOTE_PORT]
        li    r0, SYS_MACH_MSG
        mov   r1, r10
        li    r2, MACH_SEND_MSG
        li    r3, 32
        li    r4, 0
        li    r5, MACH_PORT_NULL
        li    r6, 0
        li    r7, MACH_PORT_NULL
        trap
        ${printHex('r0')}
        li    r0, SYS_NETNAME_LOOK_UP ; a name nobody checked in
        la    r1, unknown
        li    r2, 6
        li    r3, 0
        li    r4, 0
        trap
        ${printHex('r0')}
        li    r0, SYS_PORT_ALLOCATE
        li    r1, MACH_PORT_RIGHT_RECEIVE
        trap
        mov   r3, r1
        li    r0, SYS_NETNAME_CHECK_IN ; "echo" is taken
        la    r1, name
        li    r2, 4
        trap
        ${printHex('r0')}
        li    r0, SYS_NETNAME_CHECK_IN ; a port name that denotes nothing
        la    r1, unknown
        li    r2, 6
        li    r3, 0x7777
        trap
        ${printHex('r0')}`,
    `
name:    .ascii "echo"
unknown: .ascii "nobody"
        .align 4
msg:    .word MACH_MSG_TYPE_COPY_SEND, 32, 0, 0, 0, 1
        .word ${INT32_ITEM}, 31337`,
  );

  it('register a port under a name and hand send rights to whoever looks it up', () => {
    const { cluster, host } = oneHost();
    const client = spawnSource(host, CLIENT, 'client');
    const server = spawnSource(host, SERVER, 'server');
    runAllToExit(cluster, [client, server]);
    expect(server.outputText).toBe(`${hex32(KERN.SUCCESS)}\n31337\n`);
    expect(client.outputText).toBe(
      [
        hex32(MACH_MSG_RETURN.SUCCESS),
        hex32(KERN.INVALID_NAME),
        hex32(KERN.NAME_EXISTS),
        hex32(KERN.INVALID_NAME),
        '',
      ].join('\n'),
    );
    expect(host.names.names()).toEqual(['echo']);
    expect(checkIpcInvariants(host.ipc)).toEqual([]);
  });

  it('raise bad_syscall for an empty name', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(
      host,
      program(`
        li    r0, SYS_NETNAME_LOOK_UP
        la    r1, nl
        li    r2, 0
        trap`),
    );
    runToExit(cluster, task);
    expect(task.exit?.reason).toMatch(/EXC_SOFTWARE.*netname length 0/);
  });
});

describe('an unknown system call number', () => {
  it('raises bad_syscall and ends only the calling task', () => {
    const { cluster, host } = oneHost();
    const bad = spawnSource(
      host,
      program(`
        li    r0, 99
        trap`),
      'bad',
    );
    const good = spawnSource(host, printProgram('fine\n'), 'good');
    runAllToExit(cluster, [bad, good]);
    expect(bad.exit).toMatchObject({ status: -1 });
    expect(bad.exit?.reason).toMatch(
      /^EXC_SOFTWARE \(bad system call\) in thread bad\.\d+ at pc 0x[0-9a-f]+: unknown system call 99$/,
    );
    expect(good.outputText).toBe('fine\n');
  });
});
