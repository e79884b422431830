import type { AnyMachineSnapshot, EventObject } from 'xstate';
import {
  NETMSG_MOVE_EVENTS,
  NETMSG_MOVE_FAULTS,
  type NetHost,
  type NetmsgMoveContext,
  netmsgMoveModel,
} from '../../models/netmsgMove.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import { totalRejected } from '../netmsg/stats.ts';
import { type NetmsgTestbed, netmsgTestbed, receiveAll } from '../netmsg/testbed.ts';
import { dataOf, inlineData } from '../protocol/codec.ts';
import { MachError } from '../protocol/errors.ts';
import { Disposition, PortRight, ReceivedRight } from '../protocol/rights.ts';
import type { CheckModel } from './runner.ts';

/**
 * Executors and assertions of the netmsg location model (models/netmsgMove.ts) on a netmsg
 * testbed: three hosts with bare IPC kernels and their netmsg servers. The receive right of port
 * P moves between "holder" spaces in messages to "mover" ports, as a migrating task's ports do;
 * senders on b and c send numbered messages through their proxies. Checked at every step: the
 * IPC invariants and netmsg's health on every host, and per sender, messages received in order
 * and never twice; once settled, where the right is and what every sender's host believes;
 * after a receive, every message sent so far (exactly once). At the end everything is destroyed
 * and no port or proxy may remain.
 */

const HOSTS: readonly NetHost[] = ['a', 'b', 'c'];
const MOVE = 99;
const DELAY_MS = 1300;

interface Tagged {
  from: 'a' | 'b';
  n: number;
}

export interface NetmsgMoveCtx {
  readonly tb: NetmsgTestbed;
  readonly holder: Record<NetHost, PortSpace>;
  readonly mover: Record<NetHost, number>;
  /** Send rights, in holder@from, to the mover port of each other host. */
  readonly toMover: Record<NetHost, Partial<Record<NetHost, number>>>;
  readonly sender: Record<'a' | 'b', { space: PortSpace; dest: number }>;
  /** The receive right: where it is, or null while it travels (or after it died). */
  p: { host: NetHost; name: number } | null;
  /** Where the right was before its last move. */
  oldHome: NetHost;
  readonly nid: string;
  readonly sent: Record<'a' | 'b', number[]>;
  readonly received: Tagged[];
  readonly sendErrors: string[];
  readonly baseline: Record<NetHost, number>;
}

function begin(): NetmsgMoveCtx {
  const tb = netmsgTestbed(HOSTS, { seed: 1, deliveryLatencyMs: 0.05 });
  const baseline = Object.fromEntries(HOSTS.map((h) => [h, tb.host(h).ipc.ports.size])) as Record<
    NetHost,
    number
  >;
  const holder = {} as Record<NetHost, PortSpace>;
  const mover = {} as Record<NetHost, number>;
  for (const h of HOSTS) {
    holder[h] = tb.host(h).space(`holder@${h}`);
    mover[h] = tb.host(h).ipc.allocate(holder[h], PortRight.RECEIVE, `mover@${h}`);
  }
  const toMover: NetmsgMoveCtx['toMover'] = { a: {}, b: {}, c: {} };
  for (const from of HOSTS)
    for (const to of HOSTS)
      if (from !== to)
        toMover[from][to] = tb.connect(to, holder[to], mover[to], from, holder[from]);
  const a = tb.host('a');
  const name = a.ipc.allocate(holder.a, PortRight.RECEIVE, 'P');
  a.ipc.setQlimit(holder.a, name, 16);
  const sender = {} as NetmsgMoveCtx['sender'];
  const senderA = tb.host('a').space('sender@a');
  a.ipc.insertRight(senderA, 0x900, holder.a, name, Disposition.MAKE_SEND);
  sender.a = { space: senderA, dest: 0x900 };
  const senderB = tb.host('b').space('sender@b');
  sender.b = { space: senderB, dest: tb.connect('a', holder.a, name, 'b', senderB) };
  tb.run();
  const nid = a.netmsg.networkPortOf(holder.a, name) ?? '';
  return {
    tb,
    holder,
    mover,
    toMover,
    sender,
    p: { host: 'a', name },
    oldHome: 'a',
    nid,
    sent: { a: [], b: [] },
    received: [],
    sendErrors: [],
    baseline,
  };
}

function exec(ctx: NetmsgMoveCtx, event: EventObject, next: AnyMachineSnapshot): void {
  const { tb } = ctx;
  const world = tb.world;
  switch (event.type) {
    case 'MOVE_TO': {
      const to = (event as unknown as { host: NetHost }).host;
      const from = ctx.p!;
      ctx.p = null;
      ctx.oldHome = from.host;
      const ipc = tb.host(from.host).ipc;
      ipc.send(ctx.holder[from.host], {
        remotePort: ctx.toMover[from.host][to]!,
        remoteDisposition: Disposition.COPY_SEND,
        id: MOVE,
        body: [{ type: 'port', name: from.name, disposition: Disposition.MOVE_RECEIVE }],
      });
      const dest = tb.host(to);
      const got = (m: { body: readonly { type: string }[] }) => {
        const item = m.body[0] as { type: 'port'; name: number; right: ReceivedRight } | undefined;
        if (item?.type !== 'port' || item.right !== ReceivedRight.PORT_RECEIVE || item.name <= 0)
          throw new Error('the move message carried no receive right');
        ctx.p = { host: to, name: item.name };
      };
      const m = dest.ipc.receive(ctx.holder[to], ctx.mover[to], {}, (r) => {
        if (r.ok) got(r.message);
      });
      if (m !== null) got(m);
      // No time passes: the message carrying the right is still in the old home's kernel.
      break;
    }
    case 'SEND': {
      const from = (event as unknown as { from: 'a' | 'b' }).from;
      const s = ctx.sender[from];
      const n = ctx.sent[from].length;
      const ipc = tb.host(from).ipc;
      try {
        ipc.send(
          s.space,
          {
            remotePort: s.dest,
            remoteDisposition: Disposition.COPY_SEND,
            id: 1,
            body: [inlineData({ from, n })],
          },
          {},
          (o) => {
            if (!o.ok) ctx.sendErrors.push(`${from} ${n}: ${o.error.message}`);
          },
        );
        ctx.sent[from].push(n);
      } catch (e) {
        if (!(e instanceof MachError)) throw e;
        ctx.sendErrors.push(`${from} ${n}: ${e.message}`);
      }
      // Long enough for the message to reach the port's old home and for the hint to come back.
      world.runUntilTime(world.now() + 3);
      break;
    }
    case 'SETTLE':
    case 'RECEIVE':
      tb.run();
      if (event.type === 'RECEIVE' && ctx.p !== null) {
        const ipc = tb.host(ctx.p.host).ipc;
        for (const m of receiveAll(ipc, ctx.holder[ctx.p.host], ctx.p.name))
          ctx.received.push(dataOf<Tagged>(m));
      }
      break;
    case 'NOISE':
      tb.network.setImpairment({ loss: 0.2, duplicate: 0.3, reorder: 0.5, reorderJitterMs: 3 });
      break;
    case 'DELAY': {
      // The right is on its way from its old home to its new one: the link between them is cut
      // for a while (frames on the wire are lost and sent again after), so that senders told
      // of the move may try to overtake it.
      const to = (next.context as NetmsgMoveContext).at;
      const id = tb.network.partition([ctx.oldHome], [to]);
      world.schedule(DELAY_MS, () => tb.network.heal(id), 'check.heal');
      break;
    }
    case 'CRASH_OLD_HOME':
      tb.network.crash('a');
      world.runUntilTime(world.now() + 0.5);
      break;
    case 'DESTROY': {
      const p = ctx.p!;
      tb.host(p.host).ipc.destroy(ctx.holder[p.host], p.name);
      ctx.p = null;
      world.runUntilTime(world.now() + 0.5);
      break;
    }
    default:
      throw new Error(`no executor for ${event.type}`);
  }
}

function check(ctx: NetmsgMoveCtx, state: AnyMachineSnapshot): string[] {
  const c = state.context as NetmsgMoveContext;
  const out: string[] = [];
  const { tb } = ctx;
  for (const h of HOSTS) {
    if (!tb.network.isUp(h)) continue;
    const s = tb.host(h).netmsg;
    for (const e of s.errorLog) out.push(`netmsg on ${h}: ${e}`);
    if (totalRejected(s.stats) > 0) out.push(`netmsg on ${h}: ${totalRejected(s.stats)} rejected`);
  }
  for (const p of tb.problems()) if (!p.startsWith('a:') || !c.aDown) out.push(p);
  // Per sender: in order, never twice, only what was sent.
  for (const from of ['a', 'b'] as const) {
    const got = ctx.received.filter((t) => t.from === from).map((t) => t.n);
    for (let i = 1; i < got.length; i++)
      if (got[i]! <= got[i - 1]!) out.push(`from ${from}: ${got[i]} after ${got[i - 1]}`);
    for (const n of got) if (!ctx.sent[from].includes(n)) out.push(`from ${from}: ${n} never sent`);
  }
  if (c.dead) return out;
  if (!c.moving) {
    if (ctx.p === null) out.push(`the receive right never arrived at ${c.at}`);
    else if (ctx.p.host !== c.at)
      out.push(`the receive right is on ${ctx.p.host}, expected ${c.at}`);
    else {
      // The location update: every sender's host that holds a proxy knows where the port is.
      for (const h of ['a', 'b'] as const) {
        if (h === 'a' && c.aDown) continue;
        if (h === c.at) continue;
        const rec = tb.host(h).netmsg.records.get(ctx.nid);
        if (rec && rec.proxies.length > 0 && rec.home !== c.at)
          out.push(`${h} believes the port is on ${rec.home}, it is on ${c.at}`);
      }
    }
  }
  if (!c.pending) {
    // Everything sent so far was received, exactly once, in order.
    for (const from of ['a', 'b'] as const) {
      const got = ctx.received.filter((t) => t.from === from).map((t) => t.n);
      if (got.join(',') !== ctx.sent[from].join(','))
        out.push(`from ${from}: sent [${ctx.sent[from].join(',')}], received [${got.join(',')}]`);
    }
    if (ctx.sendErrors.length > 0) out.push(`send failed: ${ctx.sendErrors[0]}`);
  }
  return out;
}

function end(ctx: NetmsgMoveCtx): string[] {
  const { tb } = ctx;
  const out: string[] = [];
  tb.network.clearImpairments();
  tb.network.heal();
  for (const h of HOSTS) if (!tb.network.isUp(h)) tb.network.restart(h);
  tb.run();
  for (const h of HOSTS) {
    const ipc = tb.host(h).ipc;
    for (const s of [...ipc.spaces])
      if (s.label.startsWith('holder@') || s.label.startsWith('sender@')) ipc.destroySpace(s);
  }
  tb.run();
  for (const h of HOSTS) {
    const host = tb.host(h);
    const s = host.netmsg;
    const proxies = s.records.all().reduce((n, r) => n + r.proxies.length, 0);
    if (proxies > 0) out.push(`netmsg on ${h}: ${proxies} proxies left behind`);
    if (host.ipc.ports.size > ctx.baseline[h])
      out.push(
        `${h}: ports left behind: ${[...host.ipc.ports]
          .map((p) => p.label)
          .slice(ctx.baseline[h])
          .join(', ')}`,
      );
    for (const e of s.errorLog) out.push(`netmsg on ${h}: ${e}`);
    if (totalRejected(s.stats) > 0) out.push(`netmsg on ${h}: ${totalRejected(s.stats)} rejected`);
  }
  out.push(...tb.problems());
  return out;
}

export const netmsgMoveCheck: CheckModel<NetmsgMoveCtx> = {
  name: 'netmsg-location',
  description: 'a receive right moving between hosts while senders send: location updates',
  machine: netmsgMoveModel,
  events: NETMSG_MOVE_EVENTS,
  faults: NETMSG_MOVE_FAULTS,
  simplePaths: false,
  begin,
  exec,
  check: (ctx, state) => check(ctx, state),
  end,
};
