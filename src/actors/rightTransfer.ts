import { MachError } from '../protocol/errors.ts';
import type { ReturnCodeName } from '../protocol/returnCodes.ts';
import {
  Disposition,
  dispositionName,
  MACH_PORT_DEAD,
  MACH_PORT_NULL,
  MACH_PORT_UREFS_MAX,
  nameHex,
  PortType,
  ReceivedRight,
  receivedRightOf,
} from '../protocol/rights.ts';
import type { IpcKernel } from './ipcKernel.ts';
import type { TransitRight } from './kmsg.ts';
import { destroyReceive, detachReceiver } from './portDeath.ts';
import type { Entry, PortSpace } from './portSpace.ts';
import { notifyPortDeleted, releaseSend, releaseSendOnce } from './rightRelease.ts';

/**
 * Copy-in and copy-out of port rights (Mach's ipc_right_copyin / ipc_object_copyout), following
 * the disposition rules of mach3-kernel-interfaces.txt, mach_msg "Port Rights". Copy-in is split
 * into a check that changes nothing and a commit, so a rejected message leaves the space as it was.
 */

/** What a message (or a right operation) has used of a name so far, while checking it. */
interface Shadow {
  urefs: number;
  receiveMoved: boolean;
  sendOnceUsed: boolean;
}

export type ShadowMap = Map<number, Shadow>;

/**
 * Checks that `space` can supply `name` with `disposition`; throws `code` naming what is wrong.
 * `shadow` accumulates what earlier rights of the same message used.
 */
export function checkCopyin(
  space: PortSpace,
  name: number,
  disposition: number,
  code: ReturnCodeName,
  what: string,
  shadow: ShadowMap | null,
  allowNullOrDead: boolean,
): void {
  if (name === MACH_PORT_NULL || name === MACH_PORT_DEAD) {
    if (allowNullOrDead) return;
    throw new MachError(code, `${what} is ${name === 0 ? 'MACH_PORT_NULL' : 'MACH_PORT_DEAD'}`);
  }
  const e = space.lookup(name);
  if (e === undefined)
    throw new MachError(code, `${what}: name ${nameHex(name)} is not in space "${space.label}"`);
  const bits = e.bits;
  // Fast path: a lone copy of a held send right (the common case) needs no bookkeeping.
  if (shadow === null && disposition === Disposition.COPY_SEND && bits & PortType.SEND) return;
  let s = shadow?.get(name);
  if (s === undefined) {
    s = { urefs: e.urefs, receiveMoved: false, sendOnceUsed: false };
    shadow?.set(name, s);
  }
  const deadOk = allowNullOrDead && bits & PortType.DEAD_NAME && s.urefs > 0;
  switch (disposition) {
    case Disposition.MAKE_SEND:
    case Disposition.MAKE_SEND_ONCE:
    case Disposition.MOVE_RECEIVE:
      if (!(bits & PortType.RECEIVE) || s.receiveMoved) {
        throw new MachError(
          code,
          `${what}: ${dispositionName(disposition)} needs a receive right, but ${nameHex(name)} ${describe(e, s)}`,
        );
      }
      if (disposition === Disposition.MOVE_RECEIVE) s.receiveMoved = true;
      return;
    case Disposition.COPY_SEND:
    case Disposition.MOVE_SEND:
      if ((bits & PortType.SEND && s.urefs > 0) || deadOk) {
        if (disposition === Disposition.MOVE_SEND) s.urefs--;
        return;
      }
      throw new MachError(
        code,
        `${what}: ${dispositionName(disposition)} needs a send right, but ${nameHex(name)} ${describe(e, s)}`,
      );
    case Disposition.MOVE_SEND_ONCE:
      if (bits & PortType.SEND_ONCE && !s.sendOnceUsed) {
        s.sendOnceUsed = true;
        return;
      }
      if (deadOk) {
        s.urefs--;
        return;
      }
      throw new MachError(
        code,
        `${what}: MOVE_SEND_ONCE needs a send-once right, but ${nameHex(name)} ${describe(e, s)}`,
      );
    default:
      throw new MachError(code, `${what}: invalid disposition ${String(disposition)}`);
  }
}

function describe(e: Entry, s: Shadow): string {
  if (e.bits & PortType.PORT_SET) return 'names a port set';
  if (e.bits & PortType.DEAD_NAME) return 'is a dead name';
  const parts: string[] = [];
  if (e.bits & PortType.RECEIVE) parts.push(s.receiveMoved ? 'receive (already moved)' : 'receive');
  if (e.bits & PortType.SEND) parts.push(s.urefs > 0 ? 'send' : 'send (no user references left)');
  if (e.bits & PortType.SEND_ONCE)
    parts.push(s.sendOnceUsed ? 'send-once (already used)' : 'send-once');
  return `holds only ${parts.join(' + ') || 'nothing'}`;
}

/** Commits a checked copy-in: takes the right out of (or makes it from) the space. */
export function copyin(
  k: IpcKernel,
  space: PortSpace,
  name: number,
  disposition: Disposition,
): TransitRight {
  const right = receivedRightOf(disposition);
  if (name === MACH_PORT_NULL) return { port: null, dead: false, right };
  if (name === MACH_PORT_DEAD) return { port: null, dead: true, right };
  const e = space.lookup(name)!;
  if (e.bits & PortType.DEAD_NAME) {
    if (disposition === Disposition.MOVE_SEND || disposition === Disposition.MOVE_SEND_ONCE) {
      if (--e.urefs === 0) {
        e.bits = 0;
        space.removeIfEmpty(e);
      }
    }
    return { port: null, dead: true, right };
  }
  const p = e.port!;
  switch (disposition) {
    case Disposition.MAKE_SEND:
      p.mscount++;
      p.srights++;
      break;
    case Disposition.MAKE_SEND_ONCE:
      p.sorights++;
      break;
    case Disposition.COPY_SEND:
      p.srights++;
      break;
    case Disposition.MOVE_SEND:
      if (--e.urefs === 0) {
        e.bits &= ~PortType.SEND;
        dropName(k, space, e);
      } else {
        p.srights++;
      }
      break;
    case Disposition.MOVE_SEND_ONCE:
      e.bits &= ~PortType.SEND_ONCE;
      dropName(k, space, e);
      break;
    case Disposition.MOVE_RECEIVE:
      e.bits &= ~PortType.RECEIVE;
      detachReceiver(k, p, 'its receive right was moved');
      dropName(k, space, e);
      break;
  }
  return { port: p, dead: false, right };
}

/** After a right left a name: cancel a dead-name request if no send right remains; drop the name. */
export function dropName(k: IpcKernel, space: PortSpace, e: Entry): void {
  if (e.dnRequest !== null && !(e.bits & (PortType.SEND | PortType.SEND_ONCE | PortType.RECEIVE))) {
    const notify = e.dnRequest;
    e.dnRequest = null;
    const p = e.port;
    if (p?.dnRequests)
      p.dnRequests = p.dnRequests.filter((r) => !(r.space === space && r.name === e.name));
    notifyPortDeleted(k, notify, e.name);
  }
  if (e.bits === 0) space.removeIfEmpty(e);
  else if (
    !(e.bits & (PortType.SEND | PortType.RECEIVE)) &&
    e.port &&
    space.byPort.get(e.port) === e
  ) {
    space.byPort.delete(e.port);
  }
}

/**
 * Gives a right to `space`, returning its name there (ipc_object_copyout). Send rights merge into
 * the name the space already uses for the port; send-once rights always get a new name.
 * `wanted` asks for a particular name (mach_port_insert_right).
 */
export function copyout(k: IpcKernel, space: PortSpace, t: TransitRight, wanted?: number): number {
  const p = t.port;
  if (p === null) return t.dead ? MACH_PORT_DEAD : MACH_PORT_NULL;
  if (!space.active) {
    releaseTransit(k, t);
    return MACH_PORT_NULL;
  }
  switch (t.right) {
    case ReceivedRight.PORT_SEND: {
      if (p.dead) return MACH_PORT_DEAD;
      const e = space.byPort.get(p);
      if (e !== undefined) {
        if (e.bits & PortType.SEND) {
          if (e.urefs >= MACH_PORT_UREFS_MAX) {
            // Mach destroys a right whose user references would overflow, leaving the name's
            // count pegged at the maximum (ipc_right_copyout); so do we.
            releaseSend(k, p);
            return e.name;
          }
          p.srights--; // merged into the right the space already holds
          e.urefs++;
        } else {
          e.bits |= PortType.SEND;
          e.urefs = 1;
        }
        return e.name;
      }
      return space.insert(wanted ?? space.allocateName(), PortType.SEND, 1, p, null).name;
    }
    case ReceivedRight.PORT_SEND_ONCE:
      if (p.dead) return MACH_PORT_DEAD;
      return space.insert(wanted ?? space.allocateName(), PortType.SEND_ONCE, 1, p, null).name;
    default: {
      p.receiver = space;
      p.mscount = 0;
      p.seqno = 0;
      const e = space.byPort.get(p);
      if (e !== undefined) {
        e.bits |= PortType.RECEIVE;
        return e.name;
      }
      return space.insert(wanted ?? space.allocateName(), PortType.RECEIVE, 0, p, null).name;
    }
  }
}

/** Destroys a right in transit (a message that will never be received). */
export function releaseTransit(k: IpcKernel, t: TransitRight): void {
  const p = t.port;
  if (p === null) return;
  if (t.right === ReceivedRight.PORT_SEND) releaseSend(k, p);
  else if (t.right === ReceivedRight.PORT_SEND_ONCE) releaseSendOnce(k, p);
  else destroyReceive(k, p);
}
