import { MachError } from '../protocol/errors.ts';
import type {
  MachMessage,
  MessageItem,
  ReceivedItem,
  ReceivedMessage,
} from '../protocol/message.ts';
import {
  HEADER_BYTES,
  inlineItemBytes,
  MACH_MSG_SIZE_MAX,
  OOL_ITEM_BYTES,
  PORT_ITEM_BYTES,
} from '../protocol/message.ts';
import {
  Disposition,
  isDisposition,
  MACH_PORT_NULL,
  nameHex,
  PortType,
  ReceivedRight,
} from '../protocol/rights.ts';
import type { IpcKernel } from './ipcKernel.ts';
import type { KItem, KMsg, TransitRight } from './kmsg.ts';
import type { ReceiveOutcome, SendOutcome } from './outcomes.ts';
import type { Port } from './port.ts';
import { destroyKmsg } from './portDeath.ts';
import type { PortSpace } from './portSpace.ts';
import { releaseSend } from './rightRelease.ts';
import { checkCopyin, copyin, copyout, type ShadowMap } from './rightTransfer.ts';
import type { ReceiveWaiter } from './waiters.ts';

/**
 * mach_msg: send and receive (mach3-kernel-interfaces.txt, mach_msg). A send either queues at
 * once, blocks on a full queue (send-once messages ignore the limit), or fails having changed
 * nothing. A receive takes the next message or blocks; a message that arrives for a blocked
 * receiver is handed to it directly.
 */

export interface SendOptions {
  /** ms to wait on a full queue; 0 fails at once; undefined waits forever (needs a callback). */
  readonly timeout?: number;
}

export interface ReceiveOptions {
  readonly timeout?: number;
  /** Receive buffer size (rcv_size); larger messages are refused. */
  readonly maxSize?: number;
  /** MACH_RCV_LARGE: a too-large message stays queued instead of being destroyed. */
  readonly large?: boolean;
  /**
   * Called if the receive blocks, with a function that withdraws it (thread_abort). The function
   * returns whether the receive was still waiting: false once a message (or the timeout) has been
   * handed to it, whose completion is then on its way.
   */
  readonly onBlock?: (cancel: () => boolean) => void;
}

const HEADER_DISPOSITIONS = new Set<number>([
  Disposition.COPY_SEND,
  Disposition.MOVE_SEND,
  Disposition.MAKE_SEND,
  Disposition.MOVE_SEND_ONCE,
  Disposition.MAKE_SEND_ONCE,
]);
const isCopyLike = (d: number) =>
  d === Disposition.COPY_SEND || d === Disposition.MAKE_SEND || d === Disposition.MAKE_SEND_ONCE;

/** Checks the message's shape; returns msgh_size. Throws naming the first bad field. */
function checkShape(msg: MachMessage): number {
  if (msg === null || typeof msg !== 'object')
    throw new MachError('MACH_SEND_INVALID_DATA', 'message is not an object');
  if (!Number.isInteger(msg.remotePort))
    throw new MachError(
      'MACH_SEND_INVALID_HEADER',
      `remotePort must be an integer port name, got ${String(msg.remotePort)}`,
    );
  if (!HEADER_DISPOSITIONS.has(msg.remoteDisposition)) {
    throw new MachError(
      'MACH_SEND_INVALID_HEADER',
      `remoteDisposition ${String(msg.remoteDisposition)} is not a send, send-once, make-send or make-send-once disposition`,
    );
  }
  const local = msg.localPort ?? MACH_PORT_NULL;
  if (!Number.isInteger(local))
    throw new MachError(
      'MACH_SEND_INVALID_HEADER',
      `localPort must be an integer port name, got ${String(local)}`,
    );
  if (local !== MACH_PORT_NULL && !HEADER_DISPOSITIONS.has(msg.localDisposition as number)) {
    throw new MachError(
      'MACH_SEND_INVALID_HEADER',
      `localDisposition ${String(msg.localDisposition)} is not valid for a reply port`,
    );
  }
  if (!Number.isInteger(msg.id))
    throw new MachError('MACH_SEND_INVALID_HEADER', `id must be an integer, got ${String(msg.id)}`);
  const body = msg.body;
  let size = HEADER_BYTES;
  if (body === undefined) return size;
  if (!Array.isArray(body))
    throw new MachError('MACH_SEND_INVALID_DATA', 'body must be an array of items');
  for (let i = 0; i < body.length; i++) {
    const item = body[i] as MessageItem;
    if (item === null || typeof item !== 'object')
      throw new MachError('MACH_SEND_INVALID_TYPE', `body[${i}] is not an item`);
    switch (item.type) {
      case 'inline':
        if (!(item.data instanceof Uint8Array))
          throw new MachError('MACH_SEND_INVALID_DATA', `body[${i}].data must be a Uint8Array`);
        size += inlineItemBytes(item.data.length);
        break;
      case 'ool':
        if (!(item.data instanceof Uint8Array))
          throw new MachError('MACH_SEND_INVALID_MEMORY', `body[${i}].data must be a Uint8Array`);
        size += OOL_ITEM_BYTES;
        break;
      case 'port':
        if (!Number.isInteger(item.name))
          throw new MachError(
            'MACH_SEND_INVALID_RIGHT',
            `body[${i}].name must be an integer port name`,
          );
        if (!isDisposition(item.disposition))
          throw new MachError(
            'MACH_SEND_INVALID_TYPE',
            `body[${i}].disposition ${String(item.disposition)} is not a port disposition`,
          );
        size += PORT_ITEM_BYTES;
        break;
      default:
        throw new MachError(
          'MACH_SEND_INVALID_TYPE',
          `body[${i}].type "${String((item as { type: unknown }).type)}" is not inline, port or ool`,
        );
    }
  }
  if (size > MACH_MSG_SIZE_MAX)
    throw new MachError(
      'MACH_SEND_NO_BUFFER',
      `message of ${size} bytes exceeds the ${MACH_MSG_SIZE_MAX}-byte limit; send large data out of line`,
    );
  return size;
}

/**
 * Sends `msg` from `space`. Returns true if it was queued, false if the sender is now blocked on a
 * full queue (then `done` reports the end). Throws a MachError, having changed nothing, when the
 * message or its rights are invalid, or when it would block with a zero timeout or no callback.
 */
export function send(
  k: IpcKernel,
  space: PortSpace,
  msg: MachMessage,
  opts: SendOptions = {},
  done?: (r: SendOutcome) => void,
): boolean {
  if (!space.active)
    throw new MachError('MACH_SEND_INVALID_DEST', `space "${space.label}" is terminated`);
  const size = checkShape(msg);
  const destName = msg.remotePort;
  const destDisp = msg.remoteDisposition;
  const replyName = msg.localPort ?? MACH_PORT_NULL;
  const replyDisp = msg.localDisposition ?? Disposition.COPY_SEND;
  const body = msg.body;
  let bodyPorts = false;
  if (body !== undefined)
    for (let i = 0; i < body.length; i++) if (body[i]!.type === 'port') bodyPorts = true;
  const hasRights = replyName !== MACH_PORT_NULL || bodyPorts;
  const shadow: ShadowMap | null = hasRights ? new Map() : null;
  // Header atomicity: copies before moves, so a name may be both copied and moved (mach_msg, Atomicity).
  const destFirst = isCopyLike(destDisp) || !isCopyLike(replyDisp);
  if (destFirst) {
    checkCopyin(space, destName, destDisp, 'MACH_SEND_INVALID_DEST', 'remotePort', shadow, false);
    if (replyName !== MACH_PORT_NULL)
      checkCopyin(
        space,
        replyName,
        replyDisp,
        'MACH_SEND_INVALID_REPLY',
        'localPort',
        shadow,
        true,
      );
  } else {
    checkCopyin(space, replyName, replyDisp, 'MACH_SEND_INVALID_REPLY', 'localPort', shadow, true);
    checkCopyin(space, destName, destDisp, 'MACH_SEND_INVALID_DEST', 'remotePort', shadow, false);
  }
  if (body !== undefined && bodyPorts) {
    for (let i = 0; i < body.length; i++) {
      const item = body[i]!;
      if (item.type === 'port')
        checkCopyin(
          space,
          item.name,
          item.disposition,
          'MACH_SEND_INVALID_RIGHT',
          `body[${i}]`,
          shadow,
          true,
        );
    }
  }
  const dest = space.entries.get(destName)!.port!;
  const sendOnce =
    destDisp === Disposition.MOVE_SEND_ONCE || destDisp === Disposition.MAKE_SEND_ONCE;
  const full = !sendOnce && dest.msgcount >= dest.qlimit && !dest.dead;
  const timeout = opts.timeout;
  if (full && (timeout === 0 || done === undefined)) {
    throw new MachError(
      'MACH_SEND_TIMED_OUT',
      `queue of port ${dest.label} is full (${dest.msgcount}/${dest.qlimit})`,
    );
  }
  // Commit: from here on nothing can fail.
  let destT: TransitRight;
  let replyT: TransitRight | null = null;
  if (destFirst) {
    destT = copyin(k, space, destName, destDisp);
    if (replyName !== MACH_PORT_NULL) replyT = copyin(k, space, replyName, replyDisp);
  } else {
    if (replyName !== MACH_PORT_NULL) replyT = copyin(k, space, replyName, replyDisp);
    destT = copyin(k, space, destName, destDisp);
  }
  let wireBytes = size;
  const kbody: KItem[] = [];
  if (body !== undefined) {
    for (const item of body) {
      if (item.type === 'port')
        kbody.push({ type: 'port', ...copyin(k, space, item.name, item.disposition) });
      else if (item.type === 'inline')
        kbody.push(
          item.msgtName === undefined
            ? { type: 'inline', data: item.data.slice() }
            : {
                type: 'inline',
                data: item.data.slice(),
                msgtName: item.msgtName,
                msgtSize: item.msgtSize,
              },
        );
      else {
        wireBytes += item.data.length;
        // A lent item is immutable as it stands: it goes on as it is.
        kbody.push(
          item.lent === true
            ? item
            : { type: 'ool', data: item.deallocate ? item.data : item.data.slice() },
        );
      }
    }
  }
  const kmsg: KMsg = {
    dest,
    destRight: destT.right,
    reply: replyT,
    id: msg.id,
    body: kbody,
    hasPorts: bodyPorts,
    size,
    wireBytes,
    seqno: 0,
    from: space.label,
  };
  k.stats.sent++;
  if (k.world.trace.enabled) {
    k.world.trace.emit('ipc.send', {
      host: k.host,
      from: space.label,
      port: dest.id,
      portLabel: dest.label,
      id: msg.id,
      size,
    });
  }
  if (!full) {
    enqueue(k, kmsg);
    return true;
  }
  k.stats.blocked++;
  if (k.world.trace.enabled)
    k.world.trace.emit('ipc.block', {
      host: k.host,
      space: space.label,
      port: dest.id,
      op: 'send',
    });
  const w = { space, kmsg, timer: null as ReturnType<typeof k.world.schedule> | null, done: done! };
  if (timeout !== undefined && Number.isFinite(timeout)) {
    w.timer = k.world.schedule(
      timeout,
      () => {
        if (dest.senders) dest.senders = dest.senders.filter((x) => x !== w);
        if (k.world.trace.enabled)
          k.world.trace.emit('ipc.timeout', { host: k.host, space: space.label, op: 'send' });
        const returned = pseudoReceive(k, space, kmsg);
        w.done({
          ok: false,
          error: new MachError(
            'MACH_SEND_TIMED_OUT',
            `queue of port ${dest.label} stayed full for ${timeout} ms`,
          ),
          returned,
        });
      },
      'ipc.send-timeout',
    );
  }
  (dest.senders ??= []).push(w);
  return false;
}

/** Puts a copied-in message on its port and wakes whoever waits for it. */
export function enqueue(k: IpcKernel, kmsg: KMsg): void {
  const p = kmsg.dest;
  if (p.dead) {
    // The port died after the send was accepted: Mach destroys such messages.
    destroyKmsg(k, kmsg, 'port died in transit');
    return;
  }
  p.queue.push(kmsg);
  wakeReceiver(k, p);
}

function wakeReceiver(k: IpcKernel, p: Port): void {
  const set = p.pset;
  const waiting = set !== null ? set.receivers : p.receivers;
  if (waiting !== null && waiting.length > 0) {
    const w = waiting.shift()!;
    handOff(k, w, p);
    return;
  }
  if (p.drain !== null && !p.drainScheduled) {
    p.drainScheduled = true;
    k.defer(() => {
      p.drainScheduled = false;
      p.drain?.();
    }, 'ipc.drain');
  }
}

function handOff(k: IpcKernel, w: ReceiveWaiter, p: Port): void {
  if (w.timer) k.world.cancel(w.timer);
  const e = w.space.byPort.get(p);
  let outcome: ReceiveOutcome;
  try {
    outcome = {
      ok: true,
      message: receiveFrom(k, w.space, p, e ? e.name : MACH_PORT_NULL, w.maxSize, w.large),
    };
  } catch (err) {
    outcome = { ok: false, error: err as MachError };
  }
  k.defer(() => w.done(outcome), 'ipc.rcv-wake');
}

/**
 * Receives from `name` (a receive right or a port set) in `space`. Returns the message if one is
 * queued. Otherwise, with a callback and a non-zero timeout, blocks and returns null; without,
 * throws MACH_RCV_TIMED_OUT. Bad names throw having changed nothing.
 */
export function receive(
  k: IpcKernel,
  space: PortSpace,
  name: number,
  opts: ReceiveOptions = {},
  done?: (r: ReceiveOutcome) => void,
): ReceivedMessage | null {
  const e = space.lookup(name);
  if (e === undefined)
    throw new MachError(
      'MACH_RCV_INVALID_NAME',
      `name ${nameHex(name)} is not in space "${space.label}"`,
    );
  const maxSize = opts.maxSize ?? Number.POSITIVE_INFINITY;
  const large = opts.large ?? false;
  let waitOn: { receivers: ReceiveWaiter[] | null };
  if (e.bits & PortType.PORT_SET) {
    const set = e.pset!;
    const p = set.nextReady();
    if (p !== undefined) return receiveFrom(k, space, p, space.byPort.get(p)!.name, maxSize, large);
    waitOn = set;
  } else if (e.bits & PortType.RECEIVE) {
    const p = e.port!;
    if (p.pset !== null)
      throw new MachError(
        'MACH_RCV_IN_SET',
        `port ${nameHex(name)} is a member of a port set; receive from the set`,
      );
    if (p.msgcount > 0) return receiveFrom(k, space, p, name, maxSize, large);
    waitOn = p;
  } else {
    throw new MachError(
      'MACH_RCV_INVALID_NAME',
      `name ${nameHex(name)} in space "${space.label}" is not a receive right or port set`,
    );
  }
  const timeout = opts.timeout;
  if (timeout === 0 || done === undefined)
    throw new MachError('MACH_RCV_TIMED_OUT', `no message on ${nameHex(name)}`);
  const w: ReceiveWaiter = { space, name, maxSize, large, timer: null, done };
  if (timeout !== undefined && Number.isFinite(timeout)) {
    w.timer = k.world.schedule(
      timeout,
      () => {
        if (waitOn.receivers) waitOn.receivers = waitOn.receivers.filter((x) => x !== w);
        if (k.world.trace.enabled)
          k.world.trace.emit('ipc.timeout', { host: k.host, space: space.label, op: 'receive' });
        done({
          ok: false,
          error: new MachError(
            'MACH_RCV_TIMED_OUT',
            `no message on ${nameHex(name)} within ${timeout} ms`,
          ),
        });
      },
      'ipc.rcv-timeout',
    );
  }
  (waitOn.receivers ??= []).push(w);
  opts.onBlock?.(() => {
    const waiting = waitOn.receivers?.includes(w) ?? false;
    if (w.timer) k.world.cancel(w.timer);
    if (waitOn.receivers) waitOn.receivers = waitOn.receivers.filter((x) => x !== w);
    return waiting;
  });
  if (k.world.trace.enabled)
    k.world.trace.emit('ipc.block', {
      host: k.host,
      space: space.label,
      port: name,
      op: 'receive',
    });
  return null;
}

/** De-queues the head message of `p` into `space`. */
export function receiveFrom(
  k: IpcKernel,
  space: PortSpace,
  p: Port,
  localName: number,
  maxSize: number,
  large: boolean,
): ReceivedMessage {
  const m = p.peek()!;
  if (m.size > maxSize) {
    if (large)
      throw new MachError(
        'MACH_RCV_TOO_LARGE',
        `message of ${m.size} bytes exceeds the ${maxSize}-byte buffer; left queued`,
      );
    p.shift();
    p.seqno++;
    admitSenders(k, p);
    destroyKmsg(k, m, 'too large for the receive buffer');
    throw new MachError(
      'MACH_RCV_TOO_LARGE',
      `message of ${m.size} bytes exceeded the ${maxSize}-byte buffer and was destroyed`,
    );
  }
  p.shift();
  const seqno = p.seqno++;
  const remotePort = m.reply !== null ? copyout(k, space, m.reply) : MACH_PORT_NULL;
  const body = copyoutBody(k, space, m.body, m.hasPorts);
  // Receipt uses up the right the message was sent with.
  if (m.destRight === ReceivedRight.PORT_SEND) releaseSend(k, p);
  else p.sorights--;
  k.stats.received++;
  if (k.world.trace.enabled) {
    k.world.trace.emit('ipc.receive', {
      host: k.host,
      to: space.label,
      port: p.id,
      portLabel: p.label,
      id: m.id,
      seqno,
    });
  }
  admitSenders(k, p);
  return {
    localPort: localName,
    localRight: m.destRight,
    remotePort,
    remoteRight: m.reply !== null ? m.reply.right : 0,
    id: m.id,
    seqno,
    size: m.size,
    body,
  };
}

function copyoutBody(
  k: IpcKernel,
  space: PortSpace,
  items: KItem[],
  hasPorts: boolean,
): ReceivedItem[] {
  // Without rights the kernel's copy of the body is handed over as it is.
  if (!hasPorts) return items as ReceivedItem[];
  const out: ReceivedItem[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    out[i] =
      it.type === 'port' ? { type: 'port', name: copyout(k, space, it), right: it.right } : it;
  }
  return out;
}

/** A full queue has room again: the longest-blocked senders go first (no starvation). */
function admitSenders(k: IpcKernel, p: Port): void {
  const senders = p.senders;
  while (senders !== null && senders.length > 0 && p.msgcount < p.qlimit) {
    const w = senders.shift()!;
    if (w.timer) k.world.cancel(w.timer);
    p.queue.push(w.kmsg);
    k.defer(() => w.done({ ok: true }), 'ipc.send-wake');
    wakeReceiver(k, p);
  }
}

/** Makes room for raised queue limits (mach_port_set_qlimit). */
export function queueLimitRaised(k: IpcKernel, p: Port): void {
  admitSenders(k, p);
}

/**
 * Returns a message that could not be queued to its sender, rights and all (Mach's
 * pseudo-receive): header rights are not reversed, so the message could be sent again.
 */
export function pseudoReceive(k: IpcKernel, space: PortSpace, m: KMsg): ReceivedMessage | null {
  if (!space.active) {
    destroyKmsg(k, m, 'sender gone');
    return null;
  }
  const dest = copyout(k, space, { port: m.dest, dead: m.dest.dead, right: m.destRight });
  const reply = m.reply !== null ? copyout(k, space, m.reply) : MACH_PORT_NULL;
  return {
    localPort: reply,
    localRight: m.reply !== null ? (m.reply.right as ReceivedMessage['localRight']) : m.destRight,
    remotePort: dest,
    remoteRight: m.destRight,
    id: m.id,
    seqno: 0,
    size: m.size,
    body: copyoutBody(k, space, m.body, m.hasPorts),
  };
}
