import type { ReceivedMessage } from '../protocol/message.ts';
import type { NetItem, NetMessage, NetPortRef } from '../protocol/netmsg.ts';
import { MACH_PORT_DEAD, MACH_PORT_NULL, PortType, ReceivedRight } from '../protocol/rights.ts';
import type { NetmsgContext } from './context.ts';
import { exportReceive } from './migration.ts';
import { inTransit, type NetPortRecord } from './records.ts';
import { release, watch } from './spaceOps.ts';

/**
 * Outgoing translation of rights (section 7.2, po_translate_lport_rights): a right the server
 * received from a task becomes a network port reference. A port that lives here gets a network
 * port identifier the first time it leaves; a proxy's right is passed on under its own.
 * `after` collects work that must follow the frame carrying the rights (see migration.ts).
 */

/** The record of the real port `name` denotes, created (with a fresh identifier) if need be. */
export function ownerRecord(S: NetmsgContext, name: number): NetPortRecord {
  const p = S.ns.lookup(name)!.port!;
  let rec = S.records.ofPort(p);
  if (rec === undefined) {
    rec = S.records.create(S.newId(), S.host, 0);
    S.records.setPort(rec, p);
  }
  return rec;
}

export function exportRef(
  S: NetmsgContext,
  name: number,
  right: number,
  target: string,
  after: (() => void)[],
): NetPortRef {
  if (name === MACH_PORT_NULL) return null;
  if (name === MACH_PORT_DEAD) return 'dead';
  const e = S.ns.lookup(name);
  if (e === undefined) return 'dead';
  if (e.bits & PortType.DEAD_NAME || e.port === null) {
    release(S, name, right);
    return 'dead';
  }
  if (right === ReceivedRight.PORT_RECEIVE) return exportReceive(S, name, target, after);
  const proxy = S.records.proxyOf(e.port);
  if (proxy !== undefined) {
    const { rec, info } = proxy;
    if (rec.dead) {
      release(S, name, right);
      return 'dead';
    }
    if (right === ReceivedRight.PORT_SEND) {
      rec.pendingXfers++;
    } else {
      // The home's send-once credit now stands for the receiver's right: ours goes silently.
      info.swallow++;
    }
    release(S, name, right);
    // While the receive right is in transit, the receiver is told this host, which forwards
    // (after the transfer, on the same ordered channel), as the `moved` hint waits in dispatch.ts.
    return {
      nid: rec.nid,
      kind: right === ReceivedRight.PORT_SEND ? 'send' : 'once',
      home: inTransit(rec) ? S.host : rec.home,
      gen: rec.gen,
      via: S.host,
    };
  }
  const rec = ownerRecord(S, name);
  if (right === ReceivedRight.PORT_SEND) {
    // The server keeps one send right to a port that has remote senders.
    if (rec.realName === MACH_PORT_NULL) {
      rec.realName = name;
      watch(S, rec, name);
    } else {
      release(S, name, right);
    }
    rec.pendingXfers++;
    return { nid: rec.nid, kind: 'send', home: S.host, gen: rec.gen, via: S.host };
  }
  // A send-once right stays here as the credit the remote right will be used through.
  rec.onceNames.push(name);
  watch(S, rec, name);
  return { nid: rec.nid, kind: 'once', home: S.host, gen: rec.gen, via: S.host };
}

/** A received message in network form; its rights leave the server's space. */
export function exportMessage(
  S: NetmsgContext,
  m: ReceivedMessage,
  target: string,
  after: (() => void)[],
): NetMessage {
  const reply =
    m.remotePort === MACH_PORT_NULL
      ? null
      : exportRef(S, m.remotePort, m.remoteRight, target, after);
  const body: NetItem[] = m.body.map((it): NetItem => {
    if (it.type === 'port') return { t: 'p', r: exportRef(S, it.name, it.right, target, after) };
    if (it.type === 'ool') return { t: 'o', d: it.data };
    const item: { t: 'i'; d: Uint8Array; n?: number; s?: number } = { t: 'i', d: it.data };
    if (it.msgtName !== undefined) item.n = it.msgtName;
    if (it.msgtSize !== undefined) item.s = it.msgtSize;
    return item;
  });
  return {
    id: m.id,
    dest: m.localRight === ReceivedRight.PORT_SEND_ONCE ? 'once' : 'send',
    reply,
    body,
  };
}
