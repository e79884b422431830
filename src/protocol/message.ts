import type { Disposition, PortName, ReceivedRight } from './rights.ts';

/**
 * Mach messages as a task builds and receives them: a header naming the destination and reply
 * rights in the caller's own name space, and a body of typed items (mach3-kernel-interfaces.txt,
 * mach_msg and mach_msg_header). Names are local: the kernel translates them on the way.
 */
export interface InlineItem {
  readonly type: 'inline';
  readonly data: Uint8Array;
  /** The msgt_name and msgt_size a program gave the data (mach_msg_type_t); bytes if absent. */
  readonly msgtName?: number;
  readonly msgtSize?: number;
}

export interface PortItem {
  readonly type: 'port';
  /** A name in the sender's space, MACH_PORT_NULL or MACH_PORT_DEAD. */
  readonly name: PortName;
  readonly disposition: Disposition;
}

/** Out-of-line memory: a logical copy of a region, not counted in the message size. */
export interface OolItem {
  readonly type: 'ool';
  readonly data: Uint8Array;
  /** Move rather than copy: the sender gives the region up. */
  readonly deallocate?: boolean;
  /**
   * The bytes are a frame the VM lent (a virtual copy: the page gets a copy on its next write), so
   * the kernel passes them on uncopied; whoever receives them must copy them before writing.
   */
  readonly lent?: boolean;
}

export type MessageItem = InlineItem | PortItem | OolItem;

export interface MachMessage {
  /** msgh_remote_port: the destination right. */
  readonly remotePort: PortName;
  readonly remoteDisposition: Disposition;
  /** msgh_local_port: the reply right, or MACH_PORT_NULL. */
  readonly localPort?: PortName;
  readonly localDisposition?: Disposition;
  /** msgh_id: the operation, by the server's convention. */
  readonly id: number;
  readonly body?: readonly MessageItem[];
}

export interface ReceivedPortItem {
  readonly type: 'port';
  /** Name in the receiver's space, MACH_PORT_NULL, or MACH_PORT_DEAD if the port died in transit. */
  readonly name: PortName;
  readonly right: ReceivedRight;
}

export type ReceivedItem = InlineItem | ReceivedPortItem | OolItem;

/** A message as received: local and remote are reversed, as Mach reverses them. */
export interface ReceivedMessage {
  /** The receive right it arrived on (in the receiver's space). */
  readonly localPort: PortName;
  /** PORT_SEND or PORT_SEND_ONCE: which kind of right the sender used. */
  readonly localRight: ReceivedRight;
  /** The reply right, now in the receiver's space, or MACH_PORT_NULL. */
  readonly remotePort: PortName;
  readonly remoteRight: ReceivedRight | 0;
  readonly id: number;
  /** Stamped from the port's sequence number at de-queue. */
  readonly seqno: number;
  /** msgh_size: header and inline body bytes. */
  readonly size: number;
  readonly body: readonly ReceivedItem[];
}

/**
 * Byte sizes that give msgh_size, as the message lies in task memory on a 32-bit Mach:
 * mach_msg_header_t is 24 bytes, each item a mach_msg_type_t word and its data (a port name is
 * one word; out-of-line data a long-form descriptor of 12 bytes and an address).
 */
export const HEADER_BYTES = 24;
export const PORT_ITEM_BYTES = 8;
export const OOL_ITEM_BYTES = 16;
export const INLINE_DESCRIPTOR_BYTES = 4;
/** Largest message the kernel buffers inline; bigger data must go out of line. */
export const MACH_MSG_SIZE_MAX = 64 * 1024;

export function inlineItemBytes(len: number): number {
  return INLINE_DESCRIPTOR_BYTES + ((len + 3) & ~3);
}
