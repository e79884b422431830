import { type Actor, createActor } from 'xstate';
import { netmsgTransport } from '../machines/netmsgTransport.ts';
import type { NetBody, NetFrame } from '../protocol/netmsg.ts';
import type { ScheduledEvent } from '../world/eventQueue.ts';
import type { World } from '../world/world.ts';
import type { NetmsgConfig } from './config.ts';
import { encodeFrame } from './frameCodec.ts';
import type { NetmsgStats } from './stats.ts';
import type { NetmsgTransport } from './transport.ts';

/** What a channel needs from the server it belongs to. */
export interface ChannelOwner {
  readonly world: World;
  readonly host: string;
  readonly epoch: number;
  readonly config: NetmsgConfig;
  readonly transport: NetmsgTransport;
  readonly stats: NetmsgStats;
  readonly stopped: boolean;
  /** A body from the peer, in the order the peer sent it, exactly once. */
  dispatch(peer: string, body: NetBody): void;
  /** The peer and this server forget each other; `pending` never reached it. */
  severed(peer: string, reason: string, pending: NetBody[]): void;
}

interface OutFrame {
  readonly seq: number;
  readonly body: NetBody;
  sentAt: number;
  bytes: number;
  /** Karn's rule: a retransmitted frame gives no round-trip sample. */
  retransmitted: boolean;
}

type StreamData = Extract<NetFrame, { k: 'data' }>;

/**
 * One reliable, ordered stream to a peer and one from it (section 4.1: each transport protocol
 * keeps its own retransmission and duplicate detection). A stream is named by the sender's epoch
 * (boot count) and session (bumped after giving up), so frames of a forgotten stream are told
 * apart from a fresh start. The timers and the give-up decision live in the netmsgTransport chart.
 */
export class PeerChannel {
  // Outgoing stream.
  private session = 1;
  private nextSeq = 1;
  private severedOut = false;
  private unacked: OutFrame[] = [];
  private backlog: OutFrame[] = [];
  private srtt = 0;
  private rttvar = 0;
  private rto: number;
  private backoff = 1;
  /** The last acknowledgement put on the wire, alone or on a data frame (see ackKey). */
  private lastAck = '';
  /** The peer's epoch, as far as this server knows it (0: never heard). */
  peerEpoch = 0;
  // Incoming stream.
  private inEpoch = 0;
  private inSession = 0;
  private inNext = 1;
  private readonly inBuffer = new Map<number, NetBody>();
  private severedIn = false;
  private ackTimer: ScheduledEvent | null = null;
  readonly actor: Actor<typeof netmsgTransport>;

  constructor(
    private readonly owner: ChannelOwner,
    readonly peer: string,
  ) {
    this.rto = owner.config.initialRtoMs;
    this.actor = createActor(netmsgTransport, {
      clock: owner.world.clock,
      input: {
        io: {
          retransmit: () => this.retransmit(),
          giveUp: () => this.giveUp(),
          rtoMs: () => this.rtoMs(),
          giveUpMs: () => owner.config.giveUpMs,
        },
      },
    }).start();
  }

  /** Frames sent and not yet acknowledged, plus those waiting for room in the window. */
  get pending(): number {
    return this.unacked.length + this.backlog.length;
  }

  send(body: NetBody): void {
    if (this.severedOut) {
      // After a give-up the old stream is gone for both sides: start a new one.
      this.session++;
      this.nextSeq = 1;
      this.severedOut = false;
    }
    const f: OutFrame = { seq: this.nextSeq++, body, sentAt: 0, bytes: 0, retransmitted: false };
    const wasIdle = this.unacked.length === 0;
    if (this.unacked.length < this.owner.config.window) {
      this.unacked.push(f);
      this.transmit(f);
    } else {
      this.backlog.push(f);
    }
    // Only the first frame after a quiet spell starts the chart's timers.
    if (wasIdle) this.actor.send({ type: 'SENT' });
  }

  /** The acknowledgement this side owes, if any (it rides on the next data frame). */
  private owedAck(): { e: number; s: number; n: number } | undefined {
    if (this.inEpoch === 0 || this.severedIn) return undefined;
    return { e: this.inEpoch, s: this.inSession, n: this.inNext - 1 };
  }

  private transmit(f: OutFrame): void {
    const { owner } = this;
    const ack = this.owedAck();
    if (this.ackTimer !== null) {
      owner.world.cancel(this.ackTimer);
      this.ackTimer = null;
    }
    const bytes = encodeFrame({
      v: 1,
      k: 'data',
      src: owner.host,
      dst: this.peer,
      se: owner.epoch,
      de: this.peerEpoch,
      ss: this.session,
      seq: f.seq,
      body: f.body,
      ...(ack ? { ack } : {}),
    });
    // An acknowledgement must not wait behind bulk data on the link (the peer would time out
    // and retransmit): when this frame takes longer to put on the wire than the ack delay, a new
    // ack also goes ahead of it on its own.
    if (ack !== undefined) {
      const t = owner.transport;
      const serialize = t.estimateMs(this.peer, bytes.length) - t.estimateMs(this.peer, 0);
      if (serialize > owner.config.ackDelayMs && ackKey(ack) !== this.lastAck) this.sendAck(ack);
      this.lastAck = ackKey(ack);
    }
    f.bytes = bytes.length;
    f.sentAt = owner.world.now();
    owner.stats.framesSent++;
    owner.stats.bytesSent += bytes.length;
    owner.transport.send(this.peer, bytes);
  }

  private sendControl(frame: NetFrame): void {
    const bytes = encodeFrame(frame);
    this.owner.stats.framesSent++;
    this.owner.stats.bytesSent += bytes.length;
    this.owner.transport.send(this.peer, bytes);
  }

  // ---- incoming ----------------------------------------------------------------------------

  onData(frame: StreamData): void {
    const { owner } = this;
    if (frame.de !== 0 && frame.de !== owner.epoch) {
      // Addressed to an earlier incarnation of this host: that stream died with it.
      owner.stats.staleFrames++;
      this.sendControl({
        v: 1,
        k: 'sever',
        src: owner.host,
        dst: this.peer,
        se: owner.epoch,
        de: frame.se,
        ds: frame.ss,
      });
      return;
    }
    const cmp = compareStream(frame.se, frame.ss, this.inEpoch, this.inSession);
    if (cmp < 0) {
      owner.stats.staleFrames++;
      return;
    }
    if (cmp > 0) {
      const restarted = this.peerEpoch !== 0 && frame.se > this.peerEpoch;
      // A new stream from a peer we were talking to: it restarted, or it gave up on us.
      if (restarted || (this.inEpoch !== 0 && !this.severedIn))
        this.sever(restarted ? 'peer restarted' : 'peer gave up on us');
      this.inEpoch = frame.se;
      this.inSession = frame.ss;
      this.inNext = 1;
      this.inBuffer.clear();
      this.severedIn = false;
    } else if (this.severedIn) {
      owner.stats.staleFrames++;
      this.sendControl({
        v: 1,
        k: 'sever',
        src: owner.host,
        dst: this.peer,
        se: owner.epoch,
        de: frame.se,
        ds: frame.ss,
      });
      return;
    }
    if (frame.se > this.peerEpoch) this.peerEpoch = frame.se;
    if (frame.ack !== undefined) this.acked(frame.se, frame.ack.e, frame.ack.s, frame.ack.n);
    this.accept(frame.seq, frame.body);
  }

  private accept(seq: number, body: NetBody): void {
    const { owner } = this;
    this.scheduleAck();
    if (seq < this.inNext || this.inBuffer.has(seq)) {
      owner.stats.duplicates++;
      if (owner.world.trace.enabled)
        owner.world.trace.emit('netmsg.duplicate', { host: owner.host, peer: this.peer, seq });
      return;
    }
    if (seq > this.inNext) {
      if (seq < this.inNext + 4 * owner.config.window) this.inBuffer.set(seq, body);
      return;
    }
    const epoch = this.inEpoch;
    const session = this.inSession;
    let next: NetBody | undefined = body;
    while (next !== undefined) {
      this.inBuffer.delete(this.inNext);
      this.inNext++;
      owner.dispatch(this.peer, next);
      // Dispatching may have severed this stream; nothing more of it is delivered then.
      if (this.severedIn || this.inEpoch !== epoch || this.inSession !== session) return;
      next = this.inBuffer.get(this.inNext);
    }
  }

  /**
   * One acknowledgement for everything that arrives within the ack delay, unless a data frame
   * going back carries it first.
   */
  private scheduleAck(): void {
    if (this.ackTimer !== null) return;
    this.ackTimer = this.owner.world.schedule(
      this.owner.config.ackDelayMs,
      () => {
        this.ackTimer = null;
        const ack = this.owedAck();
        if (ack === undefined || this.owner.stopped) return;
        this.sendAck(ack);
      },
      'netmsg.ack',
    );
  }

  private sendAck(ack: { e: number; s: number; n: number }): void {
    this.lastAck = ackKey(ack);
    this.owner.stats.acksSent++;
    this.sendControl({
      v: 1,
      k: 'ack',
      src: this.owner.host,
      dst: this.peer,
      se: this.owner.epoch,
      de: ack.e,
      ds: ack.s,
      n: ack.n,
    });
  }

  onAck(frame: Extract<NetFrame, { k: 'ack' }>): void {
    this.acked(frame.se, frame.de, frame.ds, frame.n);
  }

  /** The peer (at epoch `se`) has everything of our stream (`de`, `ds`) up to `n`. */
  private acked(se: number, de: number, ds: number, n: number): void {
    if (se > this.peerEpoch) this.peerEpoch = se;
    if (de !== this.owner.epoch || ds !== this.session || this.severedOut) return;
    const now = this.owner.world.now();
    let progressed = false;
    while (this.unacked.length > 0 && this.unacked[0]!.seq <= n) {
      const f = this.unacked.shift()!;
      if (!f.retransmitted) this.sample(now - f.sentAt);
      progressed = true;
    }
    if (!progressed) return;
    this.backoff = 1;
    while (this.backlog.length > 0 && this.unacked.length < this.owner.config.window) {
      const f = this.backlog.shift()!;
      this.unacked.push(f);
      this.transmit(f);
    }
    this.actor.send({ type: 'PROGRESS', idle: this.unacked.length === 0 });
  }

  onSever(frame: Extract<NetFrame, { k: 'sever' }>): void {
    // The peer says which incarnation it is: a restart we missed (its hello was lost) is learnt
    // here, or the next stream would again be addressed to the dead incarnation, and severed.
    if (frame.se > this.peerEpoch) this.peerEpoch = frame.se;
    if (frame.de === this.owner.epoch && frame.ds === this.session && !this.severedOut)
      this.sever('peer severed our stream');
  }

  // ---- timers (called by the transport chart) ----------------------------------------------

  /** Jacobson's estimator: smoothed round trip plus four deviations. */
  private sample(rtt: number): void {
    if (this.srtt === 0) {
      this.srtt = rtt;
      this.rttvar = rtt / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rtt);
      this.srtt = 0.875 * this.srtt + 0.125 * rtt;
    }
    const { minRtoMs, maxRtoMs } = this.owner.config;
    this.rto = Math.min(maxRtoMs, Math.max(minRtoMs, this.srtt + 4 * this.rttvar));
  }

  /** The timeout, backed off, plus the wire time of everything still unacknowledged. */
  private rtoMs(): number {
    let bytes = 0;
    for (const f of this.unacked) bytes += f.bytes;
    const base = Math.min(this.owner.config.maxRtoMs, this.rto * this.backoff);
    return base + this.owner.transport.estimateMs(this.peer, bytes);
  }

  private retransmit(): void {
    const { owner } = this;
    for (const f of this.unacked) {
      f.retransmitted = true;
      this.transmit(f);
    }
    owner.stats.retransmits += this.unacked.length;
    this.backoff = Math.min(this.backoff * 2, 64);
    if (owner.world.trace.enabled)
      owner.world.trace.emit('netmsg.retransmit', {
        host: owner.host,
        peer: this.peer,
        frames: this.unacked.length,
        rtoMs: this.rtoMs(),
      });
  }

  private giveUp(): void {
    const { owner } = this;
    owner.stats.giveUps++;
    if (owner.world.trace.enabled)
      owner.world.trace.emit('netmsg.give-up', {
        host: owner.host,
        peer: this.peer,
        messages: [...this.unacked, ...this.backlog].filter((f) => f.body.k === 'ipc').length,
      });
    this.sever('unreachable', true);
  }

  /**
   * Both streams end: what was pending fails, the next frame starts a new session, and frames of
   * the peer's current stream are refused until it starts a new one too.
   */
  sever(reason: string, fromChart = false): void {
    const pending = [...this.unacked, ...this.backlog].map((f) => f.body);
    this.unacked = [];
    this.backlog = [];
    this.severedOut = true;
    this.severedIn = true;
    this.inBuffer.clear();
    this.backoff = 1;
    if (!fromChart) this.actor.send({ type: 'RESET' });
    this.owner.severed(this.peer, reason, pending);
  }

  stop(): void {
    this.actor.stop();
  }
}

function compareStream(e1: number, s1: number, e2: number, s2: number): number {
  return e1 !== e2 ? e1 - e2 : s1 - s2;
}

/** Which acknowledgement this is: epoch, session and the highest frame acknowledged. */
function ackKey(a: { e: number; s: number; n: number }): string {
  return `${a.e}:${a.s}:${a.n}`;
}
