/**
 * The default pager statechart on its own port, driven by a test "kernel" space that holds a send
 * right to it and a memory control port: memory_object_init, data_request for pages it never got
 * and for pages it stores, data_return, terminate, lock requests, and malformed calls.
 */
import { describe, expect, it } from 'vitest';
import { checkIpcInvariants } from '../src/actors/invariants.ts';
import { IpcKernel } from '../src/actors/ipcKernel.ts';
import { DEFAULT_PAGER_TIMING, diskTimeMs, pagerMachine } from '../src/machines/pager.ts';
import { inlineData } from '../src/protocol/codec.ts';
import {
  dataRequestMessage,
  dataReturnMessage,
  initMessage,
  type KernelCall,
  lockCompletedMessage,
  MemoryObjectId,
  parseKernelCall,
  parseManagerCall,
  terminateMessage,
} from '../src/protocol/memoryObject.ts';
import type { MachMessage, ReceivedMessage } from '../src/protocol/message.ts';
import { KernReturn } from '../src/protocol/returnCodes.ts';
import { Disposition, PortRight } from '../src/protocol/rights.ts';
import { startPager } from '../src/servers/pager.ts';
import { World } from '../src/world/world.ts';

const PAGE = 4096;
const OBJ = 7;

function setup() {
  const world = new World(1);
  const ipc = new IpcKernel(world, 'host');
  ipc.deliveryLatencyMs = 0.05;
  const pager = startPager(ipc);
  const kernel = ipc.createSpace('kernel');
  const toPager = ipc.extractRight(pager.space, pager.port, Disposition.MAKE_SEND, kernel);
  const ctl = ipc.allocate(kernel, PortRight.RECEIVE, 'control');
  const send = (m: MachMessage) => ipc.send(kernel, m);
  /** Runs the world and returns every call that came back on the control port. */
  const answers = (): (KernelCall & { at: number })[] => {
    const out: (KernelCall & { at: number })[] = [];
    const trace = world.trace.record();
    world.runUntilIdle();
    trace.stop();
    const times = trace.events.flatMap((e) =>
      e.kind === 'ipc.send' && e.portLabel === 'control' ? [e.time] : [],
    );
    for (;;) {
      let m: ReceivedMessage | null;
      try {
        m = ipc.receive(kernel, ctl, { timeout: 0 });
      } catch {
        return out;
      }
      const c = parseKernelCall(m!);
      if ('malformed' in c) throw new Error(c.malformed);
      out.push({ ...c, at: times[out.length]! });
    }
  };
  const init = () => send(initMessage(toPager, ctl, { object: OBJ, pageSize: PAGE }));
  const request = (offset: number, length = PAGE) =>
    send(dataRequestMessage(toPager, ctl, { object: OBJ, offset, length, access: 3 }));
  const giveBack = (offset: number, data: Uint8Array) =>
    send(
      dataReturnMessage(
        toPager,
        ctl,
        { object: OBJ, offset, dirty: true, kernelCopy: false },
        data,
      ),
    );
  const context = () => pager.actor.getSnapshot().context;
  return {
    world,
    ipc,
    pager,
    kernel,
    toPager,
    ctl,
    send,
    answers,
    init,
    request,
    giveBack,
    context,
  };
}

const page = (fill: number) => new Uint8Array(PAGE).fill(fill);

describe('memory_object_init', () => {
  it('opens the object and keeps the control right for later lock requests', () => {
    const t = setup();
    t.init();
    t.world.runUntilIdle();
    expect(t.pager.store.has(OBJ)).toBe(true);
    expect(t.context().objects[OBJ]).toMatchObject({ pageSize: PAGE });
    expect(t.context().stats.inits).toBe(1);
    expect(t.pager.space.entries.size).toBe(2); // its port and the control send right
  });
});

describe('memory_object_data_request', () => {
  it('answers data_unavailable at once for a page never written (the kernel zero-fills)', () => {
    const t = setup();
    t.init();
    t.request(3 * PAGE);
    const sentAt = t.world.now();
    const [answer, ...rest] = t.answers();
    expect(rest).toEqual([]);
    expect(answer).toMatchObject({ kind: 'data_unavailable', offset: 3 * PAGE, length: PAGE });
    expect(answer!.at).toBeCloseTo(sentAt + 0.05, 9);
    expect(t.context().stats).toMatchObject({ requests: 1, unavailable: 1, supplied: 0 });
  });

  it('supplies a stored page after the disk has read it', () => {
    const t = setup();
    t.init();
    t.giveBack(PAGE, page(0xab));
    t.world.runUntilIdle();
    t.world.runUntilTime(t.world.now() + 100); // the write is done
    const sentAt = t.world.now();
    t.request(PAGE);
    const [answer] = t.answers();
    expect(answer).toMatchObject({ kind: 'data_supply', offset: PAGE, precious: false });
    expect((answer as Extract<KernelCall, { kind: 'data_supply' }>).data).toEqual(page(0xab));
    expect(answer!.at).toBeCloseTo(sentAt + 0.05 + diskTimeMs(DEFAULT_PAGER_TIMING, PAGE), 9);
  });

  it('reads one page at a time from its disk: requests queue behind each other', () => {
    const t = setup();
    t.init();
    t.giveBack(0, page(1));
    t.giveBack(PAGE, page(2));
    t.world.runUntilIdle();
    t.world.runUntilTime(t.world.now() + 100);
    const sentAt = t.world.now();
    t.request(0);
    t.request(PAGE);
    const [a, b] = t.answers();
    const d = diskTimeMs(DEFAULT_PAGER_TIMING, PAGE);
    expect(a!.at).toBeCloseTo(sentAt + 0.05 + d, 9);
    expect(b!.at).toBeCloseTo(sentAt + 0.05 + 2 * d, 9);
  });

  it('supplies a multi-page range, with zeros for the pages it never got', () => {
    const t = setup();
    t.init();
    t.giveBack(PAGE, page(5));
    t.request(0, 2 * PAGE);
    const [answer] = t.answers();
    const data = (answer as Extract<KernelCall, { kind: 'data_supply' }>).data;
    expect(data.subarray(0, PAGE)).toEqual(page(0));
    expect(data.subarray(PAGE)).toEqual(page(5));
  });

  it('answers data_error for an object it does not know', () => {
    const t = setup();
    t.request(0);
    const [answer] = t.answers();
    expect(answer).toMatchObject({
      kind: 'data_error',
      offset: 0,
      length: PAGE,
      reason: KernReturn.KERN_MEMORY_FAILURE,
    });
    expect(t.pager.space.entries.size).toBe(1); // the control right it got is given back
  });
});

describe('memory_object_data_return', () => {
  it('stores each returned page, replacing what it had', () => {
    const t = setup();
    t.init();
    t.giveBack(0, new Uint8Array(2 * PAGE).fill(1));
    t.giveBack(PAGE, page(9));
    t.world.runUntilIdle();
    expect(t.pager.store.pageCount(OBJ)).toBe(2);
    expect(t.pager.store.read(OBJ, 0, 2 * PAGE, PAGE)).toEqual(
      new Uint8Array([...page(1), ...page(9)]),
    );
    expect(t.context().stats.returned).toBe(2);
    expect(t.pager.space.entries.size).toBe(2);
  });
});

describe('memory_object_terminate', () => {
  it('frees the object’s storage and destroys the control port it is given', () => {
    const t = setup();
    t.init();
    t.giveBack(0, page(1));
    t.world.runUntilIdle();
    t.send(terminateMessage(t.toPager, t.ctl, { object: OBJ }));
    t.world.runUntilIdle();
    expect(t.pager.store.has(OBJ)).toBe(false);
    expect(t.pager.store.pageCount()).toBe(0);
    expect(t.context().objects[OBJ]).toBeUndefined();
    expect(t.context().stats.terminated).toBe(1);
    expect(t.pager.space.entries.size).toBe(1);
    expect(t.kernel.lookup(t.ctl)).toBeUndefined(); // the port went with the call
    expect(checkIpcInvariants(t.ipc)).toEqual([]);
  });
});

describe('malformed calls', () => {
  const cases: [string, (t: ReturnType<typeof setup>) => MachMessage, string | RegExp][] = [
    [
      'an unknown id',
      (t) => ({ remotePort: t.toPager, remoteDisposition: Disposition.COPY_SEND, id: 4242 }),
      'message id 4242 is not a call of this interface',
    ],
    [
      'init without its control right',
      (t) => {
        const m = initMessage(t.toPager, t.ctl, { object: OBJ, pageSize: PAGE });
        return { ...m, body: m.body!.slice(0, 1) };
      },
      'init body must have 2 items, got 1',
    ],
    [
      'a page size that is not a power of two',
      (t) => initMessage(t.toPager, t.ctl, { object: OBJ, pageSize: 3 }),
      'init.pageSize must be a power of two >= 8, got 3',
    ],
    [
      'an offset that is not a number',
      (t) => {
        const m = dataRequestMessage(t.toPager, t.ctl, {
          object: OBJ,
          offset: 0,
          length: PAGE,
          access: 1,
        });
        return {
          ...m,
          body: [inlineData({ object: OBJ, offset: 'zero', length: PAGE, access: 1 }), m.body![1]!],
        };
      },
      'data_request.offset must be a non-negative integer, got "zero"',
    ],
    [
      'data that does not decode',
      (t) => {
        const m = dataRequestMessage(t.toPager, t.ctl, {
          object: OBJ,
          offset: 0,
          length: PAGE,
          access: 1,
        });
        return { ...m, body: [{ type: 'inline', data: Uint8Array.of(0xc1) }, m.body![1]!] };
      },
      /^data_request data does not decode: /,
    ],
    [
      'a data_return without its data',
      (t) => {
        const m = dataReturnMessage(
          t.toPager,
          t.ctl,
          { object: OBJ, offset: 0, dirty: true, kernelCopy: false },
          page(1),
        );
        return { ...m, body: m.body!.slice(0, 2) };
      },
      'data_return body must have 3 items, got 2',
    ],
    [
      'a reply right where none belongs',
      (t) => ({
        ...initMessage(t.toPager, t.ctl, { object: OBJ, pageSize: PAGE }),
        localPort: t.ipc.allocate(t.kernel, PortRight.RECEIVE, 'reply'),
        localDisposition: Disposition.MAKE_SEND_ONCE,
      }),
      'init carries an unexpected reply right',
    ],
    [
      'a misaligned data_return for a known object',
      (t) => {
        t.init();
        return dataReturnMessage(
          t.toPager,
          t.ctl,
          { object: OBJ, offset: 10, dirty: true, kernelCopy: false },
          page(1),
        );
      },
      'data_return.offset 10 is not a multiple of the page size 4096',
    ],
    [
      'a data_request for a partial page of a known object',
      (t) => {
        t.init();
        return dataRequestMessage(t.toPager, t.ctl, {
          object: OBJ,
          offset: 0,
          length: 100,
          access: 1,
        });
      },
      'data_request length 100 is not a multiple of the page size 4096',
    ],
  ];

  for (const [what, build, reason] of cases) {
    it(`refuses ${what}, counts it, and changes nothing`, () => {
      const t = setup();
      const m = build(t);
      t.world.runUntilIdle();
      const before = {
        objects: t.context().objects,
        pages: t.pager.store.pageCount(),
        names: [...t.pager.space.entries.keys()],
      };
      const trace = t.world.trace.record();
      t.send(m);
      expect(t.answers()).toEqual([]);
      const rejected = trace.events.filter((e) => e.kind === 'vm.rejected');
      expect(rejected).toHaveLength(1);
      expect(rejected[0]).toMatchObject({ side: 'pager', id: m.id });
      expect((rejected[0] as { reason: string }).reason).toMatch(reason);
      expect(t.context().stats.rejected).toBe(1);
      expect(t.context().objects).toBe(before.objects);
      expect(t.pager.store.pageCount()).toBe(before.pages);
      expect([...t.pager.space.entries.keys()]).toEqual(before.names);
      expect(checkIpcInvariants(t.ipc)).toEqual([]);
    });
  }

  it('refuses a data_return or terminate for an object it does not know', () => {
    const t = setup();
    t.giveBack(0, page(1));
    t.send(terminateMessage(t.toPager, t.ctl, { object: 99 }));
    t.world.runUntilIdle();
    expect(t.context().stats.rejected).toBe(2);
    expect(t.pager.store.pageCount()).toBe(0);
    expect(t.pager.space.entries.size).toBe(1);
  });
});

describe('memory_object_lock_request', () => {
  it('goes to the object’s control port with a reply right, and lock_completed is noted', () => {
    const t = setup();
    t.init();
    t.world.runUntilIdle();
    const completed: number[][] = [];
    t.pager.onLockCompleted = (...args) => completed.push(args);
    t.pager.lockRequest(OBJ, 0, 4 * PAGE, { flush: true });
    t.world.runUntilIdle();
    const m = t.ipc.receive(t.kernel, t.ctl, { timeout: 0 })!;
    expect(parseKernelCall(m)).toMatchObject({
      kind: 'lock_request',
      offset: 0,
      length: 4 * PAGE,
      shouldFlush: true,
      shouldReturn: 1,
    });
    t.send(lockCompletedMessage(m.remotePort, { object: OBJ, offset: 0, length: 4 * PAGE }));
    t.world.runUntilIdle();
    expect(completed).toEqual([[OBJ, 0, 4 * PAGE]]);
    expect(t.context().stats).toMatchObject({ lockRequests: 1, lockCompleted: 1 });
  });

  it('is not sent for an object the pager does not know', () => {
    const t = setup();
    t.pager.lockRequest(OBJ, 0, PAGE);
    expect(t.answers()).toEqual([]);
    expect(t.context().stats.lockRequests).toBe(0);
  });
});

describe('the statechart', () => {
  it('serves until shut down, then closes its port', () => {
    const t = setup();
    expect(Object.keys(pagerMachine.root.states)).toEqual(['serving', 'stopped']);
    expect(t.pager.actor.getSnapshot().value).toBe('serving');
    t.pager.actor.send({ type: 'shutdown' });
    expect(t.pager.actor.getSnapshot().status).toBe('done');
    expect(t.pager.space.entries.size).toBe(0);
    expect(() => t.init()).toThrow(/MACH_SEND_INVALID_DEST/);
  });
});

describe('the protocol codec', () => {
  it('round-trips every kernel-to-manager call through mach_msg', () => {
    const world = new World(1);
    const ipc = new IpcKernel(world, 'host');
    const a = ipc.createSpace('a');
    const b = ipc.createSpace('b');
    const port = ipc.allocate(b, PortRight.RECEIVE, 'manager');
    const right = ipc.extractRight(b, port, Disposition.MAKE_SEND, a);
    const ctl = ipc.allocate(a, PortRight.RECEIVE, 'control');
    ipc.send(
      a,
      dataRequestMessage(right, ctl, { object: 1, offset: 8192, length: 4096, access: 3 }),
    );
    const got = parseManagerCall(ipc.receive(b, port, { timeout: 0 })!);
    expect(got).toMatchObject({
      kind: 'data_request',
      object: 1,
      offset: 8192,
      length: 4096,
      access: 3,
    });
    expect(MemoryObjectId.DATA_REQUEST).toBe(2202);
  });
});
