import type { AnyActorRef } from 'xstate';
import { MachError } from '../protocol/errors.ts';
import type { ReceivedMessage } from '../protocol/message.ts';
import { nameHex, PortType } from '../protocol/rights.ts';
import type { IpcKernel } from './ipcKernel.ts';
import { receiveFrom } from './machMsg.ts';
import type { PortSpace } from './portSpace.ts';

/** The event an actor gets for each message drained from its mailbox. */
export interface MachMessageEvent {
  readonly type: 'mach.message';
  /** The name (in the actor's space) of the port the message arrived on. */
  readonly port: number;
  readonly message: ReceivedMessage;
}

/**
 * Makes the port `name` of `space` the mailbox of `actor`: every message queued on it is received
 * (copied out into `space`, stamped with its sequence number) and sent to the actor as a
 * `mach.message` event, in queue order. Returns a function that unbinds the mailbox.
 */
export function bindMailbox(
  k: IpcKernel,
  space: PortSpace,
  name: number,
  actor: AnyActorRef,
): () => void {
  const e = space.lookup(name);
  if (e === undefined || !(e.bits & PortType.RECEIVE)) {
    throw new MachError(
      'MACH_RCV_INVALID_NAME',
      `name ${nameHex(name)} is not a receive right in "${space.label}"`,
    );
  }
  const p = e.port!;
  if (p.pset !== null)
    throw new MachError('MACH_RCV_IN_SET', `port ${nameHex(name)} is in a port set`);
  if (p.drain !== null)
    throw new MachError('KERN_RIGHT_EXISTS', `port ${p.label} already has a mailbox reader`);
  const drain = () => {
    while (p.drain === drain && p.msgcount > 0 && p.receiver === space) {
      if (actor.getSnapshot().status !== 'active') {
        // A stopped or finished actor reads no more mail: the messages stay queued.
        p.drain = null;
        return;
      }
      const localName = space.byPort.get(p)?.name ?? name;
      const message = receiveFrom(k, space, p, localName, Number.POSITIVE_INFINITY, false);
      actor.send({ type: 'mach.message', port: localName, message } satisfies MachMessageEvent);
    }
  };
  p.drain = drain;
  if (p.msgcount > 0) {
    p.drainScheduled = true;
    k.defer(() => {
      p.drainScheduled = false;
      p.drain?.();
    }, 'ipc.drain');
  }
  return () => {
    if (p.drain === drain) p.drain = null;
  };
}
