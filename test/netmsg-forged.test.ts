/**
 * Bad input from the network: malformed or forged frames are rejected, counted and traced, and
 * change nothing (mach-network-server.txt 3.1: network port identifiers carry the secret that
 * keeps Mach's capabilities safe on the network; 5.1: the dispatcher checks every header). A
 * host "mallory" writes raw frames onto the wire; host a must stay exactly as it was.
 */
import { Encoder } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../src/netmsg/frameCodec.ts';
import type { RejectReason } from '../src/netmsg/stats.ts';
import { netmsgTestbed, receiveAll } from '../src/netmsg/testbed.ts';
import { dataOf, inlineData } from '../src/protocol/codec.ts';
import type { NetBody, NetFrame, NetMessage, NetRight } from '../src/protocol/netmsg.ts';
import { Disposition, PortRight } from '../src/protocol/rights.ts';

function setup() {
  const tb = netmsgTestbed(['a', 'b', 'mallory']);
  const a = tb.host('a');
  const owner = a.space('owner');
  const port = a.ipc.allocate(owner, PortRight.RECEIVE, 'svc');
  const user = tb.host('b').space('user');
  const toPort = tb.connect('a', owner, port, 'b', user);
  tb.run();
  // Mallory learns the port's network identifier (say, by watching the wire).
  const nid = a.netmsg.networkPortOf(owner, port)!;
  let seq = 0;
  const frame = (body: NetBody): NetFrame => ({
    v: 1,
    k: 'data',
    src: 'mallory',
    dst: 'a',
    se: 1,
    de: 0,
    ss: 7,
    seq: ++seq,
    body,
  });
  const inject = (
    payload: unknown,
    bytes = payload instanceof Uint8Array ? payload.length : 64,
  ) => {
    tb.network.send('mallory', 'a', payload, bytes);
    tb.run();
  };
  return { tb, a, owner, port, user, toPort, nid, frame, inject };
}

/** Everything a forged frame could have touched on a host: its spaces, ports and port records. */
function snapshot(tb: ReturnType<typeof netmsgTestbed>, host: string) {
  const h = tb.host(host);
  return {
    spaces: [...h.ipc.spaces].map((s) => [
      s.label,
      [...s.entries.values()].map((e) => [e.name, e.bits, e.urefs]),
    ]),
    ports: [...h.ipc.ports].map((p) => [p.label, p.msgcount, p.srights, p.sorights, p.mscount]),
    records: h.netmsg.records
      .all()
      .map((r) => [
        r.nid,
        r.home,
        r.dead,
        r.realName,
        r.onceNames.length,
        r.proxies.length,
        [...r.holders],
        r.pendingXfers,
      ]),
  };
}

const msg = (extra: Partial<NetMessage> = {}): NetMessage => ({
  id: 1,
  dest: 'send',
  reply: null,
  body: [],
  ...extra,
});
const right = (nid: string, kind: NetRight['kind'], home = 'a', via = 'mallory'): NetRight => ({
  nid,
  kind,
  home,
  gen: 0,
  via,
});

describe('forged and malformed frames', () => {
  const cases: [string, RejectReason, (s: ReturnType<typeof setup>) => unknown][] = [
    ['a truncated frame', 'undecodable', (s) => encodeFrame(s.frame({ k: 'hello' })).slice(0, 9)],
    ['bytes that are not a frame at all', 'malformed', () => new Encoder().encode([1, 2, 3])],
    ['a payload that is not bytes', 'undecodable', () => ({ k: 'data' })],
    [
      'a frame addressed to another host',
      'wrong-destination',
      (s) => encodeFrame({ ...s.frame({ k: 'hello' }), dst: 'b' }),
    ],
    [
      'a frame claiming another source',
      'spoofed-source',
      (s) => encodeFrame({ ...s.frame({ k: 'hello' }), src: 'b' }),
    ],
    [
      'a message to an unknown network port',
      'unknown-port',
      (s) =>
        encodeFrame(
          s.frame({
            k: 'ipc',
            nid: 'AAAAAAAAAAAAAAAAAAAAA',
            origin: 'mallory',
            oseq: 1,
            hops: 0,
            msg: msg(),
          }),
        ),
    ],
    [
      'a message claiming to come from another origin',
      'spoofed-source',
      (s) =>
        encodeFrame(s.frame({ k: 'ipc', nid: s.nid, origin: 'b', oseq: 1, hops: 0, msg: msg() })),
    ],
    [
      'a send right to a port of a that never existed',
      'unheld-right',
      (s) =>
        encodeFrame(
          s.frame({
            k: 'ipc',
            nid: s.nid,
            origin: 'mallory',
            oseq: 1,
            hops: 0,
            msg: msg({ body: [{ t: 'p', r: right('BBBBBBBBBBBBBBBBBBBBB', 'send') }] }),
          }),
        ),
    ],
    [
      'a send-once message when no send-once right is outstanding',
      'unheld-right',
      (s) =>
        encodeFrame(
          s.frame({
            k: 'ipc',
            nid: s.nid,
            origin: 'mallory',
            oseq: 1,
            hops: 0,
            msg: msg({ dest: 'once' }),
          }),
        ),
    ],
    [
      'the receive right of a port whose receive right is on a',
      'unheld-right',
      (s) =>
        encodeFrame(
          s.frame({
            k: 'ipc',
            nid: s.nid,
            origin: 'mallory',
            oseq: 1,
            hops: 0,
            msg: msg({
              body: [
                {
                  t: 'p',
                  r: {
                    ...right(s.nid, 'receive'),
                    state: {
                      qlimit: 5,
                      queued: [],
                      rx: [],
                      holders: [],
                      drops: [],
                      once: 0,
                      nsNotify: null,
                      pdNotify: null,
                    },
                  },
                },
              ],
            }),
          }),
        ),
    ],
    [
      'a right put on the wire by a host that did not send the message',
      'unheld-right',
      (s) =>
        encodeFrame(
          s.frame({
            k: 'ipc',
            nid: s.nid,
            origin: 'mallory',
            oseq: 1,
            hops: 0,
            msg: msg({ reply: right(s.nid, 'send', 'a', 'b') }),
          }),
        ),
    ],
    [
      'a release of references never held',
      'unheld-right',
      (s) =>
        encodeFrame(
          s.frame({ k: 'ref-drop', nid: s.nid, holder: 'mallory', refs: 3, seq: 0, hops: 0 }),
        ),
    ],
    [
      'an acknowledgement of a reference never asked for',
      'unexpected',
      (s) => encodeFrame(s.frame({ k: 'ref-ack', nid: s.nid, home: 'mallory', gen: 9 })),
    ],
    [
      'a transfer confirmation for no transfer',
      'unexpected',
      (s) => encodeFrame(s.frame({ k: 'xfer-done', nid: s.nid })),
    ],
    [
      'a look-up reply nobody asked for',
      'unexpected',
      (s) => encodeFrame(s.frame({ k: 'lookup-reply', req: 77, port: right(s.nid, 'send') })),
    ],
  ];

  for (const [what, reason, make] of cases) {
    it(`rejects ${what} (${reason}), counts and traces it, and changes nothing`, () => {
      const s = setup();
      const before = snapshot(s.tb, 'a');
      const rec = s.tb.world.trace.record();
      s.inject(make(s));
      rec.stop();
      expect(s.a.netmsg.stats.rejected[reason]).toBe(1);
      const rejects = rec.events.filter((e) => e.kind === 'netmsg.reject');
      expect(rejects).toMatchObject([{ host: 'a', from: 'mallory', reason }]);
      expect(snapshot(s.tb, 'a')).toEqual(before);
      expect(s.tb.problems()).toEqual([]);
    });
  }

  it('names the bad field of a malformed frame', () => {
    const s = setup();
    const rec = s.tb.world.trace.record();
    const bad = s.frame({
      k: 'ipc',
      nid: s.nid,
      origin: 'mallory',
      oseq: 1,
      hops: 0,
      msg: msg({ body: [{ t: 'p', r: { ...right(s.nid, 'send'), kind: 'steal' as 'send' } }] }),
    });
    s.inject(encodeFrame(bad));
    rec.stop();
    const reject = rec.events.find((e) => e.kind === 'netmsg.reject');
    expect(reject).toMatchObject({
      reason: 'malformed',
      detail: expect.stringContaining('frame.body.msg.body[0].r.kind'),
    });
  });

  it('keeps serving honest senders while it refuses forgeries', () => {
    const s = setup();
    for (let i = 0; i < 5; i++)
      s.inject(
        encodeFrame(
          s.frame({
            k: 'ipc',
            nid: 'AAAAAAAAAAAAAAAAAAAAA',
            origin: 'mallory',
            oseq: i + 1,
            hops: 0,
            msg: msg(),
          }),
        ),
      );
    const b = s.tb.host('b');
    b.ipc.send(s.user, {
      remotePort: s.toPort,
      remoteDisposition: Disposition.COPY_SEND,
      id: 2,
      body: [inlineData('honest')],
    });
    s.tb.run();
    expect(receiveAll(s.a.ipc, s.owner, s.port).map((m) => dataOf(m))).toEqual(['honest']);
    expect(s.a.netmsg.stats.rejected['unknown-port']).toBe(5);
  });
});
