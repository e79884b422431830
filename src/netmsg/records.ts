import type { Actor } from 'xstate';
import type { Port } from '../actors/port.ts';
import type { netmsgPortMove } from '../machines/netmsgPortMove.ts';
import type { ReceivedMessage } from '../protocol/message.ts';
import type { NetMessage, PendingDrop } from '../protocol/netmsg.ts';
import { MACH_PORT_NULL } from '../protocol/rights.ts';
import type { ScheduledEvent } from '../world/eventQueue.ts';

/** A local port that stands for a remote one: its receive right is the server's. */
export interface ProxyInfo {
  readonly name: number;
  readonly port: Port;
  /** Companion port the proxy's no-senders notification goes to (NULL until first needed). */
  notify: number;
  armed: boolean;
  /** Send-once notifications the server caused itself by passing a right on: not forwarded. */
  swallow: number;
}

/** A message waiting in a port's sequencer: from the network, or from a proxy on this host. */
export type SeqItem =
  | { readonly kind: 'net'; readonly msg: NetMessage }
  | { readonly kind: 'local'; readonly msg: ReceivedMessage };

/**
 * The port record of one network port on one host (mach-network-server.txt, section 3: the map
 * between local ports and network ports, with status). The same record serves every role the host
 * plays for the port: its home (the receive right is here), a holder of proxies, or a forwarder
 * after the receive right left.
 */
export interface NetPortRecord {
  readonly nid: string;
  /** Where this host believes the receive right is (itself when `port` is set). */
  home: string;
  /** Location generation of that belief; a higher one always wins. */
  gen: number;
  /** The real port, while its receive right is on this host. */
  port: Port | null;
  /** The server's send right to the real port (NULL when no remote sender needs it). */
  realName: number;
  /** Send-once rights to the real port, one for each send-once right held remotely. */
  onceNames: number[];
  proxies: ProxyInfo[];
  /** Last origin sequence number this host stamped on a message for the port. */
  txSeq: number;
  /** Home only: next origin sequence number expected from each origin host. */
  rx: Map<string, number>;
  /** Home only: messages that arrived ahead of their turn, per origin. */
  waiting: Map<string, Map<number, SeqItem>>;
  gapTimer: ScheduledEvent | null;
  /** Home only: send-right references each host holds (its proxies), for no-senders. */
  holders: Map<string, number>;
  drops: PendingDrop[];
  /** Proxy side: references this host holds at the home, and those not yet acknowledged. */
  refs: number;
  pendingAdds: number;
  /** Hosts to tell "transfer done" once this host's reference is registered. */
  waitingVia: string[];
  /** Send rights this host put on the wire that no receiver has confirmed yet. */
  pendingXfers: number;
  dead: boolean;
  /**
   * Dead because its home became unreachable, not because the home said so: a right arriving
   * later from the (reachable again) home brings the port back, under a new proxy.
   */
  presumedDead: boolean;
  /** Origins already told where the port went (forwarder side). */
  hinted: Set<string>;
  move: Actor<typeof netmsgPortMove> | null;
}

/**
 * Whether the port's receive right is on its way from this host to its new home, which may not
 * have installed the port yet: nobody is to be sent straight there until it has.
 */
export function inTransit(rec: NetPortRecord): boolean {
  return rec.move !== null && rec.move.getSnapshot().value === 'transferring';
}

export class PortRecords {
  private readonly byNid = new Map<string, NetPortRecord>();
  private readonly byPort = new Map<Port, NetPortRecord>();
  /** Proxy ports and their companion notify ports, by port. */
  private readonly byProxy = new Map<Port, { rec: NetPortRecord; info: ProxyInfo }>();
  /** Names in the server's space that carry a dead-name request, to the record they watch. */
  readonly watched = new Map<number, NetPortRecord>();
  /** Names of proxy ports and of their notify ports, for the server's dispatch. */
  readonly proxyNames = new Map<number, { rec: NetPortRecord; info: ProxyInfo }>();
  readonly notifyNames = new Map<number, { rec: NetPortRecord; info: ProxyInfo }>();

  get(nid: string): NetPortRecord | undefined {
    return this.byNid.get(nid);
  }

  all(): NetPortRecord[] {
    return [...this.byNid.values()];
  }

  create(nid: string, home: string, gen: number): NetPortRecord {
    const rec: NetPortRecord = {
      nid,
      home,
      gen,
      port: null,
      realName: MACH_PORT_NULL,
      onceNames: [],
      proxies: [],
      txSeq: 0,
      rx: new Map(),
      waiting: new Map(),
      gapTimer: null,
      holders: new Map(),
      drops: [],
      refs: 0,
      pendingAdds: 0,
      waitingVia: [],
      pendingXfers: 0,
      dead: false,
      presumedDead: false,
      hinted: new Set(),
      move: null,
    };
    this.byNid.set(nid, rec);
    return rec;
  }

  /** The record whose real port `p` is (its receive right on this host). */
  ofPort(p: Port): NetPortRecord | undefined {
    return this.byPort.get(p);
  }

  setPort(rec: NetPortRecord, p: Port | null): void {
    if (rec.port !== null) this.byPort.delete(rec.port);
    rec.port = p;
    if (p !== null) this.byPort.set(p, rec);
  }

  proxyOf(p: Port): { rec: NetPortRecord; info: ProxyInfo } | undefined {
    return this.byProxy.get(p);
  }

  addProxy(rec: NetPortRecord, info: ProxyInfo): void {
    rec.proxies.push(info);
    const entry = { rec, info };
    this.byProxy.set(info.port, entry);
    this.proxyNames.set(info.name, entry);
  }

  removeProxy(rec: NetPortRecord, info: ProxyInfo): void {
    rec.proxies = rec.proxies.filter((i) => i !== info);
    this.byProxy.delete(info.port);
    this.proxyNames.delete(info.name);
    this.notifyNames.delete(info.notify);
  }
}
