/**
 * Requests to kernel ports: a task port or a thread port is a kernel object, and whoever holds a
 * send right to it controls the task or thread by sending these messages (mach3-kernel-
 * interfaces.txt: the task and thread interfaces; Mach generates them with MIG). A request carries
 * its arguments as typed inline data and a send-once reply right; the reply's id is the request's
 * id + 100 and carries `{ code, result? }` with a Mach return code.
 */
export const KernelRoutine = {
  task_suspend: 3001,
  task_resume: 3002,
  task_terminate: 3003,
  task_info: 3004,
  task_threads: 3005,
  thread_suspend: 3101,
  thread_resume: 3102,
  thread_abort: 3103,
  thread_terminate: 3104,
  thread_get_state: 3105,
  thread_set_state: 3106,
  thread_info: 3107,
  thread_set_priority: 3108,
} as const;

export type KernelRoutineName = keyof typeof KernelRoutine;

export const ROUTINE_NAMES = new Map<number, KernelRoutineName>(
  Object.entries(KernelRoutine).map(([k, v]) => [v, k as KernelRoutineName]),
);

export interface KernelReply {
  readonly code: number;
  readonly result?: unknown;
}
