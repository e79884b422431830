import type { MessageItem } from '../protocol/message.ts';
import type { NetMessage, NetPortRef, NetRight } from '../protocol/netmsg.ts';
import { rightsOf } from '../protocol/netmsg.ts';
import {
  Disposition,
  MACH_PORT_DEAD,
  MACH_PORT_NULL,
  PortRight,
  ReceivedRight,
} from '../protocol/rights.ts';
import { type NetmsgContext, sendTo } from './context.ts';
import { importReceive } from './migration.ts';
import { ensureProxy, makeSend, makeSendOnce, maybeRetire } from './proxies.ts';
import type { NetPortRecord } from './records.ts';
import { onXferDone } from './refs.ts';
import type { Held } from './spaceOps.ts';

/**
 * Incoming translation of rights (section 7.2, po_translate_nport_rights): a network port
 * reference becomes a right in the server's space, ready to be moved into a message. A port that
 * lives here is reached directly; any other through this host's proxy for it, whose reference at
 * the home is registered before the sender is told the transfer is done (so the home never
 * counts zero senders while a right is on its way).
 */

/** Every right a message carries, those inside migrating ports' queues included. */
function deepRights(m: NetMessage, out: NetRight[] = []): NetRight[] {
  for (const r of rightsOf(m)) {
    out.push(r);
    if (r.state !== undefined) {
      for (const q of r.state.queued) deepRights(q, out);
      for (const n of [r.state.nsNotify, r.state.pdNotify])
        if (n !== null && n !== 'dead') out.push(n);
    }
  }
  return out;
}

/**
 * Checks, changing nothing, that a message's rights could have been held by `origin`: rights to
 * ports that live here must exist (and a send-once right needs an outstanding credit), a
 * receive right cannot be for a port whose receive right is already here. Returns a reason.
 */
export function checkRights(
  S: NetmsgContext,
  m: NetMessage,
  origin: string,
  destOnce: NetPortRecord | null,
): string | null {
  const once = new Map<NetPortRecord, number>();
  if (destOnce !== null) once.set(destOnce, 1);
  // A message may carry a port's receive right together with send rights to it (a migrating
  // task's port and its own right to it): those send rights name the port this message brings.
  const arriving = new Set(
    deepRights(m)
      .filter((r) => r.kind === 'receive')
      .map((r) => r.nid),
  );
  for (const r of deepRights(m)) {
    if (!S.knownHost(r.home) || !S.knownHost(r.via))
      return `right to ${r.nid} names an unknown host`;
    const rec = S.records.get(r.nid);
    if (r.kind === 'receive') {
      if (rec?.port) return `receive right to ${r.nid}, whose receive right is here`;
      continue;
    }
    if (rec === undefined) {
      if (r.home === S.host && !arriving.has(r.nid))
        return `${r.kind} right to ${r.nid}, a port this host never had`;
      continue;
    }
    if (rec.dead || rec.port === null) continue;
    if (r.kind === 'send' && rec.realName === MACH_PORT_NULL)
      return `send right to ${r.nid}, which no remote host holds`;
    if (r.kind === 'once') once.set(rec, (once.get(rec) ?? 0) + 1);
  }
  for (const [rec, n] of once)
    if (n > rec.onceNames.length)
      return `${n} send-once rights to ${rec.nid} used, ${rec.onceNames.length} outstanding`;
  if (origin !== '' && rightsOf(m).some((r) => r.via !== origin))
    return `carries a right put on the wire by another host than its origin ${origin}`;
  return null;
}

export interface Imported {
  readonly name: number;
  readonly disposition: Disposition;
}

const NULL_RIGHT: Imported = { name: MACH_PORT_NULL, disposition: Disposition.MOVE_SEND };
const DEAD_RIGHT: Imported = { name: MACH_PORT_DEAD, disposition: Disposition.MOVE_SEND };

function recordFor(S: NetmsgContext, r: NetRight): NetPortRecord {
  const rec = S.records.get(r.nid) ?? S.records.create(r.nid, r.home, r.gen);
  if (rec.presumedDead && S.knownHost(r.home) && S.severing !== r.home) {
    // Its home was unreachable, and is not: the port lives (a new proxy stands for it).
    rec.dead = false;
    rec.presumedDead = false;
    rec.home = r.home;
    rec.gen = r.gen;
  }
  if (rec.port === null && r.gen > rec.gen) {
    rec.home = r.home;
    rec.gen = r.gen;
  }
  return rec;
}

/** Tells the host that put a send right on the wire that it arrived (po_port_rights_commit). */
export function xferDone(S: NetmsgContext, via: string, nid: string): void {
  if (via === S.host) onXferDone(S, S.host, nid);
  else sendTo(S, via, { k: 'xfer-done', nid });
}

/** Registers this host's reference for a received send right, then confirms to `via`. */
function holdRef(S: NetmsgContext, rec: NetPortRecord, via: string): void {
  if (rec.refs > 0 && rec.pendingAdds === 0) {
    xferDone(S, via, rec.nid);
    return;
  }
  rec.waitingVia.push(via);
  if (rec.pendingAdds > 0) return;
  rec.refs++;
  rec.pendingAdds++;
  sendTo(S, rec.home, { k: 'ref-add', nid: rec.nid, holder: S.host, hops: 0 });
}

export function importRef(S: NetmsgContext, ref: NetPortRef, held: Held[]): Imported {
  if (ref === null) return NULL_RIGHT;
  if (ref === 'dead') return DEAD_RIGHT;
  if (ref.kind === 'receive') {
    const name = importReceive(S, ref);
    held.push({ name, right: ReceivedRight.PORT_RECEIVE });
    return { name, disposition: Disposition.MOVE_RECEIVE };
  }
  const rec = recordFor(S, ref);
  if (ref.kind === 'send') {
    if (rec.dead) {
      xferDone(S, ref.via, rec.nid);
      return DEAD_RIGHT;
    }
    let name: number;
    if (rec.port !== null) {
      xferDone(S, ref.via, rec.nid);
      // Checked on arrival; only a message voided after a failure can find no send right here.
      if (rec.realName === MACH_PORT_NULL) return DEAD_RIGHT;
      name = rec.realName;
      S.k.modRefs(S.ns, name, PortRight.SEND, 1);
    } else {
      name = makeSend(S, ensureProxy(S, rec));
      holdRef(S, rec, ref.via);
    }
    held.push({ name, right: ReceivedRight.PORT_SEND });
    return { name, disposition: Disposition.MOVE_SEND };
  }
  if (rec.dead) return DEAD_RIGHT;
  let name: number;
  if (rec.port !== null) {
    const credit = rec.onceNames.shift();
    if (credit === undefined) return DEAD_RIGHT;
    S.records.watched.delete(credit);
    name = credit;
  } else {
    name = makeSendOnce(S, ensureProxy(S, rec));
  }
  held.push({ name, right: ReceivedRight.PORT_SEND_ONCE });
  return { name, disposition: Disposition.MOVE_SEND_ONCE };
}

/** A network message's reply and body as rights and items in the server's space. */
export function importMessage(
  S: NetmsgContext,
  m: NetMessage,
): { reply: Imported; body: MessageItem[]; held: Held[] } {
  const held: Held[] = [];
  const reply = importRef(S, m.reply, held);
  const body = m.body.map((it): MessageItem => {
    if (it.t === 'p') {
      const r = importRef(S, it.r, held);
      return { type: 'port', name: r.name, disposition: r.disposition };
    }
    // The frame's bytes are this host's own: its data moves to the receiver uncopied.
    if (it.t === 'o') return { type: 'ool', data: it.d, deallocate: true };
    const item: { type: 'inline'; data: Uint8Array; msgtName?: number; msgtSize?: number } = {
      type: 'inline',
      data: it.d,
    };
    if (it.n !== undefined) item.msgtName = it.n;
    if (it.s !== undefined) item.msgtSize = it.s;
    return item;
  });
  return { reply, body, held };
}

/** After a ref-ack: the transfers waiting on this host's reference are confirmed. */
export function refRegistered(S: NetmsgContext, rec: NetPortRecord): void {
  if (rec.pendingAdds > 0) return;
  const vias = rec.waitingVia;
  rec.waitingVia = [];
  for (const via of vias) xferDone(S, via, rec.nid);
  maybeRetire(S, rec);
}
