import type { AnyMachineSnapshot, EventObject } from 'xstate';
import {
  PAGER_FAULTS,
  PAGER_MODEL_EVENTS,
  type PagerModelContext,
  pagerModel,
} from '../../models/pager.ts';
import { checkIpcInvariants } from '../actors/invariants.ts';
import { Cluster } from '../cluster.ts';
import type { AddressSpace } from '../memory/addressSpace.ts';
import { MEMORY_SERVER_TIMING } from '../migration/memoryServer.ts';
import type { MachError } from '../protocol/errors.ts';
import { type RunningPager, startPager } from '../servers/pager.ts';
import { HOST_PROFILES } from '../world/profiles.ts';
import type { CheckModel } from './runner.ts';

/**
 * Executors and assertions of the pager model (models/pager.ts): a pager (the default pager's
 * statechart, as the migration's memory server runs it) on host `server` holds memory object 0;
 * the kernel of host `client` maps it through a send right it got from netmsg, so every
 * memory_object call crosses the simulated Ethernet. Each event faults, writes, flushes or
 * unmaps pages for real, or impairs the network or crashes the pager's host; each state is
 * checked against the client's resident pages and their bytes, and the pager's store.
 */

const PAGE = 4096;
const BASE = 0x40000;
const NAME = 'check-pager';
/** Longer than netmsg's give-up: the pager becomes unreachable. */
const CUT_MS = 3000;
const DELAY_MS = 1300;

export interface PagerCtx {
  readonly cluster: Cluster;
  readonly pager: RunningPager;
  readonly space: AddressSpace;
  /** The pager right in the client kernel's VM space (given up once the mapping is gone). */
  readonly right: number;
  /** The last fault's error (null: it succeeded; undefined: none yet). */
  lastError: MachError | null | undefined;
  /** Pages written, by version: the bytes of page p at version v. */
  readonly baseline: { client: string[]; server: string[] };
}

/** The bytes of page `p` at version `v`. */
function pattern(p: number, v: number): Uint8Array {
  const b = new Uint8Array(PAGE);
  for (let i = 0; i < PAGE; i += 64) b[i] = (p * 16 + v * 3 + i / 64) & 0xff;
  b[PAGE - 1] = 0xa0 + p * 4 + v;
  return b;
}

function begin(): PagerCtx {
  const cluster = new Cluster({
    seed: 1,
    hosts: { server: HOST_PROFILES.i486dx33, client: HOST_PROFILES.i486dx33 },
  });
  const netmsg = cluster.netmsg;
  const server = cluster.host('server');
  const client = cluster.host('client');
  const labels = (h: typeof server) => [...h.ipc.ports].map((p) => p.label).sort();
  const baseline = { client: labels(client), server: labels(server) };
  const pager = startPager(server.ipc, { label: NAME, timing: MEMORY_SERVER_TIMING });
  pager.store.open(0);
  for (const p of [0, 1]) pager.store.write(0, p * PAGE, pattern(p, 0), PAGE);
  netmsg.server('server').checkIn(NAME, pager.space, pager.port);
  let right = 0;
  netmsg.server('client').lookUp(NAME, 'server', client.memory.vm.space, (r) => {
    if (!r.ok) throw r.error;
    right = r.name;
  });
  cluster.world.runUntil(() => right !== 0);
  const space = client.memory.createAddressSpace('check:mapped');
  space.map(BASE, 2 * PAGE, right, 0, 0);
  return { cluster, pager, space, right, lastError: undefined, baseline };
}

/** Faults page `p` in (for writing or reading); runs the world until it is done. */
function fault(ctx: PagerCtx, p: number, write: boolean): void {
  if (ctx.space.page(BASE / PAGE + p, write) instanceof Uint8Array) {
    ctx.lastError = null;
    return;
  }
  let done = false;
  ctx.lastError = undefined;
  ctx.space.faultIn(BASE / PAGE + p, write, (e) => {
    done = true;
    ctx.lastError = e ?? null;
  });
  // A fault the pager never answers would hang the thread: bounded here, and reported.
  ctx.cluster.world.runUntil(() => done, { until: ctx.cluster.world.now() + 10_000 });
  if (!done)
    ctx.lastError = {
      codeName: 'HUNG',
      message: 'the fault never completed',
    } as unknown as MachError;
}

function exec(ctx: PagerCtx, event: EventObject, next: AnyMachineSnapshot): void {
  const c = next.context as PagerModelContext;
  const net = ctx.cluster.network;
  const world = ctx.cluster.world;
  const page = (event as unknown as { page?: number }).page ?? 0;
  const addr = BASE + page * PAGE;
  switch (event.type) {
    case 'READ':
      fault(ctx, page, false);
      break;
    case 'WRITE': {
      fault(ctx, page, true);
      if (ctx.lastError === null) {
        const f = ctx.space.write(addr, pattern(page, c.pages[page as 0 | 1].v));
        if (f !== undefined) throw new Error(`write of page ${page} faulted after its fault-in`);
      }
      break;
    }
    case 'EVICT':
      ctx.space.flush(addr, PAGE, { discard: true });
      world.runUntilTime(world.now() + 50);
      break;
    case 'CLEAN':
      ctx.space.flush(addr, PAGE, { discard: false });
      world.runUntilTime(world.now() + 50);
      break;
    case 'TERMINATE':
      ctx.space.destroy();
      world.runUntilTime(world.now() + 50);
      break;
    case 'DELAY': {
      const id = net.partition(['server'], ['client']);
      world.schedule(DELAY_MS, () => net.heal(id), 'check.heal');
      break;
    }
    case 'CUT': {
      const id = net.partition(['server'], ['client']);
      world.schedule(CUT_MS, () => net.heal(id), 'check.heal');
      // Something must cross the link for netmsg to notice (a checkup probe would, in time):
      // a name look-up does. Run past the give-up with the link cut.
      const client = ctx.cluster.host('client');
      const probe = client.ipc.createSpace('check:probe');
      ctx.cluster.netmsg.server('client').lookUp(NAME, 'server', probe, () => {});
      world.runUntilTime(world.now() + CUT_MS + 100);
      if (probe.active) client.ipc.destroySpace(probe);
      break;
    }
    case 'PAGER_CRASH':
      net.crash('server');
      world.runUntilTime(world.now() + 10);
      break;
    default:
      throw new Error(`no executor for ${event.type}`);
  }
}

function check(
  ctx: PagerCtx,
  state: AnyMachineSnapshot,
  _index: number,
  ev: EventObject,
): string[] {
  const c = state.context as PagerModelContext;
  const out: string[] = [];
  for (const h of ctx.cluster.hosts.values())
    if (h.up) for (const p of checkIpcInvariants(h.ipc)) out.push(`IPC on ${h.name}: ${p}`);
  if (ev.type === 'READ' || ev.type === 'WRITE') {
    // A fault never hangs: it gets its page, or an error once the pager cannot answer.
    if (ctx.lastError?.codeName === ('HUNG' as string))
      out.push(
        `${ev.type} of page ${(ev as unknown as { page: number }).page}: the fault never completed`,
      );
    const failed = ctx.lastError !== null && ctx.lastError !== undefined;
    if (failed !== c.failed)
      out.push(
        `${ev.type} of page ${(ev as unknown as { page: number }).page}: ${failed ? `failed (${ctx.lastError?.message})` : 'succeeded'}, expected it to ${c.failed ? 'fail' : 'succeed'}`,
      );
  }
  if (c.terminated) return out;
  c.pages.forEach((p, i) => {
    const r = ctx.space.page(BASE / PAGE + i, false);
    const resident = r instanceof Uint8Array;
    if (resident !== (p.res !== 'absent'))
      out.push(`page ${i}: ${resident ? 'resident' : 'not resident'}, expected ${p.res}`);
    if (resident && !same(r, pattern(i, p.v)))
      out.push(`page ${i}: its bytes are not version ${p.v}'s`);
  });
  if (c.link !== 'dead' && ctx.pager.store.has(0)) {
    c.stored.forEach((v, i) => {
      const got = ctx.pager.store.read(0, i * PAGE, PAGE, PAGE);
      if (!same(got, pattern(i, v))) out.push(`the pager's page ${i} is not version ${v}'s`);
    });
  }
  return out;
}

function end(ctx: PagerCtx): string[] {
  const world = ctx.cluster.world;
  const net = ctx.cluster.network;
  const out: string[] = [];
  if (!ctx.space.destroyed) ctx.space.destroy();
  const client0 = ctx.cluster.host('client');
  const vmSpace = client0.memory.vm.space;
  if (vmSpace.active && vmSpace.lookup(ctx.right) !== undefined)
    client0.ipc.deallocate(vmSpace, ctx.right);
  net.heal();
  for (const n of net.nodes()) if (!net.isUp(n)) net.restart(n);
  world.runUntilIdle({ maxEvents: 1_000_000 });
  const server = ctx.cluster.host('server');
  const client = ctx.cluster.host('client');
  // The pager saw its object terminated (unless it died, or the link did first).
  if (
    ctx.pager.space.active &&
    ctx.pager.store.has(0) &&
    server.boots === 1 &&
    ctx.pager.stats().inits > 0
  ) {
    const linkCut = ctx.cluster.netmsg.servers().some((s) => s.stats.giveUps > 0);
    if (!linkCut) out.push('the pager still holds object 0 after the mapping went');
  }
  if (ctx.pager.space.active) {
    ctx.pager.stop();
    server.ipc.destroySpace(ctx.pager.space);
  }
  ctx.cluster.netmsg.server('server').checkOut(NAME);
  world.runUntilIdle({ maxEvents: 1_000_000 });
  const m = client.memory.stats;
  if (m.residentPages > 0 || m.objects > 0)
    out.push(`client memory left behind: ${m.residentPages} pages, ${m.objects} objects`);
  for (const [h, base] of [
    [client, ctx.baseline.client],
    [server, ctx.baseline.server],
  ] as const) {
    const now = [...h.ipc.ports].map((p) => p.label).sort();
    if (h.boots === 1 && now.join('|') !== base.join('|'))
      out.push(
        `${h.name}: ports left behind: ${now.filter((l) => !base.includes(l)).join(', ') || now.length}`,
      );
    for (const p of checkIpcInvariants(h.ipc)) out.push(`IPC on ${h.name} at rest: ${p}`);
  }
  for (const s of ctx.cluster.netmsg.servers()) {
    const proxies = s.records.all().reduce((n, r) => n + r.proxies.length, 0);
    if (proxies > 0) out.push(`netmsg on ${s.host}: ${proxies} proxies left behind`);
  }
  return out;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const pagerCheck: CheckModel<PagerCtx> = {
  name: 'pager',
  description:
    'memory_object protocol with a pager on another host: faults, write-back, flush, terminate',
  machine: pagerModel,
  events: PAGER_MODEL_EVENTS,
  faults: PAGER_FAULTS,
  simplePaths: false,
  begin,
  exec,
  check,
  end,
};
