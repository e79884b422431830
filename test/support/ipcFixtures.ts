/**
 * Shared fixtures for the Mach IPC suites: a world with one kernel and three spaces, a
 * normalised snapshot of every space and port (to prove that a rejected call changed nothing),
 * and small helpers that read like the Mach calls they stand for.
 */
import { expect } from 'vitest';
import { checkIpcInvariants } from '../../src/actors/invariants.ts';
import { IpcKernel } from '../../src/actors/ipcKernel.ts';
import type { ReceiveOutcome, SendOutcome } from '../../src/actors/outcomes.ts';
import type { Port } from '../../src/actors/port.ts';
import type { PortSpace } from '../../src/actors/portSpace.ts';
import { isMachError, type MachError } from '../../src/protocol/errors.ts';
import type { MachMessage, ReceivedMessage } from '../../src/protocol/message.ts';
import type { ReturnCodeName } from '../../src/protocol/returnCodes.ts';
import { Disposition, PortRight, PortType } from '../../src/protocol/rights.ts';
import { World } from '../../src/world/world.ts';

export interface Fixture {
  world: World;
  k: IpcKernel;
  a: PortSpace;
  b: PortSpace;
  c: PortSpace;
}

/** A fresh world with one host kernel and three task spaces a, b, c. */
export function makeFixture(seed = 1): Fixture {
  const world = new World(seed);
  const k = new IpcKernel(world, 'host');
  return { world, k, a: k.createSpace('a'), b: k.createSpace('b'), c: k.createSpace('c') };
}

/** MACH_PORT_TYPE_DNREQUEST (0x80000000) as mach_port_type reports it. */
export const TYPE_DNREQUEST = 0x80000000;

/** mach_port_type with the dead-name-request bit stripped: just the rights. */
export function rightsOf(k: IpcKernel, space: PortSpace, name: number): number {
  return (k.type(space, name) >>> 0) & ~TYPE_DNREQUEST;
}

/** The kernel port a name denotes (white-box: for checking where a right went). */
export function portOf(space: PortSpace, name: number): Port {
  const p = space.entries.get(name)?.port;
  if (!p) throw new Error(`name ${name} of ${space.label} denotes no port`);
  return p;
}

/** A new port whose receive right `receiver` holds; returns its name there. */
export function newPort(k: IpcKernel, receiver: PortSpace, label?: string): number {
  return k.allocate(receiver, PortRight.RECEIVE, label);
}

/**
 * Gives `holder` a send right (made from the receive right `rname` of `receiver`) under
 * `holderName`, as mach_port_insert_right with MAKE_SEND does.
 */
export function giveSend(
  k: IpcKernel,
  receiver: PortSpace,
  rname: number,
  holder: PortSpace,
  holderName: number,
): number {
  k.insertRight(holder, holderName, receiver, rname, Disposition.MAKE_SEND);
  return holderName;
}

/** Calls `fn`, expects a MachError with `codeName`, and returns it. */
export function expectMachError(fn: () => unknown, codeName: ReturnCodeName): MachError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (!isMachError(caught)) {
    throw new Error(
      `expected a MachError ${codeName}, got ${caught === undefined ? 'no error' : String(caught)}`,
    );
  }
  expect(caught.codeName).toBe(codeName);
  expect(caught.detail.length).toBeGreaterThan(0);
  return caught;
}

/** A non-blocking receive: the queued message, or the MachError it failed with. */
export function tryReceive(
  k: IpcKernel,
  space: PortSpace,
  name: number,
  opts: { maxSize?: number; large?: boolean } = {},
): ReceivedMessage | MachError {
  try {
    return k.receive(space, name, { ...opts, timeout: 0 })!;
  } catch (e) {
    if (isMachError(e)) return e;
    throw e;
  }
}

/** Receives a message that must be queued now (fails the test otherwise). */
export function receiveNow(k: IpcKernel, space: PortSpace, name: number): ReceivedMessage {
  const m = k.receive(space, name, { timeout: 0 });
  if (m === null) throw new Error('receive blocked');
  return m;
}

/** Receives every queued message from `name` without blocking. */
export function drain(k: IpcKernel, space: PortSpace, name: number): ReceivedMessage[] {
  const out: ReceivedMessage[] = [];
  for (;;) {
    const r = tryReceive(k, space, name);
    if ('codeName' in r) {
      expect(r.codeName).toBe('MACH_RCV_TIMED_OUT');
      return out;
    }
    out.push(r);
  }
}

/** A simple message to `dest` (a send right of the sender) with COPY_SEND. */
export function simple(dest: number, id: number, extra: Partial<MachMessage> = {}): MachMessage {
  return { remotePort: dest, remoteDisposition: Disposition.COPY_SEND, id, ...extra };
}

/** Records the outcome of a blocking call. */
export function recorder<T extends SendOutcome | ReceiveOutcome>(
  world: World,
): { done: (r: T) => void; results: { at: number; r: T }[] } {
  const results: { at: number; r: T }[] = [];
  return { results, done: (r: T) => results.push({ at: world.now(), r }) };
}

export interface EntrySnap {
  name: number;
  type: number;
  urefs: number;
}

export interface PortSnap {
  label: string;
  dead: boolean;
  msgcount: number;
  qlimit: number;
  seqno: number;
  mscount: number;
  srights: number;
  sorights: number;
  receiver: string | null;
  blockedSenders: number;
  blockedReceivers: number;
  inSet: boolean;
  requests: { ns: boolean; pd: boolean; dn: number };
}

export interface IpcSnapshot {
  spaces: Record<string, EntrySnap[]>;
  ports: PortSnap[];
  stats: IpcKernel['stats'];
  pending: boolean;
}

/**
 * Every space's names (type bits and user references) and every port's queue and counters.
 * Names are read through mach_port_type so that a send right whose port died reads as the dead
 * name it already is, whether or not the kernel has converted it yet.
 */
export function snapshotIpc(k: IpcKernel): IpcSnapshot {
  const spaces: Record<string, EntrySnap[]> = {};
  for (const s of k.spaces) {
    spaces[s.label] = s.names().map((name) => {
      const type = k.type(s, name) >>> 0;
      const urefs =
        type & PortType.SEND
          ? k.getRefs(s, name, PortRight.SEND)
          : type & PortType.DEAD_NAME
            ? k.getRefs(s, name, PortRight.DEAD_NAME)
            : type & (PortType.RECEIVE | PortType.SEND_ONCE | PortType.PORT_SET)
              ? 1
              : 0;
      return { name, type, urefs };
    });
  }
  const ports = [...k.ports]
    .sort((x, y) => x.id - y.id)
    .map((p) => ({
      label: p.label,
      dead: p.dead,
      msgcount: p.msgcount,
      qlimit: p.qlimit,
      seqno: p.seqno,
      mscount: p.mscount,
      srights: p.srights,
      sorights: p.sorights,
      receiver: p.receiver?.label ?? null,
      blockedSenders: p.senders?.length ?? 0,
      blockedReceivers: p.receivers?.length ?? 0,
      inSet: p.pset !== null,
      requests: {
        ns: p.nsRequest !== null,
        pd: p.pdRequest !== null,
        dn: p.dnRequests?.length ?? 0,
      },
    }));
  return { spaces, ports, stats: { ...k.stats }, pending: !k.world.idle };
}

/** Asserts the kernel's right accounting is consistent. */
export function expectConsistent(k: IpcKernel): void {
  expect(checkIpcInvariants(k)).toEqual([]);
}
