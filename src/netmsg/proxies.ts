import { bindMailbox } from '../actors/mailbox.ts';
import { MachError } from '../protocol/errors.ts';
import { Disposition, MACH_PORT_NULL, PortRight } from '../protocol/rights.ts';
import { type NetmsgContext, sendTo } from './context.ts';
import type { NetPortRecord, ProxyInfo } from './records.ts';

/**
 * Proxies: local ports standing for remote ones (section 2.2, the ports the IPC Send thread
 * listens on). Tasks hold ordinary send and send-once rights to them; the server holds the
 * receive right and learns through a no-senders notification when the last local sender is gone,
 * then gives its reference at the port's home back (extending no-senders over the network, 8.1).
 */

export function ensureProxy(S: NetmsgContext, rec: NetPortRecord): ProxyInfo {
  const live = rec.proxies[0];
  if (live !== undefined) return live;
  const name = S.k.allocate(S.ns, PortRight.RECEIVE, `proxy:${rec.nid.slice(0, 8)}`);
  S.k.setQlimit(S.ns, name, S.config.proxyQlimit);
  return adoptProxy(S, rec, name);
}

/** Makes the receive right `name` (already in the server's space) a proxy for `rec`. */
export function adoptProxy(S: NetmsgContext, rec: NetPortRecord, name: number): ProxyInfo {
  const port = S.ns.lookup(name)!.port!;
  const info: ProxyInfo = { name, port, notify: MACH_PORT_NULL, armed: false, swallow: 0 };
  S.records.addProxy(rec, info);
  bindMailbox(S.k, S.ns, name, S.actor);
  return info;
}

/** A send right to the proxy, held under the proxy's own name until a message moves it. */
export function makeSend(S: NetmsgContext, info: ProxyInfo): number {
  S.k.extractRight(S.ns, info.name, Disposition.MAKE_SEND, S.ns);
  arm(S, info);
  return info.name;
}

export function makeSendOnce(S: NetmsgContext, info: ProxyInfo): number {
  return S.k.extractRight(S.ns, info.name, Disposition.MAKE_SEND_ONCE, S.ns);
}

/** Asks for the proxy's next no-senders notification (sync above mscount: never immediate). */
export function arm(S: NetmsgContext, info: ProxyInfo): void {
  if (info.armed) return;
  const entry = S.records.proxyNames.get(info.name);
  if (entry === undefined) return;
  if (info.notify === MACH_PORT_NULL) {
    info.notify = S.k.allocate(
      S.ns,
      PortRight.RECEIVE,
      `proxy-notify:${entry.rec.nid.slice(0, 8)}`,
    );
    S.records.notifyNames.set(info.notify, entry);
    bindMailbox(S.k, S.ns, info.notify, S.actor);
  }
  const { mscount } = S.k.getAttributes(S.ns, info.name);
  S.k.requestNotification(
    S.ns,
    info.name,
    'no-senders',
    mscount + 1,
    info.notify,
    Disposition.MAKE_SEND_ONCE,
  );
  info.armed = true;
}

function senders(S: NetmsgContext, info: ProxyInfo): { send: boolean; idle: boolean } {
  const a = S.k.getAttributes(S.ns, info.name);
  return { send: a.srights, idle: !a.srights && a.sorights === 0 && a.msgcount === 0 };
}

/**
 * Called whenever a proxy may have lost its last right: gives the host's references back to the
 * home once nothing waits on them, and destroys proxy ports nobody can reach any more.
 */
export function maybeRetire(S: NetmsgContext, rec: NetPortRecord): void {
  if (rec.dead || S.stopped) return;
  const states = rec.proxies.map((info) => ({ info, ...senders(S, info) }));
  const anySenders = states.some((s) => s.send);
  if (!anySenders && rec.refs > 0 && rec.pendingAdds === 0 && rec.pendingXfers === 0) {
    const refs = rec.refs;
    rec.refs = 0;
    sendTo(S, rec.home, {
      k: 'ref-drop',
      nid: rec.nid,
      holder: S.host,
      refs,
      seq: rec.txSeq,
      hops: 0,
    });
  }
  for (const s of states) if (s.idle && s.info.swallow === 0) destroyProxy(S, rec, s.info);
}

export function onProxyNoSenders(S: NetmsgContext, rec: NetPortRecord, info: ProxyInfo): void {
  info.armed = false;
  maybeRetire(S, rec);
}

/** Destroys a proxy port: local holders of rights to it now hold dead names. */
export function destroyProxy(S: NetmsgContext, rec: NetPortRecord, info: ProxyInfo): void {
  S.records.removeProxy(rec, info);
  for (const name of [info.name, info.notify]) {
    if (name === MACH_PORT_NULL) continue;
    try {
      S.k.destroy(S.ns, name);
    } catch (err) {
      if (!(err instanceof MachError)) throw err;
    }
  }
}
