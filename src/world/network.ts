import { LINK_PROFILES, type LinkProfile, wireTimeMs } from './profiles.ts';
import type { Random } from './random.ts';
import type { World } from './world.ts';

/**
 * The network model: moves opaque payloads between named nodes over simulated links, on the world
 * clock. It knows nothing of what the payloads mean. Each directed link sends one frame at a time;
 * loss, duplication, reordering, partitions and node crashes are injected here.
 */

export interface Frame {
  readonly id: number;
  readonly from: string;
  readonly to: string;
  readonly payload: unknown;
  readonly bytes: number;
  readonly sentAt: number;
}

export type DropReason = 'loss' | 'partition' | 'down';

export interface Impairment {
  /** Probability that a frame is lost on the wire. */
  readonly loss: number;
  /** Probability that a frame is delivered twice (the copy follows it on the link). */
  readonly duplicate: number;
  /** Probability that a frame is held back by a random extra delay in [0, reorderJitterMs]. */
  readonly reorder: number;
  readonly reorderJitterMs: number;
}

export interface NetworkStats {
  /** Accepted `send` calls, including frames dropped at once. */
  sent: number;
  /** Frames handed to a receiver, duplicate copies included. */
  delivered: number;
  dropped: Record<DropReason, number>;
  duplicated: number;
  /** Payload bytes of every accepted `send`. */
  bytes: number;
}

export type NetworkErrorCode =
  | 'unknown-node'
  | 'already-attached'
  | 'bad-bytes'
  | 'bad-impairment'
  | 'bad-partition';

export class NetworkError extends Error {
  constructor(
    readonly code: NetworkErrorCode,
    message: string,
    readonly node?: string,
  ) {
    super(message);
    this.name = 'NetworkError';
  }
}

declare module './trace.ts' {
  interface TraceEventMap {
    'net.send': { id: number; from: string; to: string; bytes: number };
    'net.deliver': { id: number; from: string; to: string; bytes: number; copy: boolean };
    'net.drop': { id: number; from: string; to: string; bytes: number; reason: DropReason };
    'net.duplicate': { id: number; from: string; to: string; bytes: number };
    'net.partition': { id: number; groupA: string[]; groupB: string[] };
    'net.heal': { id: number };
    'node.down': { node: string };
    'node.up': { node: string };
  }
}

const NO_IMPAIRMENT: Impairment = { loss: 0, duplicate: 0, reorder: 0, reorderJitterMs: 0 };

/** A frame (or a duplicate copy of it) on its way; `doomed` is set when it must not arrive. */
interface InFlight {
  readonly frame: Frame;
  readonly copy: boolean;
  doomed: DropReason | null;
}

interface Partition {
  readonly a: ReadonlySet<string>;
  readonly b: ReadonlySet<string>;
}

/** Key of an unordered pair of nodes (NUL cannot appear in sensible node names). */
function pairKey(a: string, b: string): string {
  return a < b ? `${a}\0${b}` : `${b}\0${a}`;
}

export class Network {
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: { loss: 0, partition: 0, down: 0 },
    duplicated: 0,
    bytes: 0,
  };
  private readonly receivers = new Map<string, (frame: Frame) => void>();
  private readonly down = new Set<string>();
  private readonly links = new Map<string, LinkProfile>();
  /** Per directed link (`from\0to`), when it finishes sending its last queued frame. */
  private readonly busyUntil = new Map<string, number>();
  private impairment: Impairment = NO_IMPAIRMENT;
  private readonly pairImpairments = new Map<string, Partial<Impairment>>();
  private readonly partitions = new Map<number, Partition>();
  private readonly inFlight = new Set<InFlight>();
  private readonly downListeners = new Set<(node: string) => void>();
  private readonly upListeners = new Set<(node: string) => void>();
  private readonly rng: Random;
  private nextFrameId = 1;
  private nextPartitionId = 1;

  constructor(
    readonly world: World,
    readonly defaultLink: LinkProfile = LINK_PROFILES.ethernet10,
  ) {
    this.rng = world.random.fork('network');
  }

  // ---- nodes -------------------------------------------------------------------------------

  attach(node: string, deliver: (frame: Frame) => void): void {
    if (this.receivers.has(node)) {
      throw new NetworkError('already-attached', `node "${node}" is already attached`, node);
    }
    this.receivers.set(node, deliver);
  }

  /** Removes a node; frames still in flight to it are dropped as 'down' when they arrive. */
  detach(node: string): void {
    this.known(node);
    this.receivers.delete(node);
    this.down.delete(node);
  }

  nodes(): string[] {
    return [...this.receivers.keys()];
  }

  isUp(node: string): boolean {
    return this.receivers.has(node) && !this.down.has(node);
  }

  /**
   * Takes a node down. Frames in flight to it are lost even if it restarts before they arrive
   * (they were addressed to the old incarnation). Frames it already sent still go out.
   */
  crash(node: string): void {
    this.known(node);
    if (this.down.has(node)) return;
    this.down.add(node);
    for (const f of this.inFlight) if (f.frame.to === node) f.doomed ??= 'down';
    this.world.trace.emit('node.down', { node });
    for (const cb of [...this.downListeners]) cb(node);
  }

  restart(node: string): void {
    this.known(node);
    if (!this.down.delete(node)) return;
    this.world.trace.emit('node.up', { node });
    for (const cb of [...this.upListeners]) cb(node);
  }

  onNodeDown(cb: (node: string) => void): () => void {
    this.downListeners.add(cb);
    return () => this.downListeners.delete(cb);
  }

  onNodeUp(cb: (node: string) => void): () => void {
    this.upListeners.add(cb);
    return () => this.upListeners.delete(cb);
  }

  // ---- links and impairments ---------------------------------------------------------------

  /** Overrides the default link profile between `a` and `b`, in both directions. */
  setLink(a: string, b: string, profile: LinkProfile): void {
    this.links.set(pairKey(a, b), profile);
  }

  link(a: string, b: string): LinkProfile {
    return this.links.get(pairKey(a, b)) ?? this.defaultLink;
  }

  /**
   * Sets impairments globally or, with `pair`, for that pair only (overriding the global values
   * field by field). A field given as `undefined` removes a pair override or resets a global to 0.
   */
  setImpairment(imp: Partial<Impairment>, pair?: readonly [string, string]): void {
    for (const [k, v] of Object.entries(imp)) {
      if (!(k in NO_IMPAIRMENT))
        throw new NetworkError('bad-impairment', `unknown impairment ${k}`);
      if (v === undefined) continue;
      const ok = k === 'reorderJitterMs' ? v >= 0 && Number.isFinite(v) : v >= 0 && v <= 1;
      if (!ok) throw new NetworkError('bad-impairment', `impairment ${k} out of range: ${v}`);
    }
    if (pair === undefined) {
      const next: Record<string, number> = { ...this.impairment };
      for (const [k, v] of Object.entries(imp)) next[k] = v ?? 0;
      this.impairment = next as unknown as Impairment;
      return;
    }
    const key = pairKey(pair[0], pair[1]);
    const next: Record<string, number | undefined> = { ...this.pairImpairments.get(key) };
    for (const [k, v] of Object.entries(imp)) {
      if (v === undefined) delete next[k];
      else next[k] = v;
    }
    if (Object.keys(next).length === 0) this.pairImpairments.delete(key);
    else this.pairImpairments.set(key, next);
  }

  /** The raw settings of one scope: the global values, or a pair's overrides only. */
  impairmentSettings(pair?: readonly [string, string]): Partial<Impairment> {
    if (pair === undefined) return { ...this.impairment };
    return { ...this.pairImpairments.get(pairKey(pair[0], pair[1])) };
  }

  /** The impairment that applies between `a` and `b`. */
  impairmentBetween(a: string, b: string): Impairment {
    const o = this.pairImpairments.get(pairKey(a, b));
    return o ? { ...this.impairment, ...o } : this.impairment;
  }

  clearImpairments(): void {
    this.impairment = NO_IMPAIRMENT;
    this.pairImpairments.clear();
  }

  // ---- partitions --------------------------------------------------------------------------

  /** Cuts every link between the two groups, including frames already in flight across it. */
  partition(groupA: readonly string[], groupB: readonly string[]): number {
    for (const n of [...groupA, ...groupB]) this.known(n);
    const a = new Set(groupA);
    const b = new Set(groupB);
    if (a.size === 0 || b.size === 0 || [...a].some((n) => b.has(n))) {
      throw new NetworkError('bad-partition', 'partition groups must be non-empty and disjoint');
    }
    const id = this.nextPartitionId++;
    const p = { a, b };
    this.partitions.set(id, p);
    for (const f of this.inFlight)
      if (separates(p, f.frame.from, f.frame.to)) f.doomed ??= 'partition';
    this.world.trace.emit('net.partition', { id, groupA: [...a], groupB: [...b] });
    return id;
  }

  /** Heals one partition, or all of them. Returns whether anything was healed. */
  heal(id?: number): boolean {
    const ids = id === undefined ? [...this.partitions.keys()] : [id];
    let healed = false;
    for (const i of ids) {
      if (!this.partitions.delete(i)) continue;
      healed = true;
      this.world.trace.emit('net.heal', { id: i });
    }
    return healed;
  }

  isPartitioned(a: string, b: string): boolean {
    for (const p of this.partitions.values()) if (separates(p, a, b)) return true;
    return false;
  }

  // ---- sending -----------------------------------------------------------------------------

  /** Sends `payload` (counted as `bytes` on the wire) and returns the frame id. */
  send(from: string, to: string, payload: unknown, bytes: number): number {
    this.known(from);
    this.known(to);
    if (!Number.isFinite(bytes) || bytes < 0) {
      throw new NetworkError('bad-bytes', `frame size must be a finite number >= 0, got ${bytes}`);
    }
    const now = this.world.now();
    const frame: Frame = { id: this.nextFrameId++, from, to, payload, bytes, sentAt: now };
    this.stats.sent++;
    this.stats.bytes += bytes;
    const trace = this.world.trace;
    if (trace.enabled) trace.emit('net.send', { id: frame.id, from, to, bytes });

    if (this.down.has(from)) return this.drop(frame, 'down');
    if (from === to) {
      // Loopback never touches a wire: no link time, no impairments; still asynchronous.
      this.launch(frame, false, 0);
      return frame.id;
    }
    if (this.isPartitioned(from, to)) return this.drop(frame, 'partition');

    const link = this.link(from, to);
    const wire = wireTimeMs(link, bytes);
    const linkKey = `${from}\0${to}`;
    const start = Math.max(now, this.busyUntil.get(linkKey) ?? 0);
    let end = start + wire;
    this.busyUntil.set(linkKey, end);

    // Draws happen in a fixed order so the same seed gives the same fate to the same frame.
    const imp = this.impairmentBetween(from, to);
    if (this.rng.chance(imp.loss)) return this.drop(frame, 'loss');
    const duplicate = this.rng.chance(imp.duplicate);
    // The extra delay is queueing after the wire, so it does not hold the link for later frames.
    const extra = this.rng.chance(imp.reorder) ? this.rng.float() * imp.reorderJitterMs : 0;
    this.launch(frame, false, end + link.latencyMs + extra - now);

    if (duplicate) {
      // The copy is a second transmission right behind the original, on the same link.
      end += wire;
      this.busyUntil.set(linkKey, end);
      this.stats.duplicated++;
      if (trace.enabled) trace.emit('net.duplicate', { id: frame.id, from, to, bytes });
      // Its own bytes: a receiver may keep (and later change) what one copy delivered.
      const payload = frame.payload instanceof Uint8Array ? frame.payload.slice() : frame.payload;
      this.launch({ ...frame, payload }, true, end + link.latencyMs - now);
    }
    return frame.id;
  }

  private launch(frame: Frame, copy: boolean, delay: number): void {
    const f: InFlight = { frame, copy, doomed: null };
    this.inFlight.add(f);
    this.world.schedule(delay, () => this.arrive(f), 'net.deliver');
  }

  private arrive(f: InFlight): void {
    this.inFlight.delete(f);
    const { frame } = f;
    const receiver = this.receivers.get(frame.to);
    let reason = f.doomed;
    if (!reason && (!receiver || this.down.has(frame.to))) reason = 'down';
    if (!reason && this.isPartitioned(frame.from, frame.to)) reason = 'partition';
    if (reason || !receiver) {
      this.drop(frame, reason ?? 'down');
      return;
    }
    this.stats.delivered++;
    const trace = this.world.trace;
    if (trace.enabled) {
      const { id, from, to, bytes } = frame;
      trace.emit('net.deliver', { id, from, to, bytes, copy: f.copy });
    }
    receiver(frame);
  }

  private drop(frame: Frame, reason: DropReason): number {
    this.stats.dropped[reason]++;
    const trace = this.world.trace;
    if (trace.enabled) {
      const { id, from, to, bytes } = frame;
      trace.emit('net.drop', { id, from, to, bytes, reason });
    }
    return frame.id;
  }

  private known(node: string): void {
    if (!this.receivers.has(node)) {
      throw new NetworkError('unknown-node', `unknown node "${node}"`, node);
    }
  }
}

function separates(p: Partition, x: string, y: string): boolean {
  return (p.a.has(x) && p.b.has(y)) || (p.b.has(x) && p.a.has(y));
}
