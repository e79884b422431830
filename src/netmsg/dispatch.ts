import type { ReceivedMessage } from '../protocol/message.ts';
import { type NetBody, type NetFrame, NetmsgFormatError } from '../protocol/netmsg.ts';
import { NotifyId } from '../protocol/notifications.ts';
import { MACH_PORT_NULL, ReceivedRight } from '../protocol/rights.ts';
import type { Frame } from '../world/network.ts';
import { type NetmsgContext, reject, sendTo } from './context.ts';
import { onDeadName, onDeadNotice } from './death.ts';
import { voidMessage } from './delivery.ts';
import { exportMessage } from './exportRights.ts';
import { decodeFrame } from './frameCodec.ts';
import { checkRights } from './importRights.ts';
import { onLookup, onLookupReply } from './lookups.ts';
import { maybeRetire, onProxyNoSenders } from './proxies.ts';
import { inTransit, type NetPortRecord, type ProxyInfo } from './records.ts';
import { onRefAck, onRefAdd, onRefDrop, onXferDone } from './refs.ts';
import { accept } from './sequencer.ts';
import { discardReceived } from './spaceOps.ts';

/**
 * The dispatcher (section 5): frames from the transport are decoded and checked, then each body
 * goes to its handler; and the IPC send path (6.1), from a proxy's queue to the port's host.
 */

/** A frame from the network: anything malformed or forged is refused here, changing nothing. */
export function receiveFrame(S: NetmsgContext, f: Frame): void {
  S.stats.framesReceived++;
  let frame: NetFrame;
  try {
    frame = decodeFrame(f.payload);
  } catch (err) {
    if (!(err instanceof NetmsgFormatError)) throw err;
    return reject(S, f.from, err.field === 'payload' ? 'undecodable' : 'malformed', err.message);
  }
  if (frame.dst !== S.host)
    return reject(S, f.from, 'wrong-destination', `frame for ${frame.dst} reached ${S.host}`);
  if (frame.src !== f.from || frame.src === S.host)
    return reject(S, f.from, 'spoofed-source', `frame claims to come from ${frame.src}`);
  const ch = S.channel(frame.src);
  if (frame.k === 'data') ch.onData(frame);
  else if (frame.k === 'ack') ch.onAck(frame);
  else ch.onSever(frame);
}

/** A body from `from`'s stream, in order. */
export function dispatchBody(S: NetmsgContext, from: string, b: NetBody): void {
  switch (b.k) {
    case 'ipc':
      return onIpc(S, from, b);
    case 'lookup':
      return onLookup(S, from, b);
    case 'lookup-reply':
      return onLookupReply(S, from, b);
    case 'ref-add':
      return onRefAdd(S, from, b);
    case 'ref-ack':
      return onRefAck(S, from, b);
    case 'ref-drop':
      return onRefDrop(S, from, b);
    case 'xfer-done':
      return onXferDone(S, from, b.nid);
    case 'moved':
      return onMoved(S, from, b);
    case 'dead':
      return onDeadNotice(S, from, b.nid);
    case 'hello':
    case 'checkup':
      return;
  }
}

type IpcBody = Extract<NetBody, { k: 'ipc' }>;

function onIpc(S: NetmsgContext, from: string, b: IpcBody): void {
  const rec = S.records.get(b.nid);
  if (rec === undefined) return reject(S, from, 'unknown-port', `no network port ${b.nid} here`);
  if ((b.hops === 0 && b.origin !== from) || !S.knownHost(b.origin))
    return reject(S, from, 'spoofed-source', `message from ${from} claims origin ${b.origin}`);
  const home = rec.port !== null && !rec.dead;
  const destOnce = home && b.msg.dest === 'once' ? rec : null;
  const problem = checkRights(S, b.msg, b.origin, destOnce);
  if (problem !== null) return reject(S, from, 'unheld-right', problem);
  if (rec.dead) {
    // A message for a port that died: destroyed with its rights; its sender learns of the death.
    voidIpc(S, b);
    if (b.origin !== S.host) sendTo(S, b.origin, { k: 'dead', nid: b.nid });
    return;
  }
  if (home) return accept(S, rec, b.origin, b.oseq, { kind: 'net', msg: b.msg });
  relay(S, rec, b);
}

function voidIpc(S: NetmsgContext, b: IpcBody): void {
  voidMessage(S, b.msg);
}

/**
 * The port moved away: send the message on to where it went (section 6.2 lists a port missing
 * from its expected host among the exceptional events), and tell its origin once where to send
 * next time.
 */
function relay(S: NetmsgContext, rec: NetPortRecord, b: IpcBody): void {
  if (b.hops >= S.config.maxHops) {
    voidIpc(S, b);
    return;
  }
  const to = rec.home;
  // A receive right passing through: this host now knows where that port went too.
  for (const it of [b.msg.reply, ...b.msg.body.map((i) => (i.t === 'p' ? i.r : null))]) {
    if (it === null || it === 'dead' || it === undefined || it.kind !== 'receive') continue;
    const r = S.records.get(it.nid) ?? S.records.create(it.nid, to, it.gen);
    if (r.port === null && it.gen >= r.gen) {
      r.home = to;
      r.gen = it.gen;
    }
  }
  sendTo(S, to, { ...b, hops: b.hops + 1 });
  S.stats.messagesForwarded++;
  if (S.world.trace.enabled)
    S.world.trace.emit('netmsg.forward', {
      host: S.host,
      nid: rec.nid,
      to,
      origin: b.origin,
      oseq: b.oseq,
    });
  // The hint waits until the new home has installed the port (its 'moved' announcement came):
  // before that, a message sent straight there could overtake the transfer and find no port.
  if (!inTransit(rec) && b.origin !== to && b.origin !== S.host && !rec.hinted.has(b.origin)) {
    rec.hinted.add(b.origin);
    sendTo(S, b.origin, { k: 'moved', nid: rec.nid, home: to, gen: rec.gen });
  }
  rec.move?.send({ type: 'FORWARDED' });
}

function onMoved(S: NetmsgContext, from: string, b: Extract<NetBody, { k: 'moved' }>): void {
  const rec = S.records.get(b.nid);
  // A port this host does not know (it restarted since it held a right to it, and the new home
  // still counted it as a holder): nothing to update, as for a `dead` notice.
  if (rec === undefined) return;
  if (!S.knownHost(b.home)) return reject(S, from, 'malformed', `unknown host ${b.home}`);
  if (rec.port !== null || b.gen < rec.gen) return;
  rec.home = b.home;
  rec.gen = b.gen;
  if (b.home === from) rec.move?.send({ type: 'INSTALLED' });
}

// ---- local ports --------------------------------------------------------------------------

const isSendOnceNotification = (m: ReceivedMessage) =>
  m.id === NotifyId.SEND_ONCE &&
  m.localRight === ReceivedRight.PORT_SEND_ONCE &&
  m.body.length === 0 &&
  m.remotePort === MACH_PORT_NULL;

/**
 * A message a task sent to a proxy (section 6.1): stamped with this host's sequence number for
 * the port, its rights translated, and sent to the port's home (or, if the receive right is
 * here, straight to the port's sequencer).
 */
export function sendFromProxy(
  S: NetmsgContext,
  rec: NetPortRecord,
  info: ProxyInfo,
  m: ReceivedMessage,
): void {
  if (info.swallow > 0 && isSendOnceNotification(m)) {
    info.swallow--;
    maybeRetire(S, rec);
    return;
  }
  if (rec.dead) {
    discardReceived(S, m);
    return;
  }
  const oseq = ++rec.txSeq;
  if (rec.port !== null) {
    accept(S, rec, S.host, oseq, { kind: 'local', msg: m });
  } else {
    const after: (() => void)[] = [];
    const msg = exportMessage(S, m, rec.home, after);
    S.stats.messagesOut++;
    if (S.world.trace.enabled)
      S.world.trace.emit('netmsg.send', { host: S.host, nid: rec.nid, to: rec.home, oseq });
    sendTo(S, rec.home, { k: 'ipc', nid: rec.nid, origin: S.host, oseq, hops: 0, msg });
    for (const f of after) f();
  }
  maybeRetire(S, rec);
}

/** A kernel notification on the server's notify port. */
export function notified(S: NetmsgContext, m: ReceivedMessage): void {
  if (m.id === NotifyId.DEAD_NAME) {
    const item = m.body[0];
    if (item?.type === 'inline')
      onDeadName(S, new DataView(item.data.buffer, item.data.byteOffset).getInt32(0, true));
    return;
  }
  // Port-deleted and send-once notifications: the server gave the name up itself.
  discardReceived(S, m);
}

export function proxyNotified(S: NetmsgContext, port: number, m: ReceivedMessage): void {
  const entry = S.records.notifyNames.get(port);
  if (entry !== undefined && m.id === NotifyId.NO_SENDERS)
    onProxyNoSenders(S, entry.rec, entry.info);
  else discardReceived(S, m);
}
