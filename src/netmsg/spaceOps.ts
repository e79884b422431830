import { MachError } from '../protocol/errors.ts';
import type { ReceivedMessage } from '../protocol/message.ts';
import {
  Disposition,
  MACH_PORT_DEAD,
  MACH_PORT_NULL,
  PortRight,
  PortType,
  ReceivedRight,
} from '../protocol/rights.ts';
import type { NetmsgContext } from './context.ts';
import type { NetPortRecord } from './records.ts';

/**
 * Small operations on the server's own port space: giving a right up as a destroyed message
 * would, and watching names for port death (dead-name requests on the server's notify port).
 */

/**
 * Gives up one right `name` denotes in the server's space, with Mach's consequences: a last send
 * right may fire no-senders, an unused send-once right yields a send-once notification, a
 * receive right's port dies.
 */
export function release(S: NetmsgContext, name: number, right: number): void {
  if (name === MACH_PORT_NULL || name === MACH_PORT_DEAD) return;
  const e = S.ns.lookup(name);
  if (e === undefined) return;
  try {
    if (right === ReceivedRight.PORT_RECEIVE) {
      if (e.bits & PortType.RECEIVE) S.k.modRefs(S.ns, name, PortRight.RECEIVE, -1);
    } else if (e.bits & PortType.DEAD_NAME) {
      S.k.modRefs(S.ns, name, PortRight.DEAD_NAME, -1);
    } else if (right === ReceivedRight.PORT_SEND_ONCE) {
      if (e.bits & PortType.SEND_ONCE) S.k.modRefs(S.ns, name, PortRight.SEND_ONCE, -1);
    } else if (e.bits & PortType.SEND) {
      S.k.modRefs(S.ns, name, PortRight.SEND, -1);
    }
  } catch (err) {
    if (!(err instanceof MachError)) throw err;
  }
}

/** Destroys a received message the server will not pass on: every right it carried goes. */
export function discardReceived(S: NetmsgContext, m: ReceivedMessage): void {
  if (m.remotePort !== MACH_PORT_NULL) release(S, m.remotePort, m.remoteRight);
  for (const it of m.body) if (it.type === 'port') release(S, it.name, it.right);
}

/** A right the server holds and will put into a message by moving it. */
export interface Held {
  readonly name: number;
  readonly right: number;
}

export function releaseAll(S: NetmsgContext, held: readonly Held[]): void {
  for (const h of held) release(S, h.name, h.right);
}

/** Asks for a dead-name notification on `name`, so the server learns when the real port dies. */
export function watch(S: NetmsgContext, rec: NetPortRecord, name: number): void {
  if (S.records.watched.get(name) === rec) return;
  const previous = S.k.requestNotification(
    S.ns,
    name,
    'dead-name',
    0,
    S.notifyPort,
    Disposition.MAKE_SEND_ONCE,
  );
  release(S, previous, ReceivedRight.PORT_SEND_ONCE);
  S.records.watched.set(name, rec);
}

/** Withdraws the dead-name request on a name the server keeps but no longer watches. */
export function unwatch(S: NetmsgContext, name: number): void {
  if (!S.records.watched.delete(name)) return;
  const e = S.ns.lookup(name);
  if (e === undefined || e.dnRequest === null) return;
  const previous = S.k.requestNotification(S.ns, name, 'dead-name', 0, MACH_PORT_NULL);
  release(S, previous, ReceivedRight.PORT_SEND_ONCE);
}

/** Drops every right a name denotes (used on dead names, which may carry several references). */
export function destroyName(S: NetmsgContext, name: number): void {
  S.records.watched.delete(name);
  if (name === MACH_PORT_NULL || S.ns.lookup(name) === undefined) return;
  try {
    S.k.destroy(S.ns, name);
  } catch (err) {
    if (!(err instanceof MachError)) throw err;
  }
}
