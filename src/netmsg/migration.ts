import { createActor } from 'xstate';
import { netmsgPortMove } from '../machines/netmsgPortMove.ts';
import { MachError } from '../protocol/errors.ts';
import type { NetMessage, NetRight, PortState } from '../protocol/netmsg.ts';
import {
  Disposition,
  MACH_PORT_NULL,
  MACH_PORT_QLIMIT_MAX,
  PortRight,
  ReceivedRight,
} from '../protocol/rights.ts';
import { type NetmsgContext, sendTo } from './context.ts';
import { deliverTo } from './delivery.ts';
import { exportMessage, exportRef, ownerRecord } from './exportRights.ts';
import { importRef } from './importRights.ts';
import { adoptProxy, arm, maybeRetire } from './proxies.ts';
import type { NetPortRecord } from './records.ts';
import { takeWaiting } from './sequencer.ts';
import { type Held, release, unwatch, watch } from './spaceOps.ts';

/**
 * Moving a receive right between hosts (section 7.2: transfer of receiver rights; 9.1: the
 * answer a search gets from a host the receive right has left). The old home takes every queued message out of the
 * port and ships them inside the right, with the counters that keep exactly-once and order
 * (per-origin sequence numbers, remote references, send-once credits). The port object itself
 * stays behind as a proxy: local holders keep their rights and their messages follow the port,
 * and so does anything else that still arrives here, until senders learn the new location.
 */

export function exportReceive(
  S: NetmsgContext,
  name: number,
  target: string,
  after: (() => void)[],
): NetRight {
  const rec = ownerRecord(S, name);
  // The queue follows the right: the server holds the receive right now, so it can take every
  // message out (blocked senders are admitted as room appears, and come out too).
  const queued: NetMessage[] = [];
  for (;;) {
    let m: ReturnType<typeof S.k.receive>;
    try {
      m = S.k.receive(S.ns, name, { timeout: 0 });
    } catch (err) {
      if (err instanceof MachError) break;
      throw err;
    }
    if (m === null) break;
    queued.push(exportMessage(S, m, target, after));
  }
  // Notification requests the receiver made go with the port.
  const nsPrev = S.k.requestNotification(S.ns, name, 'no-senders', 0, MACH_PORT_NULL);
  const pdPrev = S.k.requestNotification(S.ns, name, 'port-destroyed', 0, MACH_PORT_NULL);
  const state: PortState = {
    qlimit: S.k.getAttributes(S.ns, name).qlimit,
    queued,
    rx: [...rec.rx],
    // This host keeps the port object as a proxy: one reference of its own at the new home.
    holders: [...withOne(rec.holders, S.host)],
    drops: rec.drops,
    once: rec.onceNames.length,
    nsNotify: exportRef(S, nsPrev, ReceivedRight.PORT_SEND_ONCE, target, after),
    pdNotify: exportRef(S, pdPrev, ReceivedRight.PORT_SEND_ONCE, target, after),
  };
  const gen = rec.gen + 1;
  const credits = rec.onceNames;
  const hadRealName = rec.realName !== MACH_PORT_NULL;
  unwatch(S, name);
  for (const c of credits) unwatch(S, c);
  rec.onceNames = [];
  rec.realName = MACH_PORT_NULL;
  S.records.setPort(rec, null);
  rec.home = target;
  rec.gen = gen;
  rec.rx = new Map();
  rec.holders = new Map();
  rec.drops = [];
  rec.hinted = new Set();
  rec.refs++;
  const waiting = takeWaiting(S, rec);
  // The server's own send right merged into this name; the name is a proxy's now.
  if (hadRealName) release(S, name, ReceivedRight.PORT_SEND);
  S.k.setQlimit(S.ns, name, S.config.proxyQlimit);
  const info = adoptProxy(S, rec, name);
  // Our credits were send-once rights to this very port: giving them up makes notifications
  // that must not be forwarded (the new home made fresh credits).
  info.swallow += credits.length;
  for (const c of credits) release(S, c, ReceivedRight.PORT_SEND_ONCE);
  if (S.k.getAttributes(S.ns, name).srights) arm(S, info);
  S.stats.portsMoved++;
  if (S.world.trace.enabled)
    S.world.trace.emit('netmsg.port-moved', {
      host: S.host,
      nid: rec.nid,
      phase: 'transfer',
      to: target,
    });
  startMove(S, rec);
  after.push(() => {
    // What waited here for its turn follows the port, behind the frame that carries it.
    for (const w of waiting) {
      const msg = w.item.kind === 'net' ? w.item.msg : exportMessage(S, w.item.msg, target, after);
      sendTo(S, target, { k: 'ipc', nid: rec.nid, origin: w.origin, oseq: w.seq, hops: 1, msg });
    }
    maybeRetire(S, rec);
  });
  return { nid: rec.nid, kind: 'receive', home: target, gen, via: S.host, state };
}

function withOne(m: Map<string, number>, host: string): Map<string, number> {
  const out = new Map(m);
  out.set(host, (out.get(host) ?? 0) + 1);
  return out;
}

function startMove(S: NetmsgContext, rec: NetPortRecord): void {
  rec.move?.stop();
  const actor = createActor(netmsgPortMove, {
    clock: S.world.clock,
    input: {
      quietMs: S.config.forwardQuietMs,
      io: {
        phase: (phase) => {
          if (S.world.trace.enabled)
            S.world.trace.emit('netmsg.port-moved', {
              host: S.host,
              nid: rec.nid,
              phase,
              to: rec.home,
            });
        },
      },
    },
  });
  rec.move = actor;
  actor.start();
}

/**
 * The receive right arrives: a new real port takes the queued messages first, in their order;
 * the counters make later messages (forwarded or direct) line up behind them. Returns the name
 * of the receive right in the server's space, ready to move into the carrying message.
 */
export function importReceive(S: NetmsgContext, ref: NetRight): number {
  const st = ref.state!;
  const rec = S.records.get(ref.nid) ?? S.records.create(ref.nid, S.host, ref.gen);
  rec.dead = false;
  rec.move?.stop();
  rec.move = null;
  const name = S.k.allocate(S.ns, PortRight.RECEIVE, `net:${ref.nid.slice(0, 8)}`);
  S.k.setQlimit(S.ns, name, Math.min(MACH_PORT_QLIMIT_MAX, st.qlimit));
  S.records.setPort(rec, S.ns.lookup(name)!.port!);
  S.k.insertRight(S.ns, name, S.ns, name, Disposition.MAKE_SEND);
  rec.realName = name;
  watch(S, rec, name);
  for (let i = 0; i < st.once; i++) {
    const credit = S.k.extractRight(S.ns, name, Disposition.MAKE_SEND_ONCE, S.ns);
    rec.onceNames.push(credit);
    watch(S, rec, credit);
  }
  rec.home = S.host;
  rec.gen = ref.gen;
  rec.rx = new Map(st.rx);
  rec.holders = new Map(st.holders);
  rec.drops = [...st.drops];
  for (const q of st.queued) {
    const disposition = q.dest === 'once' ? Disposition.MAKE_SEND_ONCE : Disposition.COPY_SEND;
    deliverTo(S, rec, { name, disposition }, q);
  }
  const held: Held[] = [];
  const ns = importRef(S, st.nsNotify, held).name;
  if (ns !== MACH_PORT_NULL)
    S.k.requestNotification(S.ns, name, 'no-senders', 0, ns, Disposition.MOVE_SEND_ONCE);
  const pd = importRef(S, st.pdNotify, held).name;
  if (pd !== MACH_PORT_NULL)
    S.k.requestNotification(S.ns, name, 'port-destroyed', 0, pd, Disposition.MOVE_SEND_ONCE);
  // Tell the old home and every holder where the port is now (the location update).
  for (const h of new Set([ref.via, ...rec.holders.keys()]))
    if (h !== S.host) sendTo(S, h, { k: 'moved', nid: rec.nid, home: S.host, gen: rec.gen });
  if (S.world.trace.enabled)
    S.world.trace.emit('netmsg.port-moved', {
      host: S.host,
      nid: rec.nid,
      phase: 'installed',
      to: S.host,
    });
  return name;
}
