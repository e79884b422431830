import { decodeData } from './codec.ts';
import type { MachMessage, ReceivedMessage } from './message.ts';
import { REPLY_OFFSET, rpcReply, rpcRequest } from './requestReply.ts';
import { Disposition, MACH_PORT_NULL, ReceivedRight } from './rights.ts';

/**
 * The netmsg protocol: what network servers say to each other, and what tasks say to their own
 * server. Mirrors mach-network-server.txt: a dispatcher header in front of every network server
 * message (section 5.1), IPC data with its ports translated to network ports (6.1, 7.1), port
 * death and transfer notices (7.2), and the netname calls (12.2). Everything that arrives from the
 * network is checked here, naming the first bad field, before a server touches its state.
 */

export const NETMSG_VERSION = 1;
/** netname_name_t is char[80] (section 12.2). */
export const NETNAME_MAX = 80;
const ID_MAX = 64;
const HOST_MAX = 64;

export type NetRightKind = 'send' | 'once' | 'receive';

/**
 * A port right on the wire: the network port identifier (section 3.1: the unguessable part plays
 * the role of np_puid/np_sid) and what the sender knows of the receiver's location.
 */
export interface NetRight {
  readonly nid: string;
  readonly kind: NetRightKind;
  /** Where the sender believes the receive right is (for 'receive': where it is going). */
  readonly home: string;
  /** Location generation: grows by one each time the receive right changes host. */
  readonly gen: number;
  /** The server that put the right on the wire; it waits to hear that a send right arrived. */
  readonly via: string;
  /** With 'receive' only: everything that moves with the receive right. */
  readonly state?: PortState;
}

/** A right, MACH_PORT_NULL (null) or MACH_PORT_DEAD ('dead'). */
export type NetPortRef = NetRight | null | 'dead';

export type NetItem =
  | { readonly t: 'i'; readonly d: Uint8Array; readonly n?: number; readonly s?: number }
  | { readonly t: 'o'; readonly d: Uint8Array }
  | { readonly t: 'p'; readonly r: NetPortRef };

/** A Mach message in network form (section 6.1, step 4: ports translated). */
export interface NetMessage {
  readonly id: number;
  /** The right the sender used on the proxy: a send right or a send-once right. */
  readonly dest: 'send' | 'once';
  readonly reply: NetPortRef;
  readonly body: readonly NetItem[];
}

/** [host, count]: a per-host counter that moves with a receive right. */
export type HostCount = readonly [string, number];

/** A holder's release that waits until the holder's earlier messages are delivered. */
export interface PendingDrop {
  readonly holder: string;
  readonly refs: number;
  readonly seq: number;
}

/** What travels with a receive right (section 7.2, transfer of receive rights). */
export interface PortState {
  readonly qlimit: number;
  /** Messages queued on the port when it left, in queue order: they follow the right. */
  readonly queued: readonly NetMessage[];
  /** Per origin host, the next origin sequence number the port expects. */
  readonly rx: readonly HostCount[];
  /** Per host, the send-right references it holds (remote senders, for no-senders). */
  readonly holders: readonly HostCount[];
  readonly drops: readonly PendingDrop[];
  /** Send-once rights held elsewhere: the new home makes as many credits. */
  readonly once: number;
  /** The no-senders and port-destroyed notification rights the receiver registered. */
  readonly nsNotify: NetPortRef;
  readonly pdNotify: NetPortRef;
}

export type NetBody =
  | {
      readonly k: 'ipc';
      readonly nid: string;
      /** Host whose proxy took the message in, and its sequence number for this port there. */
      readonly origin: string;
      readonly oseq: number;
      readonly hops: number;
      readonly msg: NetMessage;
    }
  | { readonly k: 'lookup'; readonly req: number; readonly name: string }
  | { readonly k: 'lookup-reply'; readonly req: number; readonly port: NetPortRef }
  | { readonly k: 'ref-add'; readonly nid: string; readonly holder: string; readonly hops: number }
  | { readonly k: 'ref-ack'; readonly nid: string; readonly home: string; readonly gen: number }
  | {
      readonly k: 'ref-drop';
      readonly nid: string;
      readonly holder: string;
      readonly refs: number;
      /** The holder's last origin sequence number: apply once that message is delivered. */
      readonly seq: number;
      readonly hops: number;
    }
  | { readonly k: 'xfer-done'; readonly nid: string }
  | { readonly k: 'moved'; readonly nid: string; readonly home: string; readonly gen: number }
  | { readonly k: 'dead'; readonly nid: string }
  | { readonly k: 'hello' }
  /** A port checkup probe (section 8.1): its acknowledgement is the answer. */
  | { readonly k: 'checkup' };

export type NetBodyKind = NetBody['k'];

interface FrameHeader {
  readonly v: typeof NETMSG_VERSION;
  readonly src: string;
  readonly dst: string;
  /** Sender's epoch (boot count) and what it knows of the receiver's (0: not yet). */
  readonly se: number;
  readonly de: number;
}

/** An acknowledgement of the receiver's stream (epoch e, session s) up to and including n. */
export interface StreamAck {
  readonly e: number;
  readonly s: number;
  readonly n: number;
}

/**
 * One reliable stream per pair of servers: (epoch, session) names it, seq orders it. A data
 * frame may carry an acknowledgement of the other direction's stream (piggybacking).
 */
export type NetFrame =
  | (FrameHeader & {
      readonly k: 'data';
      readonly ss: number;
      readonly seq: number;
      readonly body: NetBody;
      readonly ack?: StreamAck;
    })
  | (FrameHeader & { readonly k: 'ack'; readonly ds: number; readonly n: number })
  | (FrameHeader & { readonly k: 'sever'; readonly ds: number });

export type DataFrame = Extract<NetFrame, { k: 'data' }>;

/** A frame or message that is not well formed; `field` names the first bad field. */
export class NetmsgFormatError extends Error {
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
    this.name = 'NetmsgFormatError';
  }
}

// ---- validation ----------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function obj(v: unknown, path: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array)
    throw new NetmsgFormatError(path, `must be an object, got ${describe(v)}`);
  return v as Obj;
}

function str(o: Obj, key: string, path: string, max: number): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > max)
    throw new NetmsgFormatError(`${path}.${key}`, `must be a string of 1..${max} chars`);
  return v;
}

function int(o: Obj, key: string, path: string, min = 0): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw new NetmsgFormatError(
      `${path}.${key}`,
      `must be an integer >= ${min}, got ${describe(v)}`,
    );
  return v;
}

function oneOf<T extends string>(o: Obj, key: string, path: string, values: readonly T[]): T {
  const v = o[key];
  if (!values.includes(v as T))
    throw new NetmsgFormatError(`${path}.${key}`, `must be one of ${values.join(', ')}`);
  return v as T;
}

function bytes(o: Obj, key: string, path: string): Uint8Array {
  const v = o[key];
  if (!(v instanceof Uint8Array))
    throw new NetmsgFormatError(`${path}.${key}`, 'must be binary data');
  return v;
}

function list(o: Obj, key: string, path: string, max = 100_000): unknown[] {
  const v = o[key];
  if (!Array.isArray(v) || v.length > max)
    throw new NetmsgFormatError(`${path}.${key}`, `must be a list of at most ${max} entries`);
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Uint8Array) return 'binary data';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function hostCounts(o: Obj, key: string, path: string): HostCount[] {
  return list(o, key, path).map((e, i) => {
    const p = `${path}.${key}[${i}]`;
    if (!Array.isArray(e) || e.length !== 2)
      throw new NetmsgFormatError(p, 'must be [host, count]');
    const pair = { h: e[0], n: e[1] };
    return [str(pair, 'h', p, HOST_MAX), int(pair, 'n', p)] as const;
  });
}

function parseState(v: unknown, path: string): PortState {
  const o = obj(v, path);
  return {
    qlimit: int(o, 'qlimit', path),
    queued: list(o, 'queued', path).map((m, i) => parseMessage(m, `${path}.queued[${i}]`)),
    rx: hostCounts(o, 'rx', path),
    holders: hostCounts(o, 'holders', path),
    drops: list(o, 'drops', path).map((d, i) => {
      const p = `${path}.drops[${i}]`;
      const dd = obj(d, p);
      return {
        holder: str(dd, 'holder', p, HOST_MAX),
        refs: int(dd, 'refs', p),
        seq: int(dd, 'seq', p),
      };
    }),
    once: int(o, 'once', path),
    nsNotify: parseRef(o.nsNotify, `${path}.nsNotify`),
    pdNotify: parseRef(o.pdNotify, `${path}.pdNotify`),
  };
}

export function parseRef(v: unknown, path: string): NetPortRef {
  if (v === null || v === undefined) return null;
  if (v === 'dead') return 'dead';
  const o = obj(v, path);
  const kind = oneOf(o, 'kind', path, ['send', 'once', 'receive'] as const);
  const right: NetRight = {
    nid: str(o, 'nid', path, ID_MAX),
    kind,
    home: str(o, 'home', path, HOST_MAX),
    gen: int(o, 'gen', path),
    via: str(o, 'via', path, HOST_MAX),
  };
  if (kind === 'receive') return { ...right, state: parseState(o.state, `${path}.state`) };
  if (o.state !== undefined)
    throw new NetmsgFormatError(`${path}.state`, `only a receive right carries state`);
  return right;
}

function parseItem(v: unknown, path: string): NetItem {
  const o = obj(v, path);
  const t = oneOf(o, 't', path, ['i', 'o', 'p'] as const);
  if (t === 'p') return { t, r: parseRef(o.r, `${path}.r`) };
  if (t === 'o') return { t, d: bytes(o, 'd', path) };
  const item: { t: 'i'; d: Uint8Array; n?: number; s?: number } = { t, d: bytes(o, 'd', path) };
  if (o.n !== undefined) item.n = int(o, 'n', path);
  if (o.s !== undefined) item.s = int(o, 's', path);
  return item;
}

export function parseMessage(v: unknown, path: string): NetMessage {
  const o = obj(v, path);
  const id = o.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id))
    throw new NetmsgFormatError(`${path}.id`, `must be an integer, got ${describe(id)}`);
  const reply = parseRef(o.reply, `${path}.reply`);
  if (reply !== null && reply !== 'dead' && reply.kind === 'receive')
    throw new NetmsgFormatError(`${path}.reply.kind`, 'a reply right cannot be a receive right');
  return {
    id,
    dest: oneOf(o, 'dest', path, ['send', 'once'] as const),
    reply,
    body: list(o, 'body', path, 4096).map(
      (it, i) => oolItem(it) ?? parseItem(it, `${path}.body[${i}]`),
    ),
  };
}

/**
 * The common well-formed out-of-line item, checked without building its path (a batch of pages
 * has hundreds); anything else goes through parseItem, which names what is wrong.
 */
function oolItem(v: unknown): NetItem | null {
  if (v === null || typeof v !== 'object') return null;
  const o = v as Obj;
  return o.t === 'o' && o.d instanceof Uint8Array ? { t: 'o', d: o.d } : null;
}

function parseBody(v: unknown, path: string): NetBody {
  const o = obj(v, path);
  const k = oneOf(o, 'k', path, [
    'ipc',
    'lookup',
    'lookup-reply',
    'ref-add',
    'ref-ack',
    'ref-drop',
    'xfer-done',
    'moved',
    'dead',
    'hello',
    'checkup',
  ] as const);
  const nid = () => str(o, 'nid', path, ID_MAX);
  const host = (key: string) => str(o, key, path, HOST_MAX);
  switch (k) {
    case 'ipc':
      return {
        k,
        nid: nid(),
        origin: host('origin'),
        oseq: int(o, 'oseq', path, 1),
        hops: int(o, 'hops', path),
        msg: parseMessage(o.msg, `${path}.msg`),
      };
    case 'lookup':
      return { k, req: int(o, 'req', path), name: str(o, 'name', path, NETNAME_MAX) };
    case 'lookup-reply': {
      const port = parseRef(o.port, `${path}.port`);
      if (port !== null && port !== 'dead' && port.kind !== 'send')
        throw new NetmsgFormatError(`${path}.port.kind`, 'a looked-up port is a send right');
      return { k, req: int(o, 'req', path), port };
    }
    case 'ref-add':
      return { k, nid: nid(), holder: host('holder'), hops: int(o, 'hops', path) };
    case 'ref-ack':
      return { k, nid: nid(), home: host('home'), gen: int(o, 'gen', path) };
    case 'ref-drop':
      return {
        k,
        nid: nid(),
        holder: host('holder'),
        refs: int(o, 'refs', path, 1),
        seq: int(o, 'seq', path),
        hops: int(o, 'hops', path),
      };
    case 'xfer-done':
    case 'dead':
      return { k, nid: nid() };
    case 'moved':
      return { k, nid: nid(), home: host('home'), gen: int(o, 'gen', path) };
    case 'hello':
    case 'checkup':
      return { k };
  }
}

/** Checks a decoded frame; throws NetmsgFormatError naming the first bad field. */
export function parseFrame(v: unknown): NetFrame {
  const o = obj(v, 'frame');
  if (o.v !== NETMSG_VERSION)
    throw new NetmsgFormatError('frame.v', `unsupported version ${describe(o.v)}`);
  const k = oneOf(o, 'k', 'frame', ['data', 'ack', 'sever'] as const);
  const header = {
    v: NETMSG_VERSION,
    src: str(o, 'src', 'frame', HOST_MAX),
    dst: str(o, 'dst', 'frame', HOST_MAX),
    se: int(o, 'se', 'frame', 1),
    de: int(o, 'de', 'frame'),
  } as const;
  switch (k) {
    case 'data': {
      const frame = {
        ...header,
        k,
        ss: int(o, 'ss', 'frame', 1),
        seq: int(o, 'seq', 'frame', 1),
        body: parseBody(o.body, 'frame.body'),
      };
      if (o.ack === undefined) return frame;
      const a = obj(o.ack, 'frame.ack');
      return {
        ...frame,
        ack: {
          e: int(a, 'e', 'frame.ack', 1),
          s: int(a, 's', 'frame.ack', 1),
          n: int(a, 'n', 'frame.ack'),
        },
      };
    }
    case 'ack':
      return { ...header, k, ds: int(o, 'ds', 'frame', 1), n: int(o, 'n', 'frame') };
    case 'sever':
      return { ...header, k, ds: int(o, 'ds', 'frame', 1) };
  }
}

/** Every right a message carries (reply first, then body order). */
export function rightsOf(m: NetMessage): NetRight[] {
  const out: NetRight[] = [];
  if (m.reply !== null && m.reply !== 'dead') out.push(m.reply);
  for (const it of m.body) if (it.t === 'p' && it.r !== null && it.r !== 'dead') out.push(it.r);
  return out;
}

// ---- the netname interface tasks use (section 12.2) -----------------------------------------

export const NetnameId = { CHECK_IN: 4000, LOOK_UP: 4001, CHECK_OUT: 4002 } as const;
/** A reply's id is the request's id + 100, as MIG does. */
export const NETNAME_REPLY_OFFSET = REPLY_OFFSET;

export type NetnameRequest =
  | { readonly op: 'check-in'; readonly name: string; readonly port: number }
  | { readonly op: 'look-up'; readonly name: string; readonly host: string | null }
  | { readonly op: 'check-out'; readonly name: string };

export type NetnameReply =
  | { readonly ok: true; readonly port: number }
  | { readonly ok: false; readonly error: string };

/** netname_check_in: registers the send right `port` (or one made from a receive right). */
export function netnameCheckIn(
  service: number,
  reply: number,
  name: string,
  port: number,
  disposition: Disposition = Disposition.COPY_SEND,
): MachMessage {
  return rpcRequest(service, reply, NetnameId.CHECK_IN, { name }, [
    { type: 'port', name: port, disposition },
  ]);
}

/** netname_look_up: `host` null asks every host (first answer wins). */
export function netnameLookUp(
  service: number,
  reply: number,
  name: string,
  host: string | null,
): MachMessage {
  return rpcRequest(service, reply, NetnameId.LOOK_UP, { name, host });
}

export function netnameCheckOut(service: number, reply: number, name: string): MachMessage {
  return rpcRequest(service, reply, NetnameId.CHECK_OUT, { name });
}

function checkName(name: unknown): string | null {
  return typeof name === 'string' && name.length > 0 && name.length <= NETNAME_MAX ? name : null;
}

/** Reads a netname request a task sent to its server; returns a reason if malformed. */
export function parseNetnameRequest(m: ReceivedMessage): NetnameRequest | { malformed: string } {
  if (m.remotePort === MACH_PORT_NULL || m.remoteRight !== ReceivedRight.PORT_SEND_ONCE)
    return { malformed: 'request carries no send-once reply right' };
  const first = m.body[0];
  if (first?.type !== 'inline') return { malformed: 'body[0] must be inline data' };
  let data: Record<string, unknown>;
  try {
    data = decodeData<Record<string, unknown>>(first.data);
  } catch (e) {
    return { malformed: `body[0] does not decode: ${(e as Error).message}` };
  }
  if (data === null || typeof data !== 'object') return { malformed: 'body[0] is not a record' };
  const name = checkName(data.name);
  if (name === null) return { malformed: `name must be a string of 1..${NETNAME_MAX} chars` };
  switch (m.id) {
    case NetnameId.CHECK_IN: {
      const port = m.body[1];
      if (m.body.length !== 2 || port?.type !== 'port' || port.right !== ReceivedRight.PORT_SEND)
        return { malformed: 'check-in needs body[1]: a send right' };
      return { op: 'check-in', name, port: port.name };
    }
    case NetnameId.LOOK_UP: {
      const host = data.host ?? null;
      if (host !== null && (typeof host !== 'string' || host.length === 0))
        return { malformed: 'host must be a host name or null (every host)' };
      return { op: 'look-up', name, host };
    }
    case NetnameId.CHECK_OUT:
      return { op: 'check-out', name };
    default:
      return { malformed: `message id ${m.id} is not a netname call` };
  }
}

/** The reply to a netname request: `port` (a send right to move) only with a successful look-up. */
export function netnameReplyMessage(
  replyRight: number,
  requestId: number,
  reply: { ok: true } | { ok: false; error: string },
  port = MACH_PORT_NULL,
): MachMessage {
  return rpcReply(
    replyRight,
    requestId,
    reply,
    port === MACH_PORT_NULL
      ? []
      : [{ type: 'port', name: port, disposition: Disposition.MOVE_SEND }],
  );
}

/** Reads a netname reply: for a look-up, `port` names the send right now held. */
export function parseNetnameReply(m: ReceivedMessage): NetnameReply {
  const first = m.body[0];
  if (first?.type !== 'inline')
    return { ok: false, error: `message ${m.id} is not a netname reply` };
  try {
    const r = decodeData<{ ok?: unknown; error?: unknown }>(first.data);
    if (r?.ok === true) {
      const port = m.body[1];
      return { ok: true, port: port?.type === 'port' ? port.name : MACH_PORT_NULL };
    }
    return { ok: false, error: typeof r?.error === 'string' ? r.error : 'failed' };
  } catch {
    return { ok: false, error: 'reply data is malformed' };
  }
}
