import type { NetBody } from '../protocol/netmsg.ts';
import { MACH_PORT_NULL, ReceivedRight } from '../protocol/rights.ts';
import { type NetmsgContext, reject, sendTo } from './context.ts';
import { refRegistered } from './importRights.ts';
import { maybeRetire } from './proxies.ts';
import type { NetPortRecord } from './records.ts';
import { release, unwatch } from './spaceOps.ts';

/**
 * Remote send rights and no-senders (section 8.1 extends no-senders into the network). The home
 * counts, per host, the references that host's proxies hold; it keeps its own send right to the
 * real port while any count, or any transfer it started, is outstanding. A holder's release
 * waits until that holder's earlier messages are delivered, so no message sent before the last
 * send right went can find the port gone.
 */

type Body<K extends NetBody['k']> = Extract<NetBody, { k: K }>;

function relay(
  S: NetmsgContext,
  rec: NetPortRecord,
  body: Body<'ref-add'> | Body<'ref-drop'>,
): void {
  if (body.hops >= S.config.maxHops) return;
  sendTo(S, rec.home, { ...body, hops: body.hops + 1 });
}

export function onRefAdd(S: NetmsgContext, from: string, b: Body<'ref-add'>): void {
  const rec = S.records.get(b.nid);
  if (rec === undefined)
    return reject(S, from, 'unknown-port', `ref-add for unknown port ${b.nid}`);
  if (!S.knownHost(b.holder)) return reject(S, from, 'malformed', `unknown holder ${b.holder}`);
  if (rec.dead) return sendTo(S, b.holder, { k: 'dead', nid: b.nid });
  if (rec.port === null) return relay(S, rec, b);
  rec.holders.set(b.holder, (rec.holders.get(b.holder) ?? 0) + 1);
  sendTo(S, b.holder, { k: 'ref-ack', nid: rec.nid, home: S.host, gen: rec.gen });
}

export function onRefAck(S: NetmsgContext, from: string, b: Body<'ref-ack'>): void {
  const rec = S.records.get(b.nid);
  if (rec === undefined || rec.pendingAdds === 0)
    return reject(S, from, 'unexpected', `ref-ack for ${b.nid}, which this host did not ask for`);
  rec.pendingAdds--;
  if (rec.port === null && b.gen >= rec.gen) {
    rec.home = b.home;
    rec.gen = b.gen;
  }
  refRegistered(S, rec);
}

export function onRefDrop(S: NetmsgContext, from: string, b: Body<'ref-drop'>): void {
  const rec = S.records.get(b.nid);
  if (rec === undefined)
    return reject(S, from, 'unknown-port', `ref-drop for unknown port ${b.nid}`);
  if (rec.dead) return;
  if (rec.port === null) return relay(S, rec, b);
  const pendingRefs = rec.drops
    .filter((d) => d.holder === b.holder)
    .reduce((a, d) => a + d.refs, 0);
  if ((rec.holders.get(b.holder) ?? 0) - pendingRefs < b.refs)
    return reject(
      S,
      from,
      'unheld-right',
      `${b.holder} drops ${b.refs} references it does not hold`,
    );
  rec.drops.push({ holder: b.holder, refs: b.refs, seq: b.seq });
  applyDrops(S, rec);
}

/** Applies every release whose holder's messages have all been delivered. */
export function applyDrops(S: NetmsgContext, rec: NetPortRecord): void {
  if (rec.drops.length === 0) return;
  rec.drops = rec.drops.filter((d) => {
    if ((rec.rx.get(d.holder) ?? 1) <= d.seq) return true;
    const left = (rec.holders.get(d.holder) ?? 0) - d.refs;
    if (left > 0) rec.holders.set(d.holder, left);
    else rec.holders.delete(d.holder);
    return false;
  });
  maybeReleaseReal(S, rec);
}

export function onXferDone(S: NetmsgContext, from: string, nid: string): void {
  const rec = S.records.get(nid);
  // The port died before the confirmation came (its transfers' accounting died with it), or a
  // message this host voided itself (after a sever) confirms transfers whose accounting the
  // sever already reset: nothing is pending, and nothing is wrong.
  if (rec?.dead || (from === S.host && rec !== undefined && rec.pendingXfers === 0)) return;
  if (rec === undefined || rec.pendingXfers === 0)
    return reject(S, from, 'unexpected', `transfer of ${nid} confirmed, but none is pending`);
  rec.pendingXfers--;
  maybeReleaseReal(S, rec);
  maybeRetire(S, rec);
}

/**
 * Gives up the server's send right to a real port nobody remote needs: if no local task holds
 * one, the port's receiver gets its no-senders notification, as on one host.
 */
export function maybeReleaseReal(S: NetmsgContext, rec: NetPortRecord): void {
  if (rec.port === null || rec.realName === MACH_PORT_NULL) return;
  if (rec.pendingXfers > 0 || rec.drops.length > 0) return;
  for (const n of rec.holders.values()) if (n > 0) return;
  const name = rec.realName;
  rec.realName = MACH_PORT_NULL;
  unwatch(S, name);
  release(S, name, ReceivedRight.PORT_SEND);
}
