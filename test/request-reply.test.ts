import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { Cluster } from '../src/cluster.ts';
import { requestReplyClient } from '../src/machines/requestReplyClient.ts';
import { inlineData } from '../src/protocol/codec.ts';
import { Disposition, PortRight, PortType } from '../src/protocol/rights.ts';
import { blockingCall, startClient, startServer } from '../src/servers/requestReply.ts';

function setup() {
  const cluster = Cluster.paper(7);
  const ipc = cluster.host('pentium').ipc;
  const serverSpace = ipc.createSpace('server');
  const server = startServer(ipc, serverSpace, (req) => {
    const r = req as { n: number };
    if (typeof r?.n !== 'number') throw new Error('n must be a number');
    return r.n * 2;
  });
  const client = ipc.createSpace('client');
  ipc.insertRight(client, 0x10, serverSpace, server.port, Disposition.MAKE_SEND);
  return { cluster, ipc, serverSpace, server, client };
}

describe('the request/reply server statechart', () => {
  it('serves requests from a mailbox drained as events, one reply per request', () => {
    const { cluster, ipc, client } = setup();
    const actor = startClient(ipc, client, 0x10, [{ n: 1 }, { n: 2 }, { n: 'x' }]);
    cluster.world.runUntilIdle();
    const s = actor.getSnapshot();
    expect(s.value).toBe('done');
    expect(s.context.replies).toEqual([
      { ok: true, result: 2 },
      { ok: true, result: 4 },
      { ok: false, error: 'n must be a number' },
    ]);
  });

  it('serves a blocked receiver the same way', () => {
    const { cluster, ipc, client } = setup();
    const replyPort = ipc.allocate(client, PortRight.RECEIVE, 'reply');
    const got: unknown[] = [];
    blockingCall(ipc, client, 0x10, replyPort, { n: 21 }, 10, (r) => got.push(r));
    expect(got).toEqual([]); // blocked until the server runs
    cluster.world.runUntilIdle();
    expect(got).toEqual([{ ok: true, result: 42 }]);
  });

  it('rejects a malformed request with an error reply and counts it', () => {
    const { cluster, ipc, client, server } = setup();
    const replyPort = ipc.allocate(client, PortRight.RECEIVE, 'reply');
    ipc.send(client, {
      remotePort: 0x10,
      remoteDisposition: Disposition.COPY_SEND,
      localPort: replyPort,
      localDisposition: Disposition.MAKE_SEND_ONCE,
      id: 999,
      body: [inlineData(1)],
    });
    cluster.world.runUntilIdle();
    const reply = ipc.receive(client, replyPort)!;
    expect(reply.id).toBe(1100);
    expect(server.actor.getSnapshot().context.rejected).toBe(1);
    expect(server.actor.getSnapshot().value).toBe('serving');
  });

  it('closes its port when the last send right goes (no-senders), leaving clients a dead name', () => {
    const { cluster, ipc, client, server, serverSpace } = setup();
    const other = ipc.createSpace('other');
    ipc.insertRight(other, 0x20, client, 0x10, Disposition.COPY_SEND);
    ipc.deallocate(client, 0x10);
    cluster.world.runUntilIdle();
    expect(server.actor.getSnapshot().value).toBe('serving'); // "other" still holds a send right
    ipc.deallocate(other, 0x20);
    cluster.world.runUntilIdle();
    expect(server.actor.getSnapshot().value).toBe('closed');
    expect(serverSpace.entries.size).toBe(0);
  });

  it('times a client out on the virtual clock when no reply comes', () => {
    const cluster = Cluster.paper(1);
    const ipc = cluster.host('pentium').ipc;
    const silent = ipc.createSpace('silent');
    const port = ipc.allocate(silent, PortRight.RECEIVE, 'silent');
    const client = ipc.createSpace('client');
    ipc.insertRight(client, 0x10, silent, port, Disposition.MAKE_SEND);
    const actor = startClient(ipc, client, 0x10, [{ n: 1 }], 25);
    cluster.world.runUntilIdle();
    expect(actor.getSnapshot().value).toBe('failed');
    expect(cluster.world.now()).toBe(25);
    // The client released its right and its reply port; the unanswered request keeps the reply right.
    expect(ipc.type(silent, port) & PortType.RECEIVE).toBeTruthy();
  });

  it('is a plain machine: a test can drive it through its own io', () => {
    const calls: unknown[] = [];
    const actor = createActor(requestReplyClient, {
      input: {
        io: { call: (r) => calls.push(r), release: () => calls.push('released') },
        requests: ['a'],
        timeoutMs: 5,
      },
    }).start();
    expect(calls).toEqual(['a']);
    expect(actor.getSnapshot().value).toBe('awaitingReply');
  });
});
