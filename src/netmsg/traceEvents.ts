/** Trace events of the netmsg servers (see world/trace.ts for how kinds are registered). */
declare module '../world/trace.ts' {
  interface TraceEventMap {
    /** A proxy's message left for the port's host (or was handed to a local port). */
    'netmsg.send': { host: string; nid: string; to: string; oseq: number };
    /** A message reached the real port (delivered into its queue). */
    'netmsg.deliver': { host: string; nid: string; origin: string; oseq: number };
    /** A message for a port that moved away was sent on towards its new home. */
    'netmsg.forward': { host: string; nid: string; to: string; origin: string; oseq: number };
    'netmsg.retransmit': { host: string; peer: string; frames: number; rtoMs: number };
    /**
     * A peer stayed silent past the give-up timeout: `messages` IPC messages on their way to it
     * failed, and its ports died here.
     */
    'netmsg.give-up': { host: string; peer: string; messages: number };
    /** The two servers forgot each other (give-up, restart or the peer's give-up). */
    'netmsg.sever': { host: string; peer: string; reason: string };
    'netmsg.reject': { host: string; from: string; reason: string; detail: string };
    'netmsg.duplicate': { host: string; peer: string; seq: number };
    'netmsg.port-moved': {
      host: string;
      nid: string;
      phase: 'transfer' | 'installed' | 'forwarding' | 'settled' | 'lost';
      to: string;
    };
    'netmsg.port-dead': { host: string; nid: string; reason: string };
    /** A receiver gave up waiting for a lost message (its origin's host failed). */
    'netmsg.gap': { host: string; nid: string; origin: string; skipped: number };
    'netmsg.lookup': { host: string; name: string; target: string; result: string };
    'netmsg.error': { host: string; where: string; message: string };
  }
}

export {};
