import type { Cluster } from '../cluster.ts';
import type { MigrationClientIo, MigrationStep } from '../machines/migrationClient.ts';
import { MachError } from '../protocol/errors.ts';
import { MigrationId, type MigrationMessage } from '../protocol/migration.ts';
import type { World } from '../world/world.ts';

/**
 * Failure injection for migrations: make any step of the protocol fail, and lose any of its
 * messages, deterministically (design.md section 5: failures are first-class). Faults are given
 * per migration, in `MigrateOptions.inject`:
 *
 * ```ts
 * cluster.migrate(task, 'i486', { inject: [{ kind: 'crash', at: { step: 'copy' } }] });
 * cluster.migrate(task, 'i486', { inject: [{ kind: 'lose', message: 'COMMIT', what: 'reply' }] });
 * ```
 *
 * Where the world has the machinery, faults use it: a partition is `network.partition` between
 * the two hosts (healed after `ms`), a crash is `network.crash` of a host (restarted after
 * `restartAfterMs`, if given), each struck at the virtual instant of its trigger. Only what the
 * world cannot express goes through hooks: a client step that fails or never answers (wrapping
 * the client's io), and a destination that refuses or loses a given message of the session (the
 * migration server consults `destinationFaults` for each request it receives and each answer it
 * sends). Every injected fault is traced as `migration.fault`.
 *
 * Triggers: `{ step }` as the client starts that step (before its work); `{ sent, nth }` as the
 * source sends the nth request of that kind; `{ received, nth }` as the destination receives it
 * (before acting on it); `{ answered, nth }` as the destination has acted on it and answers.
 * `nth` counts from 1 and defaults to 1.
 */
export type FaultTrigger =
  | { readonly step: MigrationStep }
  | { readonly sent: MigrationMessage; readonly nth?: number }
  | { readonly received: MigrationMessage; readonly nth?: number }
  | { readonly answered: MigrationMessage; readonly nth?: number };

export type MigrationFault =
  /** The client's step fails at once, as if its local work had failed. */
  | { readonly kind: 'fail'; readonly step: MigrationStep; readonly reason?: string }
  /** The client's step never completes: its timeout fires. */
  | { readonly kind: 'stall'; readonly step: MigrationStep }
  /**
   * The destination refuses the nth request of a kind (CREATE refused: creation refused; PAGES:
   * no room; RESTORE; COMMIT: the session refuses and sends the rights back).
   */
  | {
      readonly kind: 'refuse';
      readonly message: 'CREATE' | 'PAGES' | 'RESTORE' | 'COMMIT';
      readonly nth?: number;
      readonly reason?: string;
    }
  /**
   * A message lost past netmsg's retries: netmsg then destroys it with the rights it carries,
   * and the sender's reply right comes back as a send-once notification. `request`: the
   * destination never sees the nth request of the kind; `reply`: it acts on it, and its answer
   * is lost.
   */
  | {
      readonly kind: 'lose';
      readonly message: MigrationMessage;
      readonly nth?: number;
      readonly what?: 'request' | 'reply';
    }
  /**
   * The network between source and destination partitions at the trigger, for `ms` (default
   * 3000: longer than netmsg's give-up time, so what was on its way is lost; shorter partitions
   * only delay messages, which netmsg retransmits).
   */
  | { readonly kind: 'partition'; readonly at: FaultTrigger; readonly ms?: number }
  /** A host (default the destination) crashes at the trigger, and restarts after `restartAfterMs`. */
  | {
      readonly kind: 'crash';
      readonly at: FaultTrigger;
      readonly host?: 'destination' | 'source';
      readonly restartAfterMs?: number;
    };

/** What the destination's migration server asks about each message of a session. */
export interface DestinationFaults {
  /** A request arrived: act on it, lose it (destroyed with its rights, unanswered) or refuse it. */
  received(message: string): 'deliver' | 'lose' | { readonly refuse: string };
  /** An answer to a request is going out: send it, or lose it. */
  answering(message: string): 'send' | 'lose';
}

const registry = new WeakMap<World, Map<string, DestinationFaults>>();

/** The faults injected into `session` on the destination side, if any (for the server). */
export function destinationFaults(world: World, session: string): DestinationFaults | undefined {
  return registry.get(world)?.get(session);
}

export interface Injection {
  /** The client's io with the step faults applied. */
  wrap(io: MigrationClientIo): MigrationClientIo;
  /** The migration ended: no more faults. (Scheduled heals and restarts still happen.) */
  stop(): void;
}

const STEPS: readonly MigrationStep[] = [
  'lookUp',
  'suspend',
  'duplicate',
  'create',
  'precopy',
  'copy',
  'restore',
  'commit',
  'resume',
  'rollBack',
];
const IO_STEP: Record<string, MigrationStep> = {
  lookUp: 'lookUp',
  suspend: 'suspend',
  duplicate: 'duplicate',
  create: 'create',
  precopyRound: 'precopy',
  copy: 'copy',
  restore: 'restore',
  commit: 'commit',
  finish: 'resume',
  rollBack: 'rollBack',
};
const MESSAGES = Object.keys(MigrationId) as MigrationMessage[];

/** Throws a MachError naming the first malformed fault; changes nothing. */
export function checkFaults(faults: readonly MigrationFault[]): void {
  const bad = (i: number, what: string) => {
    throw new MachError('KERN_INVALID_ARGUMENT', `inject[${i}]: ${what}`);
  };
  const nth = (i: number, n: unknown) => {
    if (n !== undefined && !(Number.isInteger(n) && (n as number) >= 1))
      bad(i, `nth must be an integer >= 1, got ${String(n)}`);
  };
  const message = (i: number, m: unknown) => {
    if (!MESSAGES.includes(m as MigrationMessage))
      bad(i, `unknown message "${String(m)}" (known: ${MESSAGES.join(', ')})`);
  };
  const step = (i: number, s: unknown) => {
    if (!STEPS.includes(s as MigrationStep))
      bad(i, `unknown step "${String(s)}" (known: ${STEPS.join(', ')})`);
  };
  const trigger = (i: number, t: FaultTrigger | undefined) => {
    if (t === null || typeof t !== 'object') return bad(i, 'needs a trigger `at`');
    if ('step' in t) return step(i, t.step);
    const m =
      'sent' in t ? t.sent : 'received' in t ? t.received : 'answered' in t ? t.answered : null;
    if (m === null) return bad(i, 'a trigger is { step }, { sent }, { received } or { answered }');
    message(i, m);
    nth(i, (t as { nth?: number }).nth);
  };
  if (!Array.isArray(faults))
    throw new MachError('KERN_INVALID_ARGUMENT', 'inject must be a list of faults');
  for (const [i, f] of faults.entries()) checkFault(i, f);
  function checkFault(i: number, f: MigrationFault): void {
    switch (f?.kind) {
      case 'fail':
      case 'stall':
        return step(i, f.step);
      case 'refuse':
        if (!['CREATE', 'PAGES', 'RESTORE', 'COMMIT'].includes(f.message))
          bad(i, `only CREATE, PAGES, RESTORE and COMMIT can be refused, not "${f.message}"`);
        return nth(i, f.nth);
      case 'lose':
        message(i, f.message);
        if (f.what !== undefined && f.what !== 'request' && f.what !== 'reply')
          bad(i, `what must be "request" or "reply", got "${String(f.what)}"`);
        return nth(i, f.nth);
      case 'partition':
        trigger(i, f.at);
        if (f.ms !== undefined && !(Number.isFinite(f.ms) && f.ms > 0))
          bad(i, `ms must be a positive number, got ${f.ms}`);
        return;
      case 'crash':
        trigger(i, f.at);
        if (f.host !== undefined && f.host !== 'destination' && f.host !== 'source')
          bad(i, `host must be "destination" or "source", got "${String(f.host)}"`);
        if (
          f.restartAfterMs !== undefined &&
          !(Number.isFinite(f.restartAfterMs) && f.restartAfterMs >= 0)
        )
          bad(i, `restartAfterMs must be a number >= 0, got ${f.restartAfterMs}`);
        return;
      default:
        bad(i, `unknown fault kind "${String((f as { kind?: unknown })?.kind)}"`);
    }
  }
}

/** Arms `faults` for one migration (session `session`, from host `from` to host `to`). */
export function injectFaults(
  cluster: Cluster,
  session: string,
  from: string,
  to: string,
  faults: readonly MigrationFault[],
): Injection {
  checkFaults(faults);
  const world = cluster.world;
  const network = cluster.network;
  const counts = new Map<string, number>();
  /** Counts an occurrence; returns its number (1-based). */
  const count = (key: string) => {
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    return n;
  };
  const note = (fault: string, detail: string) => {
    if (world.trace.enabled) world.trace.emit('migration.fault', { session, fault, detail });
  };
  const strike = (f: Extract<MigrationFault, { at: FaultTrigger }>, when: string) => {
    if (f.kind === 'partition') {
      const ms = f.ms ?? 3000;
      const id = network.partition([from], [to]);
      note('partition', `${from} | ${to} for ${ms} ms, ${when}`);
      world.schedule(ms, () => network.heal(id), 'migration.fault.heal');
      return;
    }
    const host = f.host === 'source' ? from : to;
    note(
      'crash',
      `${host}${f.restartAfterMs !== undefined ? `, restarting after ${f.restartAfterMs} ms` : ''}, ${when}`,
    );
    // At the same instant, but not inside the code that triggered it.
    world.schedule(
      0,
      () => {
        network.crash(host);
        if (f.restartAfterMs !== undefined)
          world.schedule(f.restartAfterMs, () => network.restart(host), 'migration.fault.restart');
      },
      'migration.fault.crash',
    );
  };
  const triggered = (kind: 'step' | 'sent' | 'received' | 'answered', what: string, n: number) => {
    for (const f of faults) {
      if (f.kind !== 'partition' && f.kind !== 'crash') continue;
      const t = f.at as Record<string, unknown>;
      if (t[kind] !== what) continue;
      if (kind !== 'step' && ((t.nth as number | undefined) ?? 1) !== n) continue;
      strike(f, kind === 'step' ? `as ${what} starts` : `as ${what} #${n} is ${kind}`);
    }
  };
  const hooks: DestinationFaults = {
    received(message) {
      const n = count(`received:${message}`);
      triggered('received', message, n);
      for (const f of faults) {
        if (f.kind === 'refuse' && f.message === message && (f.nth ?? 1) === n) {
          const reason = f.reason ?? `${message} refused (injected)`;
          note('refuse', `${message} #${n}: ${reason}`);
          return { refuse: reason };
        }
        if (
          f.kind === 'lose' &&
          (f.what ?? 'request') === 'request' &&
          f.message === message &&
          (f.nth ?? 1) === n
        ) {
          note('lose', `${message} #${n} request`);
          return 'lose';
        }
      }
      return 'deliver';
    },
    answering(message) {
      const n = count(`answered:${message}`);
      triggered('answered', message, n);
      for (const f of faults) {
        if (
          f.kind === 'lose' &&
          f.what === 'reply' &&
          f.message === message &&
          (f.nth ?? 1) === n
        ) {
          note('lose', `${message} #${n} reply`);
          return 'lose';
        }
      }
      return 'send';
    },
  };
  let sessions = registry.get(world);
  if (sessions === undefined) {
    sessions = new Map();
    registry.set(world, sessions);
  }
  sessions.set(session, hooks);
  const sub = world.trace.events$.subscribe((e) => {
    if (e.kind === 'migration.request' && e.session === session)
      triggered('sent', e.message, count(`sent:${e.message}`));
  });
  return {
    wrap(io) {
      const out = { ...io };
      for (const [key, step] of Object.entries(IO_STEP)) {
        const k = key as keyof MigrationClientIo;
        const original = io[k] as (done: (v?: unknown) => void, fail: (r: string) => void) => void;
        (out as Record<string, unknown>)[k] = (
          done: (v?: unknown) => void,
          fail: (r: string) => void,
        ) => {
          triggered('step', step, 1);
          for (const f of faults) {
            if (f.kind === 'fail' && f.step === step) {
              const reason = f.reason ?? `${step} failed (injected)`;
              note('fail', `${step}: ${reason}`);
              return fail(reason);
            }
            if (f.kind === 'stall' && f.step === step) {
              note('stall', `${step} never completes`);
              return;
            }
          }
          original(done, fail);
        };
      }
      return out;
    },
    stop() {
      sub.unsubscribe();
      sessions.delete(session);
    },
  };
}
