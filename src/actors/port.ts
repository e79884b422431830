import { MACH_PORT_QLIMIT_DEFAULT } from '../protocol/rights.ts';
import type { KMsg } from './kmsg.ts';
import type { PortSet } from './portSet.ts';
import type { PortSpace } from './portSpace.ts';
import type { ReceiveWaiter, SendWaiter } from './waiters.ts';

export interface DeadNameRequest {
  space: PortSpace;
  name: number;
  /** A send-once right the kernel holds for the notification. */
  notify: Port;
}

/**
 * A Mach port: a kernel-protected message queue, reached only through rights. Counts follow
 * Mach's ipc_port: make-send count, outstanding send and send-once rights, sequence number.
 */
export class Port {
  /** Who holds the receive right; null while it is in transit or after death. */
  receiver: PortSpace | null = null;
  dead = false;
  /** Messages from index `head` on; compacted lazily so de-queue is O(1). */
  queue: KMsg[] = [];
  head = 0;
  qlimit = MACH_PORT_QLIMIT_DEFAULT;
  seqno = 0;
  mscount = 0;
  srights = 0;
  sorights = 0;
  pset: PortSet | null = null;
  receivers: ReceiveWaiter[] | null = null;
  senders: SendWaiter[] | null = null;
  nsRequest: { notify: Port; sync: number } | null = null;
  pdRequest: Port | null = null;
  dnRequests: DeadNameRequest[] | null = null;
  /** Set when an actor drains this mailbox: called (once per tick) when messages arrive. */
  drain: (() => void) | null = null;
  drainScheduled = false;
  /** What the port stands for when the kernel itself serves it (task port, thread port...). */
  kobject: unknown = null;

  constructor(
    readonly id: number,
    public label: string,
  ) {}

  get msgcount(): number {
    return this.queue.length - this.head;
  }

  peek(): KMsg | undefined {
    return this.queue[this.head];
  }

  shift(): KMsg | undefined {
    const m = this.queue[this.head];
    if (m === undefined) return undefined;
    this.queue[this.head] = undefined as unknown as KMsg;
    this.head++;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return m;
  }

  /** Removes and returns every queued message. */
  takeAll(): KMsg[] {
    const all = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    return all;
  }

  toString(): string {
    return `port#${this.id}(${this.label})`;
  }
}
