/**
 * Messages follow the receive rights (design.md section 3; issue 5, tests): while a task migrates,
 * other tasks (on the source, on the destination and on a third host) keep sending to its ports.
 * Every message is delivered exactly once, and in the order each sender sent it: those queued
 * when the task was suspended move with the receive right, those sent during the move reach it
 * at its new home. The task's port space arrives as it was: the same names, the same rights and
 * user references, its port sets and their members, dead names and send-once rights.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../src/cluster.ts';
import type { Host } from '../src/kernel/host.ts';
import type { Task } from '../src/kernel/task.ts';
import { defaultBatchPages } from '../src/migration/migrate.ts';
import type { Strategy } from '../src/protocol/migration.ts';
import { Disposition, PortRight, PortType } from '../src/protocol/rights.ts';
import { LINK_PROFILES } from '../src/world/profiles.ts';
import { mainThread, printHex, program } from './support/kernelFixtures.ts';
import {
  census,
  ExitLog,
  OutputLog,
  paperCluster,
  runMigration,
  spawnProgram,
  taskOn,
} from './support/migrationFixtures.ts';

/** Messages each sender sends. */
const COUNT = 25;

/**
 * The receiver: receives TOTAL messages on the port (or port set) named in r8 and prints
 * "s<msgh_id> <n>" for each, the integer n being the message's one item; then exits 0.
 */
const RECEIVER = program(
  `
        li    r11, 0
        li    r9, 0                 ; received
        la    r10, msg
next:
        li    r0, SYS_MACH_MSG
        mov   r1, r10
        li    r2, MACH_RCV_MSG
        li    r3, 0
        li    r4, 64
        mov   r5, r8
        li    r6, 0
        li    r7, MACH_PORT_NULL
        trap
        bne   r0, r11, failed
        la    r1, s_s
        call  puts
        ldw   r1, [r10 + MSGH_ID]
        call  print_dec
        la    r1, space
        call  puts
        ldw   r1, [r10 + MSGH_BODY + 4]
        call  print_dec
        la    r1, nl
        call  puts
        addi  r9, r9, 1
        li    r1, TOTAL
        blt   r9, r1, next
        b     done
failed:
${printHex('r0')}
        li    r1, 1
        li    r0, SYS_EXIT
        trap
done:`,
  `
s_s:    .asciz "s"
        .align 4
msg:    .space 64`,
);

/**
 * A sender: sends 1..COUNT to the send right named in r8, one integer message (msgh_id = ID)
 * every PAUSE ms; exits 0, or prints the error and exits 1.
 */
const SENDER = program(
  `
        li    r11, 0
        li    r12, 1
        la    r10, msg
send:
        li    r1, MACH_MSG_TYPE_COPY_SEND
        stw   r1, [r10 + MSGH_BITS]
        li    r1, 32
        stw   r1, [r10 + MSGH_SIZE]
        stw   r8, [r10 + MSGH_REMOTE_PORT]
        stw   r11, [r10 + MSGH_LOCAL_PORT]
        stw   r11, [r10 + MSGH_SEQNO]
        li    r1, ID
        stw   r1, [r10 + MSGH_ID]
        li    r1, MACH_MSG_TYPE_INTEGER_32 | (32 << 8) | (1 << 16) | (1 << 28)
        stw   r1, [r10 + MSGH_BODY]
        stw   r12, [r10 + MSGH_BODY + 4]
        li    r0, SYS_MACH_MSG
        mov   r1, r10
        li    r2, MACH_SEND_MSG
        li    r3, 32
        li    r4, 0
        li    r5, MACH_PORT_NULL
        li    r6, 0
        li    r7, MACH_PORT_NULL
        trap
        bne   r0, r11, failed
        li    r0, SYS_SLEEP
        li    r1, PAUSE
        trap
        addi  r12, r12, 1
        li    r1, COUNT
        ble   r12, r1, send
        b     done
failed:
${printHex('r0')}
        li    r1, 1
        li    r0, SYS_EXIT
        trap
done:`,
  `
        .align 4
msg:    .space 32`,
);

const open: { close(): void }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});

/** The name of the only receive right (or port set) in a space whose rights match `bits`. */
function namesWith(task: Task, bits: number): number[] {
  return [...task.space.entries]
    .filter(([, e]) => (e.bits & bits) !== 0)
    .map(([n]) => n)
    .sort((a, b) => a - b);
}

/**
 * A send right to port `name` of `owner`, for a task about to start on `host`: made at once on
 * the owner's host, or looked up through netmsg (the port checked in under a name of its own)
 * into a holding space there. `give` then moves it into the task's space before it runs.
 */
function sendRightFor(
  cluster: Cluster,
  owner: Task,
  name: number,
  host: Host,
): (into: Task) => number {
  const holder = host.ipc.createSpace(`holder:${host.name}`);
  let held = 0;
  if (host === owner.host) {
    held = host.ipc.extractRight(owner.space, name, Disposition.MAKE_SEND, holder);
  } else {
    const label = `sink-${name}`;
    const home = cluster.netmsg.server(owner.host.name);
    try {
      home.checkIn(label, owner.space, name);
    } catch {
      // checked in for an earlier sender already
    }
    cluster.netmsg.server(host.name).lookUp(label, owner.host.name, holder, (r) => {
      if (!r.ok) throw r.error;
      held = r.name;
    });
    cluster.world.runUntil(() => held !== 0, { until: cluster.world.now() + 1000 });
    if (held === 0) throw new Error(`no send right to ${label} on ${host.name}`);
  }
  return (into) => {
    const n = host.ipc.extractRight(holder, held, Disposition.MOVE_SEND, into.space);
    host.ipc.destroySpace(holder);
    return n;
  };
}

/** The next message queued on `name` of the task's space, or null (none yet). */
function poll(host: Host, task: Task, name: number) {
  try {
    return host.ipc.receive(task.space, name, { timeout: 0 });
  } catch {
    return null;
  }
}

/** Parses "s<id> <n>" lines into the numbers each sender's messages carried, in arrival order. */
function bySender(output: string): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const line of output.split('\n')) {
    const m = /^s(\d+) (\d+)$/.exec(line);
    if (!m) continue;
    const id = Number(m[1]);
    if (!out.has(id)) out.set(id, []);
    out.get(id)!.push(Number(m[2]));
  }
  return out;
}

interface Senders {
  readonly hosts: readonly string[];
  /** Which port each sender sends to: index into the receiver's ports. */
  readonly port?: (i: number) => number;
}

/**
 * The receiver on the Pentium (receiving on its one port, or on a port set of two), senders on
 * `senders.hosts`; the receiver migrates to `to` at `atMs` with `strategy`.
 */
function scenario(strategy: Strategy, to: string, atMs: number, senders: Senders, withSet = false) {
  const { cluster, pentium } = paperCluster({ third: true });
  const log = new OutputLog(cluster);
  const exits = new ExitLog(cluster);
  open.push(log, exits);
  const total = senders.hosts.length * COUNT;
  const receiver = spawnProgram(pentium, { source: RECEIVER, defines: { TOTAL: total } }, 'prog');
  // Its ports, made before it runs: one receive right, or two in a port set.
  const ipc = pentium.ipc;
  const ports = [ipc.allocate(receiver.space, PortRight.RECEIVE, 'sink-a')];
  let listen = ports[0]!;
  if (withSet) {
    ports.push(ipc.allocate(receiver.space, PortRight.RECEIVE, 'sink-b'));
    listen = ipc.allocate(receiver.space, PortRight.PORT_SET);
    for (const p of ports) ipc.moveMember(receiver.space, p, listen);
  }
  mainThread(receiver).state.regs[8] = listen;
  // Each sender gets its send right in r8 before its first instruction.
  const gives = senders.hosts.map((hostName, i) =>
    sendRightFor(cluster, receiver, ports[senders.port?.(i) ?? 0]!, cluster.host(hostName)),
  );
  const sendTasks = senders.hosts.map((hostName, i) => {
    const sender = spawnProgram(
      cluster.host(hostName),
      { source: SENDER, defines: { ID: i + 1, COUNT, PAUSE: 2 } },
      `sender${i + 1}`,
    );
    mainThread(sender).state.regs[8] = gives[i]!(sender);
    return sender;
  });
  cluster.world.runUntilTime(atMs);
  // How many messages wait on the task's ports as their receive rights leave with COMMIT.
  let queued = -1;
  const sub = cluster.world.trace.events$.subscribe((e) => {
    if (e.kind === 'migration.step' && e.step === 'commit')
      queued = ports.reduce((n, p) => n + (receiver.space.lookup(p)?.port?.msgcount ?? 0), 0);
  });
  const result = runMigration(cluster, cluster.migrate(receiver, to, { strategy }));
  sub.unsubscribe();
  cluster.world.runUntil(
    () => sendTasks.every((t) => t.exit !== null) && !taskOn(cluster.host(to)),
    { until: cluster.world.now() + 60_000 },
  );
  return { cluster, log, exits, result, total, queued, senders: sendTasks };
}

function expectExactlyOnceInOrder(
  s: ReturnType<typeof scenario>,
  senderCount: number,
  to: string,
): void {
  expect(s.result.outcome, s.result.reason ?? '').toBe('committed');
  const got = bySender(s.log.text());
  const expected = Array.from({ length: COUNT }, (_, k) => k + 1);
  expect([...got.keys()].sort()).toEqual(Array.from({ length: senderCount }, (_, k) => k + 1));
  for (const [, numbers] of got) expect(numbers).toEqual(expected);
  expect(s.exits.final()).toMatchObject({ host: to, status: 0 });
  for (const t of s.senders) {
    expect(t.exit?.status, `${t.name} exit`).toBe(0);
    // It was sending all through the migration.
    expect(t.exit!.time).toBeGreaterThan(s.result.endMs);
  }
  // It received some before the move and the rest after it.
  expect(s.log.hostRuns()).toEqual(['pentium', to]);
  for (const h of s.cluster.hosts.values()) expect(census(h).problems).toEqual([]);
}

describe('messages sent to a migrating task', () => {
  const everywhere = { hosts: ['pentium', 'i486', 'i386'] };

  it.each(['eager', 'precopy', 'demand', 'prepage', 'flush'] as const)(
    'from the source, the destination and a third host: each delivered once, in order (%s)',
    (strategy) => {
      const s = scenario(strategy, 'i486', 6, everywhere);
      expectExactlyOnceInOrder(s, 3, 'i486');
    },
  );

  it('messages already queued when the task is suspended move with the receive right', () => {
    // Migrated while the receiver sleeps through a burst: the queue is full when it moves.
    const s = scenario('eager', 'i486', 9, { hosts: ['pentium', 'pentium', 'i486'] });
    expect(s.queued).toBeGreaterThan(0);
    expectExactlyOnceInOrder(s, 3, 'i486');
  });

  it('to the third host, with senders on both of the others', () => {
    const s = scenario('eager', 'i386', 6, everywhere);
    expectExactlyOnceInOrder(s, 3, 'i386');
  });

  it('on two ports of a port set, the set moving with its members', () => {
    const s = scenario(
      'eager',
      'i486',
      6,
      { hosts: ['pentium', 'i486', 'i386', 'pentium'], port: (i) => i % 2 },
      true,
    );
    expectExactlyOnceInOrder(s, 4, 'i486');
  });
});

describe('the port space of a migrated task', () => {
  it.each([
    ['arrives at the destination as it was', [], 'i486'],
    [
      'is as it was at home after a refused COMMIT sent its rights back',
      [{ kind: 'refuse', message: 'COMMIT' }],
      'pentium',
    ],
  ] as const)(
    '%s: names, rights, user references, sets, dead names, send-once rights',
    (_what, inject, where) => {
      const { cluster, pentium } = paperCluster();
      const task = spawnProgram(pentium, 'primes');
      const ipc = pentium.ipc;
      const sp = task.space;
      // receive + 3 send references under one name, in a port set with a second receive right
      const both = ipc.allocate(sp, PortRight.RECEIVE, 'both');
      ipc.insertRight(sp, both, sp, both, Disposition.MAKE_SEND);
      ipc.modRefs(sp, both, PortRight.SEND, 2);
      const member = ipc.allocate(sp, PortRight.RECEIVE, 'member');
      const set = ipc.allocate(sp, PortRight.PORT_SET);
      ipc.moveMember(sp, both, set);
      ipc.moveMember(sp, member, set);
      // a dead name with 2 references
      const dead = ipc.allocate(sp, PortRight.DEAD_NAME);
      ipc.modRefs(sp, dead, PortRight.DEAD_NAME, 1);
      // a send right (2 references) and a send-once right to a port of another space
      const other = ipc.createSpace('other');
      const theirs = ipc.allocate(other, PortRight.RECEIVE, 'theirs');
      const send = ipc.extractRight(other, theirs, Disposition.MAKE_SEND, sp);
      ipc.modRefs(sp, send, PortRight.SEND, 1);
      const once = ipc.extractRight(other, theirs, Disposition.MAKE_SEND_ONCE, sp);
      // a message queued on `member`, and a sender that keeps a send right to it
      const toMember = ipc.extractRight(sp, member, Disposition.MAKE_SEND, other);
      ipc.send(other, {
        remotePort: toMember,
        remoteDisposition: Disposition.COPY_SEND,
        id: 77,
        body: [],
      });
      const shape = (t: Task) =>
        [both, member, set, dead, send, once].map((n) => {
          const e = t.space.lookup(n);
          return e === undefined
            ? 'none'
            : {
                receive: (e.bits & PortType.RECEIVE) !== 0,
                send: (e.bits & PortType.SEND) !== 0 ? e.urefs : 0,
                once: (e.bits & PortType.SEND_ONCE) !== 0,
                dead: (e.bits & PortType.DEAD_NAME) !== 0 ? e.urefs : 0,
                set: (e.bits & PortType.PORT_SET) !== 0,
                inSet: e.port?.pset != null,
              };
        });
      const before = shape(task);
      cluster.world.runUntilTime(3);
      const r = runMigration(
        cluster,
        cluster.migrate(task, 'i486', { inject: inject as never }),
        'none',
      );
      expect(r.outcome, r.reason ?? '').toBe(where === 'i486' ? 'committed' : 'rolled-back');
      const now = taskOn(cluster.host(where))!;
      const host = now.host;
      expect(shape(now)).toEqual(before);
      // Its task_self still names its own task port.
      expect(now.space.lookup(now.selfName)!.port).toBe(now.port);
      // The queued message came along, on the member of the set; one sent since arrives too.
      ipc.send(other, {
        remotePort: toMember,
        remoteDisposition: Disposition.COPY_SEND,
        id: 79,
        body: [],
      });
      const got: number[] = [];
      cluster.world.runUntil(
        () => {
          const m = poll(host, now, set);
          if (m) {
            expect(m.localPort).toBe(member);
            got.push(m.id);
          }
          return got.length === 2;
        },
        { until: cluster.world.now() + 1000 },
      );
      expect(got).toEqual([77, 79]);
      // The send-once right still works: a message through it reaches `theirs` at home.
      host.ipc.send(now.space, {
        remotePort: once,
        remoteDisposition: Disposition.MOVE_SEND_ONCE,
        id: 78,
        body: [],
      });
      cluster.world.runUntil(() => other.lookup(theirs)!.port!.msgcount > 0, {
        until: cluster.world.now() + 1000,
      });
      expect(ipc.receive(other, theirs, { timeout: 0 })?.id).toBe(78);
      expect(namesWith(now, PortType.PORT_SET)).toEqual([set]);
      for (const h of cluster.hosts.values()) expect(census(h).problems).toEqual([]);
    },
  );
});

describe('the default batch of pages per PAGES message', () => {
  it('is about 64 ms of the link: small on 10 Mbit/s Ethernet, large on gigabit', () => {
    expect(defaultBatchPages(LINK_PROFILES.ethernet10, 4096)).toBe(19);
    expect(defaultBatchPages(LINK_PROFILES.ethernet100, 4096)).toBe(195);
    expect(defaultBatchPages(LINK_PROFILES.gigabit, 4096)).toBe(1953);
  });
  it('stays between 16 and 2048 pages', () => {
    const slow = { ...LINK_PROFILES.ethernet10, bitsPerSecond: 1_000 };
    const fast = { ...LINK_PROFILES.gigabit, bitsPerSecond: 1e12 };
    expect(defaultBatchPages(slow, 4096)).toBe(16);
    expect(defaultBatchPages(fast, 4096)).toBe(2048);
  });
});
