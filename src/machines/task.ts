import { assign, setup } from 'xstate';

/**
 * A Mach task's lifecycle (mach3-kernel-interfaces.txt: task_create, task_suspend, task_resume,
 * task_terminate). The suspend count is the state's data: the task runs only at count 0. Threads
 * and memory are the kernel's; this chart is what a reader opens to see when a task may run.
 * The kernel checks the preconditions (a resume at count 0 is KERN_FAILURE) before sending events.
 */
export interface TaskContext {
  readonly name: string;
  suspendCount: number;
  exitStatus: number | null;
  reason: string | null;
}

export type TaskEvent =
  | { type: 'START' }
  | { type: 'SUSPEND' }
  | { type: 'RESUME' }
  | { type: 'TERMINATE'; status: number; reason: string };

export const taskMachine = setup({
  types: {
    context: {} as TaskContext,
    events: {} as TaskEvent,
    input: {} as { name: string; suspended?: boolean },
  },
  guards: {
    lastSuspension: ({ context }) => context.suspendCount === 1,
  },
  actions: {
    countSuspend: assign({ suspendCount: ({ context }) => context.suspendCount + 1 }),
    countResume: assign({ suspendCount: ({ context }) => Math.max(0, context.suspendCount - 1) }),
    recordExit: assign({
      exitStatus: ({ event }) => (event.type === 'TERMINATE' ? event.status : null),
      reason: ({ event }) => (event.type === 'TERMINATE' ? event.reason : null),
    }),
  },
}).createMachine({
  id: 'task',
  context: ({ input }) => ({
    name: input.name,
    suspendCount: input.suspended ? 1 : 0,
    exitStatus: null,
    reason: null,
  }),
  initial: 'created',
  states: {
    created: {
      on: {
        START: [
          { guard: ({ context }) => context.suspendCount > 0, target: 'suspended' },
          { target: 'running' },
        ],
        SUSPEND: { actions: 'countSuspend' },
        RESUME: { actions: 'countResume' },
      },
    },
    running: {
      on: { SUSPEND: { target: 'suspended', actions: 'countSuspend' } },
    },
    suspended: {
      on: {
        SUSPEND: { actions: 'countSuspend' },
        RESUME: [
          { guard: 'lastSuspension', target: 'running', actions: 'countResume' },
          { actions: 'countResume' },
        ],
      },
    },
    terminated: { type: 'final' },
  },
  on: {
    TERMINATE: { target: '.terminated', actions: 'recordExit' },
  },
});
