import type { ExceptionKind } from '../cpu/interpreter.ts';
import type { Host } from './host.ts';
import { terminateTask } from './taskOps.ts';
import type { Thread } from './thread.ts';

/**
 * A Mach exception with no handler: the task ends, with the reason recorded (Mach 3 Kernel
 * Interfaces, exception_raise: EXC_BAD_ACCESS, EXC_BAD_INSTRUCTION, EXC_ARITHMETIC, EXC_SOFTWARE).
 * The host and its other tasks carry on.
 */
const MACH_NAMES: Record<ExceptionKind, string> = {
  bad_address: 'EXC_BAD_ACCESS (KERN_INVALID_ADDRESS)',
  protection: 'EXC_BAD_ACCESS (KERN_PROTECTION_FAILURE)',
  illegal_instruction: 'EXC_BAD_INSTRUCTION',
  divide_by_zero: 'EXC_ARITHMETIC (divide by zero)',
  bad_syscall: 'EXC_SOFTWARE (bad system call)',
};

export function raiseException(host: Host, t: Thread, kind: ExceptionKind, detail: string): void {
  if (host.world.trace.enabled)
    host.world.trace.emit('thread.exception', {
      host: host.name,
      thread: t.name,
      exception: kind,
      detail,
    });
  const pc = `0x${(t.state.pc >>> 0).toString(16)}`;
  terminateTask(t.task, -1, `${MACH_NAMES[kind]} in thread ${t.name} at pc ${pc}: ${detail}`);
}
