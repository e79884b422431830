import { assign, setup } from 'xstate';

/**
 * Abstract model of the external memory management protocol over the network
 * (mach3-kernel-interfaces.txt chapter 5; the paper's memory server): a kernel on one host maps a
 * memory object whose pager runs on another host, as a task migrated with demand paging does.
 * Two pages; each is absent (only the pager has it), resident and clean, or resident and dirty,
 * and has a version (what was last written). No invoke, no after: each event is one thing the
 * checker does to the real kernel or network (src/check/pagerExecutors.ts), each state is
 * asserted there (residency, contents of resident pages and of the pager's store).
 *
 * READ and WRITE fault a page in (memory_object_data_request, data_supply); EVICT flushes it
 * (data_return if dirty); CLEAN writes it back and keeps it; TERMINATE removes the mapping
 * (memory_object_terminate). Faults: DELAY (the link partitioned for less than netmsg's give-up:
 * the next exchange is late, not lost), CUT (partitioned past the give-up: the pager is
 * unreachable from then on, faults fail), PAGER_CRASH (the pager's host dies).
 */

export type PageResidency = 'absent' | 'clean' | 'dirty';

export interface PageModel {
  res: PageResidency;
  /** Version of the data the kernel has (resident) or last had. */
  v: number;
}

export interface PagerModelContext {
  pages: [PageModel, PageModel];
  /** Version of each page the pager holds. */
  stored: [number, number];
  link: 'ok' | 'cut' | 'dead';
  /** A delay has been injected (at most one per path). */
  delayed: boolean;
  terminated: boolean;
  /** The last fault failed (the pager was unreachable). */
  failed: boolean;
}

export type PagerModelEvent =
  | { type: 'READ'; page: 0 | 1 }
  | { type: 'WRITE'; page: 0 | 1 }
  | { type: 'EVICT'; page: 0 | 1 }
  | { type: 'CLEAN'; page: 0 | 1 }
  | { type: 'TERMINATE' }
  | { type: 'DELAY' }
  | { type: 'CUT' }
  | { type: 'PAGER_CRASH' };

const PAGES = [0, 1] as const;
export const PAGER_MODEL_EVENTS: readonly PagerModelEvent[] = [
  ...PAGES.flatMap((page) =>
    (['READ', 'WRITE', 'EVICT', 'CLEAN'] as const).map((type) => ({ type, page })),
  ),
  { type: 'TERMINATE' },
  { type: 'DELAY' },
  { type: 'CUT' },
  { type: 'PAGER_CRASH' },
];

export const PAGER_FAULTS: ReadonlySet<string> = new Set(['DELAY', 'CUT', 'PAGER_CRASH']);

const MAX_VERSION = 1;

type Ctx = PagerModelContext;
const pageOf = (e: PagerModelEvent) => (e as { page: 0 | 1 }).page;

function withPage(c: Ctx, i: 0 | 1, p: PageModel): Ctx['pages'] {
  return (i === 0 ? [p, c.pages[1]] : [c.pages[0], p]) as Ctx['pages'];
}

export const pagerModel = setup({
  types: { context: {} as Ctx, events: {} as PagerModelEvent },
  guards: {
    open: ({ context }) => !context.terminated,
    canWrite: ({ context, event }) => {
      const p = context.pages[pageOf(event)];
      return !context.terminated && Math.max(p.v, context.stored[pageOf(event)]) < MAX_VERSION;
    },
    resident: ({ context, event }) =>
      !context.terminated && context.pages[pageOf(event)].res !== 'absent',
    dirty: ({ context, event }) =>
      !context.terminated && context.pages[pageOf(event)].res === 'dirty',
    canDelay: ({ context }) => !context.terminated && context.link === 'ok' && !context.delayed,
    linkOk: ({ context }) => !context.terminated && context.link === 'ok',
  },
  actions: {
    read: assign(({ context: c, event }) => {
      const i = pageOf(event);
      const p = c.pages[i];
      if (p.res !== 'absent') return { failed: false };
      if (c.link !== 'ok') return { failed: true };
      return { pages: withPage(c, i, { res: 'clean', v: c.stored[i] }), failed: false };
    }),
    write: assign(({ context: c, event }) => {
      const i = pageOf(event);
      const p = c.pages[i];
      if (p.res === 'absent' && c.link !== 'ok') return { failed: true };
      const base = p.res === 'absent' ? c.stored[i] : p.v;
      return { pages: withPage(c, i, { res: 'dirty', v: base + 1 }), failed: false };
    }),
    // A dirty page goes back with data_return; it is lost if the pager cannot be reached.
    evict: assign(({ context: c, event }) => {
      const i = pageOf(event);
      const p = c.pages[i];
      const stored = [...c.stored] as Ctx['stored'];
      if (p.res === 'dirty' && c.link === 'ok') stored[i] = p.v;
      return { pages: withPage(c, i, { res: 'absent', v: stored[i] }), stored, failed: false };
    }),
    clean: assign(({ context: c, event }) => {
      const i = pageOf(event);
      const p = c.pages[i];
      const stored = [...c.stored] as Ctx['stored'];
      if (c.link === 'ok') stored[i] = p.v;
      return { pages: withPage(c, i, { res: 'clean', v: p.v }), stored, failed: false };
    }),
  },
}).createMachine({
  id: 'pagerModel',
  context: {
    pages: [
      { res: 'absent', v: 0 },
      { res: 'absent', v: 0 },
    ],
    stored: [0, 0],
    link: 'ok',
    delayed: false,
    terminated: false,
    failed: false,
  },
  initial: 'mapped',
  states: {
    mapped: {
      on: {
        READ: { guard: 'open', actions: 'read' },
        WRITE: { guard: 'canWrite', actions: 'write' },
        EVICT: { guard: 'resident', actions: 'evict' },
        CLEAN: { guard: 'dirty', actions: 'clean' },
        DELAY: { guard: 'canDelay', actions: assign({ delayed: true, failed: false }) },
        CUT: { guard: 'linkOk', actions: assign({ link: 'cut', failed: false }) },
        PAGER_CRASH: { guard: 'linkOk', actions: assign({ link: 'dead', failed: false }) },
        TERMINATE: { guard: 'open', target: 'terminated', actions: assign({ terminated: true }) },
      },
    },
    terminated: { type: 'final' },
  },
});
