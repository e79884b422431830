/**
 * Timers and limits of a netmsg server. Defaults suit the simulated 10 Mbit/s Ethernet: a round
 * trip is well under a millisecond, a 64 KiB message about 50 ms on the wire.
 */
export interface NetmsgConfig {
  /** Retransmission timeout before any round trip was measured (ms). */
  readonly initialRtoMs: number;
  readonly minRtoMs: number;
  readonly maxRtoMs: number;
  /** A peer that acknowledges nothing for this long is unreachable: its ports die here. */
  readonly giveUpMs: number;
  /**
   * How long an acknowledgement waits for a data frame going back to ride on (a reply usually
   * does, so a request/reply costs two frames, not four).
   */
  readonly ackDelayMs: number;
  /** Frames in flight per peer before further frames wait. */
  readonly window: number;
  /** How long a name look-up waits for answers. */
  readonly lookupTimeoutMs: number;
  /** How long a port's receiver waits for a missing message before skipping it (host lost). */
  readonly gapTimeoutMs: number;
  /** A message forwarded more often than this is dropped (a location loop). */
  readonly maxHops: number;
  /** The old home of a moved port settles after this long without forwarding anything. */
  readonly forwardQuietMs: number;
  /**
   * Port checkups (section 8.1): every this many ms, probe each peer this host depends on (the
   * home of a proxy, a holder of a local port), so a crashed host is noticed even by a host that
   * sends it nothing. 0 turns checkups off: then only traffic detects a dead peer, and a world
   * with nothing else to do goes idle.
   */
  readonly checkupMs: number;
  /** Queue limit of proxy ports (senders block only when the server falls this far behind). */
  readonly proxyQlimit: number;
  /**
   * Network port identifiers from the crypto generator (unguessable across runs) instead of
   * the world's seeded generator (unguessable to tasks, reproducible for the same seed).
   */
  readonly cryptoIds: boolean;
}

export const DEFAULT_NETMSG_CONFIG: NetmsgConfig = {
  initialRtoMs: 20,
  minRtoMs: 2,
  maxRtoMs: 400,
  giveUpMs: 2000,
  ackDelayMs: 0.2,
  window: 32,
  lookupTimeoutMs: 1000,
  gapTimeoutMs: 5000,
  maxHops: 8,
  forwardQuietMs: 1000,
  checkupMs: 0,
  proxyQlimit: 16,
  cryptoIds: false,
};

export function netmsgConfig(partial: Partial<NetmsgConfig> = {}): NetmsgConfig {
  const c = { ...DEFAULT_NETMSG_CONFIG, ...partial };
  for (const [k, v] of Object.entries(c)) {
    if (typeof v === 'number' && !(Number.isFinite(v) && (v > 0 || (k === 'checkupMs' && v === 0))))
      throw new RangeError(`netmsg config ${k} must be a finite number > 0, got ${v}`);
  }
  if (c.giveUpMs <= c.minRtoMs) throw new RangeError('netmsg config giveUpMs must exceed minRtoMs');
  return c;
}
