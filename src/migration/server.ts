import { type Actor, type AnyActorRef, createActor } from 'xstate';
import { bindMailbox, type MachMessageEvent } from '../actors/mailbox.ts';
import type { Host } from '../kernel/host.ts';
import { createTask } from '../kernel/taskOps.ts';
import { migrationServer } from '../machines/migrationServer.ts';
import { migrationSession, type SessionIo } from '../machines/migrationSession.ts';
import type { NetmsgServer } from '../netmsg/server.ts';
import { MachError } from '../protocol/errors.ts';
import type { ReceivedMessage } from '../protocol/message.ts';
import {
  type CreateRequest,
  messageName,
  migrationReply,
  requestData,
  type SessionState,
} from '../protocol/migration.ts';
import { Disposition, PortRight } from '../protocol/rights.ts';
import { destinationFaults } from './faultInjection.ts';
import { sessionIo } from './session.ts';

/** The name under which every host's migration server is checked in. */
export const MIGRATION_SERVER_NAME = 'migration-server';

export interface MigrationServerOptions {
  /** Silence (ms) after which an open session presumes the client gone and aborts. */
  readonly idleMs?: number;
  /** How long an ended session keeps answering (ms). */
  readonly lingerMs?: number;
  /** Fault injection: refuse a CREATE with this reason. */
  readonly refuseCreate?: (req: CreateRequest) => string | null;
  /**
   * Test switch, for the model-based suite's teeth test only: a deliberately broken rollback, in
   * which an aborted session leaves its partial task alive instead of destroying it.
   */
  readonly keepPartialTaskOnAbort?: boolean;
}

export interface RunningMigrationServer {
  readonly actor: Actor<typeof migrationServer>;
  readonly port: number;
  /** What became of each session this server opened. */
  readonly sessions: ReadonlyMap<string, SessionState>;
  stop(): void;
}

/** Starts a host's migration server and checks it in with the host's netmsg server. */
export function startMigrationServer(
  host: Host,
  netmsg: NetmsgServer,
  opts: MigrationServerOptions = {},
): RunningMigrationServer {
  const ipc = host.ipc;
  const space = ipc.createSpace(`${host.name}:migration-server`);
  const port = ipc.allocate(space, PortRight.RECEIVE, `${host.name}:migration`);
  const sessions = new Map<string, SessionState>();
  /** Sessions still open, by id: a request about one may come to the server's port. */
  const live = new Map<string, Actor<typeof migrationSession>>();
  const actors: Actor<typeof migrationSession>[] = [];
  const world = host.world;
  /** Rights a request carried that nobody takes: destroyed (a reply right yields a notification). */
  const discard = (m: ReceivedMessage, withReply: boolean) => {
    const names = m.body.flatMap((i) => (i.type === 'port' && i.name > 0 ? [i.name] : []));
    if (withReply && m.remotePort > 0) names.push(m.remotePort);
    for (const n of names) if (space.active && space.lookup(n) !== undefined) ipc.destroy(space, n);
  };
  /**
   * Every answer of this server and its sessions goes out here: traced, and lost instead when a
   * fault injected into the session says so (faultInjection.ts). Returns whether to send it.
   */
  const answering = (m: ReceivedMessage, ok: boolean, state: SessionState): boolean => {
    const session = sessionOf(m);
    const message = messageName(m.id);
    if (world.trace.enabled)
      world.trace.emit('migration.reply', { host: host.name, session, message, ok, state });
    if (destinationFaults(world, session)?.answering(message) !== 'lose') return true;
    discard(m, true);
    return false;
  };
  /**
   * Every request of this server and its sessions comes in here: traced, then delivered to the
   * statechart, or (injected faults) lost with its rights, or refused with `refuse`.
   */
  const screened = (
    target: Actor<typeof migrationServer> | Actor<typeof migrationSession>,
    refuse: (m: ReceivedMessage, reason: string) => void,
  ): AnyActorRef =>
    ({
      getSnapshot: () => target.getSnapshot(),
      send: (e: MachMessageEvent) => {
        const m = e.message;
        const session = sessionOf(m);
        const message = messageName(m.id);
        if (world.trace.enabled)
          world.trace.emit('migration.received', { host: host.name, session, message });
        const d = destinationFaults(world, session)?.received(message) ?? 'deliver';
        if (d === 'lose') return discard(m, true);
        if (typeof d === 'object') return refuse(m, d.refuse);
        target.send(e);
      },
    }) as unknown as AnyActorRef;
  const reply = (
    m: ReceivedMessage,
    ok: boolean,
    state: SessionState,
    error?: string,
    extra = [] as Parameters<typeof migrationReply>[3],
  ) => {
    if (m.remotePort === 0) return;
    if (!answering(m, ok, state)) return;
    try {
      ipc.send(
        space,
        migrationReply(m.remotePort, m.id, { ok, state, ...(error ? { error } : {}) }, extra),
        { timeout: 0 },
      );
    } catch (e) {
      if (!(e instanceof MachError)) throw e;
    }
  };
  const openSession = (m: ReceivedMessage) => {
    let req: CreateRequest;
    try {
      req = requestData<CreateRequest>(m);
    } catch {
      discard(m, false);
      return reply(m, false, 'unknown', 'CREATE data is malformed');
    }
    // A refused CREATE keeps none of its rights (the memory server's pager right, if any).
    const invalid = checkCreate(req, host);
    if (invalid) {
      discard(m, false);
      return reply(m, false, 'unknown', invalid);
    }
    const refused = opts.refuseCreate?.(req) ?? admission(req, host);
    if (refused) {
      discard(m, false);
      return reply(m, false, 'unknown', refused);
    }
    const memory = host.memory.createAddressSpace(`${req.task}@${host.name}`);
    let pagerRight = 0;
    try {
      if (req.remotePager) {
        const item = m.body[1];
        if (item?.type !== 'port' || item.name <= 0)
          throw new MachError(
            'KERN_INVALID_ARGUMENT',
            'CREATE for a remote pager carries no pager right',
          );
        pagerRight = ipc.extractRight(
          space,
          item.name,
          Disposition.MOVE_SEND,
          host.memory.vm.space,
        );
      }
      req.regions.forEach((r, i) => {
        const o = { maxProtection: r.maxProtection, inheritance: r.inheritance as 0 | 1 | 2 };
        if (req.remotePager) memory.map(r.start, r.size, pagerRight, i, 0, r.protection, o);
        else memory.allocate(r.start, r.size, r.protection, o);
      });
    } catch (e) {
      memory.destroy();
      if (e instanceof MachError) {
        discard(m, false);
        return reply(m, false, 'unknown', `cannot build the address space: ${e.message}`);
      }
      throw e;
    }
    const task = createTask(host, req.task, memory);
    // The pager right (demand strategies) was ours to give the kernel: once the task is gone,
    // nothing maps the memory server any more, and it may retire.
    if (pagerRight !== 0) {
      const vmSpace = host.memory.vm.space;
      task.onExit(() => {
        if (vmSpace.active && vmSpace.lookup(pagerRight) !== undefined)
          ipc.deallocate(vmSpace, pagerRight);
      });
    }
    const sessionPort = ipc.allocate(
      space,
      PortRight.RECEIVE,
      `${host.name}:session:${req.session}`,
    );
    const target = { host, space, task, memory, sessionPort, prefetch: [] as number[] };
    const base = sessionIo(target, () => {});
    const io: SessionIo = {
      ...base,
      reply: (rm, ok, state, error) => {
        if (answering(rm, ok, state)) base.reply(rm, ok, state, error);
      },
      ...(opts.keepPartialTaskOnAbort ? { destroyTask: () => {} } : {}),
    };
    const actor = createActor(migrationSession, {
      clock: host.world.clock,
      input: {
        io,
        idleMs: opts.idleMs ?? 30_000,
        lingerMs: opts.lingerMs ?? 30_000,
      },
    });
    actor.subscribe((s) => {
      const v = String(s.value);
      sessions.set(
        req.session,
        v === 'closed' ? (sessions.get(req.session) ?? 'aborted') : (v as SessionState),
      );
    });
    sessions.set(req.session, 'receiving');
    actors.push(actor);
    live.set(req.session, actor);
    actor.subscribe({ complete: () => live.delete(req.session) });
    bindMailbox(
      ipc,
      space,
      sessionPort,
      screened(actor, (rm, reason) => {
        const v = String(actor.getSnapshot().value);
        io.reply(rm, false, (v === 'closed' ? 'aborted' : v) as SessionState, reason);
      }),
    );
    actor.start();
    reply(m, true, 'receiving', undefined, [
      { type: 'port', name: sessionPort, disposition: Disposition.MAKE_SEND },
    ]);
  };
  const actor = createActor(migrationServer, {
    clock: host.world.clock,
    input: {
      io: {
        openSession,
        answerStatus: (m) => {
          let session = '';
          try {
            session = String(requestData<{ session: string }>(m).session);
          } catch {
            return reply(m, false, 'unknown', 'STATUS data is malformed');
          }
          reply(m, true, sessions.get(session) ?? 'unknown');
        },
        reject: (m, reason) => reply(m, false, 'unknown', reason),
        forwardToSession: (m) => {
          // A client whose right to the session died (netmsg gave up on this host for a while)
          // asks about it here: the session answers as if asked on its own port.
          const actor = live.get(sessionOf(m));
          if (actor) return actor.send({ type: 'mach.message', port: 0, message: m });
          discard(m, false);
          reply(m, false, sessions.get(sessionOf(m)) ?? 'unknown', 'no such open session');
        },
      },
    },
  });
  bindMailbox(
    ipc,
    space,
    port,
    screened(actor, (m, reason) => {
      discard(m, false);
      reply(m, false, 'unknown', reason);
    }),
  );
  actor.start();
  netmsg.checkIn(MIGRATION_SERVER_NAME, space, port);
  return {
    actor,
    port,
    sessions,
    stop() {
      actor.stop();
      for (const a of actors) a.stop();
    },
  };
}

function checkCreate(req: CreateRequest, host: Host): string | null {
  if (req === null || typeof req !== 'object') return 'CREATE data is not an object';
  if (typeof req.session !== 'string' || req.session.length === 0)
    return 'CREATE: session must be a non-empty string';
  if (typeof req.task !== 'string') return 'CREATE: task must be a string';
  if (req.pageSize !== host.profile.pageSize)
    return `CREATE: page size ${req.pageSize} differs from ${host.name}'s ${host.profile.pageSize}`;
  if (!Array.isArray(req.regions)) return 'CREATE: regions must be a list';
  if (!Number.isInteger(req.pages) || req.pages < 0)
    return 'CREATE: pages must be a non-negative integer';
  return null;
}

/** The destination must be able to hold the task's pages (they are written into its memory). */
function admission(req: CreateRequest, host: Host): string | null {
  if (req.remotePager) return null;
  const frames = host.memory.stats.frames;
  if (req.pages > Math.floor(frames * 0.9)) {
    return `destination out of memory: the task has ${req.pages} pages of data, ${host.name} has ${frames} frames`;
  }
  return null;
}

/** The session a request names in its data ('' when it names none). */
function sessionOf(m: ReceivedMessage): string {
  try {
    const d = requestData<{ session?: unknown }>(m);
    return typeof d?.session === 'string' ? d.session : '';
  } catch {
    return '';
  }
}
