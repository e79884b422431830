/**
 * The network name service (mach-network-server.txt 12, netname_check_in / netname_look_up /
 * netname_check_out; 2.2 lists the three scopes: here, one named host, every host). It is
 * the first step of a migration: the client asks its own server for the migration server's port
 * on the chosen host. Both faces are specified: the TypeScript API and messages to the server's
 * service port.
 */
import { describe, expect, it } from 'vitest';
import type { LookupResult } from '../src/netmsg/lookups.ts';
import { netmsgTestbed, receiveAll } from '../src/netmsg/testbed.ts';
import { dataOf, inlineData } from '../src/protocol/codec.ts';
import { isMachError, type MachError } from '../src/protocol/errors.ts';
import {
  NetnameId,
  netnameCheckIn,
  netnameCheckOut,
  netnameLookUp,
  parseNetnameReply,
} from '../src/protocol/netmsg.ts';
import { Disposition, PortRight, PortType } from '../src/protocol/rights.ts';

function hosts() {
  const tb = netmsgTestbed(['a', 'b', 'c']);
  const b = tb.host('b');
  const server = b.space('migration-server');
  const port = b.ipc.allocate(server, PortRight.RECEIVE, 'migrate');
  return { tb, b, server, port };
}

/** Runs a look-up to its end and returns the MachError it failed with. */
function lookUpError(
  tb: ReturnType<typeof netmsgTestbed>,
  from: string,
  name: string,
  on: string | null,
): MachError {
  try {
    tb.lookUp(from, name, on, tb.host(from).space('asker'));
  } catch (e) {
    if (isMachError(e)) return e;
    throw e;
  }
  throw new Error('the look-up succeeded');
}

describe('the name service, from TypeScript', () => {
  it('finds a name checked in on the same host', () => {
    const { tb, b, server, port } = hosts();
    b.netmsg.checkIn('migrate', server, port);
    const client = b.space('client');
    const name = tb.lookUp('b', 'migrate', 'b', client);
    expect(b.ipc.type(client, name) & PortType.SEND).toBeTruthy();
    // A local look-up gives the real port: no proxy, no network.
    expect(b.netmsg.stats.messagesOut).toBe(0);
    expect(tb.network.stats.sent).toBe(0);
  });

  it('finds a name on a named host: the paper`s step 1, then the port works', () => {
    const { tb, b, server, port } = hosts();
    b.netmsg.checkIn('migrate', server, port);
    const a = tb.host('a');
    const client = a.space('migration-client');
    const name = tb.lookUp('a', 'migrate', 'b', client);
    a.ipc.send(client, {
      remotePort: name,
      remoteDisposition: Disposition.COPY_SEND,
      id: 1,
      body: [inlineData('suspend?')],
    });
    tb.run();
    expect(receiveAll(b.ipc, server, port).map((m) => dataOf(m))).toEqual(['suspend?']);
    expect(tb.problems()).toEqual([]);
  });

  it('looks everywhere when no host is named', () => {
    const { tb, b, server, port } = hosts();
    b.netmsg.checkIn('migrate', server, port);
    const c = tb.host('c');
    const client = c.space('client');
    const name = tb.lookUp('c', 'migrate', null, client);
    expect(c.netmsg.networkPortOf(client, name)).toBe(b.netmsg.networkPortOf(server, port));
    expect(tb.problems()).toEqual([]);
  });

  it('a broadcast takes the first answer, the same one in every run, and releases the others', () => {
    const run = () => {
      const tb = netmsgTestbed(['a', 'b', 'c'], { seed: 3 });
      const ports: Record<string, string> = {};
      for (const h of ['b', 'c']) {
        const s = tb.host(h).space('srv');
        const p = tb.host(h).ipc.allocate(s, PortRight.RECEIVE, `srv@${h}`);
        tb.host(h).netmsg.checkIn('printer', s, p);
        tb.host(h).netmsg.checkOut('unused'); // no effect
        ports[tb.host(h).netmsg.networkPortOf(s, p) ?? h] = h;
      }
      // The network port identifiers are made on first use; use it now to learn which won.
      const client = tb.host('a').space('client');
      const name = tb.lookUp('a', 'printer', null, client);
      tb.run();
      const nid = tb.host('a').netmsg.networkPortOf(client, name)!;
      const winner = tb.hostNames.find((h) => tb.host(h).netmsg.records.get(nid)?.port);
      return {
        winner,
        problems: tb.problems(),
        pending: tb.hostNames.map((h) =>
          tb
            .host(h)
            .netmsg.records.all()
            .reduce((n, r) => n + r.pendingXfers, 0),
        ),
      };
    };
    const first = run();
    expect(first.winner).toBeDefined();
    expect(run()).toEqual(first);
    // The loser's right was handed back: no transfer is left waiting anywhere.
    expect(first.pending).toEqual([0, 0, 0]);
    expect(first.problems).toEqual([]);
  });

  it('fails with KERN_INVALID_NAME when no host has the name', () => {
    const { tb } = hosts();
    expect(lookUpError(tb, 'a', 'nobody', 'b').codeName).toBe('KERN_INVALID_NAME');
    expect(lookUpError(tb, 'a', 'nobody', null).codeName).toBe('KERN_INVALID_NAME');
    expect(lookUpError(tb, 'a', 'nobody', 'a').codeName).toBe('KERN_INVALID_NAME');
  });

  it('fails with KERN_INVALID_HOST for a host that does not exist or cannot be reached', () => {
    const { tb, b, server, port } = hosts();
    b.netmsg.checkIn('migrate', server, port);
    expect(lookUpError(tb, 'a', 'migrate', 'nowhere').codeName).toBe('KERN_INVALID_HOST');
    tb.network.partition(['a'], ['b', 'c']);
    const err = lookUpError(tb, 'a', 'migrate', 'b');
    // The look-up's own timeout or the transport's give-up, whichever comes first.
    expect(['KERN_INVALID_HOST', 'MACH_RCV_TIMED_OUT']).toContain(err.codeName);
  });

  it('refuses a second check-in of a name, and forgets a name once checked out or dead', () => {
    const { tb, b, server, port } = hosts();
    b.netmsg.checkIn('migrate', server, port);
    expect(() => b.netmsg.checkIn('migrate', server, port)).toThrow(/already checked in/);
    expect(b.netmsg.checkOut('migrate')).toBe(true);
    expect(lookUpError(tb, 'a', 'migrate', 'b').codeName).toBe('KERN_INVALID_NAME');
    b.netmsg.checkIn('migrate', server, port);
    b.ipc.destroy(server, port);
    expect(lookUpError(tb, 'a', 'migrate', 'b').codeName).toBe('KERN_INVALID_NAME');
    expect(tb.problems()).toEqual([]);
  });
});

describe('the name service, as messages to the server`s port', () => {
  it('checks in, looks up from another host, and checks out', () => {
    const { tb, b, server, port } = hosts();
    const a = tb.host('a');
    const svcB = b.netmsg.serviceRight(server);
    const replyB = b.ipc.allocate(server, PortRight.RECEIVE, 'reply');
    b.ipc.send(server, netnameCheckIn(svcB, replyB, 'migrate', port, Disposition.MAKE_SEND));
    tb.run();
    const checkedIn = receiveAll(b.ipc, server, replyB);
    expect(checkedIn.map((m) => [m.id, parseNetnameReply(m)])).toEqual([
      [NetnameId.CHECK_IN + 100, { ok: true, port: 0 }],
    ]);

    const client = a.space('client');
    const svcA = a.netmsg.serviceRight(client);
    const replyA = a.ipc.allocate(client, PortRight.RECEIVE, 'reply');
    a.ipc.send(client, netnameLookUp(svcA, replyA, 'migrate', 'b'));
    tb.run();
    const found = parseNetnameReply(receiveAll(a.ipc, client, replyA)[0]!);
    expect(found.ok).toBe(true);
    const right = (found as { port: number }).port;
    expect(a.ipc.type(client, right) & PortType.SEND).toBeTruthy();
    a.ipc.send(client, { remotePort: right, remoteDisposition: Disposition.COPY_SEND, id: 5 });
    tb.run();
    expect(receiveAll(b.ipc, server, port).map((m) => m.id)).toEqual([5]);

    b.ipc.send(server, netnameCheckOut(svcB, replyB, 'migrate'));
    a.ipc.send(client, netnameLookUp(svcA, replyA, 'migrate', null));
    tb.run();
    expect(parseNetnameReply(receiveAll(b.ipc, server, replyB)[0]!)).toEqual({ ok: true, port: 0 });
    const missing = parseNetnameReply(receiveAll(a.ipc, client, replyA)[0]!);
    expect(missing.ok).toBe(false);
    expect(tb.problems()).toEqual([]);
  });

  it('answers a malformed request with an error and keeps serving', () => {
    const { tb, b, server } = hosts();
    const svc = b.netmsg.serviceRight(server);
    const reply = b.ipc.allocate(server, PortRight.RECEIVE, 'reply');
    b.ipc.send(server, {
      remotePort: svc,
      remoteDisposition: Disposition.COPY_SEND,
      localPort: reply,
      localDisposition: Disposition.MAKE_SEND_ONCE,
      id: NetnameId.LOOK_UP,
      body: [inlineData({ name: 42 })],
    });
    tb.run();
    const r = parseNetnameReply(receiveAll(b.ipc, server, reply)[0]!);
    expect(r).toEqual({ ok: false, error: expect.stringMatching(/name must be a string/) });
    expect(b.netmsg.actor.getSnapshot().value).toBe('running');
  });

  it('a TypeScript look-up gets the same answer', () => {
    const { tb, b, server, port } = hosts();
    b.netmsg.checkIn('migrate', server, port);
    let result: LookupResult | null = null;
    const into = tb.host('c').space('client');
    tb.host('c').netmsg.lookUp('migrate', 'b', into, (r) => {
      result = r;
    });
    expect(result).toBeNull(); // asynchronous: it crosses the network
    tb.run();
    expect(result).toMatchObject({ ok: true });
  });
});
