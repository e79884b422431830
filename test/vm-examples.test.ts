import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type AssembleOptions,
  assembleFile,
  createThreadState,
  FlatMemory,
  type Image,
  KERN,
  MACH_MSG_OPTION,
  MACH_MSG_TYPE,
  MACH_PORT_RIGHT,
  type Memory,
  MSG,
  type PageFaultKind,
  readMemory,
  run,
  runStandalone,
  SYS,
  type ThreadState,
  writeMemory,
} from '../src/cpu/index.ts';

/** Assembles examples/<name>; its `.include`s are read relative to it. */
const example = (name: string, options: Omit<AssembleOptions, 'fileName'> = {}) =>
  assembleFile(fileURLToPath(new URL(`../examples/${name}`, import.meta.url)), options);

/** Runs a one-thread program with a tiny trap handler (console_write, exit) until it exits. */
function runProgram(image: Image, memory: Memory, budget = 100_000) {
  const thread = createThreadState(image.entry, image.stackTop);
  let output = '';
  let instructions = 0;
  let pageFaults = 0;
  for (;;) {
    const stop = run(thread, memory, budget);
    instructions += stop.executed;
    if (stop.reason === 'budget') continue;
    if (stop.reason === 'pagefault' && memory instanceof DemandPagedMemory) {
      pageFaults++;
      memory.supply(stop.address >>> 12);
      continue;
    }
    if (stop.reason === 'trap' && stop.number === SYS.CONSOLE_WRITE) {
      const bytes = readMemory(memory, thread.regs[1]!, thread.regs[2]!);
      if (!(bytes instanceof Uint8Array)) throw new Error(`console_write: ${bytes.kind}`);
      output += Buffer.from(bytes).toString('utf8');
      thread.regs[0] = KERN.SUCCESS;
      continue;
    }
    if (stop.reason === 'trap' && stop.number === SYS.EXIT) {
      return { output, exitCode: thread.regs[1], instructions, pageFaults };
    }
    throw new Error(`unexpected stop ${JSON.stringify(stop)}`);
  }
}

function flat(image: Image): FlatMemory {
  const memory = new FlatMemory({ lazy: false });
  memory.loadImage(image);
  return memory;
}

/** Every page starts absent and is supplied (from the image) on its first fault. */
class DemandPagedMemory implements Memory {
  readonly pageSize = 4096;
  private readonly backing: FlatMemory;
  private readonly present = new Set<number>();
  constructor(image: Image) {
    this.backing = flat(image);
  }
  page(p: number, write: boolean): Uint8Array | PageFaultKind {
    const page = this.backing.page(p, write);
    if (typeof page === 'string' || this.present.has(p)) return page;
    return 'notResident';
  }
  supply(p: number): void {
    this.present.add(p);
  }
}

/** The primes example, written again in plain JavaScript. */
function primesReference(n: number, step: number): string {
  let count = 0;
  let checksum = 0;
  let last = 0;
  let out = '';
  for (let k = 2; k <= n; k++) {
    let prime = k === 2 || k % 2 === 1;
    for (let d = 3; prime && d * d <= k; d += 2) if (k % d === 0) prime = false;
    if (prime) {
      count++;
      checksum = (Math.imul(checksum, 31) + k) | 0;
      last = k;
    }
    if (k % step === 0) out += `n=${k} primes=${count} last=${last}\n`;
  }
  const hex = (checksum >>> 0).toString(16).padStart(8, '0');
  return `${out}total primes <= ${n}: ${count}\nchecksum: 0x${hex}\n`;
}

/** The bigmem example, written again in plain JavaScript. */
function bigmemReference(size: number, stride: number): string {
  const bytes = new Uint8Array(size);
  const words = new Int32Array(bytes.buffer);
  const perMiB = (1024 * 1024) / 4;
  let out = `bigmem: ${size / (1024 * 1024)} MiB\n`;
  for (let i = 0; i < words.length; i++) {
    words[i] = (Math.imul(i, 0x9e3779b1) + 12345) | 0;
    if ((i + 1) % perMiB === 0) out += `wrote ${(i + 1) / perMiB} MiB\n`;
  }
  let touched = 0;
  for (let k = 0; k < size; k += stride, touched++) bytes[k]! ^= k & 0xff;
  out += `touched ${touched} bytes\n`;
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < words.length; i++) {
    h = Math.imul(h ^ words[i]!, 16777619);
    if ((i + 1) % perMiB === 0) out += `checked ${(i + 1) / perMiB} MiB\n`;
  }
  return `${out}checksum: 0x${(h >>> 0).toString(16).padStart(8, '0')}\n`;
}

/** The threads example's expected output. */
function threadsReference(workers: number, chunk: number): string {
  let out = `threads: starting ${workers} workers\n`;
  let total = 0;
  for (let k = 0; k < workers; k++) {
    let sum = 0;
    for (let i = k * chunk; i < (k + 1) * chunk; i++)
      sum = (sum + ((Math.imul(i, i) >>> 0) % 1000003)) | 0;
    out += `worker ${k}: ${sum >>> 0}\n`;
    total = (total + sum) | 0;
  }
  return `${out}total: ${total >>> 0}\n`;
}

describe('examples', () => {
  it.each([
    'primes.s',
    'bigmem.s',
    'threads.s',
    'pingpong-server.s',
    'pingpong-client.s',
    'workset.s',
  ])('%s assembles', (name) => {
    expect(() => example(name)).not.toThrow();
  });

  it('primes.s prints progress, the count and the checksum (N = 100000)', () => {
    const image = example('primes.s');
    const result = runProgram(image, flat(image));
    expect(result.output).toBe(primesReference(100_000, 10_000));
    expect(result.output).toContain('total primes <= 100000: 9592\n');
    expect(result.exitCode).toBe(0);
  });

  it('primes.s with other N and STEP (defines) and under demand paging', () => {
    const image = example('primes.s', { defines: { N: 5000, STEP: 700 } });
    const resident = runProgram(image, flat(image), 333);
    const paged = runProgram(image, new DemandPagedMemory(image), 333);
    expect(resident.output).toBe(primesReference(5000, 700));
    expect(paged.output).toBe(resident.output);
    expect(paged.instructions).toBe(resident.instructions);
    expect(paged.pageFaults).toBe(3); // text, data, stack
  });

  it('bigmem.s writes 4 MiB and prints the same checksum as JavaScript', () => {
    const image = example('bigmem.s');
    const memory = flat(image);
    const result = runProgram(image, memory, 1_000_000);
    expect(result.output).toBe(bigmemReference(4 * 1024 * 1024, 4093));
    expect(result.exitCode).toBe(0);
    // the whole buffer was touched: text, data, 1024 pages of bss (+ alignment), stack
    expect(memory.residentPages).toBeGreaterThanOrEqual(1024 + 3);
  });

  it('threads.s prints the same thing whatever the quantum', () => {
    const image = example('threads.s');
    const expected = threadsReference(4, 50_000);
    for (const quantum of [1, 10, 997, 100_000]) {
      const result = runStandalone(image, { quantum });
      expect(result.end).toBe('exit');
      expect(result.exitCode).toBe(0);
      expect(result.output).toBe(expected);
    }
  });

  it('pingpong-client.s and pingpong-server.s talk through ports', () => {
    const kernel = new TinyKernel();
    const server = kernel.spawn('server', example('pingpong-server.s'));
    const client = kernel.spawn('client', example('pingpong-client.s'));
    kernel.runAll();
    expect(server.output).toBe(
      'server: ready\n' +
        [1, 2, 3, 4, 5].map((n) => `server: ping ${n}\n`).join('') +
        'server: done\n',
    );
    expect(client.output).toBe(
      [1, 2, 3, 4, 5].map((n) => `client: ping ${n}\nclient: pong ${n * 10} (id 1100)\n`).join('') +
        'client: done\n',
    );
    expect([server.exitCode, client.exitCode]).toEqual([0, 0]);
  });

  it('pingpong works whichever task starts first', () => {
    const kernel = new TinyKernel();
    const client = kernel.spawn('client', example('pingpong-client.s'));
    const server = kernel.spawn('server', example('pingpong-server.s'));
    kernel.runAll(7);
    expect(client.output).toContain('client: pong 50 (id 1100)\nclient: done\n');
    expect(server.output).toContain('server: done\n');
  });
});

// -------------------------------------------------------------------------------------------
// A test double of the kernel, just enough for the ping-pong examples: tasks with one thread,
// round robin; ports with queues; per-task port names; receive, send and send-once rights;
// the name service; mach_msg with the layout documented in syscalls.ts.

interface Port {
  readonly id: number;
  readonly queue: Message[];
}

interface Message {
  readonly bits: number;
  readonly size: number;
  readonly destination: Port;
  readonly reply: Port | undefined;
  readonly replyDisposition: number;
  readonly id: number;
  readonly body: Uint8Array;
}

interface Right {
  readonly port: Port;
  readonly kind: 'receive' | 'send' | 'send_once';
}

interface Task {
  readonly name: string;
  readonly memory: FlatMemory;
  readonly thread: ThreadState;
  readonly rights: Map<number, Right>;
  nextName: number;
  output: string;
  exitCode: number | undefined;
  /** A receive that found the queue empty, retried each round. */
  waiting: { buffer: number; size: number; port: Port } | undefined;
}

class TinyKernel {
  private readonly tasks: Task[] = [];
  private readonly names = new Map<string, Port>();
  private nextPort = 1;

  spawn(name: string, image: Image): Task {
    const memory = flat(image);
    const task: Task = {
      name,
      memory,
      thread: createThreadState(image.entry, image.stackTop),
      rights: new Map(),
      nextName: 0x103,
      output: '',
      exitCode: undefined,
      waiting: undefined,
    };
    this.tasks.push(task);
    return task;
  }

  runAll(quantum = 1000): void {
    for (let round = 0; round < 10_000; round++) {
      const live = this.tasks.filter((t) => t.exitCode === undefined);
      if (live.length === 0) return;
      for (const task of live) this.runTask(task, quantum);
    }
    throw new Error('the tasks did not finish');
  }

  private insert(task: Task, right: Right): number {
    const name = task.nextName++;
    task.rights.set(name, right);
    return name;
  }

  private runTask(task: Task, quantum: number): void {
    if (task.waiting && !this.completeReceive(task)) return;
    let left = quantum;
    while (left > 0 && task.exitCode === undefined && !task.waiting) {
      const stop = run(task.thread, task.memory, left);
      left -= stop.executed;
      if (stop.reason === 'budget') return;
      if (stop.reason !== 'trap') throw new Error(`${task.name}: ${JSON.stringify(stop)}`);
      if (!this.syscall(task, stop.number)) return; // yielded or blocked
    }
  }

  private readString(task: Task, address: number, length: number): string {
    const bytes = readMemory(task.memory, address, length);
    if (!(bytes instanceof Uint8Array)) throw new Error('bad string');
    return Buffer.from(bytes).toString('utf8');
  }

  /** Performs a system call; false when the thread yields or blocks. */
  private syscall(task: Task, number: number): boolean {
    const r = task.thread.regs;
    switch (number) {
      case SYS.CONSOLE_WRITE:
        task.output += this.readString(task, r[1]!, r[2]!);
        r[0] = KERN.SUCCESS;
        return true;
      case SYS.EXIT:
        task.exitCode = r[1]!;
        return false;
      case SYS.SLEEP:
        r[0] = KERN.SUCCESS;
        return false;
      case SYS.PORT_ALLOCATE: {
        expect(r[1]).toBe(MACH_PORT_RIGHT.RECEIVE);
        const port: Port = { id: this.nextPort++, queue: [] };
        r[1] = this.insert(task, { port, kind: 'receive' });
        r[0] = KERN.SUCCESS;
        return true;
      }
      case SYS.NETNAME_CHECK_IN: {
        const right = task.rights.get(r[3]!);
        if (!right) {
          r[0] = KERN.INVALID_NAME;
          return true;
        }
        this.names.set(this.readString(task, r[1]!, r[2]!), right.port);
        r[0] = KERN.SUCCESS;
        return true;
      }
      case SYS.NETNAME_LOOK_UP: {
        const port = this.names.get(this.readString(task, r[1]!, r[2]!));
        if (!port) {
          r[0] = KERN.FAILURE;
          return true;
        }
        r[1] = this.insert(task, { port, kind: 'send' });
        r[0] = KERN.SUCCESS;
        return true;
      }
      case SYS.MACH_MSG:
        return this.machMsg(task);
      default:
        throw new Error(`${task.name}: unexpected system call ${number}`);
    }
  }

  private machMsg(task: Task): boolean {
    const r = task.thread.regs;
    const [buffer, options, sendSize, rcvSize, rcvName] = [r[1]!, r[2]!, r[3]!, r[4]!, r[5]!];
    if (options & MACH_MSG_OPTION.SEND_MSG) {
      const raw = readMemory(task.memory, buffer, sendSize);
      if (!(raw instanceof Uint8Array)) throw new Error('bad message buffer');
      const view = new DataView(raw.buffer);
      const bits = view.getUint32(MSG.BITS, true);
      const remote = task.rights.get(view.getInt32(MSG.REMOTE_PORT, true));
      if (!remote || remote.kind === 'receive') {
        r[0] = 0x10000003; // MACH_SEND_INVALID_DEST
        return true;
      }
      if (remote.kind === 'send_once') task.rights.delete(view.getInt32(MSG.REMOTE_PORT, true));
      const localDisposition = (bits >>> 8) & 0xff;
      const local = task.rights.get(view.getInt32(MSG.LOCAL_PORT, true));
      expect([0, MACH_MSG_TYPE.MAKE_SEND_ONCE]).toContain(localDisposition);
      remote.port.queue.push({
        bits,
        size: sendSize,
        destination: remote.port,
        reply: localDisposition ? local?.port : undefined,
        replyDisposition: localDisposition ? MACH_MSG_TYPE.MOVE_SEND_ONCE : 0,
        id: view.getInt32(MSG.ID, true),
        body: raw.slice(MSG.BODY),
      });
    }
    if (options & MACH_MSG_OPTION.RCV_MSG) {
      const right = task.rights.get(rcvName);
      if (right?.kind !== 'receive') {
        r[0] = 0x10004002; // MACH_RCV_INVALID_NAME
        return true;
      }
      task.waiting = { buffer, size: rcvSize, port: right.port };
      return this.completeReceive(task);
    }
    r[0] = KERN.SUCCESS;
    return true;
  }

  /** Delivers the next message to a waiting receiver, if there is one. */
  private completeReceive(task: Task): boolean {
    const w = task.waiting!;
    const message = w.port.queue.shift();
    if (!message) return false;
    task.waiting = undefined;
    const out = new Uint8Array(MSG.HEADER_SIZE + message.body.length);
    const view = new DataView(out.buffer);
    const replyName = message.reply
      ? this.insert(task, { port: message.reply, kind: 'send_once' })
      : 0;
    view.setUint32(MSG.BITS, message.replyDisposition, true);
    view.setUint32(MSG.SIZE, out.length, true);
    view.setInt32(MSG.REMOTE_PORT, replyName, true);
    view.setInt32(MSG.LOCAL_PORT, [...task.rights].find(([, v]) => v.port === w.port)![0], true);
    view.setInt32(MSG.ID, message.id, true);
    out.set(message.body, MSG.BODY);
    expect(out.length).toBeLessThanOrEqual(w.size);
    expect(writeMemory(task.memory, w.buffer, out)).toBeUndefined();
    task.thread.regs[0] = KERN.SUCCESS;
    return true;
  }
}
