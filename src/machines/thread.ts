import { assign, setup } from 'xstate';

/**
 * A Mach thread's lifecycle (mach3-kernel-interfaces.txt: thread_create, thread_suspend,
 * thread_resume, thread_abort, thread_terminate). Two things hold a thread back and they are
 * independent, as in Mach: its suspend count (`suspension`) and a wait in the kernel (`execution`:
 * a message, a page, a sleep). It runs when it is `running` and `ready` and its task runs.
 * Per-instruction execution is not here: the scheduler runs the interpreter in quanta.
 */
export type WaitReason = 'message' | 'page' | 'sleep' | 'kernel';

export interface ThreadContext {
  readonly name: string;
  suspendCount: number;
  waitingFor: WaitReason | null;
  reason: string | null;
}

export type ThreadEvent =
  | { type: 'SUSPEND' }
  | { type: 'RESUME' }
  | { type: 'WAIT'; reason: WaitReason }
  | { type: 'WAKE' }
  | { type: 'ABORT' }
  | { type: 'TERMINATE'; reason: string };

export const threadMachine = setup({
  types: {
    context: {} as ThreadContext,
    events: {} as ThreadEvent,
    input: {} as { name: string; suspended?: boolean },
  },
  guards: {
    lastSuspension: ({ context }) => context.suspendCount === 1,
  },
  actions: {
    countSuspend: assign({ suspendCount: ({ context }) => context.suspendCount + 1 }),
    countResume: assign({ suspendCount: ({ context }) => Math.max(0, context.suspendCount - 1) }),
    recordWait: assign({
      waitingFor: ({ event }) => (event.type === 'WAIT' ? event.reason : null),
    }),
    clearWait: assign({ waitingFor: null }),
    recordEnd: assign({
      reason: ({ event }) => (event.type === 'TERMINATE' ? event.reason : null),
    }),
  },
}).createMachine({
  id: 'thread',
  context: ({ input }) => ({
    name: input.name,
    suspendCount: input.suspended ? 1 : 0,
    waitingFor: null,
    reason: null,
  }),
  initial: 'alive',
  states: {
    alive: {
      type: 'parallel',
      states: {
        suspension: {
          initial: 'deciding',
          states: {
            deciding: {
              always: [
                { guard: ({ context }) => context.suspendCount > 0, target: 'suspended' },
                { target: 'running' },
              ],
            },
            running: { on: { SUSPEND: { target: 'suspended', actions: 'countSuspend' } } },
            suspended: {
              on: {
                SUSPEND: { actions: 'countSuspend' },
                RESUME: [
                  { guard: 'lastSuspension', target: 'running', actions: 'countResume' },
                  { actions: 'countResume' },
                ],
              },
            },
          },
        },
        execution: {
          initial: 'ready',
          states: {
            ready: { on: { WAIT: { target: 'waiting', actions: 'recordWait' } } },
            waiting: {
              on: {
                WAKE: { target: 'ready', actions: 'clearWait' },
                // thread_abort: the wait ends with an interrupted return code.
                ABORT: { target: 'ready', actions: 'clearWait' },
              },
            },
          },
        },
      },
      on: { TERMINATE: { target: 'terminated', actions: 'recordEnd' } },
    },
    terminated: { type: 'final' },
  },
});
