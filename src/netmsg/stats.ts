/** Why a frame or a message from the network was refused (each changes nothing). */
export type RejectReason =
  /** The payload is not a MessagePack frame (truncated, garbage). */
  | 'undecodable'
  /** It decodes but a field is missing or out of range. */
  | 'malformed'
  | 'wrong-destination'
  /** The frame's source is not the host it came from, or a body names another origin. */
  | 'spoofed-source'
  /** It names a network port this host never knew. */
  | 'unknown-port'
  /** It uses or passes a right its sender cannot hold. */
  | 'unheld-right'
  /** A reply or acknowledgement for something never asked. */
  | 'unexpected';

export interface NetmsgStats {
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  acksSent: number;
  retransmits: number;
  /** Frames received twice (loss of an ack, duplication on the wire). */
  duplicates: number;
  /** Frames of a stream this host already forgot (old epoch or session). */
  staleFrames: number;
  giveUps: number;
  /** Messages taken from proxies and sent to the port's host. */
  messagesOut: number;
  messagesDelivered: number;
  messagesForwarded: number;
  /** Messages lost with an unreachable host or a dead port (their rights released). */
  messagesFailed: number;
  lookups: number;
  portsMoved: number;
  rejected: Record<RejectReason, number>;
  /** Exceptions inside the server (bugs): counted and traced instead of killing it. */
  internalErrors: number;
}

export function newStats(): NetmsgStats {
  return {
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    acksSent: 0,
    retransmits: 0,
    duplicates: 0,
    staleFrames: 0,
    giveUps: 0,
    messagesOut: 0,
    messagesDelivered: 0,
    messagesForwarded: 0,
    messagesFailed: 0,
    lookups: 0,
    portsMoved: 0,
    rejected: {
      undecodable: 0,
      malformed: 0,
      'wrong-destination': 0,
      'spoofed-source': 0,
      'unknown-port': 0,
      'unheld-right': 0,
      unexpected: 0,
    },
    internalErrors: 0,
  };
}

export function totalRejected(s: NetmsgStats): number {
  return Object.values(s.rejected).reduce((a, b) => a + b, 0);
}
