import { decodeData, inlineData } from './codec.ts';
import type { MachMessage, MessageItem, ReceivedMessage } from './message.ts';
import { Disposition, MACH_PORT_NULL, ReceivedRight } from './rights.ts';

/**
 * A minimal RPC convention over mach_msg, as MIG stubs would generate: a request carries its
 * arguments as typed inline data and a send-once reply right; the reply's id is the request's
 * id + 100 and carries `{ ok, result }` or `{ ok: false, error }`.
 */
export const REQUEST_ID = 1000;
/** A reply's id is its request's plus this (MIG's convention). */
export const REPLY_OFFSET = 100;
export const REPLY_ID = REQUEST_ID + REPLY_OFFSET;

export type Reply =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: string };

/** A request carrying typed data and a send-once reply right (every RPC convention here). */
export function rpcRequest(
  dest: number,
  replyPort: number,
  id: number,
  data: unknown,
  extra: readonly MessageItem[] = [],
): MachMessage {
  return {
    remotePort: dest,
    remoteDisposition: Disposition.COPY_SEND,
    localPort: replyPort,
    localDisposition: Disposition.MAKE_SEND_ONCE,
    id,
    body: [inlineData(data), ...extra],
  };
}

/** The answer to request `requestId`, through its send-once reply right. */
export function rpcReply(
  replyRight: number,
  requestId: number,
  data: unknown,
  extra: readonly MessageItem[] = [],
): MachMessage {
  return {
    remotePort: replyRight,
    remoteDisposition: Disposition.MOVE_SEND_ONCE,
    id: requestId + REPLY_OFFSET,
    body: [inlineData(data), ...extra],
  };
}

export function requestMessage(dest: number, replyPort: number, request: unknown): MachMessage {
  return rpcRequest(dest, replyPort, REQUEST_ID, request);
}

export function replyMessage(replyRight: number, reply: Reply): MachMessage {
  return rpcReply(replyRight, REQUEST_ID, reply);
}

/** Reads a request; returns a reason string if the message is not a well-formed request. */
export function parseRequest(m: ReceivedMessage): { request: unknown } | { malformed: string } {
  if (m.id !== REQUEST_ID)
    return { malformed: `message id ${m.id} is not a request (${REQUEST_ID})` };
  if (m.remotePort === MACH_PORT_NULL || m.remoteRight !== ReceivedRight.PORT_SEND_ONCE) {
    return { malformed: 'request carries no send-once reply right' };
  }
  const item = m.body[0];
  if (m.body.length !== 1 || item?.type !== 'inline')
    return { malformed: 'request body must be one inline item' };
  try {
    return { request: decodeData(item.data) };
  } catch (e) {
    return { malformed: `request data does not decode: ${(e as Error).message}` };
  }
}

export function parseReply(m: ReceivedMessage): Reply {
  const item = m.body[0];
  if (m.id !== REPLY_ID || item?.type !== 'inline')
    return { ok: false, error: `message ${m.id} is not a reply` };
  try {
    const r = decodeData<Reply>(item.data);
    if (r && typeof r === 'object' && typeof r.ok === 'boolean') return r;
  } catch {
    // fall through
  }
  return { ok: false, error: 'reply data is malformed' };
}
