/**
 * Acknowledgements ahead of bulk data: an ack a netmsg server owes rides on its next data frame to
 * the peer (piggybacking), but when that frame takes longer on the wire than the ack delay
 * (config.ackDelayMs, 0.2 ms), the ack also goes on its own just ahead of it. Otherwise the peer,
 * waiting for an ack queued behind a megabyte of pages, times out and retransmits for nothing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../src/cluster.ts';
import { assemble } from '../src/cpu/assembler.ts';
import { spawn } from '../src/kernel/loader.ts';
import { suspendTask } from '../src/kernel/taskOps.ts';
import { DEFAULT_NETMSG_CONFIG } from '../src/netmsg/config.ts';
import { decodeFrame } from '../src/netmsg/frameCodec.ts';
import { netmsgTestbed, receiveAll } from '../src/netmsg/testbed.ts';
import { dataOf, inlineData } from '../src/protocol/codec.ts';
import type { ReceivedMessage } from '../src/protocol/message.ts';
import type { DataFrame, NetFrame } from '../src/protocol/netmsg.ts';
import { Disposition, PortRight } from '../src/protocol/rights.ts';
import type { Network } from '../src/world/network.ts';
import {
  HOST_PROFILES,
  LINK_PROFILES,
  type LinkProfile,
  wireTimeMs,
} from '../src/world/profiles.ts';
import { exampleIncluder, exampleSource } from './support/kernelFixtures.ts';

const ACK_DELAY = DEFAULT_NETMSG_CONFIG.ackDelayMs;
/** One-way time of a frame of `bytes`, as the sender estimates it. */
/** Time to put `bytes` on the link (latency excluded: it delays the ack as much as the frame). */
const onWireMs = (link: LinkProfile, bytes: number) =>
  wireTimeMs(link, bytes) - wireTimeMs(link, 0);

interface WireFrame {
  readonly time: number;
  readonly from: string;
  readonly to: string;
  readonly bytes: number;
  readonly frame: NetFrame;
}

/** Every frame put on the network from now on, decoded, with the time it left. */
function wireLog(network: Network, now: () => number): WireFrame[] {
  const frames: WireFrame[] = [];
  const send = network.send.bind(network);
  network.send = (from, to, payload, bytes) => {
    frames.push({ time: now(), from, to, bytes, frame: decodeFrame(payload) });
    return send(from, to, payload, bytes);
  };
  return frames;
}

/**
 * examples/bigmem.s with `sizeMiB` MiB, run on 'src' until it has written every page, suspended,
 * then migrated eagerly to 'dst' on gigabit Ethernet (as src/bench/wallBench.ts does).
 */
function eagerMigration(sizeMiB: number) {
  const image = assemble(exampleSource('bigmem.s'), {
    include: exampleIncluder,
    defines: { SIZE: sizeMiB * 1024 * 1024 },
  });
  const cluster = new Cluster({
    seed: 1,
    link: LINK_PROFILES.gigabit,
    hosts: { src: HOST_PROFILES.modern, dst: HOST_PROFILES.modern },
  });
  void cluster.netmsg;
  const task = spawn(cluster.host('src'), image, 'bigmem');
  cluster.world.runUntil(() => task.outputText.includes(`wrote ${sizeMiB} MiB`) || !!task.exit);
  expect(task.exit).toBeNull();
  suspendTask(task);
  const wire = wireLog(cluster.network, () => cluster.world.now());
  const m = cluster.migrate(task, 'dst', { strategy: 'eager', batchPages: 256 });
  cluster.world.runUntil(() => m.result() !== null);
  const stats = (h: string) => cluster.netmsg.server(h).stats;
  return { result: m.result()!, wire, src: stats('src'), dst: stats('dst') };
}

describe('an eager migration of 4 MiB on gigabit Ethernet', () => {
  let run: ReturnType<typeof eagerMigration>;
  beforeAll(() => {
    run = eagerMigration(4);
  });

  it('commits, moving every page', () => {
    expect(run.result.outcome, run.result.reason ?? '').toBe('committed');
    expect(run.result.pagesMoved).toBeGreaterThanOrEqual(1024);
  });

  it('sends each new ack that rides on a long frame also on its own, just ahead of it', () => {
    const carriers = run.wire.filter((w) => w.frame.k === 'data' && w.frame.ack !== undefined);
    const long = carriers.filter((w) => onWireMs(LINK_PROFILES.gigabit, w.bytes) > ACK_DELAY);
    // The PAGES batches (1 MiB each) carry the acks owed for the previous batch's reply.
    expect(long.filter((w) => w.from === 'src').length).toBeGreaterThanOrEqual(4);
    // The last ack each sender put on the wire (alone or riding): only a newer one goes ahead.
    const last = new Map<string, string>();
    const key = (e: number, s: number, n: number) => `${e}:${s}:${n}`;
    let aheadCount = 0;
    for (const [i, w] of run.wire.entries()) {
      const f = w.frame;
      if (f.k === 'ack') last.set(w.from, key(f.de, f.ds, f.n));
      if (f.k !== 'data' || f.ack === undefined) continue;
      const before = run.wire[i - 1]!;
      const ahead =
        before.frame.k === 'ack' &&
        before.frame.n === f.ack.n &&
        before.from === w.from &&
        before.time === w.time;
      const previous = ahead ? undefined : last.get(w.from);
      const fresh = previous !== key(f.ack.e, f.ack.s, f.ack.n);
      expect(ahead, `ack ahead of a ${w.bytes}-byte frame`).toBe(long.includes(w) && fresh);
      if (ahead) aheadCount++;
      last.set(w.from, key(f.ack.e, f.ack.s, f.ack.n));
    }
    // Every batch after the first goes out with a new ack owed (the reply to the one before).
    expect(aheadCount).toBeGreaterThanOrEqual(3);
  });

  it('leaves the destination almost nothing to retransmit', () => {
    // Without the ack ahead, each PAGES reply waited for its ack behind the next 1 MiB batch
    // and was sent again (8 retransmissions for these 4 MiB).
    expect(run.dst.retransmits).toBeLessThanOrEqual(3);
    expect(run.src.retransmits).toBe(0);
  });
});

/**
 * One request/reply between a client on a and a server on b, on 10 Mbit/s Ethernet: the server
 * replies (with `replyBytes` of data) at the moment the request arrives, within the ack delay.
 */
function roundTrip(replyBytes: number) {
  const tb = netmsgTestbed(['a', 'b'], { link: LINK_PROFILES.ethernet10 });
  const a = tb.host('a');
  const b = tb.host('b');
  const server = b.space('server');
  const port = b.ipc.allocate(server, PortRight.RECEIVE, 'svc');
  const client = a.space('client');
  const replyPort = a.ipc.allocate(client, PortRight.RECEIVE, 'reply');
  const dest = tb.connect('b', server, port, 'a', client);
  tb.run();
  const acks0 = { a: a.netmsg.stats.acksSent, b: b.netmsg.stats.acksSent };
  const wire = wireLog(tb.network, () => tb.world.now());
  a.ipc.send(client, {
    remotePort: dest,
    remoteDisposition: Disposition.COPY_SEND,
    localPort: replyPort,
    localDisposition: Disposition.MAKE_SEND_ONCE,
    id: 1,
  });
  const requests: ReceivedMessage[] = [];
  tb.world.runUntil(() => requests.push(...receiveAll(b.ipc, server, port)) > 0);
  b.ipc.send(server, {
    remotePort: requests[0]!.remotePort,
    remoteDisposition: Disposition.MOVE_SEND_ONCE,
    id: 2,
    body: [inlineData('x'.repeat(replyBytes))],
  });
  tb.run();
  return {
    replies: receiveAll(a.ipc, client, replyPort).map((m) => dataOf<string>(m).length),
    acksSent: { a: a.netmsg.stats.acksSent - acks0.a, b: b.netmsg.stats.acksSent - acks0.b },
    /** The frames of the exchange: 'from>to kind', '+ack' when a data frame carries one. */
    frames: wire.map(
      (w) => `${w.from}>${w.to} ${w.frame.k}${w.frame.k === 'data' && w.frame.ack ? '+ack' : ''}`,
    ),
    wire,
    problems: tb.problems(),
  };
}

describe('a request and its reply on 10 Mbit/s Ethernet', () => {
  it('piggybacks the ack of the request on a short reply: no ack of its own', () => {
    const r = roundTrip(4);
    expect(r.replies).toEqual([4]);
    expect(r.frames).toEqual(['a>b data+ack', 'b>a data+ack', 'a>b ack']);
    const [request, reply] = r.wire;
    expect(onWireMs(LINK_PROFILES.ethernet10, reply!.bytes)).toBeLessThan(ACK_DELAY);
    expect(reply!.frame).toMatchObject({ ack: { n: (request!.frame as DataFrame).seq } });
    // The server sent no ack on its own; the client acked the reply after the ack delay.
    expect(r.acksSent).toEqual({ a: 1, b: 0 });
    expect(r.problems).toEqual([]);
  });

  it('sends the ack ahead of a reply that takes longer on the wire than the ack delay', () => {
    const r = roundTrip(2000);
    expect(r.replies).toEqual([2000]);
    const reply = r.wire.find((w) => w.from === 'b' && w.frame.k === 'data')!;
    expect(onWireMs(LINK_PROFILES.ethernet10, reply.bytes)).toBeGreaterThan(ACK_DELAY);
    expect(r.frames).toEqual(['a>b data+ack', 'b>a ack', 'b>a data+ack', 'a>b ack']);
    expect(r.wire[1]!.time).toBe(reply.time);
    expect(r.acksSent).toEqual({ a: 1, b: 1 });
    expect(r.problems).toEqual([]);
  });
});
