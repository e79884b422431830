/**
 * A priority queue of timed callbacks: ordered by virtual time, ties broken by insertion order so
 * that two runs that schedule the same things in the same order always run them in the same order.
 */
export interface ScheduledEvent {
  readonly time: number;
  readonly seq: number;
  readonly label: string;
  fn: (() => void) | null;
}

export class EventQueue {
  private heap: ScheduledEvent[] = [];
  private nextSeq = 0;
  private live = 0;

  get size(): number {
    return this.live;
  }

  push(time: number, fn: () => void, label = ''): ScheduledEvent {
    if (!Number.isFinite(time)) throw new RangeError(`event time must be finite, got ${time}`);
    const ev: ScheduledEvent = { time, seq: this.nextSeq++, label, fn };
    const heap = this.heap;
    heap.push(ev);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (before(p, ev)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = ev;
    this.live++;
    return ev;
  }

  /** Cancelled events stay in the heap as tombstones and are skipped when they surface. */
  cancel(ev: ScheduledEvent): boolean {
    if (ev.fn === null) return false;
    ev.fn = null;
    this.live--;
    return true;
  }

  /** Time of the earliest live event, or undefined when idle. */
  peekTime(): number | undefined {
    this.dropTombstones();
    return this.heap[0]?.time;
  }

  pop(): ScheduledEvent | undefined {
    this.dropTombstones();
    const top = this.removeTop();
    if (top) this.live--;
    return top;
  }

  private dropTombstones(): void {
    while (this.heap.length > 0 && this.heap[0]!.fn === null) this.removeTop();
  }

  private removeTop(): ScheduledEvent | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      const n = heap.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && before(heap[r]!, heap[l]!) ? r : l;
        if (before(last, heap[c]!)) break;
        heap[i] = heap[c]!;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }
}

function before(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
