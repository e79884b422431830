import { Decoder, Encoder } from '@msgpack/msgpack';
import {
  type NetBody,
  type NetFrame,
  type NetItem,
  type NetMessage,
  NetmsgFormatError,
  type NetPortRef,
  type PortState,
  parseFrame,
} from '../protocol/netmsg.ts';

/**
 * Frames on the wire: MessagePack of a positional form (fixed field order, kinds as small
 * numbers), so a frame costs little more than the Mach message it carries; the network is told
 * the real byte count, so time on the wire follows the link model. Decoding turns the positional
 * form back into the object form that protocol/netmsg.ts checks field by field: a receiver
 * trusts nothing it has not decoded and checked.
 *
 * A frame that carries out-of-line data puts it after the MessagePack, so the data is copied onto
 * the wire once (MessagePack would copy it into its buffer and again out of it):
 *
 *   0xc1 (a byte MessagePack never uses) | head length (u32 LE) | head | data 0 | data 1 | ...
 *
 * where head is the MessagePack of [frame, [length of data 0, length of data 1, ...]] and each
 * out-of-line item in the frame is [1, its data's index]. Each data starts at a multiple of 8
 * (zero padding), so a page of it can serve as a page frame. The receiver gets the data as views
 * of the payload, which is its own (every transmission is encoded afresh).
 */
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();
const TAILED = 0xc1;
const TAILED_HEADER = 5;
const align = (n: number) => (n + 7) & ~7;

/** The out-of-line data of the frame being encoded or decoded (both are synchronous). */
let tailsOut: Uint8Array[] = [];
let tailsIn: (Uint8Array | null)[] = [];

const FRAME_KINDS = ['data', 'ack', 'sever'] as const;
const BODY_KINDS = [
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
] as const;
const RIGHT_KINDS = ['send', 'once', 'receive'] as const;
const DESTS = ['send', 'once'] as const;
const ITEMS = ['i', 'o', 'p'] as const;

/** Field order of each body kind after its kind number. */
const BODY_FIELDS: Record<NetBody['k'], readonly string[]> = {
  ipc: ['nid', 'origin', 'oseq', 'hops', 'msg'],
  lookup: ['req', 'name'],
  'lookup-reply': ['req', 'port'],
  'ref-add': ['nid', 'holder', 'hops'],
  'ref-ack': ['nid', 'home', 'gen'],
  'ref-drop': ['nid', 'holder', 'refs', 'seq', 'hops'],
  'xfer-done': ['nid'],
  moved: ['nid', 'home', 'gen'],
  dead: ['nid'],
  hello: [],
  checkup: [],
};

// ---- to the wire ----------------------------------------------------------------------------

function refOut(r: NetPortRef): unknown {
  if (r === null || r === 'dead') return r;
  const out: unknown[] = [r.nid, RIGHT_KINDS.indexOf(r.kind), r.home, r.gen, r.via];
  if (r.state !== undefined) out.push(stateOut(r.state));
  return out;
}

function stateOut(s: PortState): unknown[] {
  return [
    s.qlimit,
    s.queued.map(msgOut),
    s.rx,
    s.holders,
    s.drops.map((d) => [d.holder, d.refs, d.seq]),
    s.once,
    refOut(s.nsNotify),
    refOut(s.pdNotify),
  ];
}

function itemOut(it: NetItem): unknown[] {
  if (it.t === 'p') return [2, refOut(it.r)];
  if (it.t === 'o') return [1, tailsOut.push(it.d) - 1];
  return it.n === undefined && it.s === undefined ? [0, it.d] : [0, it.d, it.n, it.s];
}

function msgOut(m: NetMessage): unknown[] {
  return [m.id, DESTS.indexOf(m.dest), refOut(m.reply), m.body.map(itemOut)];
}

function bodyOut(b: NetBody): unknown[] {
  const out: unknown[] = [BODY_KINDS.indexOf(b.k)];
  for (const f of BODY_FIELDS[b.k]) {
    const v = (b as unknown as Record<string, unknown>)[f];
    out.push(f === 'msg' ? msgOut(v as NetMessage) : f === 'port' ? refOut(v as NetPortRef) : v);
  }
  return out;
}

function frameOut(f: NetFrame): unknown[] {
  const head = [f.v, FRAME_KINDS.indexOf(f.k), f.src, f.dst, f.se, f.de];
  if (f.k === 'data') {
    const out = [...head, f.ss, f.seq, bodyOut(f.body)];
    if (f.ack !== undefined) out.push([f.ack.e, f.ack.s, f.ack.n]);
    return out;
  }
  return f.k === 'ack' ? [...head, f.ds, f.n] : [...head, f.ds];
}

export function encodeFrame(frame: NetFrame): Uint8Array {
  tailsOut = [];
  const shaped = frameOut(frame);
  const tails = tailsOut;
  tailsOut = [];
  if (tails.length === 0) return encoder.encode(shaped);
  const head = encoder.encodeSharedRef([shaped, tails.map((t) => t.length)]);
  let total = align(TAILED_HEADER + head.length);
  for (const t of tails) total += align(t.length);
  const out = new Uint8Array(total);
  out[0] = TAILED;
  new DataView(out.buffer).setUint32(1, head.length, true);
  out.set(head, TAILED_HEADER);
  let at = align(TAILED_HEADER + head.length);
  for (const t of tails) {
    out.set(t, at);
    at += align(t.length);
  }
  return out;
}

// ---- from the wire: back to the object form, checked by parseFrame -------------------------

const at = (a: unknown, i: number): unknown => (Array.isArray(a) ? a[i] : undefined);
/** A kind number back to its name; anything else is passed on for the check to refuse. */
const named = <T>(names: readonly T[], v: unknown): unknown =>
  typeof v === 'number' && names[v] !== undefined ? names[v] : v;
/** Non-lists are passed on as they are, so the check names the field that should be a list. */
const mapList = (v: unknown, f: (x: unknown) => unknown): unknown =>
  Array.isArray(v) ? v.map(f) : v;

function refIn(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  const r: Record<string, unknown> = {
    nid: v[0],
    kind: named(RIGHT_KINDS, v[1]),
    home: v[2],
    gen: v[3],
    via: v[4],
  };
  if (v.length > 5) r.state = stateIn(v[5]);
  return r;
}

function stateIn(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  return {
    qlimit: v[0],
    queued: mapList(v[1], msgIn),
    rx: v[2],
    holders: v[3],
    drops: mapList(v[4], (d) => ({ holder: at(d, 0), refs: at(d, 1), seq: at(d, 2) })),
    once: v[5],
    nsNotify: refIn(v[6]),
    pdNotify: refIn(v[7]),
  };
}

function itemIn(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  const t = named(ITEMS, v[0]);
  if (t === 'p') return { t, r: refIn(v[1]) };
  const item: Record<string, unknown> = { t, d: t === 'o' ? tailIn(v[1]) : v[1] };
  if (v[2] !== undefined && v[2] !== null) item.n = v[2];
  if (v[3] !== undefined && v[3] !== null) item.s = v[3];
  return item;
}

/** Out-of-line data by its index in a tailed frame; each index once. */
function tailIn(i: unknown): unknown {
  if (typeof i !== 'number') return i; // inline bytes (an untailed frame), or junk for the check
  const d = tailsIn[i];
  if (!Number.isInteger(i) || d === undefined || d === null)
    throw new NetmsgFormatError('ool', `out-of-line data ${i} is missing or used twice`);
  tailsIn[i] = null;
  return d;
}

function msgIn(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  return { id: v[0], dest: named(DESTS, v[1]), reply: refIn(v[2]), body: mapList(v[3], itemIn) };
}

function bodyIn(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  const k = named(BODY_KINDS, v[0]);
  const out: Record<string, unknown> = { k };
  // Own keys only: a kind such as "constructor" must reach the check, not Object.prototype.
  const fields = Object.hasOwn(BODY_FIELDS, k as string) ? BODY_FIELDS[k as NetBody['k']] : [];
  fields.forEach((f, i) => {
    const x = v[i + 1];
    out[f] = f === 'msg' ? msgIn(x) : f === 'port' ? refIn(x) : x;
  });
  return out;
}

function frameIn(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  const k = named(FRAME_KINDS, v[1]);
  const f: Record<string, unknown> = { v: v[0], k, src: v[2], dst: v[3], se: v[4], de: v[5] };
  if (k === 'data') {
    f.ss = v[6];
    f.seq = v[7];
    f.body = bodyIn(v[8]);
    if (v[9] !== undefined) f.ack = { e: at(v[9], 0), s: at(v[9], 1), n: at(v[9], 2) };
  } else if (k === 'ack') {
    f.ds = v[6];
    f.n = v[7];
  } else {
    f.ds = v[6];
  }
  return f;
}

/** Decodes and checks a payload from the network; throws NetmsgFormatError if it is not a frame. */
export function decodeFrame(payload: unknown): NetFrame {
  if (!(payload instanceof Uint8Array))
    throw new NetmsgFormatError('payload', 'must be the bytes of an encoded frame');
  if (payload[0] === TAILED) return decodeTailed(payload);
  return parseFrame(frameIn(decodeBytes(payload)));
}

function decodeBytes(bytes: Uint8Array): unknown {
  try {
    return decoder.decode(bytes);
  } catch (e) {
    throw new NetmsgFormatError('payload', `does not decode: ${(e as Error).message}`);
  }
}

function decodeTailed(payload: Uint8Array): NetFrame {
  const bad = (detail: string) => new NetmsgFormatError('payload', detail);
  if (payload.length < TAILED_HEADER) throw bad('is cut short in its header');
  const headLength = new DataView(payload.buffer, payload.byteOffset).getUint32(1, true);
  const headEnd = TAILED_HEADER + headLength;
  if (headEnd > payload.length) throw bad(`head of ${headLength} bytes overruns the payload`);
  const head = decodeBytes(payload.subarray(TAILED_HEADER, headEnd));
  const lengths = at(head, 1);
  if (!Array.isArray(head) || head.length !== 2 || !Array.isArray(lengths))
    throw bad('head must be [frame, lengths of out-of-line data]');
  const tails: Uint8Array[] = [];
  let offset = align(headEnd);
  for (const n of lengths) {
    if (!Number.isSafeInteger(n) || n < 0 || offset + n > payload.length)
      throw bad(`out-of-line length ${String(n)} overruns the payload`);
    tails.push(payload.subarray(offset, offset + n));
    offset += align(n);
  }
  if (offset !== payload.length) throw bad(`${payload.length - offset} bytes after the data`);
  tailsIn = tails;
  try {
    const raw = frameIn(head[0]);
    if (tailsIn.some((t) => t !== null))
      throw new NetmsgFormatError('ool', 'out-of-line data that no item refers to');
    return parseFrame(raw);
  } finally {
    tailsIn = [];
  }
}
