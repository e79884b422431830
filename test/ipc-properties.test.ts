/**
 * Property-based tests (fast-check, fixed seed): arbitrary sequences of right operations across
 * three spaces keep Mach's right accounting exact.
 *
 * After every operation:
 *  - checkIpcInvariants finds nothing (each port's send and send-once counts equal the rights that
 *    exist in spaces, in queued messages and in notification requests; names map consistently);
 *  - an operation that failed with a MachError changed nothing anywhere;
 *  - a successful send took out of the sender exactly what its dispositions say (a MOVE takes one
 *    user reference or the right, a COPY or MAKE takes nothing) and changed no other space;
 *  - a received message carries exactly the ports that were put into it (or MACH_PORT_DEAD for a
 *    port that died on the way), under names that denote them in the receiver's space;
 *  - no space holds a right to a port it never legitimately acquired (allocation, receipt,
 *    insert/extract_right);
 *  - send-once rights are conserved: for every live port, the send-once rights ever made for it
 *    equal the send-once messages received on it plus the send-once rights still outstanding.
 * At the end the world runs idle, every outstanding send-once right is released and every queue is
 * drained: then each send-once right made has produced exactly one received message (the message
 * sent through it or a send-once notification), as "Port Rights" in mach_msg promises.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkIpcInvariants } from '../src/actors/invariants.ts';
import type { IpcKernel } from '../src/actors/ipcKernel.ts';
import type { SendOutcome } from '../src/actors/outcomes.ts';
import type { Port } from '../src/actors/port.ts';
import type { PortSpace } from '../src/actors/portSpace.ts';
import { isMachError } from '../src/protocol/errors.ts';
import type { MessageItem, ReceivedMessage } from '../src/protocol/message.ts';
import type { NotifyVariant } from '../src/protocol/notifications.ts';
import { decodeNotification, NotifyId } from '../src/protocol/notifications.ts';
import {
  Disposition,
  MACH_PORT_DEAD,
  MACH_PORT_NULL,
  PortRight,
  PortType,
  ReceivedRight,
} from '../src/protocol/rights.ts';
import { makeFixture, snapshotIpc } from './support/ipcFixtures.ts';

// ---------------------------------------------------------------------------------------------
// Operations, generated abstractly: names are "pickers" resolved against the space at run time.

/** A picker: an index into the space's names, or a special name (NULL, DEAD, never held). */
const pickerArb = fc.oneof(
  { weight: 12, arbitrary: fc.nat(40) },
  { weight: 1, arbitrary: fc.constantFrom(-1, -2, -3) },
);
const spaceArb = fc.nat(2);
const dispArb = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: 16, max: 21 }) },
  { weight: 1, arbitrary: fc.constant(99) },
);
const headerDispArb = fc.integer({ min: 17, max: 21 });
/** Most rights in messages use a disposition that fits the name (so most sends succeed). */
const fitArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(true) },
  { weight: 1, arbitrary: fc.constant(false) },
);

const opArb = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('allocate' as const),
      s: spaceArb,
      right: fc.constantFrom(
        PortRight.RECEIVE,
        PortRight.RECEIVE,
        PortRight.PORT_SET,
        PortRight.DEAD_NAME,
      ),
    }),
  },
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      target: spaceArb,
      targetName: fc.oneof(pickerArb, fc.constant(-4)), // -4: a fresh name
      source: spaceArb,
      name: pickerArb,
      d: dispArb,
    }),
  },
  {
    weight: 32,
    arbitrary: fc.record({
      kind: fc.constant('send' as const),
      s: spaceArb,
      dest: pickerArb,
      destDisp: headerDispArb,
      reply: fc.option(fc.record({ name: pickerArb, d: headerDispArb, fit: fitArb }), {
        nil: undefined,
      }),
      fit: fitArb,
      body: fc.array(
        fc.oneof(
          { weight: 16, arbitrary: fc.record({ name: pickerArb, d: dispArb, fit: fitArb }) },
          { weight: 4, arbitrary: fc.constant('data' as const) },
        ),
        { maxLength: 3 },
      ),
      block: fc.oneof(
        { weight: 12, arbitrary: fc.constant(0) },
        { weight: 4, arbitrary: fc.integer({ min: 1, max: 20 }) },
      ),
    }),
  },
  {
    weight: 24,
    arbitrary: fc.record({
      kind: fc.constant('receive' as const),
      s: spaceArb,
      name: pickerArb,
      fit: fitArb,
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('deallocate' as const),
      s: spaceArb,
      name: pickerArb,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('destroy' as const), s: spaceArb, name: pickerArb }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('modRefs' as const),
      s: spaceArb,
      name: pickerArb,
      right: fc.integer({ min: 0, max: 4 }),
      delta: fc.integer({ min: -2, max: 2 }),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('notify' as const),
      s: spaceArb,
      name: pickerArb,
      variant: fc.constantFrom<NotifyVariant>('dead-name', 'no-senders', 'port-destroyed'),
      sync: fc.nat(1),
      notify: pickerArb,
      d: fc.constantFrom(Disposition.MAKE_SEND_ONCE, Disposition.MOVE_SEND_ONCE),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('extract' as const),
      s: spaceArb,
      name: pickerArb,
      d: dispArb,
      into: spaceArb,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('moveMember' as const),
      s: spaceArb,
      member: pickerArb,
      set: pickerArb,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('qlimit' as const),
      s: spaceArb,
      name: pickerArb,
      q: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      dt: fc.integer({ min: 1, max: 25 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('destroySpace' as const), s: spaceArb }) },
);

type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------------------------------------
// The harness: runs operations against a real kernel and checks the properties after each.

/** What a sent message carried, by id: the port (null for NULL, 'dead' for a dead name). */
type Carried = Port | null | 'dead';
interface SentRecord {
  reply: Carried;
  replyRight: number;
  body: { port: Carried; right: number }[];
}

const FIRST_USER_ID = 1000;

class Harness {
  readonly f = makeFixture(42);
  readonly spaces: PortSpace[] = [this.f.a, this.f.b, this.f.c];
  /** Spaces that have legitimately held some right to each port. */
  readonly authorized = new Map<Port, Set<PortSpace>>();
  readonly soMade = new Map<Port, number>();
  readonly soReceived = new Map<Port, number>();
  readonly sent = new Map<number, SentRecord>();
  nextId = FIRST_USER_ID;
  log: string[] = [];

  get k(): IpcKernel {
    return this.f.k;
  }

  authorize(p: Port | null | undefined, s: PortSpace): void {
    if (!p) return;
    let set = this.authorized.get(p);
    if (!set) this.authorized.set(p, (set = new Set()));
    set.add(s);
  }

  bump(m: Map<Port, number>, p: Port): void {
    m.set(p, (m.get(p) ?? 0) + 1);
  }

  /** Resolves a picker against `space`'s names. */
  name(space: PortSpace, picker: number): number {
    if (picker === -1) return MACH_PORT_NULL;
    if (picker === -2) return MACH_PORT_DEAD;
    if (picker === -3) return 0x7777;
    const names = space.names();
    return names.length === 0 ? 0x7777 : names[picker % names.length]!;
  }

  /** The live port a name denotes now (after lazy dead-name conversion), or 'dead' / null. */
  carried(space: PortSpace, name: number): Carried {
    if (name === MACH_PORT_NULL) return null;
    if (name === MACH_PORT_DEAD) return 'dead';
    const e = space.lookup(name);
    if (!e) return null;
    if (e.bits & PortType.DEAD_NAME) return 'dead';
    return e.port;
  }

  /** A disposition that suits what `name` denotes, chosen by `d`. */
  fit(space: PortSpace, name: number, d: number, header: boolean): number {
    const e = space.lookup(name);
    if (!e) return d;
    const ok: number[] = [];
    if (e.bits & PortType.RECEIVE) {
      ok.push(Disposition.MAKE_SEND, Disposition.MAKE_SEND_ONCE);
      if (!header) ok.push(Disposition.MOVE_RECEIVE);
    }
    if (e.bits & PortType.SEND) ok.push(Disposition.COPY_SEND, Disposition.MOVE_SEND);
    if (e.bits & PortType.SEND_ONCE) ok.push(Disposition.MOVE_SEND_ONCE);
    if (e.bits & PortType.DEAD_NAME && !header)
      ok.push(Disposition.COPY_SEND, Disposition.MOVE_SEND, Disposition.MOVE_SEND_ONCE);
    return ok.length === 0 ? d : ok[d % ok.length]!;
  }

  portOfName(space: PortSpace, name: number): Port | null {
    if (name === MACH_PORT_NULL || name === MACH_PORT_DEAD) return null;
    return space.lookup(name)?.port ?? null;
  }

  /** Rights bits and user references of every name of a space (normalised). */
  entries(space: PortSpace): Map<number, { bits: number; urefs: number }> {
    const out = new Map<number, { bits: number; urefs: number }>();
    if (!space.active) return out;
    for (const name of space.names()) {
      const e = space.lookup(name)!;
      out.set(name, {
        bits: e.bits,
        urefs: e.bits & (PortType.SEND | PortType.DEAD_NAME) ? e.urefs : 1,
      });
    }
    return out;
  }

  /** Runs one operation and checks every property; says whether the call succeeded. */
  run(op: Op): boolean {
    this.log.push(JSON.stringify(op));
    const before = snapshotIpc(this.k);
    let ok = true;
    try {
      this.apply(op);
    } catch (e) {
      if (!isMachError(e)) throw e;
      ok = false;
      // A failed call changed nothing, anywhere.
      expect(snapshotIpc(this.k), `${e.message} changed state`).toEqual(before);
    }
    this.check();
    return ok;
  }

  private apply(op: Op): void {
    const { k } = this;
    switch (op.kind) {
      case 'allocate': {
        const s = this.spaces[op.s]!;
        const n = k.allocate(s, op.right);
        this.authorize(this.portOfName(s, n), s);
        return;
      }
      case 'insert': {
        const target = this.spaces[op.target]!;
        const source = this.spaces[op.source]!;
        const name = this.name(source, op.name);
        const targetName =
          op.targetName === -4 ? 0x9000 + this.nextId++ : this.name(target, op.targetName);
        const p = this.portOfName(source, name);
        k.insertRight(target, targetName, source, name, op.d as Disposition);
        this.authorize(p, target);
        if (op.d === Disposition.MAKE_SEND_ONCE && p) this.bump(this.soMade, p);
        return;
      }
      case 'extract': {
        const s = this.spaces[op.s]!;
        const into = this.spaces[op.into]!;
        const name = this.name(s, op.name);
        const p = this.portOfName(s, name);
        k.extractRight(s, name, op.d as Disposition, into);
        this.authorize(p, into);
        if (op.d === Disposition.MAKE_SEND_ONCE && p) this.bump(this.soMade, p);
        return;
      }
      case 'send':
        return this.send(op);
      case 'receive': {
        const s = this.spaces[op.s]!;
        let name = this.name(s, op.name);
        if (op.fit) {
          const sources = s
            .names()
            .filter((n) => s.lookup(n)!.bits & (PortType.RECEIVE | PortType.PORT_SET));
          if (sources.length > 0) name = sources[op.name < 0 ? 0 : op.name % sources.length]!;
        }
        const m = k.receive(s, name, { timeout: 0 })!;
        this.received(s, m);
        return;
      }
      case 'deallocate': {
        const s = this.spaces[op.s]!;
        const name = this.name(s, op.name);
        const bits = s.lookup(name)?.bits ?? 0;
        const bit =
          bits & PortType.SEND
            ? PortType.SEND
            : bits & PortType.SEND_ONCE
              ? PortType.SEND_ONCE
              : PortType.DEAD_NAME;
        return this.expectOnly(s, name, bit, -1, () => k.deallocate(s, name));
      }
      case 'destroy': {
        const s = this.spaces[op.s]!;
        const name = this.name(s, op.name);
        k.destroy(s, name);
        expect(s.entries.has(name), 'a destroyed name is free').toBe(false);
        return;
      }
      case 'modRefs': {
        const s = this.spaces[op.s]!;
        const name = this.name(s, op.name);
        const bit = [
          PortType.SEND,
          PortType.RECEIVE,
          PortType.SEND_ONCE,
          PortType.PORT_SET,
          PortType.DEAD_NAME,
        ][op.right]!;
        const call = () => k.modRefs(s, name, op.right as PortRight, op.delta);
        if (bit === PortType.RECEIVE || bit === PortType.PORT_SET) return call();
        return this.expectOnly(s, name, bit, op.delta, call);
      }
      case 'notify': {
        const s = this.spaces[op.s]!;
        const notifyName = this.name(s, op.notify);
        const np = this.portOfName(s, notifyName);
        k.requestNotification(s, this.name(s, op.name), op.variant, op.sync, notifyName, op.d);
        if (op.d === Disposition.MAKE_SEND_ONCE && np) this.bump(this.soMade, np);
        return;
      }
      case 'moveMember': {
        const s = this.spaces[op.s]!;
        return k.moveMember(
          s,
          this.name(s, op.member),
          op.set === -1 ? MACH_PORT_NULL : this.name(s, op.set),
        );
      }
      case 'qlimit': {
        const s = this.spaces[op.s]!;
        return k.setQlimit(s, this.name(s, op.name), op.q);
      }
      case 'advance':
        this.f.world.runUntilTime(this.f.world.now() + op.dt);
        return;
      case 'destroySpace':
        k.destroySpace(this.spaces[op.s]!);
        return;
    }
  }

  /**
   * Runs `call`, which should change only the user references of right `bit` of `name` by
   * `delta` (the right goes at zero): every other name of every space stays as it was.
   */
  private expectOnly(
    s: PortSpace,
    name: number,
    bit: number,
    delta: number,
    call: () => void,
  ): void {
    const before = this.spaces.map((x) => this.entries(x));
    call();
    const want = before[this.spaces.indexOf(s)]!;
    const e = want.get(name)!;
    if (bit & (PortType.SEND | PortType.DEAD_NAME)) {
      e.urefs += delta;
      if (e.urefs === 0) e.bits &= ~bit;
    } else if (delta < 0) e.bits &= ~bit;
    if (e.bits === 0) want.delete(name);
    else if (!(e.bits & (PortType.SEND | PortType.DEAD_NAME))) e.urefs = 1;
    this.spaces.forEach((x, i) => {
      expect(strip(this.entries(x)), `${x.label} after the call`).toEqual(strip(before[i]!));
    });
  }

  private send(op: Extract<Op, { kind: 'send' }>): void {
    const { k } = this;
    const s = this.spaces[op.s]!;
    const dest = this.name(s, op.dest);
    const destDisp = op.fit ? this.fit(s, dest, op.destDisp, true) : op.destDisp;
    const rights: { name: number; d: number }[] = [{ name: dest, d: destDisp }];
    const reply = op.reply
      ? (() => {
          const name = this.name(s, op.reply.name);
          return { name, d: op.reply.fit ? this.fit(s, name, op.reply.d, true) : op.reply.d };
        })()
      : undefined;
    if (reply) rights.push(reply);
    const body: MessageItem[] = op.body.map((it) => {
      if (it === 'data') return { type: 'inline', data: Uint8Array.of(1, 2, 3) };
      const name = this.name(s, it.name);
      const d = it.fit ? this.fit(s, name, it.d, false) : it.d;
      rights.push({ name, d });
      return { type: 'port', name, disposition: d as Disposition };
    });
    // What the message will carry, and what the sender should lose, from the state before.
    const record: SentRecord = {
      reply: reply ? this.carried(s, reply.name) : null,
      replyRight: reply ? receivedRight(reply.d) : 0,
      body: body.flatMap((it) =>
        it.type === 'port'
          ? [{ port: this.carried(s, it.name), right: receivedRight(it.disposition) }]
          : [],
      ),
    };
    const expected = this.entries(s);
    for (const { name, d } of rights) {
      const e = expected.get(name);
      if (!e) continue;
      if (
        d === Disposition.MOVE_SEND ||
        (d === Disposition.MOVE_SEND_ONCE && e.bits & PortType.DEAD_NAME)
      ) {
        e.urefs--;
        if (e.urefs === 0) e.bits &= ~(PortType.SEND | PortType.DEAD_NAME);
      } else if (d === Disposition.MOVE_SEND_ONCE) e.bits &= ~PortType.SEND_ONCE;
      else if (d === Disposition.MOVE_RECEIVE) e.bits &= ~PortType.RECEIVE;
    }
    const made = rights
      .filter(({ d }) => d === Disposition.MAKE_SEND_ONCE)
      .map(({ name }) => this.portOfName(s, name));
    const others = this.spaces.filter((x) => x !== s).map((x) => [x, this.entries(x)] as const);
    const id = this.nextId++;
    const outcome = (r: SendOutcome) => {
      if (!r.ok && r.returned) {
        // Pseudo-received: the rights come back to the sender, which held them all before.
        const back = r.returned;
        for (const n of [
          back.remotePort,
          back.localPort,
          ...back.body.map((b) => ('name' in b ? b.name : 0)),
        ]) {
          const p = this.portOfName(s, n);
          expect(p === null || this.authorized.get(p)?.has(s)).toBe(true);
        }
      }
    };
    k.send(
      s,
      {
        remotePort: dest,
        remoteDisposition: destDisp as Disposition,
        localPort: reply?.name,
        localDisposition: reply?.d as Disposition,
        id,
        body,
      },
      op.block === 0 ? { timeout: 0 } : { timeout: op.block },
      op.block === 0 ? undefined : outcome,
    );
    this.sent.set(id, record);
    for (const p of made) if (p) this.bump(this.soMade, p);
    // The sender lost exactly what the dispositions say; no other space changed.
    const after = this.entries(s);
    const want = new Map([...expected].filter(([, e]) => e.bits !== 0));
    expect(strip(after), 'sender entries after send').toEqual(strip(want));
    for (const [x, before] of others)
      expect(strip(this.entries(x)), `${x.label} changed by a send`).toEqual(strip(before));
  }

  received(s: PortSpace, m: ReceivedMessage): void {
    const port = this.portOfName(s, m.localPort);
    expect(port, 'msgh_local_port names the receive right').not.toBeNull();
    if (m.localRight === ReceivedRight.PORT_SEND_ONCE) this.bump(this.soReceived, port!);
    if (m.id < FIRST_USER_ID) {
      // A kernel notification.
      const n = decodeNotification(m);
      expect(n, `notification ${m.id.toString(8)}`).not.toBeNull();
      expect(m.localRight).toBe(ReceivedRight.PORT_SEND_ONCE);
      if (n?.kind === 'port-destroyed') {
        expect(m.id).toBe(NotifyId.PORT_DESTROYED);
        const p = this.portOfName(s, n.rights)!;
        expect(s.lookup(n.rights)!.bits & PortType.RECEIVE).toBeTruthy();
        this.authorize(p, s);
      }
      return;
    }
    const rec = this.sent.get(m.id);
    expect(rec, `message ${m.id} was sent`).toBeDefined();
    this.sent.delete(m.id);
    const check = (name: number, expected: Carried, right: number) => {
      if (expected === null) return expect(name).toBe(MACH_PORT_NULL);
      if (expected === 'dead' || expected.dead) return expect(name).toBe(MACH_PORT_DEAD);
      expect(this.portOfName(s, name), 'received name denotes the port sent').toBe(expected);
      const bits = s.lookup(name)!.bits;
      const bit =
        right === ReceivedRight.PORT_RECEIVE
          ? PortType.RECEIVE
          : right === ReceivedRight.PORT_SEND_ONCE
            ? PortType.SEND_ONCE
            : PortType.SEND;
      expect(bits & bit, 'received right has its type').toBeTruthy();
      this.authorize(expected, s);
    };
    check(m.remotePort, rec!.reply, rec!.replyRight);
    if (rec!.reply !== null) expect(m.remoteRight).toBe(rec!.replyRight);
    const ports = m.body.filter((b) => b.type === 'port');
    expect(ports.length).toBe(rec!.body.length);
    ports.forEach((b, i) => {
      expect(b.right).toBe(rec!.body[i]!.right);
      check(b.name, rec!.body[i]!.port, rec!.body[i]!.right);
    });
  }

  check(): void {
    const { k } = this;
    expect(checkIpcInvariants(k)).toEqual([]);
    for (const s of this.spaces) {
      if (!s.active) {
        expect(s.entries.size, `terminated ${s.label} holds nothing`).toBe(0);
        continue;
      }
      for (const [name, e] of s.entries) {
        const p = e.port;
        if (!p || p.dead) continue;
        expect(
          this.authorized.get(p)?.has(s),
          `${s.label} holds ${name} for ${p.label} without having been given it`,
        ).toBe(true);
      }
    }
    for (const p of k.ports) {
      expect(
        (this.soMade.get(p) ?? 0) - (this.soReceived.get(p) ?? 0),
        `send-once rights of ${p.label}`,
      ).toBe(p.sorights);
    }
  }

  /**
   * Releases every outstanding send-once right (and notification request) and drains every
   * queue, until nothing changes. Then every send-once right of every reachable port has given
   * exactly one message.
   */
  finish(): void {
    const { k } = this;
    this.f.world.runUntilIdle();
    for (let round = 0; round < 50; round++) {
      let changed = false;
      for (const s of this.spaces) {
        if (!s.active) continue;
        for (const name of s.names()) {
          const e = s.lookup(name);
          if (!e) continue;
          if (e.dnRequest) {
            const prev = k.requestNotification(s, name, 'dead-name', 0, MACH_PORT_NULL);
            if (prev !== MACH_PORT_NULL) k.deallocate(s, prev);
            changed = true;
          }
          if (e.bits & PortType.RECEIVE) {
            const p = e.port!;
            if (p.pset) k.moveMember(s, name, MACH_PORT_NULL);
            for (const variant of ['no-senders', 'port-destroyed'] as const) {
              if ((variant === 'no-senders' ? p.nsRequest : p.pdRequest) === null) continue;
              const prev = k.requestNotification(s, name, variant, 0, MACH_PORT_NULL);
              if (prev !== MACH_PORT_NULL) k.deallocate(s, prev);
              changed = true;
            }
            while (p.msgcount > 0 && p.receiver === s) {
              this.received(s, k.receive(s, name, { timeout: 0 })!);
              changed = true;
            }
          }
          if (s.entries.get(name)?.bits === PortType.SEND_ONCE) {
            k.deallocate(s, name);
            changed = true;
          }
        }
      }
      this.f.world.runUntilIdle();
      this.check();
      if (!changed) break;
    }
    // Receive rights still in transit (a loop of messages nobody can receive) keep theirs.
    const loops = [...k.ports].some((p) => p.receiver === null);
    for (const p of k.ports) {
      if (p.receiver === null || !p.receiver.active || loops) continue;
      expect(p.sorights, `${p.label} has send-once rights that never produced a message`).toBe(0);
      expect(this.soReceived.get(p) ?? 0).toBe(this.soMade.get(p) ?? 0);
    }
  }
}

function receivedRight(d: number): number {
  if (d === Disposition.MOVE_RECEIVE) return ReceivedRight.PORT_RECEIVE;
  if (d === Disposition.MOVE_SEND_ONCE || d === Disposition.MAKE_SEND_ONCE)
    return ReceivedRight.PORT_SEND_ONCE;
  return ReceivedRight.PORT_SEND;
}

const strip = (m: Map<number, { bits: number; urefs: number }>) =>
  [...m].map(([name, e]) => [
    name,
    e.bits,
    e.bits & (PortType.SEND | PortType.DEAD_NAME) ? e.urefs : 1,
  ]);

/** Every run starts with a little structure: each space a port, and send rights between them. */
function seeded(): Harness {
  const h = new Harness();
  const { k } = h;
  const ports = h.spaces.map((s) => {
    const n = k.allocate(s, PortRight.RECEIVE, `${s.label}-port`);
    h.authorize(h.portOfName(s, n), s);
    return n;
  });
  h.spaces.forEach((s, i) => {
    const next = h.spaces[(i + 1) % 3]!;
    k.insertRight(next, 0x500 + i, s, ports[i]!, Disposition.MAKE_SEND);
    h.authorize(h.portOfName(s, ports[i]!), next);
  });
  h.check();
  return h;
}

describe('right operations keep the accounting exact (fast-check, seed 42)', () => {
  it('after any sequence of operations across three spaces', () => {
    let runs = 0;
    let succeeded = 0;
    let failed = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 5, maxLength: 50, size: 'max' }), (seq) => {
        runs++;
        const h = seeded();
        for (const op of seq) {
          if (h.run(op)) succeeded++;
          else failed++;
        }
        h.finish();
      }),
      { seed: 42, numRuns: 200 },
    );
    expect(runs).toBe(200);
    // The generator exercises both paths: calls that succeed and calls Mach refuses.
    expect(succeeded).toBeGreaterThan(1000);
    expect(failed).toBeGreaterThan(500);
  });

  it('in particular, long runs of sends and receives between the three spaces', () => {
    const sendRecv = fc.oneof(
      opArb.filter((o) => o.kind === 'send'),
      opArb.filter((o) => o.kind === 'receive'),
      opArb.filter((o) => o.kind === 'allocate' || o.kind === 'insert'),
    );
    fc.assert(
      fc.property(fc.array(sendRecv, { minLength: 20, maxLength: 80 }), (seq) => {
        const h = seeded();
        for (const op of seq) h.run(op);
        h.finish();
      }),
      { seed: 42, numRuns: 60 },
    );
  });
});
