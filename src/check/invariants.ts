import { checkIpcInvariants } from '../actors/invariants.ts';
import type { Task } from '../kernel/task.ts';
import { totalRejected } from '../netmsg/stats.ts';
import {
  alive,
  Harness,
  type HarnessSpec,
  type ReceiverSpec,
  SENDER_STRIDE,
  type SenderRecord,
  type TrackedTask,
  type WorkloadSpec,
} from './harness.ts';

/**
 * The invariants every model path and every campaign seed must keep (design.md section 5 and
 * issue 6), checked on the real system:
 *
 * 1. at most one running copy of each task (checked after every event of the world: harness.ts);
 * 2. a task is never lost while a complete copy survives: some copy is alive, or the task has
 *    finished, or the last complete copy died with its host;
 * 3. every message sent to a task's ports is delivered exactly once and in per-sender order
 *    (where nothing legitimately lost it: a crash of the sender's host or of a host holding the
 *    port, a message carrying the port's receive right destroyed, netmsg giving up on a host
 *    the messages went through; then at most once and in order);
 * 4. nothing left behind once the world is at rest: no task, port, space, resident page, memory
 *    object, stored page, netmsg proxy, or pager (a memory server's space) beyond what the hosts
 *    had before the run;
 * 5. the final output equals the unmigrated reference run (a finished task's lineage: the output
 *    of every copy that ran and did not die with its host, in order).
 *
 * Plus the runtime's own checks: IPC right accounting on every host, no netmsg internal error.
 */

/** After every step of a path (and often in the campaign). */
export function stepInvariants(h: Harness): string[] {
  const out = [...h.violations];
  for (const [name, host] of h.cluster.hosts) {
    if (!host.up) continue;
    for (const p of checkIpcInvariants(host.ipc)) out.push(`IPC on ${name}: ${p}`);
  }
  for (const s of h.cluster.netmsg.servers()) {
    if (s.stats.internalErrors > 0)
      out.push(`netmsg on ${s.host}: ${s.stats.internalErrors} internal errors: ${s.errorLog[0]}`);
  }
  for (const t of h.tasks.values()) {
    const lost = lostTask(h, t);
    if (lost) out.push(lost);
    if (t.spec.kind === 'receiver') out.push(...orderViolations(h, t));
  }
  return out;
}

/** Once the world is at rest (call `h.quiesce()` first): everything, including leftovers. */
export function endInvariants(h: Harness, references: ReferenceCache): string[] {
  const out = stepInvariants(h);
  for (const t of h.tasks.values()) {
    const fin = finishedCopy(t);
    const at = (c: Task) => `${c.name}@${c.host.name}`;
    // A partial copy that never ran, or a duplicate, alive once the world is at rest: nobody
    // will ever destroy it.
    const partial = t.copies.filter((c) => alive(c) && !t.ran.has(c));
    if (partial.length > 0)
      out.push(`${t.name}: partial copies left behind: ${partial.map(at).join(', ')}`);
    const dups = t.duplicates.filter(alive);
    if (dups.length > 0) out.push(`${t.name}: duplicates left behind: ${dups.map(at).join(', ')}`);
    const running = t.copies.filter((c) => alive(c) && t.ran.has(c));
    if (fin !== null && running.length > 0)
      out.push(`${t.name}: finished, but copies are left behind: ${running.map(at).join(', ')}`);
    if (fin === null && running.length > 0 && unfinishedExcuse(h, t) === null)
      out.push(
        `${t.name}: never finished (alive: ${running.map((c) => `${at(c)} suspend=${c.suspendCount}`).join(', ')})`,
      );
    if (fin !== null) out.push(...outputViolations(h, t, references.get(h.spec, t.spec)));
  }
  for (const s of h.senders) {
    const itsHostCrashed = h.crashes.some((c) => c.host === s.spec.host);
    if (s.stopped !== null && !senderLossy(h, s) && !itsHostCrashed)
      out.push(`sender ${s.id} (to ${s.receiver}) stopped: ${s.stopped}`);
  }
  // Whatever could not finish goes, so that what it held can be checked for leaks too.
  const killed = h.killRemaining();
  if (!h.quiesce()) out.push('the world does not come to rest');
  out.push(...leftovers(h));
  if (killed.length > 0) h.notes.push(`killed at the end: ${killed.join(', ')}`);
  return out;
}

/** A task with no live copy that did not finish, unless its last complete copy died with its host. */
export function lostTask(h: Harness, t: TrackedTask): string | null {
  if ([...t.copies, ...t.duplicates].some(alive)) return null;
  if (finishedCopy(t) !== null) return null;
  const died = (c: Task) => h.crashed.get(c) ?? c.exit?.time ?? Number.POSITIVE_INFINITY;
  // A duplicate the client discarded because its migration committed is not where the task went
  // on: the destination's copy is (a reply sent before the destination crashed may still reach
  // the client after it, so that discard can come after the crash that lost the task).
  const kept = t.duplicates.filter((d) => d.exit?.reason !== 'migration committed');
  // The first copy holds the task from its spawn, even before it first runs (a host may crash
  // while the program is loading); a copy that migrated away handed the task on, so when it
  // ended is not when the task did.
  const holders = t.copies.filter(
    (c, i) => (t.ran.has(c) || i === 0) && !c.exit?.reason.startsWith('migrated to '),
  );
  const complete = [...holders, ...kept];
  complete.sort((a, b) => died(a) - died(b));
  const last = complete[complete.length - 1];
  if (last && h.crashed.has(last)) return null;
  if (residualDependencyLost(h, t)) return null;
  const ends = [...t.copies, ...t.duplicates]
    .map((c) => `${c.name}@${c.host.name}: ${c.exit?.reason ?? 'gone'}`)
    .join('; ');
  return `${t.name}: lost while no host crash explains it (${ends})`;
}

/** The copy that ran the program to its end (exit), if any. */
export function finishedCopy(t: TrackedTask): Task | null {
  return t.copies.find((c) => c.exit !== null && c.exit.reason === 'exit') ?? null;
}

/** What the task printed: every copy that ran, in order, but a last one that died with its host. */
export function lineageOutput(h: Harness, t: TrackedTask): string {
  const ran = t.copies.filter((c) => t.ran.has(c));
  // A copy that died with its host still counts when a later copy ran: the migration had passed
  // its commit point, so what the copy printed before it was suspended is the task's output.
  return ran
    .filter((c, i) => !h.crashed.has(c) || i < ran.length - 1)
    .map((c) => c.outputText)
    .join('');
}

/**
 * A task that depends on a memory server on another host (it was migrated with a remote pager
 * strategy: demand, prepage, flush) can fault on a page it can no longer get once that host
 * crashed or netmsg gave up on it: the residual dependency of those strategies.
 */
export function residualDependencyLost(h: Harness, t: TrackedTask): string | null {
  for (const m of h.migrations) {
    if (m.task !== t.name) continue;
    const strategy = m.opts.strategy ?? 'eager';
    if (strategy === 'eager' || strategy === 'precopy') continue;
    // Committed, as the destination sees it (the client's own result may say otherwise if its
    // host crashed): a copy ran there.
    const committed = t.copies.some((c) => c.host.name === m.to && t.ran.has(c));
    if (!committed) continue;
    const r = { startMs: m.startedAt };
    if (h.crashes.some((c) => c.host === m.from && c.at >= r.startMs))
      return `its memory server on ${m.from} died`;
    if (h.cluster.netmsg.servers().some((s) => s.stats.giveUps > 0))
      return `its memory server on ${m.from} may have become unreachable`;
  }
  return null;
}

/** Why a task may legitimately not have finished (null: no excuse). */
function unfinishedExcuse(h: Harness, t: TrackedTask): string | null {
  if (t.lossy) return t.lossy;
  const residual = residualDependencyLost(h, t);
  if (residual) return residual;
  if (t.spec.kind === 'receiver') {
    if (sendersOf(h, t.name).some((s) => senderLossy(h, s)))
      return 'a sender lost messages legitimately';
  }
  return null;
}

function sendersOf(h: Harness, receiver: string): SenderRecord[] {
  return h.senders.filter((s) => s.receiver === receiver);
}

/**
 * Whether a sender's messages may legitimately be lost: its host crashed, the receiver's port
 * was lost with a host or a message (or with the receiver's memory server), or netmsg gave up on
 * a peer (which fails the messages on their way to it).
 */
export function senderLossy(h: Harness, s: SenderRecord): boolean {
  if (s.crashed) return true;
  const receiver = h.tasks.get(s.receiver);
  if (receiver?.lossy) return true;
  // A receiver whose memory server died with its old host may die on a page fault, its port too.
  if (receiver && residualDependencyLost(h, receiver)) return true;
  return h.cluster.netmsg.servers().some((n) => n.stats.giveUps > 0);
}

interface Received {
  readonly value: number;
  readonly sum: string;
}

function parseReceiver(text: string): { got: Received[]; failed: string[]; junk: string[] } {
  const got: Received[] = [];
  const failed: string[] = [];
  const junk: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /^recv (\d+) (\d+)$/.exec(line);
    if (m) got.push({ value: Number(m[1]), sum: m[2]! });
    else if (line.startsWith('failed ')) failed.push(line);
    else junk.push(line);
  }
  return { got, failed, junk };
}

/** Per sender: values strictly increasing (no duplicate, no reordering), each one sent. */
function orderViolations(h: Harness, t: TrackedTask): string[] {
  const out: string[] = [];
  const { got } = parseReceiver(lineageOutput(h, t));
  const last = new Map<number, number>();
  for (const g of got) {
    const id = Math.floor(g.value / SENDER_STRIDE);
    const s = h.senders.find((x) => x.id === id && x.receiver === t.name);
    if (!s) {
      out.push(`${t.name}: received ${g.value}, which no sender of it sent`);
      continue;
    }
    const prev = last.get(id);
    if (prev !== undefined && g.value <= prev)
      out.push(
        `${t.name}: from sender ${id}, ${g.value} after ${prev} (${g.value === prev ? 'duplicate' : 'out of order'})`,
      );
    last.set(id, g.value);
    if (!s.sent.includes(g.value) && s.done)
      out.push(`${t.name}: received ${g.value}, which sender ${id} never sent`);
  }
  return out;
}

function outputViolations(h: Harness, t: TrackedTask, reference: string): string[] {
  const actual = lineageOutput(h, t);
  if (t.spec.kind === 'ticker') {
    if (actual === reference) return [];
    return [
      `${t.name}: output differs from the unmigrated run: ${firstDifference(actual, reference)}`,
    ];
  }
  const out: string[] = [];
  const a = parseReceiver(actual);
  const r = parseReceiver(reference);
  const senders = sendersOf(h, t.name);
  const lossy = senders.some((s) => senderLossy(h, s)) || t.lossy !== null;
  if (a.junk.length > 0) out.push(`${t.name}: unexpected output ${JSON.stringify(a.junk[0])}`);
  if (!lossy) {
    if (a.failed.length > 0) out.push(`${t.name}: ${a.failed[0]}`);
    const sums = (x: Received[]) => x.map((g) => g.sum).join(',');
    if (sums(a.got) !== sums(r.got))
      out.push(
        `${t.name}: checksums differ from the unmigrated run after ${commonPrefix(
          a.got.map((g) => g.sum),
          r.got.map((g) => g.sum),
        )} messages`,
      );
  }
  for (const s of senders) {
    const id = s.id;
    const mine = a.got
      .filter((g) => Math.floor(g.value / SENDER_STRIDE) === id)
      .map((g) => g.value);
    const theirs = r.got
      .filter((g) => Math.floor(g.value / SENDER_STRIDE) === id)
      .map((g) => g.value);
    if (senderLossy(h, s)) continue;
    if (mine.join(',') !== s.sent.join(','))
      out.push(
        `${t.name}: sender ${id} sent [${abbreviate(s.sent)}] but [${abbreviate(mine)}] were delivered`,
      );
    else if (mine.join(',') !== theirs.join(','))
      out.push(`${t.name}: sender ${id}'s messages differ from the unmigrated run`);
  }
  return out;
}

/** Anything the run left behind on a host that is up, against what the host had at the start. */
export function leftovers(h: Harness): string[] {
  const out: string[] = [];
  for (const [name, host] of h.cluster.hosts) {
    if (!host.up) continue;
    const base = h.baseline.get(name)!;
    if (host.tasks.size > 0)
      out.push(
        `${name}: tasks left behind: ${[...host.tasks.values()].map((t) => t.name).join(', ')}`,
      );
    const extra = surplus(
      [...host.ipc.ports].map((p) => p.label),
      base.ports,
    );
    if (extra.length > 0) out.push(`${name}: ports left behind: ${extra.join(', ')}`);
    const spaces = surplus(
      [...host.ipc.spaces].map((s) => s.label),
      base.spaces,
    );
    if (spaces.length > 0) out.push(`${name}: spaces left behind: ${spaces.join(', ')}`);
    const m = host.memory.stats;
    if (m.residentPages > 0 || m.objects > 0 || m.pagerStoredPages > 0)
      out.push(
        `${name}: memory left behind: ${m.residentPages} resident pages, ${m.objects} objects, ${m.pagerStoredPages} pages on the pager's disk`,
      );
    for (const p of checkIpcInvariants(host.ipc)) out.push(`IPC on ${name} at rest: ${p}`);
  }
  for (const s of h.cluster.netmsg.servers()) {
    const proxies = s.records.all().reduce((n, r) => n + r.proxies.length, 0);
    if (proxies > 0) out.push(`netmsg on ${s.host}: ${proxies} proxies left behind`);
    if (totalRejected(s.stats) > 0)
      out.push(`netmsg on ${s.host}: ${totalRejected(s.stats)} frames or messages rejected`);
  }
  return out;
}

/** Items of `now` beyond those of `before` (multisets). */
function surplus(now: string[], before: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const b of before) left.set(b, (left.get(b) ?? 0) + 1);
  const out: string[] = [];
  for (const x of now) {
    const n = left.get(x) ?? 0;
    if (n > 0) left.set(x, n - 1);
    else out.push(x);
  }
  return out;
}

function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return `at character ${i}: got ${JSON.stringify(a.slice(i, i + 40))}, expected ${JSON.stringify(b.slice(i, i + 40))}`;
}

function commonPrefix(a: readonly string[], b: readonly string[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function abbreviate(xs: readonly number[]): string {
  return xs.length <= 8
    ? xs.join(',')
    : `${xs.slice(0, 4).join(',')},...,${xs.slice(-3).join(',')} (${xs.length})`;
}

/**
 * Outputs of unmigrated, unfaulted runs: each workload alone on the same hosts, with its senders.
 * Outputs do not depend on timing (a receiver's checksums depend on the number of messages, its
 * values per sender on each sender's order), so one reference serves every seed.
 */
export class ReferenceCache {
  private readonly cache = new Map<string, string>();

  get(spec: HarnessSpec, w: WorkloadSpec): string {
    const key = JSON.stringify({ hosts: spec.hosts, w });
    let out = this.cache.get(key);
    if (out === undefined) {
      out = referenceRun(spec, w);
      this.cache.set(key, out);
    }
    return out;
  }
}

function referenceRun(spec: HarnessSpec, w: WorkloadSpec): string {
  const h = new Harness({ seed: spec.seed, hosts: spec.hosts, workloads: [w] });
  const t = h.tasks.get(w.name)!;
  h.run(() => finishedCopy(t) !== null || t.copies.every((c) => !alive(c)), 3_600_000);
  const fin = finishedCopy(t);
  if (fin === null) throw new Error(`reference run of ${w.name} did not finish`);
  return lineageOutput(h, t);
}

export type { ReceiverSpec };
