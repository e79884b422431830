import type { NetBody } from '../protocol/netmsg.ts';
import { MACH_PORT_NULL } from '../protocol/rights.ts';
import { type NetmsgContext, sendTo } from './context.ts';
import { voidItem, voidMessage } from './delivery.ts';
import { destroyProxy, maybeRetire } from './proxies.ts';
import type { NetPortRecord } from './records.ts';
import { applyDrops, maybeReleaseReal } from './refs.ts';
import { skipGap, takeWaiting } from './sequencer.ts';
import { destroyName } from './spaceOps.ts';

/**
 * Port death across hosts (section 7.2, po_notify_port_death; 6.5 ipc_port_dead) and the loss of
 * a peer (section 8.1: a restarted server's ports are searched for; here they are declared dead).
 */

/**
 * The network port is dead for this host: its proxies die (local holders get dead names and
 * their dead-name notifications), what waited for it is destroyed with its rights. The home
 * tells every host, so their proxies die too.
 */
export function markDead(
  S: NetmsgContext,
  rec: NetPortRecord,
  reason: string,
  tellAll: boolean,
  presumed = false,
): void {
  if (rec.dead) {
    // The home's own word makes a presumed death final.
    if (!presumed) rec.presumedDead = false;
    return;
  }
  rec.dead = true;
  rec.presumedDead = presumed;
  if (S.world.trace.enabled)
    S.world.trace.emit('netmsg.port-dead', { host: S.host, nid: rec.nid, reason });
  for (const info of [...rec.proxies]) destroyProxy(S, rec, info);
  if (rec.realName !== MACH_PORT_NULL) destroyName(S, rec.realName);
  rec.realName = MACH_PORT_NULL;
  for (const n of rec.onceNames) destroyName(S, n);
  rec.onceNames = [];
  S.records.setPort(rec, null);
  rec.holders.clear();
  rec.drops = [];
  for (const w of takeWaiting(S, rec)) voidItem(S, w.item);
  rec.move?.send({ type: 'LOST' });
  rec.refs = 0;
  rec.pendingAdds = 0;
  rec.waitingVia = [];
  rec.pendingXfers = 0;
  if (tellAll) for (const peer of S.transport.peers()) sendTo(S, peer, { k: 'dead', nid: rec.nid });
}

/** A dead-name notification for a watched name: the real port died on this host. */
export function onDeadName(S: NetmsgContext, name: number): void {
  const rec = S.records.watched.get(name);
  S.records.watched.delete(name);
  if (rec === undefined) {
    destroyName(S, name);
    return;
  }
  markDead(S, rec, 'port destroyed', true);
}

/** A `dead` notice from another server. */
export function onDeadNotice(S: NetmsgContext, from: string, nid: string): void {
  const rec = S.records.get(nid);
  // A port this host has never seen: the notice is a broadcast, nothing to do.
  if (rec === undefined) return;
  // The receive right is here and alive: only this host can say it died.
  if (rec.port !== null) return;
  markDead(S, rec, `died (told by ${from})`, false);
}

/**
 * This host and `peer` forgot each other (give-up, restart, or the peer gave up on us): ports
 * whose receive right is there are dead here, its references to ports here are void, and what
 * was on its way to it failed.
 */
export function onSevered(
  S: NetmsgContext,
  peer: string,
  reason: string,
  pending: NetBody[],
): void {
  if (S.world.trace.enabled) S.world.trace.emit('netmsg.sever', { host: S.host, peer, reason });
  S.severing = peer;
  try {
    for (const rec of S.records.all()) {
      if (rec.dead) continue;
      if (rec.port === null && rec.home === peer) {
        markDead(S, rec, `host ${peer}: ${reason}`, false, true);
        continue;
      }
      if (rec.port !== null) {
        rec.holders.delete(peer);
        rec.drops = rec.drops.filter((d) => d.holder !== peer);
        // Its messages still missing will never come.
        if (rec.waiting.has(peer)) skipGap(S, rec, peer);
        applyDrops(S, rec);
        maybeReleaseReal(S, rec);
      }
    }
    for (const lookup of S.lookups.values()) lookup.unreachable(peer);
    for (const body of pending) failed(S, body);
  } finally {
    S.severing = null;
  }
  for (const rec of S.records.all()) if (!rec.dead) maybeRetire(S, rec);
}

function failed(S: NetmsgContext, body: NetBody): void {
  if (body.k === 'ipc') voidMessage(S, body.msg);
  else if (body.k === 'lookup-reply' && body.port !== null && body.port !== 'dead')
    voidMessage(S, { id: 0, dest: 'send', reply: null, body: [{ t: 'p', r: body.port }] });
}
