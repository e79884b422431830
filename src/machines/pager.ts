import { assign, not, raise, setup } from 'xstate';
import type { MachMessageEvent } from '../actors/mailbox.ts';
import type { BackingStore } from '../memory/backingStore.ts';
import {
  dataErrorMessage,
  dataSupplyMessage,
  dataUnavailableMessage,
  lockRequestMessage,
  type ManagerCall,
  MemoryObjectId,
  type MemoryObjectReturn,
  parseManagerCall,
  rightsIn,
  VM_PROT_NO_CHANGE,
} from '../protocol/memoryObject.ts';
import type { MachMessage } from '../protocol/message.ts';
import { KernReturn } from '../protocol/returnCodes.ts';

/**
 * The default pager (mach-default-memory-manager.txt; mach3-kernel-interfaces.txt chapter 5): the
 * memory manager of last resort that keeps anonymous memory's pages when the kernel evicts them.
 * Its mailbox is one port; each kernel call arrives as a `mach.message`, is classified into a
 * typed `mo.*` event, and is answered on the memory control port the call carried. Pages it never
 * received are answered with data_unavailable at once (the kernel zero-fills); stored pages come
 * back with data_supply after the disk has read them, on the world's clock.
 */

/** The paging disk: a fixed latency per operation plus transfer time; one operation at a time. */
export interface PagerTiming {
  readonly diskLatencyMs: number;
  readonly diskBytesPerSecond: number;
}

/** A disk of the paper's era: 10 ms per access and 2 MB/s, so one 4 KiB page takes about 12 ms. */
export const DEFAULT_PAGER_TIMING: PagerTiming = {
  diskLatencyMs: 10,
  diskBytesPerSecond: 2_000_000,
};

export function diskTimeMs(t: PagerTiming, bytes: number): number {
  return t.diskLatencyMs + (bytes * 1000) / t.diskBytesPerSecond;
}

/** What the pager needs from the runtime (see servers/pager.ts). */
export interface PagerIo {
  /** mach_msg send from the pager's space (a dead control port drops the message). */
  send(message: MachMessage): void;
  /** Gives back one user reference per listed name. */
  release(names: readonly number[]): void;
  /** Gives up every right `name` denotes (a terminated object's control port). */
  destroy(name: number): void;
  now(): number;
  /** A message was refused (for the trace). */
  rejected(id: number, reason: string): void;
  /** memory_object_lock_completed arrived for a lock request the pager made. */
  lockCompleted(object: number, offset: number, length: number): void;
  /** The pager stops: its port goes. */
  close(): void;
}

export interface PagerInput {
  readonly io: PagerIo;
  readonly store: BackingStore;
  /** The pager's own port (its name in the pager's space): lock_request replies come here. */
  readonly port: number;
  readonly timing?: PagerTiming;
}

export interface PagerStats {
  inits: number;
  requests: number;
  supplied: number;
  unavailable: number;
  errors: number;
  returned: number;
  terminated: number;
  rejected: number;
  lockRequests: number;
  lockCompleted: number;
}

interface PagerObject {
  /** The control send right kept from memory_object_init (one user reference). */
  readonly control: number;
  readonly pageSize: number;
}

interface PagerContext {
  readonly io: PagerIo;
  readonly store: BackingStore;
  readonly port: number;
  readonly timing: PagerTiming;
  readonly objects: Readonly<Record<number, PagerObject>>;
  /** When the disk finishes the operations queued on it. */
  readonly diskFreeAt: number;
  readonly stats: PagerStats;
}

type Call<K extends ManagerCall['kind']> = Extract<ManagerCall, { kind: K }>;

export type PagerEvent =
  | MachMessageEvent
  | { type: 'mo.init'; call: Call<'init'> }
  | { type: 'mo.data_request'; call: Call<'data_request'> }
  | { type: 'mo.data_return'; call: Call<'data_return'> }
  | { type: 'mo.terminate'; call: Call<'terminate'> }
  | { type: 'mo.lock_completed'; call: Call<'lock_completed'> }
  | { type: 'mo.malformed'; id: number; reason: string; rights: readonly number[] }
  | { type: 'disk.read_done'; object: number; offset: number; length: number; control: number }
  | {
      /** Ask the kernel to clean (and with shouldFlush, flush) part of an object. */
      type: 'lock';
      object: number;
      offset: number;
      length: number;
      shouldReturn: MemoryObjectReturn;
      shouldFlush: boolean;
    }
  | { type: 'shutdown' };

type CallEvent = Extract<PagerEvent, { call: unknown }>;
type ReadDone = Extract<PagerEvent, { type: 'disk.read_done' }>;
type LockEvent = Extract<PagerEvent, { type: 'lock' }>;

/** Turns a received message into the typed event for its call, or `mo.malformed` naming why. */
function classify(context: PagerContext, e: MachMessageEvent): PagerEvent {
  const c = parseManagerCall(e.message);
  if ('malformed' in c)
    return { type: 'mo.malformed', id: e.message.id, reason: c.malformed, rights: c.rights };
  if (c.kind === 'data_request' || c.kind === 'data_return') {
    const ps = context.objects[c.object]?.pageSize;
    const length = c.kind === 'data_request' ? c.length : c.data.length;
    const why =
      ps === undefined
        ? null
        : c.offset % ps !== 0
          ? `${c.kind}.offset ${c.offset} is not a multiple of the page size ${ps}`
          : length % ps !== 0
            ? `${c.kind} length ${length} is not a multiple of the page size ${ps}`
            : null;
    if (why !== null)
      return { type: 'mo.malformed', id: e.message.id, reason: why, rights: rightsIn(e.message) };
  }
  return { type: `mo.${c.kind}`, call: c } as PagerEvent;
}

const callOf = (e: PagerEvent) => (e as CallEvent).call;
const known = (context: PagerContext, object: number) => context.objects[object] !== undefined;

export const pagerMachine = setup({
  types: {
    context: {} as PagerContext,
    events: {} as PagerEvent,
    input: {} as PagerInput,
  },
  guards: {
    objectKnown: ({ context, event }) => known(context, callOf(event).object),
    pageStored: ({ context, event }) => {
      const c = callOf(event) as Call<'data_request'>;
      const ps = context.objects[c.object]!.pageSize;
      return context.store.holds(c.object, c.offset, c.length, ps);
    },
    readStillWanted: ({ context, event }) => known(context, (event as ReadDone).object),
    lockTargetKnown: ({ context, event }) => known(context, (event as LockEvent).object),
  },
  actions: {
    classify: raise(({ context, event }) => classify(context, event as MachMessageEvent)),
    openObject: ({ context, event }) => {
      const c = callOf(event) as Call<'init'>;
      const previous = context.objects[c.object];
      // A second init (a rebooted kernel) replaces the control right kept from the first.
      if (previous !== undefined) context.io.release([previous.control]);
      context.store.open(c.object);
    },
    registerObject: assign({
      objects: ({ context, event }) => {
        const c = callOf(event) as Call<'init'>;
        return { ...context.objects, [c.object]: { control: c.control, pageSize: c.pageSize } };
      },
    }),
    replyUnavailable: ({ context, event }) => {
      const c = callOf(event) as Call<'data_request'>;
      context.io.send(dataUnavailableMessage(c.control, { offset: c.offset, length: c.length }));
      context.io.release([c.control]);
    },
    replyError: ({ context, event }) => {
      const c = callOf(event) as Call<'data_request'>;
      const reason = KernReturn.KERN_MEMORY_FAILURE;
      context.io.send(dataErrorMessage(c.control, { offset: c.offset, length: c.length, reason }));
      context.io.release([c.control]);
    },
    reserveDisk: assign({
      diskFreeAt: ({ context, event }) => {
        const c = callOf(event) as Call<'data_request'> | Call<'data_return'>;
        const bytes = c.kind === 'data_request' ? c.length : c.data.length;
        return Math.max(context.io.now(), context.diskFreeAt) + diskTimeMs(context.timing, bytes);
      },
    }),
    scheduleRead: raise(
      ({ event }) => {
        const c = callOf(event) as Call<'data_request'>;
        const { object, offset, length, control } = c;
        return { type: 'disk.read_done' as const, object, offset, length, control };
      },
      { delay: 'diskRead' },
    ),
    supplyData: ({ context, event }) => {
      const e = event as ReadDone;
      const ps = context.objects[e.object]!.pageSize;
      const data = context.store.read(e.object, e.offset, e.length, ps);
      context.io.send(
        dataSupplyMessage(e.control, { offset: e.offset, lockValue: 0, precious: false }, data),
      );
    },
    releaseReadControl: ({ context, event }) => context.io.release([(event as ReadDone).control]),
    storeData: ({ context, event }) => {
      const c = callOf(event) as Call<'data_return'>;
      context.store.write(c.object, c.offset, c.data, context.objects[c.object]!.pageSize);
      context.io.release([c.control]);
    },
    dropObject: ({ context, event }) => {
      const c = callOf(event) as Call<'terminate'>;
      context.store.drop(c.object);
      // The kept send right and the receive right the call brought share one name.
      context.io.destroy(c.control);
    },
    unregisterObject: assign({
      objects: ({ context, event }) => {
        const { [callOf(event).object]: _gone, ...rest } = context.objects;
        return rest;
      },
    }),
    refuseUnknown: ({ context, event }) => {
      const c = callOf(event) as Call<'data_return'> | Call<'terminate'>;
      const id = c.kind === 'terminate' ? MemoryObjectId.TERMINATE : MemoryObjectId.DATA_RETURN;
      context.io.rejected(id, `${c.kind} for unknown object ${c.object}`);
      if (c.kind === 'terminate') context.io.destroy(c.control);
      else context.io.release([c.control]);
    },
    refuseMalformed: ({ context, event }) => {
      const e = event as Extract<PagerEvent, { type: 'mo.malformed' }>;
      context.io.rejected(e.id, e.reason);
      context.io.release(e.rights);
    },
    sendLockRequest: ({ context, event }) => {
      const e = event as LockEvent;
      const body = {
        offset: e.offset,
        length: e.length,
        shouldReturn: e.shouldReturn,
        shouldFlush: e.shouldFlush,
        lockValue: VM_PROT_NO_CHANGE,
      };
      context.io.send(lockRequestMessage(context.objects[e.object]!.control, body, context.port));
    },
    noteLockCompleted: ({ context, event }) => {
      const c = callOf(event) as Call<'lock_completed'>;
      context.io.lockCompleted(c.object, c.offset, c.length);
    },
    count: assign({
      stats: ({ context }, params: { stat: keyof PagerStats }) => ({
        ...context.stats,
        [params.stat]: context.stats[params.stat] + 1,
      }),
    }),
    close: ({ context }) => context.io.close(),
  },
  delays: {
    /** Until the disk has done this read (and everything queued before it). */
    diskRead: ({ context }) => Math.max(0, context.diskFreeAt - context.io.now()),
  },
}).createMachine({
  id: 'defaultPager',
  context: ({ input }) => ({
    io: input.io,
    store: input.store,
    port: input.port,
    timing: input.timing ?? DEFAULT_PAGER_TIMING,
    objects: {},
    diskFreeAt: 0,
    stats: {
      inits: 0,
      requests: 0,
      supplied: 0,
      unavailable: 0,
      errors: 0,
      returned: 0,
      terminated: 0,
      rejected: 0,
      lockRequests: 0,
      lockCompleted: 0,
    },
  }),
  initial: 'serving',
  states: {
    serving: {
      on: {
        'mach.message': { actions: 'classify' },
        'mo.init': {
          actions: ['openObject', 'registerObject', { type: 'count', params: { stat: 'inits' } }],
        },
        'mo.data_request': [
          {
            guard: not('objectKnown'),
            actions: ['replyError', { type: 'count', params: { stat: 'errors' } }],
          },
          {
            guard: 'pageStored',
            actions: [
              'reserveDisk',
              'scheduleRead',
              { type: 'count', params: { stat: 'requests' } },
            ],
          },
          {
            actions: [
              'replyUnavailable',
              { type: 'count', params: { stat: 'requests' } },
              { type: 'count', params: { stat: 'unavailable' } },
            ],
          },
        ],
        'disk.read_done': [
          {
            guard: 'readStillWanted',
            actions: [
              'supplyData',
              'releaseReadControl',
              { type: 'count', params: { stat: 'supplied' } },
            ],
          },
          { actions: 'releaseReadControl' },
        ],
        'mo.data_return': [
          {
            guard: 'objectKnown',
            actions: ['reserveDisk', 'storeData', { type: 'count', params: { stat: 'returned' } }],
          },
          { actions: ['refuseUnknown', { type: 'count', params: { stat: 'rejected' } }] },
        ],
        'mo.terminate': [
          {
            guard: 'objectKnown',
            actions: [
              'dropObject',
              'unregisterObject',
              { type: 'count', params: { stat: 'terminated' } },
            ],
          },
          { actions: ['refuseUnknown', { type: 'count', params: { stat: 'rejected' } }] },
        ],
        'mo.lock_completed': {
          actions: ['noteLockCompleted', { type: 'count', params: { stat: 'lockCompleted' } }],
        },
        'mo.malformed': {
          actions: ['refuseMalformed', { type: 'count', params: { stat: 'rejected' } }],
        },
        lock: {
          guard: 'lockTargetKnown',
          actions: ['sendLockRequest', { type: 'count', params: { stat: 'lockRequests' } }],
        },
        shutdown: 'stopped',
      },
    },
    stopped: { type: 'final', entry: 'close' },
  },
});
