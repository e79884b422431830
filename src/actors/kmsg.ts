import type { InlineItem, OolItem } from '../protocol/message.ts';
import type { ReceivedRight } from '../protocol/rights.ts';
import type { Port } from './port.ts';

/** A right in transit inside a message: a port, or null / dead as Mach allows in place of a right. */
export interface TransitRight {
  port: Port | null;
  /** True when the right became MACH_PORT_DEAD (a dead name was sent, or the port died). */
  dead: boolean;
  right: ReceivedRight;
}

export type KItem = InlineItem | OolItem | ({ type: 'port' } & TransitRight);

/**
 * A message inside the kernel (Mach's ipc_kmsg): its rights already copied in, owned by no space
 * until a receiver copies them out.
 */
export interface KMsg {
  dest: Port;
  /** PORT_SEND or PORT_SEND_ONCE: the right the sender used, destroyed at receipt. */
  destRight: ReceivedRight;
  reply: TransitRight | null;
  id: number;
  body: KItem[];
  /** Whether the body carries port rights (else it is copied out as it is). */
  hasPorts: boolean;
  size: number;
  /** Bytes including out-of-line data: what a network would carry. */
  wireBytes: number;
  seqno: number;
  /** Label of the sending space, for traces. */
  from: string;
}
