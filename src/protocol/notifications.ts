import { readInt32 } from './codec.ts';
import type { ReceivedMessage } from './message.ts';

/**
 * Kernel notification message ids (mach3-kernel-interfaces.txt, mach_port_request_notification
 * and the notification data structures; the ids are Mach's MACH_NOTIFY_FIRST + n, in octal 0100).
 */
export const NotifyId = {
  PORT_DELETED: 0o101,
  PORT_DESTROYED: 0o105,
  NO_SENDERS: 0o106,
  SEND_ONCE: 0o107,
  DEAD_NAME: 0o110,
} as const;
export type NotifyId = (typeof NotifyId)[keyof typeof NotifyId];

/** Which notification mach_port_request_notification asks for (MACH_NOTIFY_* variants). */
export type NotifyVariant = 'dead-name' | 'no-senders' | 'port-destroyed';

export type Notification =
  | { kind: 'dead-name'; name: number }
  | { kind: 'port-deleted'; name: number }
  | { kind: 'no-senders'; mscount: number }
  | { kind: 'send-once' }
  | { kind: 'port-destroyed'; rights: number };

/** Decodes a received kernel notification, or returns null if the message is not one. */
export function decodeNotification(msg: ReceivedMessage): Notification | null {
  const first = msg.body[0];
  switch (msg.id) {
    case NotifyId.DEAD_NAME:
      return first?.type === 'inline' ? { kind: 'dead-name', name: readInt32(first.data) } : null;
    case NotifyId.PORT_DELETED:
      return first?.type === 'inline'
        ? { kind: 'port-deleted', name: readInt32(first.data) }
        : null;
    case NotifyId.NO_SENDERS:
      return first?.type === 'inline'
        ? { kind: 'no-senders', mscount: readInt32(first.data) }
        : null;
    case NotifyId.SEND_ONCE:
      return { kind: 'send-once' };
    case NotifyId.PORT_DESTROYED:
      return first?.type === 'port' ? { kind: 'port-destroyed', rights: first.name } : null;
    default:
      return null;
  }
}
