import { type Actor, createActor } from 'xstate';
import type { PortSpace } from '../actors/portSpace.ts';
import { type LookupEvent, netmsgLookup } from '../machines/netmsgLookup.ts';
import { MachError } from '../protocol/errors.ts';
import type { NetBody } from '../protocol/netmsg.ts';
import { Disposition, PortRight, PortType, ReceivedRight } from '../protocol/rights.ts';
import { type NetmsgContext, reject, sendTo } from './context.ts';
import { exportRef } from './exportRights.ts';
import { importRef } from './importRights.ts';
import { type Held, release, releaseAll } from './spaceOps.ts';

/**
 * The network name service (mach-network-server.txt, section 12): a table of names checked in on
 * this host, and look-ups here, on a named host or on every host. A found port arrives as a send
 * right, translated like any right in a message.
 */

export type LookupResult = { ok: true; name: number } | { ok: false; error: MachError };

/** One look-up in progress: its chart and the hosts it still waits for. */
export class PendingLookup {
  readonly actor: Actor<typeof netmsgLookup>;
  private readonly waitingFor = new Set<string>();
  private finished = false;

  constructor(
    private readonly S: NetmsgContext,
    readonly req: number,
    readonly name: string,
    host: string | null,
    private readonly into: PortSpace,
    private readonly done: (r: LookupResult) => void,
  ) {
    const peers = S.transport.peers();
    this.actor = createActor(netmsgLookup, {
      clock: S.world.clock,
      input: {
        self: S.host,
        host,
        hosts: peers.length + 1,
        timeoutMs: S.config.lookupTimeoutMs,
        io: {
          askLocal: () => this.askLocal(),
          askHost: (h) => this.ask(h),
          askEveryone: () => {
            this.askLocal();
            for (const p of peers) this.ask(p);
          },
          found: (n, from) => this.finish({ ok: true, name: n }, from),
          failed: (why) => this.finish({ ok: false, error: failure(why, name, host) }, host ?? '*'),
        },
      },
    });
  }

  start(): void {
    this.actor.start();
  }

  private askLocal(): void {
    this.S.world.schedule(
      0,
      () => {
        const n = lookUpLocal(this.S, this.name);
        this.answer(this.S.host, n);
      },
      'netmsg.lookup-local',
    );
  }

  private ask(host: string): void {
    this.waitingFor.add(host);
    sendTo(this.S, host, { k: 'lookup', req: this.req, name: this.name });
  }

  /** An answer from `from`: the name of a send right in the server's space, or null. */
  answer(from: string, n: number | null): void {
    this.waitingFor.delete(from);
    const active = !this.finished && this.actor.getSnapshot().status === 'active';
    if (!active) {
      if (n !== null) release(this.S, n, ReceivedRight.PORT_SEND);
      this.forgetIfDone();
      return;
    }
    const ev: LookupEvent =
      n === null ? { type: 'NOT_FOUND', from } : { type: 'FOUND', from, name: n };
    this.actor.send(ev);
    this.forgetIfDone();
  }

  asked(host: string): boolean {
    return this.waitingFor.has(host);
  }

  unreachable(host: string): void {
    if (!this.waitingFor.delete(host)) return;
    if (!this.finished) this.actor.send({ type: 'UNREACHABLE', host });
    this.forgetIfDone();
  }

  private finish(r: LookupResult, from: string): void {
    this.finished = true;
    const S = this.S;
    S.stats.lookups++;
    let result = r;
    if (r.ok) {
      try {
        result = {
          ok: true,
          name: S.k.extractRight(S.ns, r.name, Disposition.MOVE_SEND, this.into),
        };
      } catch (err) {
        if (!(err instanceof MachError)) throw err;
        release(S, r.name, ReceivedRight.PORT_SEND);
        result = { ok: false, error: err };
      }
    }
    if (S.world.trace.enabled)
      S.world.trace.emit('netmsg.lookup', {
        host: S.host,
        name: this.name,
        target: from,
        result: result.ok ? 'found' : result.error.detail,
      });
    this.forgetIfDone();
    S.world.schedule(0, () => this.done(result), 'netmsg.lookup-done');
  }

  /** Late answers still have to be released, so the record stays until all asked have answered. */
  private forgetIfDone(): void {
    if (this.finished && this.waitingFor.size === 0) this.S.lookups.delete(this.req);
  }

  stop(): void {
    this.actor.stop();
  }
}

function failure(
  why: 'not-found' | 'unreachable' | 'timed-out',
  name: string,
  host: string | null,
): MachError {
  const where = host === null ? 'on any host' : `on ${host}`;
  if (why === 'unreachable')
    return new MachError('KERN_INVALID_HOST', `host ${host} is unreachable`);
  if (why === 'timed-out')
    return new MachError('MACH_RCV_TIMED_OUT', `no answer for "${name}" ${where}`);
  return new MachError('KERN_INVALID_NAME', `"${name}" is not checked in ${where}`);
}

export function startLookup(
  S: NetmsgContext,
  name: string,
  host: string | null,
  into: PortSpace,
  done: (r: LookupResult) => void,
): void {
  if (host !== null && !S.knownHost(host)) {
    const error = new MachError('KERN_INVALID_HOST', `no host named "${host}"`);
    S.world.schedule(0, () => done({ ok: false, error }), 'netmsg.lookup-done');
    return;
  }
  const req = S.nextReq++;
  const lookup = new PendingLookup(S, req, name, host, into, done);
  S.lookups.set(req, lookup);
  lookup.start();
}

/** netname_check_in: the server keeps a send right for `name`. */
export function checkIn(S: NetmsgContext, name: string, space: PortSpace, portName: number): void {
  if (name.length === 0 || name.length > 80)
    throw new MachError('KERN_INVALID_ARGUMENT', 'a netname is 1..80 characters');
  if (S.names.has(name) && lookUpLocal(S, name, false) !== null)
    throw new MachError('KERN_NAME_EXISTS', `"${name}" is already checked in on ${S.host}`);
  const e = space.lookup(portName);
  if (e === undefined)
    throw new MachError(
      'KERN_INVALID_NAME',
      `port name 0x${(portName >>> 0).toString(16)} is not in "${space.label}"`,
    );
  const d = e.bits & PortType.RECEIVE ? Disposition.MAKE_SEND : Disposition.COPY_SEND;
  S.names.set(name, S.k.extractRight(space, portName, d, S.ns));
}

/** Registers a send right the server already holds (a task's check-in message). */
export function checkInHeld(S: NetmsgContext, name: string, held: number): boolean {
  if (S.names.has(name) && lookUpLocal(S, name, false) !== null) return false;
  S.names.set(name, held);
  return true;
}

export function checkOut(S: NetmsgContext, name: string): boolean {
  const held = S.names.get(name);
  if (held === undefined) return false;
  S.names.delete(name);
  release(S, held, ReceivedRight.PORT_SEND);
  return true;
}

/**
 * The send right checked in under `name`; with `copy`, a fresh reference the caller owns.
 * A name whose port died is forgotten.
 */
export function lookUpLocal(S: NetmsgContext, name: string, copy = true): number | null {
  const held = S.names.get(name);
  if (held === undefined) return null;
  const e = S.ns.lookup(held);
  if (e === undefined || !(e.bits & PortType.SEND)) {
    S.names.delete(name);
    if (e !== undefined) release(S, held, ReceivedRight.PORT_SEND);
    return null;
  }
  if (copy) S.k.modRefs(S.ns, held, PortRight.SEND, 1);
  return held;
}

type Body<K extends NetBody['k']> = Extract<NetBody, { k: K }>;

/** Another host asks this one's table. */
export function onLookup(S: NetmsgContext, from: string, b: Body<'lookup'>): void {
  const n = lookUpLocal(S, b.name);
  if (n === null) return sendTo(S, from, { k: 'lookup-reply', req: b.req, port: null });
  const after: (() => void)[] = [];
  const port = exportRef(S, n, ReceivedRight.PORT_SEND, from, after);
  sendTo(S, from, { k: 'lookup-reply', req: b.req, port });
  for (const f of after) f();
}

export function onLookupReply(S: NetmsgContext, from: string, b: Body<'lookup-reply'>): void {
  const lookup = S.lookups.get(b.req);
  if (lookup === undefined || !lookup.asked(from))
    return reject(
      S,
      from,
      'unexpected',
      `look-up reply ${b.req} that nobody here asked ${from} for`,
    );
  if (b.port !== null && b.port !== 'dead' && (!S.knownHost(b.port.home) || b.port.via !== from))
    return reject(S, from, 'unheld-right', `look-up reply carries a right ${from} did not hold`);
  const held: Held[] = [];
  const n = importRef(S, b.port, held).name;
  if (n > 0) lookup.answer(from, n);
  else {
    releaseAll(S, held);
    lookup.answer(from, null);
  }
}
