import { type Actor, createActor } from 'xstate';
import type { IpcKernel } from '../actors/ipcKernel.ts';
import { bindMailbox, type MachMessageEvent } from '../actors/mailbox.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import { type NetmsgPortRole, netmsgServer } from '../machines/netmsgServer.ts';
import type { NetBody } from '../protocol/netmsg.ts';
import { Disposition, PortRight } from '../protocol/rights.ts';
import type { Frame, Network } from '../world/network.ts';
import type { World } from '../world/world.ts';
import { PeerChannel } from './channel.ts';
import { type NetmsgConfig, netmsgConfig } from './config.ts';
import { internalError, type NetmsgContext, sendTo } from './context.ts';
import { onSevered } from './death.ts';
import { dispatchBody, notified, proxyNotified, receiveFrame, sendFromProxy } from './dispatch.ts';
import { networkPortIds } from './ids.ts';
import {
  checkIn,
  checkOut,
  type LookupResult,
  type PendingLookup,
  startLookup,
} from './lookups.ts';
import { PortRecords } from './records.ts';
import { serveRequest } from './service.ts';
import { discardReceived } from './spaceOps.ts';
import { type NetmsgStats, newStats } from './stats.ts';
import { type NetmsgTransport, simulatedTransport } from './transport.ts';

export interface NetmsgServerOptions {
  readonly world: World;
  readonly hostName: string;
  /** The host's kernel now (after a restart, a new one: start a new server then). */
  readonly ipc: () => IpcKernel;
  /** How frames from the network reach this server (e.g. `h => network.attach(name, h)`). */
  readonly attach: (handler: (frame: Frame) => void) => void;
  /** The simulated network to send on; or give `transport`. */
  readonly network?: Network;
  readonly transport?: NetmsgTransport;
  /** Boot count of the host: a restarted host's server has a higher one. */
  readonly epoch?: number;
  readonly config?: Partial<NetmsgConfig>;
}

/**
 * The network message server of one host (mach-network-server.txt): its own port space on the
 * host's kernel, the netmsg statechart reading its ports and the network, and the per-peer
 * transport, look-up and port-move charts it starts. Built from plain parts so that it does not
 * depend on the Host class: a world, a kernel getter, a network and a way to receive frames.
 */
export class NetmsgServer implements NetmsgContext {
  readonly world: World;
  readonly host: string;
  readonly epoch: number;
  readonly config: NetmsgConfig;
  readonly transport: NetmsgTransport;
  readonly stats: NetmsgStats = newStats();
  readonly k: IpcKernel;
  readonly ns: PortSpace;
  /** The netname service port (a receive right in `ns`). */
  readonly servicePort: number;
  readonly notifyPort: number;
  readonly records = new PortRecords();
  readonly names = new Map<string, number>();
  readonly lookups = new Map<number, PendingLookup>();
  readonly newId: () => string;
  readonly actor: Actor<typeof netmsgServer>;
  nextReq = 1;
  stopped = false;
  readonly errorLog: string[] = [];
  severing: string | null = null;
  private readonly channels = new Map<string, PeerChannel>();
  private readonly hosts = new Set<string>();

  constructor(opts: NetmsgServerOptions) {
    this.world = opts.world;
    this.host = opts.hostName;
    this.epoch = opts.epoch ?? 1;
    this.config = netmsgConfig(opts.config);
    if (opts.transport === undefined && opts.network === undefined)
      throw new TypeError('a netmsg server needs a network or a transport');
    this.transport = opts.transport ?? simulatedTransport(opts.network!, this.host);
    this.newId = networkPortIds(
      this.world.random.fork(`netmsg:${this.host}:${this.epoch}`),
      this.config.cryptoIds,
    );
    this.k = opts.ipc();
    this.ns = this.k.createSpace(`${this.host}:netmsg`);
    this.servicePort = this.k.allocate(this.ns, PortRight.RECEIVE, 'netmsg.service');
    this.notifyPort = this.k.allocate(this.ns, PortRight.RECEIVE, 'netmsg.notify');
    this.actor = createActor(netmsgServer, {
      clock: this.world.clock,
      input: { io: { roleOf: (port) => this.roleOf(port) } },
    });
    const a = this.actor;
    a.on('serveRequest', (w) =>
      this.guard('serveRequest', () => serveRequest(this, w.message.message)),
    );
    a.on('notified', (w) => this.guard('notified', () => notified(this, w.message.message)));
    a.on('sendFromProxy', (w) => this.guard('sendFromProxy', () => this.fromProxy(w.message)));
    a.on('proxyNotified', (w) =>
      this.guard('proxyNotified', () => proxyNotified(this, w.message.port, w.message.message)),
    );
    a.on('receiveFrame', (w) => this.guard('receiveFrame', () => receiveFrame(this, w.frame)));
    a.on('discard', (w) => this.guard('discard', () => discardReceived(this, w.message.message)));
    a.on('shutdown', () => this.shutdown());
    this.actor.start();
    bindMailbox(this.k, this.ns, this.servicePort, this.actor);
    bindMailbox(this.k, this.ns, this.notifyPort, this.actor);
    // Transport charts are made on first contact with a peer: a host talks to few of the
    // others, and one chart per peer from the start would grow with the square of the hosts.
    opts.attach((frame) => {
      if (!this.stopped) this.actor.send({ type: 'net.frame', frame });
    });
    // A restarted server says so at once (section 8.2, pc_send_startup_hint): peers then forget
    // the ports of its previous life instead of waiting to time out on them.
    if (this.epoch > 1)
      for (const peer of this.transport.peers()) sendTo(this, peer, { k: 'hello' });
    if (this.config.checkupMs > 0) this.scheduleCheckup();
  }

  /**
   * Port checkups (section 8.1): a quiet peer this host depends on is probed; the probe is
   * retransmitted like any frame, so a dead peer is given up on and its ports die here.
   */
  private scheduleCheckup(): void {
    this.world.schedule(
      this.config.checkupMs,
      () => {
        if (this.stopped) return;
        this.guard('checkup', () => {
          const peers = new Set<string>();
          for (const rec of this.records.all()) {
            if (rec.dead) continue;
            if (rec.port === null && (rec.proxies.length > 0 || rec.refs > 0)) peers.add(rec.home);
            if (rec.port !== null) for (const h of rec.holders.keys()) peers.add(h);
          }
          peers.delete(this.host);
          for (const peer of peers)
            if (this.channel(peer).pending === 0) sendTo(this, peer, { k: 'checkup' });
        });
        this.scheduleCheckup();
      },
      'netmsg.checkup',
    );
  }

  // ---- the public API -----------------------------------------------------------------------

  /** Gives `into` a send right to the netname service port; returns its name there. */
  serviceRight(into: PortSpace, name?: number): number {
    if (name === undefined)
      return this.k.extractRight(this.ns, this.servicePort, Disposition.MAKE_SEND, into);
    this.k.insertRight(into, name, this.ns, this.servicePort, Disposition.MAKE_SEND);
    return name;
  }

  /** netname_check_in: registers a send right (made from `portName` if it is a receive right). */
  checkIn(name: string, space: PortSpace, portName: number): void {
    checkIn(this, name, space, portName);
  }

  checkOut(name: string): boolean {
    return checkOut(this, name);
  }

  /**
   * netname_look_up, asynchronous (it may cross the network): on this host (`host` is this
   * host's name), on a named host, or on every host (`host` null; the first answer wins). On
   * success `done` gets the name of a send right now held by `into`.
   */
  lookUp(
    name: string,
    host: string | null,
    into: PortSpace,
    done: (r: LookupResult) => void,
  ): void {
    startLookup(this, name, host, into, done);
  }

  /** The network port identifier of the port `name` denotes in `space`, if it has one. */
  networkPortOf(space: PortSpace, name: number): string | null {
    const p = space.lookup(name)?.port;
    if (p === null || p === undefined) return null;
    return this.records.ofPort(p)?.nid ?? this.records.proxyOf(p)?.rec.nid ?? null;
  }

  /** The transport chart's state towards `peer` ('idle', {sending: ...}, 'unreachable'). */
  peerState(peer: string): unknown {
    return this.channels.get(peer)?.actor.getSnapshot().value ?? 'idle';
  }

  /** The server dies with its host: nothing more is sent, read or timed. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.actor.send({ type: 'stop' });
  }

  // ---- NetmsgContext ------------------------------------------------------------------------

  channel(peer: string): PeerChannel {
    let ch = this.channels.get(peer);
    if (ch === undefined) {
      ch = new PeerChannel(this, peer);
      this.channels.set(peer, ch);
    }
    return ch;
  }

  knownHost(host: string): boolean {
    if (host === this.host || this.hosts.has(host)) return true;
    for (const p of this.transport.peers()) this.hosts.add(p);
    return this.hosts.has(host);
  }

  dispatch(peer: string, body: NetBody): void {
    this.guard(`dispatch ${body.k}`, () => dispatchBody(this, peer, body));
  }

  severed(peer: string, reason: string, pending: NetBody[]): void {
    this.guard('severed', () => onSevered(this, peer, reason, pending));
  }

  // ---- internals ----------------------------------------------------------------------------

  private roleOf(port: number): NetmsgPortRole {
    if (this.records.proxyNames.has(port)) return 'proxy';
    if (port === this.servicePort) return 'service';
    if (port === this.notifyPort) return 'notify';
    if (this.records.notifyNames.has(port)) return 'proxy-notify';
    return 'other';
  }

  private fromProxy(e: MachMessageEvent): void {
    const entry = this.records.proxyNames.get(e.port);
    if (entry === undefined) discardReceived(this, e.message);
    else sendFromProxy(this, entry.rec, entry.info, e.message);
  }

  /** A bug in one handler must not kill the server (an XState action that throws would). */
  private guard(where: string, fn: () => void): void {
    if (this.stopped) return;
    try {
      fn();
    } catch (err) {
      internalError(this, where, err instanceof Error ? (err.stack ?? err.message) : String(err));
    }
  }

  private shutdown(): void {
    for (const ch of this.channels.values()) ch.stop();
    for (const l of this.lookups.values()) l.stop();
    for (const rec of this.records.all()) {
      rec.move?.stop();
      if (rec.gapTimer !== null) this.world.cancel(rec.gapTimer);
    }
  }
}

export function startNetmsgServer(opts: NetmsgServerOptions): NetmsgServer {
  return new NetmsgServer(opts);
}
