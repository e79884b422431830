import { IpcKernel } from '../actors/ipcKernel.ts';
import { netmsgTestbed, receiveAll } from '../netmsg/testbed.ts';
import { encodeData } from '../protocol/codec.ts';
import { HEADER_BYTES, inlineItemBytes, type MachMessage } from '../protocol/message.ts';
import type { Reply } from '../protocol/requestReply.ts';
import { Disposition, PortRight } from '../protocol/rights.ts';
import { blockingCall, startServer } from '../servers/requestReply.ts';
import { LINK_PROFILES, wireTimeMs } from '../world/profiles.ts';
import { World } from '../world/world.ts';
import { type BenchResult, opsPerSecond, ratioResult } from './measure.ts';

const PAYLOAD = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
const BATCH = 16;

function message(dest: number): MachMessage {
  return {
    remotePort: dest,
    remoteDisposition: Disposition.COPY_SEND,
    id: 1,
    body: [{ type: 'inline', data: PAYLOAD }],
  };
}

/**
 * Messages per second of wall time from a task on one host to a port on another: through the
 * sender's proxy, both netmsg servers, the reliable transport and the simulated network.
 */
function crossHostThroughput(): number {
  const tb = netmsgTestbed(['a', 'b']);
  const a = tb.host('a');
  const b = tb.host('b');
  const receiver = b.space('receiver');
  const port = b.ipc.allocate(receiver, PortRight.RECEIVE, 'bench');
  b.ipc.setQlimit(receiver, port, BATCH);
  const sender = a.space('sender');
  const dest = tb.connect('b', receiver, port, 'a', sender);
  const m = message(dest);
  let received = 0;
  return opsPerSecond((n) => {
    for (let i = 0; i < n; i += BATCH) {
      for (let j = 0; j < BATCH; j++) a.ipc.send(sender, m, { timeout: 0 });
      const want = received + BATCH;
      tb.world.runUntil(() => {
        received += receiveAll(b.ipc, receiver, port).length;
        return received >= want;
      });
    }
  });
}

/** The same messages through one port on one host (the ipc.port figure). */
function localPortThroughput(): number {
  const k = new IpcKernel(new World(1), 'bench');
  const sender = k.createSpace('sender');
  const receiver = k.createSpace('receiver');
  const port = k.allocate(receiver, PortRight.RECEIVE, 'bench');
  k.setQlimit(receiver, port, BATCH);
  k.insertRight(sender, 0x500, receiver, port, Disposition.MAKE_SEND);
  const m = message(0x500);
  let sum = 0;
  return (
    opsPerSecond((n) => {
      for (let i = 0; i < n; i += BATCH) {
        for (let j = 0; j < BATCH; j++) k.send(sender, m, { timeout: 0 });
        for (let j = 0; j < BATCH; j++) sum += k.receive(receiver, port)!.seqno;
      }
    }) +
    (sum & 0)
  );
}

/** msgh_size of a message carrying `value` as its one inline item (mach_msg's size). */
function inlineMessageBytes(value: unknown): number {
  return HEADER_BYTES + inlineItemBytes(encodeData(value).length);
}

/**
 * Virtual time of a cross-host request/reply on 10 Mbit/s Ethernet, against the least the link
 * allows for the same two Mach messages (each one's bytes on the wire plus one latency).
 */
function rpcVsWire(): { oursMs: number; minimumMs: number } {
  const link = LINK_PROFILES.ethernet10;
  const tb = netmsgTestbed(['a', 'b'], { link });
  const a = tb.host('a');
  const b = tb.host('b');
  const serverSpace = b.space('server');
  const server = startServer(b.ipc, serverSpace, (req) => req);
  const client = a.space('client');
  const dest = tb.connect('b', serverSpace, server.port, 'a', client);
  const replyPort = a.ipc.allocate(client, PortRight.RECEIVE, 'reply');
  const request = { op: 'ping', n: 1 };
  const call = (): number => {
    const t0 = tb.world.now();
    let done: Reply | null = null;
    blockingCall(a.ipc, client, dest, replyPort, request, 1000, (r) => {
      done = r;
    });
    tb.world.runUntil(() => done !== null);
    return tb.world.now() - t0;
  };
  call(); // warm-up: the first call sets up proxies and references
  const rounds = 20;
  let total = 0;
  for (let i = 0; i < rounds; i++) total += call();
  const requestBytes = inlineMessageBytes(request);
  const replyBytes = inlineMessageBytes({ ok: true, result: request } satisfies Reply);
  const minimumMs =
    wireTimeMs(link, requestBytes) + link.latencyMs + wireTimeMs(link, replyBytes) + link.latencyMs;
  return { oursMs: total / rounds, minimumMs };
}

export function netmsgBenchmarks(): BenchResult[] {
  const ours = crossHostThroughput();
  const base = localPortThroughput();
  const rpc = rpcVsWire();
  return [
    ratioResult(
      'netmsg.msgs_per_s',
      'msgs/s',
      ours,
      'ipc.port',
      base,
      'cross-host messages through both netmsg servers vs one local port',
    ),
    {
      name: 'netmsg.rpc_vs_wire',
      value: rpc.oursMs,
      unit: 'ms (virtual)',
      baseline: { name: 'ethernet10_wire_minimum', value: rpc.minimumMs },
      ratio: rpc.minimumMs / rpc.oursMs,
      note: 'ratio = minimum / ours; 1.0 means no overhead beyond the wire',
    },
  ];
}
