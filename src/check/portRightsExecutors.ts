import type { AnyMachineSnapshot, EventObject } from 'xstate';
import {
  PORT_RIGHTS_EVENTS,
  PORT_RIGHTS_FAULTS,
  type PortRightsContext,
  portRightsModel,
  type QueuedKind,
} from '../../models/portRights.ts';
import { checkIpcInvariants } from '../actors/invariants.ts';
import { IpcKernel } from '../actors/ipcKernel.ts';
import type { Port } from '../actors/port.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import { inlineData } from '../protocol/codec.ts';
import { MachError } from '../protocol/errors.ts';
import type { ReceivedMessage } from '../protocol/message.ts';
import { NotifyId } from '../protocol/notifications.ts';
import { Disposition, PortRight, PortType } from '../protocol/rights.ts';
import { World } from '../world/world.ts';
import type { CheckModel } from './runner.ts';

/**
 * Executors and assertions of the port-rights model (models/portRights.ts) on a real IPC kernel:
 * each event is one mach_port_* or mach_msg call between the spaces R, S, A, B and C; each state
 * is checked against the spaces' names, rights and user references, the port's queue, the
 * notifications delivered, and the kernel's own right accounting (checkIpcInvariants). At the end
 * every space is destroyed, and no port may be left.
 */

const AN = 0x500;
const CN = 0x600;
const BN = 0x700;
const SN = 0x800;
const A_SEND = 100;
const B_ONCE = 300;

export interface PortRightsCtx {
  readonly world: World;
  readonly k: IpcKernel;
  readonly R: PortSpace;
  readonly S: PortSpace;
  readonly A: PortSpace;
  readonly B: PortSpace;
  readonly C: PortSpace;
  readonly port: Port;
  /** The receive right's holder and its name there. */
  holder: PortSpace;
  name: number;
  readonly notifyR: number;
  readonly notifyS: number;
  readonly notifyA: number;
  got: ReceivedMessage | null;
}

function begin(): PortRightsCtx {
  const world = new World(1);
  const k = new IpcKernel(world, 'host');
  const R = k.createSpace('R');
  const S = k.createSpace('S');
  const A = k.createSpace('A');
  const B = k.createSpace('B');
  const C = k.createSpace('C');
  const name = k.allocate(R, PortRight.RECEIVE, 'P');
  const port = R.lookup(name)!.port!;
  return {
    world,
    k,
    R,
    S,
    A,
    B,
    C,
    port,
    holder: R,
    name,
    notifyR: k.allocate(R, PortRight.RECEIVE, 'notify-R'),
    notifyS: k.allocate(S, PortRight.RECEIVE, 'notify-S'),
    notifyA: k.allocate(A, PortRight.RECEIVE, 'notify-A'),
    got: null,
  };
}

function exec(ctx: PortRightsCtx, event: EventObject, next: AnyMachineSnapshot): void {
  const { k, R, S, A, B, C } = ctx;
  const c = next.context as PortRightsContext;
  ctx.got = null;
  switch (event.type) {
    case 'MAKE_SEND':
      k.insertRight(A, AN, ctx.holder, ctx.name, Disposition.MAKE_SEND);
      break;
    case 'COPY_SEND':
      k.insertRight(C, CN, A, AN, Disposition.COPY_SEND);
      break;
    case 'MOVE_SEND':
      k.insertRight(C, CN, A, AN, Disposition.MOVE_SEND);
      break;
    case 'DEALLOC_A':
      k.deallocate(A, AN);
      break;
    case 'DEALLOC_C':
      k.deallocate(C, CN);
      break;
    case 'MAKE_SEND_ONCE':
      k.insertRight(B, BN, ctx.holder, ctx.name, Disposition.MAKE_SEND_ONCE);
      break;
    case 'SEND_ONCE':
      k.send(B, { remotePort: BN, remoteDisposition: Disposition.MOVE_SEND_ONCE, id: B_ONCE });
      break;
    case 'DROP_SEND_ONCE':
      k.deallocate(B, BN);
      break;
    case 'SEND_A':
      k.send(A, {
        remotePort: AN,
        remoteDisposition: Disposition.COPY_SEND,
        id: A_SEND + c.sentA - 1,
        body: [inlineData({ n: c.sentA })],
      });
      break;
    case 'RECEIVE':
      ctx.got = k.receive(ctx.holder, ctx.name, { timeout: 0 });
      break;
    case 'REQUEST_NO_SENDERS': {
      const notify = ctx.holder === R ? ctx.notifyR : ctx.notifyS;
      k.requestNotification(ctx.holder, ctx.name, 'no-senders', 0, notify);
      break;
    }
    case 'REQUEST_DEAD_NAME':
      k.requestNotification(A, AN, 'dead-name', 0, ctx.notifyA);
      break;
    case 'MOVE_RECEIVE':
      k.insertRight(S, SN, R, ctx.name, Disposition.MOVE_RECEIVE);
      ctx.holder = S;
      ctx.name = SN;
      break;
    case 'DESTROY_RECEIVE':
      k.destroy(ctx.holder, ctx.name);
      break;
    case 'TERMINATE_A':
      k.destroySpace(A);
      break;
    default:
      throw new Error(`no executor for ${event.type}`);
  }
  // Deferred wake-ups and deliveries happen now.
  ctx.world.runUntilIdle();
}

const ID_OF: Record<QueuedKind, (n: number) => boolean> = {
  a1: (id) => id === A_SEND,
  a2: (id) => id === A_SEND + 1,
  a3: (id) => id === A_SEND + 2,
  b: (id) => id === B_ONCE,
  so: (id) => id === NotifyId.SEND_ONCE,
};

const NOTE: Record<number, string> = {
  [NotifyId.NO_SENDERS]: 'no-senders',
  [NotifyId.SEND_ONCE]: 'send-once',
  [NotifyId.DEAD_NAME]: 'dead-name',
  [NotifyId.PORT_DELETED]: 'port-deleted',
};

function drain(ctx: PortRightsCtx, space: PortSpace, name: number, who: string): string[] {
  const out: string[] = [];
  if (!space.active) return out;
  for (;;) {
    let m: ReceivedMessage | null;
    try {
      m = ctx.k.receive(space, name, { timeout: 0 });
    } catch (e) {
      if (e instanceof MachError) return out;
      throw e;
    }
    if (m === null) return out;
    out.push(`${who}:${NOTE[m.id] ?? `message ${m.id}`}`);
  }
}

/** What a space holds under a name: "send 2", "dead 1", "once", "none". */
function holding(space: PortSpace, name: number): string {
  if (!space.active) return 'gone';
  const e = space.lookup(name);
  if (e === undefined) return 'none';
  if (e.bits & PortType.SEND) return `send ${e.urefs}`;
  if (e.bits & PortType.SEND_ONCE) return 'once';
  if (e.bits & PortType.DEAD_NAME) return `dead ${e.urefs}`;
  return `bits ${e.bits}`;
}

function check(ctx: PortRightsCtx, state: AnyMachineSnapshot): string[] {
  const c = state.context as PortRightsContext;
  const out = checkIpcInvariants(ctx.k).map((p) => `IPC: ${p}`);
  const expect = (what: string, got: string, want: string) => {
    if (got !== want) out.push(`${what}: ${got}, expected ${want}`);
  };
  // The receive right.
  if (c.recv === 'dead') expect('port', ctx.port.dead ? 'dead' : 'alive', 'dead');
  else {
    const want = c.recv === 'R' ? ctx.R : ctx.S;
    const e = want.lookup(ctx.name);
    expect('receive right', e && e.bits & PortType.RECEIVE ? want.label : 'elsewhere', want.label);
    expect('queued', String(ctx.port.msgcount), String(c.queue.length));
  }
  // A, C and B's names.
  const aWant = !c.aAlive
    ? 'gone'
    : c.sendA > 0
      ? `send ${c.sendA}`
      : c.deadA > 0
        ? `dead ${c.deadA}`
        : 'none';
  expect("A's name", holding(ctx.A, AN), aWant);
  expect(
    "C's name",
    holding(ctx.C, CN),
    c.sendC > 0 ? `send ${c.sendC}` : c.deadC > 0 ? `dead ${c.deadC}` : 'none',
  );
  expect(
    "B's name",
    holding(ctx.B, BN),
    c.once === 'held' ? 'once' : c.once === 'dead' ? 'dead 1' : 'none',
  );
  // What the last receive got.
  if (c.got !== null) {
    const id = ctx.got?.id;
    if (id === undefined || !ID_OF[c.got](id))
      out.push(`received message ${id}, expected ${c.got}`);
  }
  // Notifications sent by the last event, and no other.
  const notes = [
    ...drain(ctx, ctx.R, ctx.notifyR, 'R'),
    ...drain(ctx, ctx.S, ctx.notifyS, 'R'),
    ...drain(ctx, ctx.A, ctx.notifyA, 'A'),
  ].sort();
  expect('notifications', notes.join(',') || 'none', [...c.notes].sort().join(',') || 'none');
  return out;
}

function end(ctx: PortRightsCtx): string[] {
  for (const s of [ctx.R, ctx.S, ctx.A, ctx.B, ctx.C]) if (s.active) ctx.k.destroySpace(s);
  ctx.world.runUntilIdle();
  const out = checkIpcInvariants(ctx.k).map((p) => `IPC at the end: ${p}`);
  if (ctx.k.ports.size > 0)
    out.push(`ports left behind: ${[...ctx.k.ports].map((p) => p.label).join(', ')}`);
  if (ctx.k.spaces.size > 0) out.push(`spaces left behind: ${ctx.k.spaces.size}`);
  return out;
}

export const portRightsCheck: CheckModel<PortRightsCtx> = {
  name: 'port-rights',
  description: 'one port: dispositions, user references, queue, notifications, death',
  machine: portRightsModel,
  events: PORT_RIGHTS_EVENTS,
  faults: PORT_RIGHTS_FAULTS,
  simplePaths: false,
  // The notes and the last message received belong to the step, not to the state.
  serialize: (s) => {
    const { notes: _n, got: _g, ...rest } = s.context as PortRightsContext;
    return JSON.stringify({ value: s.value, context: rest });
  },
  begin,
  exec,
  check,
  end,
};
