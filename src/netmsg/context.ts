import type { AnyActorRef } from 'xstate';
import type { IpcKernel } from '../actors/ipcKernel.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import type { NetBody } from '../protocol/netmsg.ts';
import type { ChannelOwner, PeerChannel } from './channel.ts';
import type { PendingLookup } from './lookups.ts';
import type { PortRecords } from './records.ts';
import type { RejectReason } from './stats.ts';
import './traceEvents.ts';

/**
 * Everything the netmsg modules share: one server's state on one host. The modules are plain
 * functions over it (as src/actors is over IpcKernel), so each file holds one concept.
 */
export interface NetmsgContext extends ChannelOwner {
  readonly k: IpcKernel;
  /** The server's own port space on its host's kernel. */
  readonly ns: PortSpace;
  /** Where dead-name notifications for watched names arrive. */
  readonly notifyPort: number;
  readonly records: PortRecords;
  /** The server actor: the mailbox reader of every port in `ns` it listens on. */
  readonly actor: AnyActorRef;
  readonly newId: () => string;
  /** Name table: netname to the name (in `ns`) of a send right. */
  readonly names: Map<string, number>;
  readonly lookups: Map<number, PendingLookup>;
  nextReq: number;
  stopped: boolean;
  /** The first internal errors, with their stacks, for whoever investigates. */
  readonly errorLog: string[];
  /** The peer being severed right now: nothing more is sent to it meanwhile. */
  severing: string | null;
  channel(peer: string): PeerChannel;
  knownHost(host: string): boolean;
}

/** Sends a body to `host` on its reliable stream; to itself, through the event queue. */
export function sendTo(S: NetmsgContext, host: string, body: NetBody): void {
  if (S.stopped || host === S.severing) return;
  if (host === S.host) {
    S.world.schedule(
      0,
      () => {
        if (!S.stopped) S.dispatch(S.host, body);
      },
      'netmsg.local',
    );
    return;
  }
  if (!S.knownHost(host)) {
    internalError(S, 'sendTo', `no host named "${host}"`);
    return;
  }
  S.channel(host).send(body);
}

/** Refuses something from the network: counted and traced; the caller then changes nothing. */
export function reject(S: NetmsgContext, from: string, reason: RejectReason, detail: string): void {
  S.stats.rejected[reason]++;
  if (S.world.trace.enabled)
    S.world.trace.emit('netmsg.reject', { host: S.host, from, reason, detail });
}

export function internalError(S: NetmsgContext, where: string, message: string): void {
  S.stats.internalErrors++;
  if (S.errorLog.length < 20) S.errorLog.push(`${where}: ${message}`);
  if (S.world.trace.enabled) S.world.trace.emit('netmsg.error', { host: S.host, where, message });
}
