/**
 * Tailed frames: a netmsg frame that carries out-of-line data puts that data after the MessagePack
 * head, so it is copied onto the wire once:
 *
 *   0xc1 | head length (u32 LE) | head = MessagePack [frame, [lengths]] | data 0 | data 1 | ...
 *
 * each data starting at a multiple of 8 (zero padding), so a page of it can serve as a page frame
 * at the receiver. A payload that breaks this layout is refused with a NetmsgFormatError.
 */
import { decode, encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame } from '../src/netmsg/frameCodec.ts';
import { netmsgTestbed, receiveAll } from '../src/netmsg/testbed.ts';
import type { OolItem } from '../src/protocol/message.ts';
import {
  type NetFrame,
  type NetItem,
  type NetMessage,
  NetmsgFormatError,
} from '../src/protocol/netmsg.ts';
import { Disposition, PortRight } from '../src/protocol/rights.ts';

const align = (n: number) => (n + 7) & ~7;
/** `n` bytes that differ from position to position (and from other calls by `seed`). */
const bytes = (n: number, seed = 1) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 255);
const ool = (d: Uint8Array): NetItem => ({ t: 'o', d });
const msg = (body: NetItem[]): NetMessage => ({ id: 7, dest: 'send', reply: null, body });
const NID = 'AAAAAAAAAAAAAAAAAAAAA';

/** An ipc data frame from a to b carrying `body`. */
const ipcFrame = (body: NetItem[]): NetFrame => ({
  ...({ v: 1, k: 'data', src: 'a', dst: 'b', se: 1, de: 0, ss: 1, seq: 1 } as const),
  body: { k: 'ipc', nid: NID, origin: 'a', oseq: 1, hops: 0, msg: msg(body) },
});

/** The out-of-line data of a decoded ipc frame, in body order. */
function oolOf(f: NetFrame): Uint8Array[] {
  if (f.k !== 'data' || f.body.k !== 'ipc') throw new Error('not an ipc frame');
  return f.body.msg.body.flatMap((it) => (it.t === 'o' ? [it.d] : []));
}

const headLength = (p: Uint8Array) => new DataView(p.buffer, p.byteOffset).getUint32(1, true);
/** The head of a tailed payload, decoded: [positional frame, lengths]. */
const headOf = (p: Uint8Array) => decode(p.subarray(5, 5 + headLength(p))) as [unknown[], number[]];

/** A tailed payload built by hand from a head value and the data after it. */
function tailed(head: unknown, data: Uint8Array[]): Uint8Array {
  const h = encode(head);
  let total = align(5 + h.length);
  for (const d of data) total += align(d.length);
  const out = new Uint8Array(total);
  out[0] = 0xc1;
  new DataView(out.buffer).setUint32(1, h.length, true);
  out.set(h, 5);
  let at = align(5 + h.length);
  for (const d of data) {
    out.set(d, at);
    at += align(d.length);
  }
  return out;
}

/** The decode error of `payload`, which must be a NetmsgFormatError. */
function refusal(payload: Uint8Array): NetmsgFormatError {
  try {
    decodeFrame(payload);
  } catch (e) {
    expect(e).toBeInstanceOf(NetmsgFormatError);
    return e as NetmsgFormatError;
  }
  throw new Error('the payload was accepted');
}

/** A port on host a, and a send right to it on host b; `send` and `received` move OOL data. */
function pair() {
  const tb = netmsgTestbed(['a', 'b']);
  const a = tb.host('a');
  const owner = a.space('owner');
  const port = a.ipc.allocate(owner, PortRight.RECEIVE, 'svc');
  const b = tb.host('b');
  const user = b.space('user');
  const dest = tb.connect('a', owner, port, 'b', user);
  const send = (data: Uint8Array[]) => {
    const body = data.map((d): OolItem => ({ type: 'ool', data: d }));
    b.ipc.send(user, { remotePort: dest, remoteDisposition: Disposition.COPY_SEND, id: 3, body });
    tb.run();
  };
  const received = () =>
    receiveAll(a.ipc, owner, port).map((m) => m.body.map((it) => it.type === 'ool' && it.data));
  return { tb, a, send, received };
}

describe('encoding out-of-line data after the head', () => {
  it('leaves a frame without out-of-line data plain MessagePack', () => {
    const f = ipcFrame([{ t: 'i', d: bytes(40) }]);
    const p = encodeFrame(f);
    expect(p[0]).not.toBe(0xc1);
    expect(Array.isArray(decode(p))).toBe(true);
    expect(decodeFrame(p)).toEqual(f);
  });

  it.each([
    ['one item of 1 byte', [1]],
    ['one page', [4096]],
    ['several items of odd lengths', [1, 4096, 5000, 3]],
  ])('gives back the same bytes for %s', (_, lengths) => {
    const data = lengths.map((n, i) => bytes(n, i + 1));
    const f = ipcFrame([{ t: 'i', d: bytes(5) }, ...data.map(ool), { t: 'p', r: null }]);
    const p = encodeFrame(f);
    expect(p[0]).toBe(0xc1);
    const back = decodeFrame(p);
    expect(back).toEqual(f);
    expect(oolOf(back)).toEqual(data);
  });

  it('lays out head and data as documented: aligned data, zero padding, exact length', () => {
    const data = [bytes(1), bytes(4096, 2), bytes(5000, 3)];
    const p = encodeFrame(ipcFrame(data.map(ool)));
    const h = headLength(p);
    expect(headOf(p)[1]).toEqual([1, 4096, 5000]);
    expect(p.length).toBe(align(5 + h) + align(1) + align(4096) + align(5000));
    let at = align(5 + h);
    expect(p.subarray(5 + h, at).every((b) => b === 0)).toBe(true);
    for (const d of data) {
      expect(p.subarray(at, at + d.length)).toEqual(d);
      expect(p.subarray(at + d.length, at + align(d.length)).every((b) => b === 0)).toBe(true);
      at += align(d.length);
    }
  });

  it('hands the receiver 8-byte aligned views of the payload, not copies', () => {
    const p = encodeFrame(ipcFrame([1, 4096, 5000, 3].map((n) => ool(bytes(n)))));
    for (const d of oolOf(decodeFrame(p))) {
      expect(d.byteOffset % 8).toBe(0);
      expect(d.buffer).toBe(p.buffer);
    }
  });

  it('copies the data once, at encoding: later writes to the source do not travel', () => {
    const src = bytes(4096);
    const before = src.slice();
    const p = encodeFrame(ipcFrame([ool(src)]));
    src.fill(0xee);
    expect(oolOf(decodeFrame(p))).toEqual([before]);
  });

  it('tails the data of messages queued on a receive right that moves', () => {
    const queued = msg([ool(bytes(4097)), ool(bytes(2, 9))]);
    const none = { rx: [], holders: [], drops: [], once: 0, nsNotify: null, pdNotify: null };
    const state = { qlimit: 5, queued: [queued], ...none };
    const right = { nid: NID, kind: 'receive' as const, home: 'b', gen: 1, via: 'a', state };
    const f = ipcFrame([ool(bytes(10, 3)), { t: 'p', r: right }]);
    const p = encodeFrame(f);
    expect(headOf(p)[1]).toEqual([10, 4097, 2]);
    expect(decodeFrame(p)).toEqual(f);
  });
});

describe('refusing malformed tailed payloads', () => {
  const data = [bytes(100), bytes(30, 2)];
  const valid = () => encodeFrame(ipcFrame(data.map(ool)));
  const shape = () => headOf(valid())[0];
  /** The valid payload rebuilt with other lengths (and data). */
  const withLengths = (lengths: number[], tails = data) => tailed([shape(), lengths], tails);
  /** The valid payload rebuilt with its two out-of-line items naming data `i` and `j`. */
  const withIndexes = (i: number, j: number) => {
    const f = shape();
    const items = ((f[8] as unknown[])[5] as unknown[])[3] as [number, number][];
    items[0]![1] = i;
    items[1]![1] = j;
    return tailed([f, [100, 30]], data);
  };
  const headOverrun = () => {
    const p = valid();
    new DataView(p.buffer).setUint32(1, p.length, true);
    return p;
  };
  const trailing = () => {
    const p = valid();
    const out = new Uint8Array(p.length + 8);
    out.set(p);
    return out;
  };

  it('accepts the hand-built form of a valid payload', () => {
    expect(withLengths([100, 30])).toEqual(valid());
  });

  const cases: [string, string, RegExp, () => Uint8Array][] = [
    ['cut short in its header', 'payload', /cut short/, () => Uint8Array.of(0xc1, 4, 0)],
    ['a head overrunning the payload', 'payload', /head of \d+ bytes overruns/, headOverrun],
    ['a head that is not [frame, lengths]', 'payload', /head must be/, () => tailed({}, [])],
    ['lengths overrunning the payload', 'payload', /4096 overruns/, () => withLengths([100, 4096])],
    ['a negative length', 'payload', /length -1 overruns/, () => withLengths([100, -1])],
    ['bytes left after the data', 'payload', /8 bytes after the data/, trailing],
    ['an out-of-line index with no data', 'ool', /data 2 is missing/, () => withIndexes(0, 2)],
    [
      'an out-of-line index used twice',
      'ool',
      /1 is missing or used twice/,
      () => withIndexes(1, 1),
    ],
    [
      'data that no item refers to',
      'ool',
      /no item refers to/,
      () => withLengths([100, 30, 5], [...data, bytes(5)]),
    ],
  ];

  it.each(['constructor', '__proto__', 'hasOwnProperty'])(
    'refuses a body kind named like an Object property (%s) as a bad kind, not a crash',
    (kind) => {
      const f = shape();
      (f[8] as unknown[])[0] = kind;
      const e = refusal(encode(f));
      expect(e.field).toMatch(/\.k$/);
    },
  );

  it.each(cases)('refuses %s (NetmsgFormatError on %s)', (_, field, detail, make) => {
    const e = refusal(make());
    expect(e.field).toBe(field);
    expect(e.detail).toMatch(detail);
  });

  it('is counted and refused by a host that receives one, which carries on', () => {
    const s = pair();
    s.tb.network.send('b', 'a', withIndexes(1, 1), 200);
    s.tb.run();
    expect(s.a.netmsg.stats.rejected.malformed).toBe(1);
    const sent = [bytes(3)];
    s.send(sent);
    expect(s.received()).toEqual([sent]);
    expect(s.tb.problems()).toEqual([]);
  });
});

describe('out-of-line data through netmsg', () => {
  it('arrives on the other host with the bytes that were sent', () => {
    const s = pair();
    const sent = [bytes(1), bytes(4096, 2), bytes(5000, 3)];
    s.send(sent);
    expect(s.received()).toEqual([sent]);
    expect(s.tb.problems()).toEqual([]);
  });
});
