import { FlatMemory } from './flatMemory.ts';
import type { Image } from './image.ts';
import { run, type StopReason } from './interpreter.ts';
import { readMemory } from './memory.ts';
import { KERN, SYS } from './syscalls.ts';
import { createThreadState, type ThreadState } from './thread.ts';

/**
 * Runs one program without the simulated kernel: one task in a FlatMemory, its threads scheduled
 * round robin, and just enough system calls for self-contained programs (exit, console_write,
 * sleep and yield (both just yield), task_self, thread_self, thread_create, thread_exit). IPC calls
 * fail with KERN_FAILURE. For tests, benchmarks and quick experiments; the kernel replaces it.
 */

export interface StandaloneOptions {
  /** Memory to run in (default: a fresh strict FlatMemory with the image loaded). */
  memory?: FlatMemory;
  /** Instructions per thread turn (default 10,000). */
  quantum?: number;
  /** Stop after this many instructions in total (default 10^10). */
  maxInstructions?: number;
  /** Called with each piece of console output as it is written. */
  onOutput?: (text: string) => void;
}

export interface StandaloneResult {
  /** Everything written with console_write, decoded as UTF-8. */
  output: string;
  /** How the run ended. */
  end: 'exit' | 'halt' | 'exception' | 'limit' | 'no_threads';
  /** exit status when `end` is 'exit'. */
  exitCode?: number;
  /** The stop reason when `end` is 'exception' (or 'halt'). */
  stop?: StopReason;
  /** Instructions executed, all threads together. */
  instructions: number;
  /** Number of system calls handled. */
  syscalls: number;
  memory: FlatMemory;
}

interface SimThread {
  readonly id: number;
  readonly state: ThreadState;
  alive: boolean;
}

export const STANDALONE_TASK_PORT = 1;
export const STANDALONE_THREAD_PORT_BASE = 100;

export function runStandalone(image: Image, options: StandaloneOptions = {}): StandaloneResult {
  let memory = options.memory;
  if (!memory) {
    memory = new FlatMemory({ pageSize: image.pageSize, lazy: false });
    memory.loadImage(image);
  }
  const quantum = options.quantum ?? 10_000;
  const limit = options.maxInstructions ?? 1e10;
  const decoder = new TextDecoder();
  let output = '';
  let instructions = 0;
  let syscalls = 0;
  const threads: SimThread[] = [
    { id: 0, state: createThreadState(image.entry, image.stackTop), alive: true },
  ];
  const finish = (
    r: Omit<StandaloneResult, 'output' | 'instructions' | 'syscalls' | 'memory'>,
  ) => ({
    ...r,
    output: output + decoder.decode(),
    instructions,
    syscalls,
    memory: memory!,
  });

  let current = 0;
  for (;;) {
    const live = threads.filter((t) => t.alive);
    if (live.length === 0) return finish({ end: 'no_threads' });
    if (instructions >= limit) return finish({ end: 'limit' });
    const t = threads[current % threads.length]!;
    current++;
    if (!t.alive) continue;
    let left = Math.min(quantum, limit - instructions);
    while (left > 0 && t.alive) {
      const stop = run(t.state, memory, left);
      instructions += stop.executed;
      left -= stop.executed;
      if (stop.reason === 'budget') break;
      if (stop.reason === 'halt') return finish({ end: 'halt', stop });
      if (stop.reason === 'exception' || stop.reason === 'pagefault') {
        return finish({ end: 'exception', stop });
      }
      syscalls++;
      const regs = t.state.regs;
      switch (stop.number) {
        case SYS.EXIT:
          return finish({ end: 'exit', exitCode: regs[1]! });
        case SYS.CONSOLE_WRITE: {
          const bytes = readMemory(memory, regs[1]!, Math.max(0, regs[2]!));
          if (!(bytes instanceof Uint8Array)) {
            return finish({
              end: 'exception',
              stop: {
                reason: 'exception',
                kind: 'bad_syscall',
                address: bytes.address,
                detail: `console_write buffer at 0x${bytes.address.toString(16)} is ${bytes.kind}`,
                executed: 0,
              },
            });
          }
          const text = decoder.decode(bytes, { stream: true });
          output += text;
          options.onOutput?.(text);
          regs[0] = KERN.SUCCESS;
          regs[1] = bytes.length;
          break;
        }
        case SYS.SLEEP:
        case SYS.YIELD:
          regs[0] = KERN.SUCCESS;
          left = 0;
          break;
        case SYS.TASK_SELF:
          regs[0] = STANDALONE_TASK_PORT;
          break;
        case SYS.THREAD_SELF:
          regs[0] = STANDALONE_THREAD_PORT_BASE + t.id;
          break;
        case SYS.THREAD_CREATE: {
          const child = createThreadState(regs[1]!, regs[2]!);
          child.regs[1] = regs[3]!;
          const id = threads.length;
          threads.push({ id, state: child, alive: true });
          regs[0] = KERN.SUCCESS;
          regs[1] = STANDALONE_THREAD_PORT_BASE + id;
          break;
        }
        case SYS.THREAD_EXIT:
          t.alive = false;
          break;
        case SYS.PORT_ALLOCATE:
        case SYS.PORT_DEALLOCATE:
        case SYS.MACH_MSG:
        case SYS.NETNAME_CHECK_IN:
        case SYS.NETNAME_LOOK_UP:
          regs[0] = KERN.FAILURE;
          break;
        default:
          return finish({
            end: 'exception',
            stop: {
              reason: 'exception',
              kind: 'bad_syscall',
              detail: `unknown system call ${stop.number}`,
              executed: 0,
            },
          });
      }
    }
  }
}
