import { inlineInt32 } from '../protocol/codec.ts';
import type { InlineItem } from '../protocol/message.ts';
import { HEADER_BYTES, inlineItemBytes } from '../protocol/message.ts';
import { NotifyId } from '../protocol/notifications.ts';
import { ReceivedRight } from '../protocol/rights.ts';
import type { IpcKernel } from './ipcKernel.ts';
import type { KItem, KMsg } from './kmsg.ts';
import { enqueue } from './machMsg.ts';
import type { Port } from './port.ts';

/**
 * Destroying send and send-once rights, and the kernel notifications that follow
 * (mach3-kernel-interfaces.txt, mach_port_request_notification and the notification messages).
 */

/** One send right fewer; fires the no-senders notification when the last one goes. */
export function releaseSend(k: IpcKernel, p: Port): void {
  if (p.dead) return;
  p.srights--;
  if (p.srights === 0) checkNoSenders(k, p);
}

/**
 * Fires a registered no-senders notification if no send right exists. The sync rule applies
 * only when the request is made (an immediate notification needs mscount >= sync); once
 * registered it fires when the port next loses its last send right (mach_port_request_notification).
 */
export function checkNoSenders(k: IpcKernel, p: Port, sync = 0): void {
  const req = p.nsRequest;
  if (req === null || p.srights !== 0 || p.mscount < sync) return;
  p.nsRequest = null;
  sendNotification(k, req.notify, NotifyId.NO_SENDERS, [inlineInt32(p.mscount)], 'no-senders');
}

/**
 * A send-once right destroyed unused still yields its one message: a send-once notification to
 * its own port.
 */
export function releaseSendOnce(k: IpcKernel, p: Port): void {
  if (p.dead) return;
  sendNotification(k, p, NotifyId.SEND_ONCE, [], 'send-once');
}

export function notifyPortDeleted(k: IpcKernel, notify: Port, name: number): void {
  sendNotification(k, notify, NotifyId.PORT_DELETED, [inlineInt32(name)], 'port-deleted');
}

export function notifyDeadName(k: IpcKernel, notify: Port, name: number): void {
  sendNotification(k, notify, NotifyId.DEAD_NAME, [inlineInt32(name)], 'dead-name');
}

/**
 * Sends a kernel notification through the send-once right `notify` (which the kernel held for
 * it): send-once messages ignore the queue limit, so notifications are never blocked.
 */
export function sendNotification(
  k: IpcKernel,
  notify: Port,
  id: number,
  body: KItem[],
  what: string,
): void {
  if (notify.dead) return;
  let size = HEADER_BYTES;
  for (const item of body)
    size += item.type === 'inline' ? inlineItemBytes((item as InlineItem).data.length) : 12;
  const kmsg: KMsg = {
    dest: notify,
    destRight: ReceivedRight.PORT_SEND_ONCE,
    reply: null,
    id,
    body,
    hasPorts: body.some((i) => i.type === 'port'),
    size,
    wireBytes: size,
    seqno: 0,
    from: 'kernel',
  };
  k.stats.notifications++;
  if (k.world.trace.enabled)
    k.world.trace.emit('ipc.notify', { host: k.host, notification: what, port: notify.id });
  enqueue(k, kmsg);
}
