import type { NetmsgContext } from './context.ts';
import { deliverItem, voidItem } from './delivery.ts';
import type { NetPortRecord, SeqItem } from './records.ts';
import { applyDrops } from './refs.ts';

/**
 * The port's home puts messages into the real port in the order each origin host sent them
 * (mach-network-server.txt 6.4 keeps messages from one node to one port strictly ordered). Every
 * proxy stamps its messages with its host's sequence number for the port; the numbers move with
 * the receive right, so a message forwarded by the old home and a later one sent straight to the
 * new home still reach the receiver in order, and a copy of one already delivered is dropped.
 */

export interface Waiting {
  readonly origin: string;
  readonly seq: number;
  readonly item: SeqItem;
}

export function accept(
  S: NetmsgContext,
  rec: NetPortRecord,
  origin: string,
  seq: number,
  item: SeqItem,
): void {
  const next = rec.rx.get(origin) ?? 1;
  let waiting = rec.waiting.get(origin);
  if (seq < next || waiting?.has(seq)) {
    S.stats.duplicates++;
    if (S.world.trace.enabled)
      S.world.trace.emit('netmsg.duplicate', { host: S.host, peer: origin, seq });
    if (item.kind === 'local') voidItem(S, item);
    return;
  }
  if (seq > next) {
    if (waiting === undefined) rec.waiting.set(origin, (waiting = new Map()));
    waiting.set(seq, item);
    armGapTimer(S, rec);
    return;
  }
  deliverRun(S, rec, origin, item);
}

/** Delivers `first` (the expected message) and every waiting one that follows it. */
function deliverRun(S: NetmsgContext, rec: NetPortRecord, origin: string, first: SeqItem): void {
  let seq = rec.rx.get(origin) ?? 1;
  let item: SeqItem | undefined = first;
  const waiting = rec.waiting.get(origin);
  while (item !== undefined) {
    rec.rx.set(origin, seq + 1);
    deliverItem(S, rec, origin, seq, item);
    // The port may have died under the delivery; what still waits died with it.
    if (rec.port === null) return;
    seq++;
    item = waiting?.get(seq);
    if (item !== undefined) waiting!.delete(seq);
  }
  if (waiting !== undefined && waiting.size === 0) rec.waiting.delete(origin);
  applyDrops(S, rec);
}

/**
 * A gap that does not fill within the gap timeout belongs to a message lost with a failed host:
 * skip it rather than hold every later message back for ever.
 */
function armGapTimer(S: NetmsgContext, rec: NetPortRecord): void {
  if (rec.gapTimer !== null) return;
  rec.gapTimer = S.world.schedule(
    S.config.gapTimeoutMs,
    () => {
      rec.gapTimer = null;
      if (S.stopped || rec.port === null) return;
      for (const origin of [...rec.waiting.keys()]) skipGap(S, rec, origin);
    },
    'netmsg.gap',
  );
}

/** Gives up the missing messages of `origin` and delivers what waits behind them. */
export function skipGap(S: NetmsgContext, rec: NetPortRecord, origin: string): void {
  for (;;) {
    const waiting = rec.waiting.get(origin);
    if (waiting === undefined || waiting.size === 0 || rec.port === null) {
      rec.waiting.delete(origin);
      return;
    }
    const first = Math.min(...waiting.keys());
    const skipped = first - (rec.rx.get(origin) ?? 1);
    if (S.world.trace.enabled)
      S.world.trace.emit('netmsg.gap', { host: S.host, nid: rec.nid, origin, skipped });
    rec.rx.set(origin, first);
    const item = waiting.get(first)!;
    waiting.delete(first);
    deliverRun(S, rec, origin, item);
  }
}

/** Takes every waiting message out (the port is leaving or died), in origin then seq order. */
export function takeWaiting(S: NetmsgContext, rec: NetPortRecord): Waiting[] {
  const out: Waiting[] = [];
  for (const [origin, m] of rec.waiting)
    for (const seq of [...m.keys()].sort((a, b) => a - b))
      out.push({ origin, seq, item: m.get(seq)! });
  rec.waiting.clear();
  if (rec.gapTimer !== null) {
    S.world.cancel(rec.gapTimer);
    rec.gapTimer = null;
  }
  return out;
}
