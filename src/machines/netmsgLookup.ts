import { assign, setup } from 'xstate';

/** How a look-up reaches name tables; answers come back as events. */
export interface LookupIo {
  askLocal(): void;
  askHost(host: string): void;
  askEveryone(): void;
  /** A send right for the name is held under `name` in the server's space. */
  found(name: number, from: string): void;
  failed(reason: 'not-found' | 'unreachable' | 'timed-out'): void;
}

export interface LookupInput {
  readonly io: LookupIo;
  readonly self: string;
  /** The host to ask, or null to ask every host. */
  readonly host: string | null;
  /** How many hosts a broadcast asks (this one included). */
  readonly hosts: number;
  readonly timeoutMs: number;
}

interface LookupContext extends LookupInput {
  waiting: number;
}

export type LookupEvent =
  | { type: 'FOUND'; from: string; name: number }
  | { type: 'NOT_FOUND'; from: string }
  | { type: 'UNREACHABLE'; host: string };

/**
 * netname_look_up (mach-network-server.txt, section 12 for the host-directed call, section 2.2
 * for the three scopes: this host, one named host, every host). A broadcast takes the first
 * positive answer; it fails only when every host said no or the time ran out.
 */
export const netmsgLookup = setup({
  types: {
    context: {} as LookupContext,
    events: {} as LookupEvent,
    input: {} as LookupInput,
  },
  guards: {
    onThisHost: ({ context }) => context.host === context.self,
    everywhere: ({ context }) => context.host === null,
    lastAnswer: ({ context }) => context.waiting <= 1,
  },
  actions: {
    askLocal: ({ context }) => context.io.askLocal(),
    askHost: ({ context }) => context.io.askHost(context.host!),
    askEveryone: ({ context }) => context.io.askEveryone(),
    countDown: assign({ waiting: ({ context }) => context.waiting - 1 }),
    reportFound: ({ context, event }) => {
      if (event.type === 'FOUND') context.io.found(event.name, event.from);
    },
    reportNotFound: ({ context }) => context.io.failed('not-found'),
    reportUnreachable: ({ context }) => context.io.failed('unreachable'),
    reportTimeout: ({ context }) => context.io.failed('timed-out'),
  },
  delays: {
    lookupTimeout: ({ context }) => context.timeoutMs,
  },
}).createMachine({
  id: 'netmsgLookup',
  context: ({ input }) => ({ ...input, waiting: input.hosts }),
  initial: 'choosing',
  states: {
    choosing: {
      always: [
        { guard: 'onThisHost', target: 'askingLocal' },
        { guard: 'everywhere', target: 'broadcasting' },
        { target: 'askingHost' },
      ],
    },
    askingLocal: {
      entry: 'askLocal',
      on: { FOUND: 'found', NOT_FOUND: 'notFound' },
    },
    askingHost: {
      entry: 'askHost',
      after: { lookupTimeout: 'timedOut' },
      on: { FOUND: 'found', NOT_FOUND: 'notFound', UNREACHABLE: 'unreachable' },
    },
    broadcasting: {
      entry: 'askEveryone',
      after: { lookupTimeout: 'timedOut' },
      on: {
        FOUND: 'found',
        NOT_FOUND: [{ guard: 'lastAnswer', target: 'notFound' }, { actions: 'countDown' }],
        UNREACHABLE: [{ guard: 'lastAnswer', target: 'notFound' }, { actions: 'countDown' }],
      },
    },
    found: { type: 'final', entry: 'reportFound' },
    notFound: { type: 'final', entry: 'reportNotFound' },
    unreachable: { type: 'final', entry: 'reportUnreachable' },
    timedOut: { type: 'final', entry: 'reportTimeout' },
  },
});
