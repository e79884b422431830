import { createHash } from 'node:crypto';
import { type Observable, Subject } from 'rxjs';

/**
 * Every trace event kind and its fields. Other layers add their own kinds by augmenting this
 * interface (`declare module`), so the world stays ignorant of Mach while the stream stays typed.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by module augmentation
export interface TraceEventMap {}

export type TraceKind = keyof TraceEventMap;
export type TraceEvent = {
  [K in TraceKind]: { readonly kind: K; readonly time: number } & TraceEventMap[K];
}[TraceKind];
export type TraceEventOf<K extends TraceKind> = Extract<TraceEvent, { kind: K }>;

/** The typed trace: one rxjs stream of everything that happens, stamped with virtual time. */
export class Trace {
  private readonly subject = new Subject<TraceEvent>();
  readonly events$: Observable<TraceEvent> = this.subject.asObservable();
  private readonly now: () => number;

  constructor(now: () => number) {
    this.now = now;
  }

  /** Whether anyone listens; hot paths check this before building an event. */
  get enabled(): boolean {
    return this.subject.observed;
  }

  emit<K extends TraceKind>(kind: K, fields: TraceEventMap[K]): void {
    if (!this.subject.observed) return;
    this.subject.next({ kind, time: this.now(), ...(fields as object) } as unknown as TraceEvent);
  }

  /** Collects every event from now on into an array (for tests, reports and digests). */
  record(): { events: TraceEvent[]; stop: () => void } {
    const events: TraceEvent[] = [];
    const sub = this.subject.subscribe((e) => events.push(e));
    return { events, stop: () => sub.unsubscribe() };
  }
}

/** A stable digest of a trace: same seed and inputs must give the same digest. */
export function traceDigest(events: readonly TraceEvent[]): string {
  const h = createHash('sha256');
  for (const e of events) h.update(`${stableStringify(e)}\n`);
  return h.digest('hex');
}

function stableStringify(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'undefined';
  if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('base64')}`;
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify((v as Record<string, unknown>)[k])}`).join(',')}}`;
}
