import { MachError } from '../protocol/errors.ts';
import type { NotifyVariant } from '../protocol/notifications.ts';
import {
  Disposition,
  isDisposition,
  MACH_PORT_DEAD,
  MACH_PORT_NULL,
  MACH_PORT_QLIMIT_MAX,
  MACH_PORT_UREFS_MAX,
  nameHex,
  PortRight,
  PortType,
  rightName,
} from '../protocol/rights.ts';
import type { IpcKernel } from './ipcKernel.ts';
import { queueLimitRaised, receiveFrom } from './machMsg.ts';
import type { Port } from './port.ts';
import { destroyPortSet, destroyReceive } from './portDeath.ts';
import type { Entry, PortSpace } from './portSpace.ts';
import { checkNoSenders, notifyDeadName, releaseSend, releaseSendOnce } from './rightRelease.ts';
import { checkCopyin, copyin, copyout, dropName } from './rightTransfer.ts';
import type { ReceiveWaiter } from './waiters.ts';

/**
 * The mach_port_* calls on a space (mach3-kernel-interfaces.txt, chapter on port management).
 * Each either succeeds or throws a MachError having changed nothing.
 */

function entryOf(space: PortSpace, name: number, what = 'name'): Entry {
  const e = space.lookup(name);
  if (e === undefined)
    throw new MachError(
      'KERN_INVALID_NAME',
      `${what} ${nameHex(name)} is not in space "${space.label}"`,
    );
  return e;
}

function receivePort(space: PortSpace, name: number): Port {
  const e = entryOf(space, name);
  if (!(e.bits & PortType.RECEIVE))
    throw new MachError(
      'KERN_INVALID_RIGHT',
      `name ${nameHex(name)} does not denote a receive right`,
    );
  return e.port!;
}

/** mach_port_allocate / mach_port_allocate_name. */
export function allocate(
  k: IpcKernel,
  space: PortSpace,
  right: PortRight,
  label?: string,
  name?: number,
): number {
  if (!space.active)
    throw new MachError('KERN_INVALID_TASK', `space "${space.label}" is terminated`);
  if (name !== undefined) {
    if (!Number.isInteger(name) || name === MACH_PORT_NULL || name === MACH_PORT_DEAD)
      throw new MachError('KERN_INVALID_VALUE', `${String(name)} cannot name a right`);
    if (space.entries.has(name))
      throw new MachError(
        'KERN_NAME_EXISTS',
        `name ${nameHex(name)} already denotes a right in "${space.label}"`,
      );
  }
  switch (right) {
    case PortRight.RECEIVE: {
      const p = k.createPort(label ?? `${space.label}#${space.entries.size}`);
      p.receiver = space;
      return space.insert(name ?? space.allocateName(), PortType.RECEIVE, 0, p, null).name;
    }
    case PortRight.PORT_SET: {
      const s = k.createPortSet(space);
      return space.insert(name ?? space.allocateName(), PortType.PORT_SET, 0, null, s).name;
    }
    case PortRight.DEAD_NAME:
      return space.insert(name ?? space.allocateName(), PortType.DEAD_NAME, 1, null, null).name;
    default:
      throw new MachError(
        'KERN_INVALID_VALUE',
        `cannot allocate a ${rightName(right)} right: only RECEIVE, PORT_SET or DEAD_NAME`,
      );
  }
}

/** mach_port_deallocate: one user reference of a send, send-once or dead name goes. */
export function deallocate(k: IpcKernel, space: PortSpace, name: number): void {
  const e = entryOf(space, name);
  if (e.bits & PortType.SEND) return dropSendRefs(k, space, e, 1);
  if (e.bits & PortType.SEND_ONCE) {
    const p = e.port!;
    e.bits &= ~PortType.SEND_ONCE;
    dropName(k, space, e);
    releaseSendOnce(k, p);
    return;
  }
  if (e.bits & PortType.DEAD_NAME) {
    if (--e.urefs === 0) {
      e.bits = 0;
      space.removeIfEmpty(e);
    }
    return;
  }
  throw new MachError(
    'KERN_INVALID_RIGHT',
    `name ${nameHex(name)} denotes ${e.bits & PortType.PORT_SET ? 'a port set' : 'only a receive right'}; use mod_refs or destroy`,
  );
}

function dropSendRefs(k: IpcKernel, space: PortSpace, e: Entry, n: number): void {
  e.urefs -= n;
  if (e.urefs > 0) return;
  const p = e.port!;
  e.bits &= ~PortType.SEND;
  dropName(k, space, e);
  releaseSend(k, p);
}

/** mach_port_destroy: every right the name denotes goes. */
export function destroy(k: IpcKernel, space: PortSpace, name: number): void {
  const e = entryOf(space, name);
  const p = e.port;
  const bits = e.bits;
  e.bits = 0;
  e.urefs = 0;
  dropName(k, space, e);
  space.removeIfEmpty(e);
  if (bits & PortType.PORT_SET && e.pset) destroyPortSet(k, e.pset);
  if (p === null) return;
  if (bits & PortType.SEND) releaseSend(k, p);
  if (bits & PortType.SEND_ONCE) releaseSendOnce(k, p);
  if (bits & PortType.RECEIVE) destroyReceive(k, p);
}

/** mach_port_mod_refs. */
export function modRefs(
  k: IpcKernel,
  space: PortSpace,
  name: number,
  right: PortRight,
  delta: number,
): void {
  if (!Number.isInteger(delta))
    throw new MachError('KERN_INVALID_VALUE', `delta must be an integer, got ${delta}`);
  const e = entryOf(space, name);
  const bit = [
    PortType.SEND,
    PortType.RECEIVE,
    PortType.SEND_ONCE,
    PortType.PORT_SET,
    PortType.DEAD_NAME,
  ][right];
  if (bit === undefined)
    throw new MachError('KERN_INVALID_VALUE', `invalid right ${String(right)}`);
  if (!(e.bits & bit))
    throw new MachError(
      'KERN_INVALID_RIGHT',
      `name ${nameHex(name)} does not denote a ${rightName(right)} right`,
    );
  if (right === PortRight.SEND || right === PortRight.DEAD_NAME) {
    const n = e.urefs + delta;
    if (n < 0)
      throw new MachError(
        'KERN_INVALID_VALUE',
        `name ${nameHex(name)} has ${e.urefs} user references; cannot add ${delta}`,
      );
    if (n > MACH_PORT_UREFS_MAX)
      throw new MachError(
        'KERN_UREFS_OVERFLOW',
        `name ${nameHex(name)} would exceed ${MACH_PORT_UREFS_MAX} user references`,
      );
    if (delta >= 0) {
      e.urefs = n;
      return;
    }
    if (right === PortRight.SEND) return dropSendRefs(k, space, e, -delta);
    e.urefs = n;
    if (n === 0) {
      e.bits &= ~PortType.DEAD_NAME;
      space.removeIfEmpty(e);
    }
    return;
  }
  if (delta !== 0 && delta !== -1)
    throw new MachError(
      'KERN_INVALID_VALUE',
      `a ${rightName(right)} right takes delta 0 or -1, got ${delta}`,
    );
  if (delta === 0) return;
  const p = e.port;
  e.bits &= ~bit;
  if (right === PortRight.PORT_SET) {
    space.removeIfEmpty(e);
    destroyPortSet(k, e.pset!);
    return;
  }
  dropName(k, space, e);
  if (right === PortRight.SEND_ONCE) releaseSendOnce(k, p!);
  else destroyReceive(k, p!);
}

/** mach_port_get_refs. */
export function getRefs(space: PortSpace, name: number, right: PortRight): number {
  const e = entryOf(space, name);
  switch (right) {
    case PortRight.SEND:
      return e.bits & PortType.SEND ? e.urefs : 0;
    case PortRight.DEAD_NAME:
      return e.bits & PortType.DEAD_NAME ? e.urefs : 0;
    case PortRight.RECEIVE:
      return e.bits & PortType.RECEIVE ? 1 : 0;
    case PortRight.SEND_ONCE:
      return e.bits & PortType.SEND_ONCE ? 1 : 0;
    case PortRight.PORT_SET:
      return e.bits & PortType.PORT_SET ? 1 : 0;
    default:
      throw new MachError('KERN_INVALID_VALUE', `invalid right ${String(right)}`);
  }
}

/** mach_port_type: the type bits of a name. */
export function type(space: PortSpace, name: number): number {
  const e = entryOf(space, name);
  return e.bits | (e.dnRequest !== null ? 1 << 31 : 0);
}

/** mach_port_insert_right: give `target` the right `name` of `source`, under `targetName`. */
export function insertRight(
  k: IpcKernel,
  target: PortSpace,
  targetName: number,
  source: PortSpace,
  name: number,
  disposition: Disposition,
): void {
  if (!target.active)
    throw new MachError('KERN_INVALID_TASK', `space "${target.label}" is terminated`);
  if (
    targetName === MACH_PORT_NULL ||
    targetName === MACH_PORT_DEAD ||
    !Number.isInteger(targetName)
  ) {
    throw new MachError('KERN_INVALID_VALUE', `${String(targetName)} cannot name a right`);
  }
  if (!isDisposition(disposition))
    throw new MachError(
      'KERN_INVALID_VALUE',
      `right type ${String(disposition)} is not a port right disposition`,
    );
  if (name === MACH_PORT_NULL || name === MACH_PORT_DEAD)
    throw new MachError(
      'KERN_INVALID_CAPABILITY',
      `the right is ${name === MACH_PORT_NULL ? 'MACH_PORT_NULL' : 'MACH_PORT_DEAD'}`,
    );
  checkCopyin(source, name, disposition, 'KERN_INVALID_RIGHT', 'right', null, false);
  const srcEntry = source.lookup(name)!;
  const port = srcEntry.port!;
  const toSend =
    disposition !== Disposition.MOVE_RECEIVE &&
    disposition !== Disposition.MOVE_SEND_ONCE &&
    disposition !== Disposition.MAKE_SEND_ONCE;
  // As ipc_object_copyout_name: send and receive rights join the name the target already uses
  // for the port (which must be `targetName`); anything else needs an unused name.
  const reverse =
    toSend || disposition === Disposition.MOVE_RECEIVE ? target.byPort.get(port) : undefined;
  if (reverse !== undefined) {
    if (reverse.name !== targetName)
      throw new MachError(
        'KERN_RIGHT_EXISTS',
        `space "${target.label}" already names this port ${nameHex(reverse.name)}`,
      );
    if (disposition === Disposition.MOVE_RECEIVE && reverse.bits & PortType.RECEIVE)
      throw new MachError(
        'KERN_RIGHT_EXISTS',
        `${nameHex(targetName)} already holds the receive right`,
      );
    if (toSend && reverse.bits & PortType.SEND && reverse.urefs >= MACH_PORT_UREFS_MAX)
      throw new MachError(
        'KERN_UREFS_OVERFLOW',
        `name ${nameHex(targetName)} already has ${MACH_PORT_UREFS_MAX} user references`,
      );
  } else if (target.entries.has(targetName)) {
    throw new MachError(
      'KERN_NAME_EXISTS',
      `name ${nameHex(targetName)} already denotes another right in "${target.label}"`,
    );
  }
  copyout(k, target, copyin(k, source, name, disposition), targetName);
}

/** mach_port_extract_right: take a right out of `target` into `into`; returns its name there. */
export function extractRight(
  k: IpcKernel,
  target: PortSpace,
  name: number,
  disposition: Disposition,
  into: PortSpace,
): number {
  if (!isDisposition(disposition))
    throw new MachError(
      'KERN_INVALID_VALUE',
      `desired type ${String(disposition)} is not a port right disposition`,
    );
  entryOf(target, name);
  checkCopyin(target, name, disposition, 'KERN_INVALID_RIGHT', 'right', null, false);
  return copyout(k, into, copyin(k, target, name, disposition));
}

/** mach_port_move_member: put a receive right into a port set, or take it out (after = NULL). */
export function moveMember(k: IpcKernel, space: PortSpace, member: number, after: number): void {
  const p = receivePort(space, member);
  if (after === MACH_PORT_NULL) {
    if (p.pset === null)
      throw new MachError('KERN_NOT_IN_SET', `port ${nameHex(member)} is not in a port set`);
    p.pset.members.delete(p);
    p.pset = null;
    return;
  }
  const e = entryOf(space, after, 'port set');
  if (!(e.bits & PortType.PORT_SET))
    throw new MachError('KERN_INVALID_RIGHT', `name ${nameHex(after)} is not a port set`);
  const set = e.pset!;
  if (p.pset !== null) p.pset.members.delete(p);
  p.drain = null; // a member is read through its set, not through its own mailbox
  p.pset = set;
  set.members.add(p);
  // Threads blocked on the port itself can no longer receive from it (MACH_RCV_PORT_CHANGED).
  const waiting = p.receivers;
  p.receivers = null;
  if (waiting !== null) {
    for (const w of waiting) {
      if (w.timer) k.world.cancel(w.timer);
      const error = new MachError(
        'MACH_RCV_PORT_CHANGED',
        `port ${nameHex(member)} was moved into a port set`,
      );
      k.defer(() => w.done({ ok: false, error }), 'ipc.rcv-changed');
    }
  }
  while (p.msgcount > 0 && set.receivers !== null && set.receivers.length > 0) {
    // Hand queued messages to threads already waiting on the set.
    const w = set.receivers.shift()!;
    deliverToSetWaiter(k, w, p);
  }
}

function deliverToSetWaiter(k: IpcKernel, w: ReceiveWaiter, p: Port): void {
  if (w.timer) k.world.cancel(w.timer);
  const name = w.space.byPort.get(p)?.name ?? MACH_PORT_NULL;
  try {
    const message = receiveFrom(k, w.space, p, name, w.maxSize, w.large);
    k.defer(() => w.done({ ok: true, message }), 'ipc.rcv-wake');
  } catch (err) {
    k.defer(() => w.done({ ok: false, error: err as MachError }), 'ipc.rcv-wake');
  }
}

/** mach_port_request_notification: returns the previous notify right's name (or NULL). */
export function requestNotification(
  k: IpcKernel,
  space: PortSpace,
  name: number,
  variant: NotifyVariant,
  sync: number,
  notifyName: number,
  notifyDisposition: Disposition = Disposition.MAKE_SEND_ONCE,
): number {
  const e = entryOf(space, name);
  if (!Number.isInteger(sync) || sync < 0)
    throw new MachError('KERN_INVALID_VALUE', `sync must be a non-negative integer, got ${sync}`);
  if (notifyName !== MACH_PORT_NULL) {
    if (
      notifyDisposition !== Disposition.MAKE_SEND_ONCE &&
      notifyDisposition !== Disposition.MOVE_SEND_ONCE
    ) {
      throw new MachError(
        'KERN_INVALID_VALUE',
        'the notify right must be MAKE_SEND_ONCE or MOVE_SEND_ONCE',
      );
    }
    checkCopyin(
      space,
      notifyName,
      notifyDisposition,
      'KERN_INVALID_CAPABILITY',
      'notify port',
      null,
      false,
    );
  }
  let previous: Port | null = null;
  const takeNotify = (): Port | null =>
    notifyName === MACH_PORT_NULL ? null : copyin(k, space, notifyName, notifyDisposition).port;
  switch (variant) {
    case 'port-destroyed': {
      if (!(e.bits & PortType.RECEIVE))
        throw new MachError(
          'KERN_INVALID_RIGHT',
          `port-destroyed needs a receive right; ${nameHex(name)} is not one`,
        );
      if (sync !== 0)
        throw new MachError('KERN_INVALID_VALUE', 'port-destroyed requests take sync 0');
      const p = e.port!;
      previous = p.pdRequest;
      p.pdRequest = takeNotify();
      break;
    }
    case 'no-senders': {
      if (!(e.bits & PortType.RECEIVE))
        throw new MachError(
          'KERN_INVALID_RIGHT',
          `no-senders needs a receive right; ${nameHex(name)} is not one`,
        );
      const p = e.port!;
      previous = p.nsRequest?.notify ?? null;
      const n = takeNotify();
      p.nsRequest = n === null ? null : { notify: n, sync };
      checkNoSenders(k, p, sync);
      break;
    }
    case 'dead-name': {
      if (e.bits & PortType.DEAD_NAME) {
        if (sync === 0 || notifyName === MACH_PORT_NULL)
          throw new MachError(
            'KERN_INVALID_ARGUMENT',
            `name ${nameHex(name)} is already dead; pass sync 1 and a notify port for an immediate notification`,
          );
        if (e.urefs >= MACH_PORT_UREFS_MAX)
          throw new MachError(
            'KERN_UREFS_OVERFLOW',
            `dead name ${nameHex(name)} already has ${MACH_PORT_UREFS_MAX} user references`,
          );
        const n = takeNotify()!;
        e.urefs++;
        notifyDeadName(k, n, name);
        return MACH_PORT_NULL;
      }
      if (!(e.bits & (PortType.SEND | PortType.SEND_ONCE | PortType.RECEIVE))) {
        throw new MachError(
          'KERN_INVALID_RIGHT',
          `dead-name needs a send, send-once or receive right; ${nameHex(name)} is a port set`,
        );
      }
      const p = e.port!;
      previous = e.dnRequest;
      if (p.dnRequests)
        p.dnRequests = p.dnRequests.filter((r) => !(r.space === space && r.name === name));
      const n = takeNotify();
      e.dnRequest = n;
      if (n !== null) (p.dnRequests ??= []).push({ space, name, notify: n });
      break;
    }
    default:
      throw new MachError(
        'KERN_INVALID_VALUE',
        `unknown notification variant "${String(variant)}"`,
      );
  }
  if (previous === null) return MACH_PORT_NULL;
  return copyout(k, space, { port: previous, dead: previous.dead, right: 18 });
}

export interface PortAttributes {
  readonly qlimit: number;
  readonly msgcount: number;
  readonly seqno: number;
  readonly mscount: number;
  readonly srights: boolean;
  readonly sorights: number;
  readonly inSet: boolean;
}

/** mach_port_get_attributes (MACH_PORT_RECEIVE_STATUS). */
export function getAttributes(space: PortSpace, name: number): PortAttributes {
  const p = receivePort(space, name);
  return {
    qlimit: p.qlimit,
    msgcount: p.msgcount,
    seqno: p.seqno,
    mscount: p.mscount,
    srights: p.srights > 0,
    sorights: p.sorights,
    inSet: p.pset !== null,
  };
}

/** mach_port_set_qlimit. */
export function setQlimit(k: IpcKernel, space: PortSpace, name: number, qlimit: number): void {
  const p = receivePort(space, name);
  if (!Number.isInteger(qlimit) || qlimit < 0 || qlimit > MACH_PORT_QLIMIT_MAX) {
    throw new MachError(
      'KERN_INVALID_VALUE',
      `queue limit must be an integer in 0..${MACH_PORT_QLIMIT_MAX}, got ${qlimit}`,
    );
  }
  p.qlimit = qlimit;
  queueLimitRaised(k, p);
}

/** mach_port_set_seqno. */
export function setSeqno(space: PortSpace, name: number, seqno: number): void {
  const p = receivePort(space, name);
  if (!Number.isInteger(seqno) || seqno < 0)
    throw new MachError('KERN_INVALID_VALUE', `seqno must be a non-negative integer, got ${seqno}`);
  p.seqno = seqno;
}
