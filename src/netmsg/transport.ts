import type { Network } from '../world/network.ts';
import { wireTimeMs } from '../world/profiles.ts';

/**
 * What the servers need from a network: datagrams to named hosts, nothing more (section 4.3.4,
 * the datagram transport). Reliability, ordering and retransmission are the servers' own
 * (channel.ts), so a real UDP transport could replace the simulated one without touching them.
 */
export interface NetmsgTransport {
  /** Sends one datagram; it may be lost, duplicated or delayed. */
  send(to: string, bytes: Uint8Array): void;
  /** Every other host a broadcast reaches. */
  peers(): string[];
  /** Expected one-way time for `bytes` to `to`, which retransmission timers start from. */
  estimateMs(to: string, bytes: number): number;
}

/** The simulated network as a datagram transport: frame sizes are the encoded byte counts. */
export function simulatedTransport(network: Network, self: string): NetmsgTransport {
  return {
    send: (to, bytes) => {
      network.send(self, to, bytes, bytes.length);
    },
    peers: () => network.nodes().filter((n) => n !== self),
    estimateMs: (to, bytes) => {
      const link = network.link(self, to);
      return wireTimeMs(link, bytes) + link.latencyMs;
    },
  };
}
