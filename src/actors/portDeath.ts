import { MachError } from '../protocol/errors.ts';
import { NotifyId } from '../protocol/notifications.ts';
import { MACH_PORT_UREFS_MAX, PortType, ReceivedRight } from '../protocol/rights.ts';
import type { IpcKernel } from './ipcKernel.ts';
import type { KMsg } from './kmsg.ts';
import { pseudoReceive } from './machMsg.ts';
import type { Port } from './port.ts';
import type { PortSet } from './portSet.ts';
import type { PortSpace } from './portSpace.ts';
import { notifyDeadName, releaseSend, releaseSendOnce, sendNotification } from './rightRelease.ts';
import { releaseTransit } from './rightTransfer.ts';

/**
 * The end of ports, port sets and spaces: when a port dies its send rights become dead names,
 * its queued messages are destroyed with the rights they carry, and requested notifications go
 * out (mach3-kernel-interfaces.txt, mach_msg "Port Rights"; mach_port_destroy).
 */

/** The receive right leaves its space (moved or destroyed): receivers waiting on it give up. */
export function detachReceiver(k: IpcKernel, p: Port, why: string): void {
  p.receiver = null;
  p.drain = null;
  if (p.pset !== null) {
    p.pset.members.delete(p);
    p.pset = null;
  }
  const waiting = p.receivers;
  if (waiting !== null && waiting.length > 0) {
    p.receivers = null;
    for (const w of waiting) {
      if (w.timer) k.world.cancel(w.timer);
      const error = new MachError('MACH_RCV_PORT_DIED', `port ${p.label}: ${why}`);
      k.defer(() => w.done({ ok: false, error }), 'ipc.rcv-died');
    }
  }
}

/**
 * Destroys a receive right. With a port-destroyed request the right is sent to the notify port
 * instead and the port lives on.
 */
export function destroyReceive(k: IpcKernel, p: Port): void {
  if (p.dead) return;
  const notify = p.pdRequest;
  if (notify !== null && !notify.dead) {
    p.pdRequest = null;
    if (p.receiver !== null) removeReceiveName(p.receiver, p);
    detachReceiver(k, p, 'its receive right was handed to a port-destroyed notification');
    sendNotification(
      k,
      notify,
      NotifyId.PORT_DESTROYED,
      [{ type: 'port', port: p, dead: false, right: ReceivedRight.PORT_RECEIVE }],
      'port-destroyed',
    );
    return;
  }
  killPort(k, p);
}

function removeReceiveName(space: PortSpace, p: Port): void {
  const e = space.byPort.get(p);
  if (e === undefined) return;
  e.bits &= ~PortType.RECEIVE;
  if (e.bits === 0) space.removeIfEmpty(e);
}

/** The port dies. */
export function killPort(k: IpcKernel, p: Port): void {
  p.dead = true;
  k.ports.delete(p);
  const holder = p.receiver;
  if (holder !== null) {
    const e = holder.byPort.get(p);
    if (e !== undefined) {
      e.bits &= ~PortType.RECEIVE;
      if (e.bits & PortType.SEND) holder.toDeadName(e);
      else holder.removeIfEmpty(e);
    }
  }
  detachReceiver(k, p, 'the port was destroyed');
  const senders = p.senders;
  p.senders = null;
  if (senders !== null) {
    for (const w of senders) {
      if (w.timer) k.world.cancel(w.timer);
      const returned = pseudoReceive(k, w.space, w.kmsg);
      const error = new MachError(
        'MACH_SEND_INVALID_DEST',
        `port ${p.label} died while the send was blocked`,
      );
      k.defer(() => w.done({ ok: false, error, returned }), 'ipc.send-died');
    }
  }
  const queued = p.takeAll();
  for (const m of queued) destroyKmsg(k, m, 'port died');
  if (p.nsRequest !== null) {
    const n = p.nsRequest.notify;
    p.nsRequest = null;
    releaseSendOnce(k, n);
  }
  if (p.pdRequest !== null) {
    const n = p.pdRequest;
    p.pdRequest = null;
    releaseSendOnce(k, n);
  }
  const dn = p.dnRequests;
  p.dnRequests = null;
  if (dn !== null) {
    for (const r of dn) {
      const e = r.space.entries.get(r.name);
      if (e !== undefined && (e.port === p || e.bits & PortType.DEAD_NAME)) {
        if (e.port === p) r.space.toDeadName(e);
        // The notification carries a reference to the dead name (pegged at the maximum).
        if (e.urefs < MACH_PORT_UREFS_MAX) e.urefs++;
        e.dnRequest = null;
      }
      notifyDeadName(k, r.notify, r.name);
    }
  }
  if (k.world.trace.enabled) {
    k.world.trace.emit('ipc.port-dead', {
      host: k.host,
      port: p.id,
      portLabel: p.label,
      destroyedMessages: queued.length,
    });
  }
}

/** Destroys a message that will never be received, and every right it carries. */
export function destroyKmsg(k: IpcKernel, m: KMsg, reason: string): void {
  k.stats.destroyedMessages++;
  if (k.world.trace.enabled) {
    k.world.trace.emit('ipc.message-destroyed', {
      host: k.host,
      port: m.dest.id,
      id: m.id,
      reason,
    });
  }
  if (m.destRight === ReceivedRight.PORT_SEND) releaseSend(k, m.dest);
  else if (!m.dest.dead) m.dest.sorights--;
  if (m.reply !== null) releaseTransit(k, m.reply);
  for (const item of m.body) if (item.type === 'port') releaseTransit(k, item);
}

export function destroyPortSet(k: IpcKernel, s: PortSet): void {
  s.dead = true;
  for (const p of s.members) p.pset = null;
  s.members.clear();
  const waiting = s.receivers;
  s.receivers = null;
  if (waiting !== null) {
    for (const w of waiting) {
      if (w.timer) k.world.cancel(w.timer);
      const error = new MachError('MACH_RCV_PORT_DIED', 'the port set was destroyed');
      k.defer(() => w.done({ ok: false, error }), 'ipc.rcv-died');
    }
  }
}

/**
 * Destroys a whole space (its task terminated): every right it holds is released as if
 * deallocated, so peers see dead names, no-senders and send-once notifications.
 */
export function destroySpace(k: IpcKernel, space: PortSpace): void {
  if (!space.active) return;
  space.active = false;
  k.spaces.delete(space);
  // Blocked sends from this space: their messages go back nowhere, so they are destroyed.
  for (const p of k.ports) {
    if (p.senders === null) continue;
    const mine = p.senders.filter((w) => w.space === space);
    if (mine.length === 0) continue;
    p.senders = p.senders.filter((w) => w.space !== space);
    for (const w of mine) {
      if (w.timer) k.world.cancel(w.timer);
      destroyKmsg(k, w.kmsg, 'sender terminated');
    }
  }
  const entries = [...space.entries.values()];
  for (const e of entries) {
    if (e.dnRequest !== null) {
      const n = e.dnRequest;
      e.dnRequest = null;
      const p = e.port;
      if (p?.dnRequests) p.dnRequests = p.dnRequests.filter((r) => r.space !== space);
      releaseSendOnce(k, n);
    }
  }
  for (const e of entries) {
    const p = e.port;
    if (e.bits & PortType.PORT_SET && e.pset) destroyPortSet(k, e.pset);
    if (p === null) continue;
    if (e.bits & PortType.SEND && !p.dead) releaseSend(k, p);
    if (e.bits & PortType.SEND_ONCE) releaseSendOnce(k, p);
    if (e.bits & PortType.RECEIVE && !p.dead) {
      e.bits &= ~PortType.RECEIVE;
      destroyReceive(k, p);
    }
  }
  space.entries.clear();
  space.byPort.clear();
}
