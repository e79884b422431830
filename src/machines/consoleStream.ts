import { enqueueActions, setup } from 'xstate';

/**
 * One task's console output as a user manager receives it (reference/seed section 4): writes are
 * numbered by the task's kernel side, and they may reach the user manager from several hosts (the
 * task wrote some before a migration, some after), so they may arrive out of order or, after a
 * replay, twice. The stream shows each number once, in order. A gap that does not fill within
 * `gapMs` belongs to writes lost with a failed host: the stream skips it rather than hold the rest
 * back for ever. A write's `start` says where its sender's stream begins: numbers below it were
 * shown by another user manager and will never come here.
 */
export interface ConsoleStreamIo {
  /** Shows one write to the user. */
  display(seq: number, text: string): void;
  /** Writes `from`..`to` - 1 never came: they are skipped. */
  skipped(from: number, to: number): void;
}

export interface ConsoleStreamInput {
  readonly io: ConsoleStreamIo;
  readonly task: string;
  readonly gapMs: number;
}

export interface ConsoleLine {
  readonly seq: number;
  readonly start: number;
  readonly text: string;
}

export type ConsoleStreamEvent = { type: 'LINE' } & ConsoleLine;

interface ConsoleStreamContext extends ConsoleStreamInput {
  /** Number of the next write to show. */
  next: number;
  /** Writes that came ahead of their turn, by number. */
  held: Readonly<Record<number, string>>;
  shown: number;
  duplicates: number;
  skippedWrites: number;
}

/** What accepting one line does: pure, so the chart's action only applies it. */
export function acceptLine(
  c: Pick<ConsoleStreamContext, 'next' | 'held'>,
  line: ConsoleLine,
): {
  next: number;
  held: Record<number, string>;
  show: { seq: number; text: string }[];
  duplicate: boolean;
} {
  let next = c.next;
  let held: Record<number, string> = { ...c.held };
  if (line.start > next) {
    // Numbers below the sender's start were shown elsewhere: never wait for them.
    next = line.start;
    held = Object.fromEntries(Object.entries(held).filter(([k]) => Number(k) >= next));
  }
  if (line.seq < next || line.seq in held) return { next, held, show: [], duplicate: true };
  held[line.seq] = line.text;
  return { ...flush(next, held), duplicate: false };
}

function flush(next: number, held: Record<number, string>) {
  const show: { seq: number; text: string }[] = [];
  while (next in held) {
    show.push({ seq: next, text: held[next]! });
    delete held[next];
    next++;
  }
  return { next, held, show };
}

const heldCount = (c: ConsoleStreamContext) => Object.keys(c.held).length;

export const consoleStream = setup({
  types: {
    context: {} as ConsoleStreamContext,
    events: {} as ConsoleStreamEvent,
    input: {} as ConsoleStreamInput,
  },
  guards: {
    hasGap: ({ context }) => heldCount(context) > 0,
    noGap: ({ context }) => heldCount(context) === 0,
  },
  delays: {
    gapTimeout: ({ context }) => context.gapMs,
  },
  actions: {
    accept: enqueueActions(({ context, event, enqueue }) => {
      const r = acceptLine(context, event);
      enqueue.assign({
        next: r.next,
        held: r.held,
        shown: context.shown + r.show.length,
        duplicates: context.duplicates + (r.duplicate ? 1 : 0),
      });
      for (const l of r.show) enqueue(() => context.io.display(l.seq, l.text));
    }),
    skipGap: enqueueActions(({ context, enqueue }) => {
      const held = { ...context.held };
      const first = Math.min(...Object.keys(held).map(Number));
      context.io.skipped(context.next, first);
      const r = flush(first, held);
      enqueue.assign({
        next: r.next,
        held: r.held,
        shown: context.shown + r.show.length,
        skippedWrites: context.skippedWrites + (first - context.next),
      });
      for (const l of r.show) enqueue(() => context.io.display(l.seq, l.text));
    }),
  },
}).createMachine({
  id: 'consoleStream',
  context: ({ input }) => ({
    ...input,
    next: 0,
    held: {},
    shown: 0,
    duplicates: 0,
    skippedWrites: 0,
  }),
  initial: 'inOrder',
  states: {
    /** Every write so far shown: the next one is shown as it comes. */
    inOrder: {
      always: { guard: 'hasGap', target: 'gap' },
      on: { LINE: { actions: 'accept' } },
    },
    /** Writes are held behind a missing one, until it comes or the gap times out. */
    gap: {
      always: { guard: 'noGap', target: 'inOrder' },
      on: { LINE: { actions: 'accept' } },
      after: { gapTimeout: { actions: 'skipGap', target: 'gap', reenter: true } },
    },
  },
});
