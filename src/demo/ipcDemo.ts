import { checkIpcInvariants } from '../actors/invariants.ts';
import { Cluster } from '../cluster.ts';
import { MachError } from '../protocol/errors.ts';
import type { Reply } from '../protocol/requestReply.ts';
import { Disposition, PortRight } from '../protocol/rights.ts';
import { blockingCall, startClient, startServer } from '../servers/requestReply.ts';
import { type TraceEvent, traceDigest } from '../world/trace.ts';

/**
 * The end-to-end IPC scenario: a key-value server written as an XState machine on the Pentium,
 * one client drained as an actor mailbox, one as a blocked receiver, a malformed request, and the
 * server's exit on its no-senders notification. Returns what happened, for the CLI and tests.
 */
export interface IpcDemoResult {
  readonly seed: number;
  readonly replies: { readonly client: string; readonly request: unknown; readonly reply: Reply }[];
  readonly serverState: string;
  readonly served: number;
  readonly rejected: number;
  readonly refused: string[];
  readonly invariantViolations: string[];
  readonly trace: TraceEvent[];
  readonly digest: string;
  readonly endMs: number;
}

export function runIpcDemo(seed = 1): IpcDemoResult {
  const cluster = Cluster.paper(seed);
  const { world } = cluster;
  const ipc = cluster.host('pentium').ipc;
  const recording = world.trace.record();
  const store = new Map<string, number>();
  const handle = (req: unknown): unknown => {
    const r = req as { op?: string; key?: string; value?: number };
    switch (r?.op) {
      case 'put':
        store.set(String(r.key), Number(r.value));
        return store.size;
      case 'get':
        if (!store.has(String(r.key))) throw new Error(`no key "${String(r.key)}"`);
        return store.get(String(r.key));
      case 'sum':
        return [...store.values()].reduce((a, b) => a + b, 0);
      default:
        throw new Error(`unknown op "${String(r?.op)}"`);
    }
  };
  const serverSpace = ipc.createSpace('kv-server');
  const server = startServer(ipc, serverSpace, handle, 'kv');
  const a = ipc.createSpace('client-a');
  const b = ipc.createSpace('client-b');
  ipc.insertRight(a, 0x200, serverSpace, server.port, Disposition.MAKE_SEND);
  ipc.insertRight(b, 0x200, serverSpace, server.port, Disposition.MAKE_SEND);

  const replies: IpcDemoResult['replies'] = [];
  const puts = [1, 2, 3, 4].map((i) => ({
    op: 'put',
    key: `k${i}`,
    value: i * 10 + world.random.int(0, 9),
  }));
  const clientA = startClient(ipc, a, 0x200, [...puts, { op: 'frobnicate' }], 50);
  clientA.subscribe((s) => {
    if (s.status === 'done') {
      s.context.replies.forEach((reply, i) => {
        replies.push({ client: 'client-a', request: s.context.requests[i], reply });
      });
    }
  });

  // client-b: a "thread" that blocks in receive; it thinks 1 to 5 ms (drawn from the seed) between calls.
  const replyB = ipc.allocate(b, PortRight.RECEIVE, 'client-b.reply');
  const gets: unknown[] = [{ op: 'get', key: 'k1' }, { op: 'get', key: 'k9' }, { op: 'sum' }];
  const next = (i: number) => {
    if (i === gets.length) {
      ipc.deallocate(b, 0x200);
      return;
    }
    blockingCall(ipc, b, 0x200, replyB, gets[i], 50, (reply) => {
      replies.push({ client: 'client-b', request: gets[i], reply });
      world.schedule(world.random.int(1, 5), () => next(i + 1), 'client-b.think');
    });
  };
  world.schedule(0.5, () => next(0), 'client-b.start');
  // A malformed message: no reply right, garbage body. The server rejects it and carries on.
  world.schedule(
    0.2,
    () =>
      ipc.send(b, {
        remotePort: 0x200,
        remoteDisposition: Disposition.COPY_SEND,
        id: 4242,
        body: [{ type: 'inline', data: new Uint8Array([0xc1]) }],
      }),
    'client-b.garbage',
  );

  // A send on a name client-b does not hold: refused with a typed error, nothing changes.
  const refused: string[] = [];
  world.schedule(
    0.3,
    () => {
      try {
        ipc.send(b, { remotePort: 0x999, remoteDisposition: Disposition.COPY_SEND, id: 1 });
      } catch (e) {
        refused.push(e instanceof MachError ? e.message : String(e));
      }
    },
    'client-b.bad-name',
  );

  world.runUntilIdle({ until: 10_000 });
  recording.stop();
  const snap = server.actor.getSnapshot();
  return {
    seed,
    replies,
    serverState: String(snap.value),
    served: snap.context.served,
    rejected: snap.context.rejected,
    refused,
    invariantViolations: checkIpcInvariants(ipc),
    trace: recording.events,
    digest: traceDigest(recording.events),
    endMs: world.now(),
  };
}
