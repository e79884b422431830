import { MachError } from '../protocol/errors.ts';
import type { MachMessage, MessageItem, ReceivedMessage } from '../protocol/message.ts';
import type { NetMessage } from '../protocol/netmsg.ts';
import {
  Disposition,
  MACH_PORT_NULL,
  moveDispositionOf,
  ReceivedRight,
} from '../protocol/rights.ts';
import type { NetmsgContext } from './context.ts';
import { markDead } from './death.ts';
import { type Imported, importMessage } from './importRights.ts';
import type { NetPortRecord, SeqItem } from './records.ts';
import { discardReceived, type Held, release, releaseAll } from './spaceOps.ts';

/**
 * The last step at the port's home: the message becomes an ordinary Mach message from the server
 * to the real port, so its receiver sees plain Mach semantics. A send through a send right may
 * block on a full queue (the server waits, keeping its order, as section 6.2's blocked ports);
 * a send-once message uses one of the credits kept for the remote send-once rights.
 */

export function deliverItem(
  S: NetmsgContext,
  rec: NetPortRecord,
  origin: string,
  oseq: number,
  item: SeqItem,
): void {
  S.stats.messagesDelivered++;
  if (S.world.trace.enabled)
    S.world.trace.emit('netmsg.deliver', { host: S.host, nid: rec.nid, origin, oseq });
  if (item.kind === 'net') {
    const dest = destOf(S, rec, item.msg.dest);
    if (dest === null) return voidMessage(S, item.msg);
    deliverTo(S, rec, dest, item.msg);
  } else {
    deliverLocal(S, rec, item.msg);
  }
}

function destOf(S: NetmsgContext, rec: NetPortRecord, kind: 'send' | 'once'): Imported | null {
  if (kind === 'once') {
    const credit = rec.onceNames.shift();
    if (credit === undefined) return null;
    S.records.watched.delete(credit);
    return { name: credit, disposition: Disposition.MOVE_SEND_ONCE };
  }
  if (rec.realName === MACH_PORT_NULL) return null;
  return { name: rec.realName, disposition: Disposition.COPY_SEND };
}

/** Delivers a network message to the real port through `dest`. */
export function deliverTo(
  S: NetmsgContext,
  rec: NetPortRecord,
  dest: Imported,
  m: NetMessage,
): void {
  const { reply, body, held } = importMessage(S, m);
  sendReal(S, rec, dest, m.id, reply, body, held);
}

/** A message from a proxy on this very host: its rights are already in the server's space. */
function deliverLocal(S: NetmsgContext, rec: NetPortRecord, m: ReceivedMessage): void {
  const once = m.localRight === ReceivedRight.PORT_SEND_ONCE;
  const dest = destOf(S, rec, once ? 'once' : 'send');
  if (dest === null) {
    S.stats.messagesFailed++;
    return discardReceived(S, m);
  }
  const held: Held[] = [];
  let reply: Imported = { name: MACH_PORT_NULL, disposition: Disposition.MOVE_SEND };
  if (m.remotePort !== MACH_PORT_NULL) {
    reply = { name: m.remotePort, disposition: moveDispositionOf(m.remoteRight) };
    held.push({ name: m.remotePort, right: m.remoteRight });
  }
  const body = m.body.map((it): MessageItem => {
    if (it.type !== 'port') return it;
    held.push({ name: it.name, right: it.right });
    return { type: 'port', name: it.name, disposition: moveDispositionOf(it.right) };
  });
  sendReal(S, rec, dest, m.id, reply, body, held);
}

function sendReal(
  S: NetmsgContext,
  rec: NetPortRecord,
  dest: Imported,
  id: number,
  reply: Imported,
  body: MessageItem[],
  held: Held[],
): void {
  const mm: MachMessage = {
    remotePort: dest.name,
    remoteDisposition: dest.disposition,
    localPort: reply.name,
    localDisposition: reply.disposition,
    id,
    body,
  };
  try {
    S.k.send(S.ns, mm, {}, (r) => {
      if (r.ok) return;
      // The port died while the server waited for room: the message comes back and is destroyed.
      S.stats.messagesFailed++;
      if (r.returned !== null) discardReceived(S, r.returned);
    });
  } catch (err) {
    if (!(err instanceof MachError)) throw err;
    S.stats.messagesFailed++;
    releaseAll(S, held);
    if (dest.disposition === Disposition.MOVE_SEND_ONCE)
      release(S, dest.name, ReceivedRight.PORT_SEND_ONCE);
    if (err.codeName === 'MACH_SEND_INVALID_DEST') markDead(S, rec, 'port destroyed', true);
  }
}

/**
 * A message that will never be delivered (its port died, its host is gone): its rights are
 * taken in and released, so every sender and home hears what a destroyed message means in Mach.
 */
export function voidMessage(S: NetmsgContext, m: NetMessage): void {
  S.stats.messagesFailed++;
  const { held } = importMessage(S, m);
  releaseAll(S, held);
}

export function voidItem(S: NetmsgContext, item: SeqItem): void {
  if (item.kind === 'net') voidMessage(S, item.msg);
  else {
    S.stats.messagesFailed++;
    discardReceived(S, item.msg);
  }
}
