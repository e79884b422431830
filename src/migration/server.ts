import { type Actor, createActor } from 'xstate';
import { bindMailbox } from '../actors/mailbox.ts';
import type { Host } from '../kernel/host.ts';
import { createTask } from '../kernel/taskOps.ts';
import { migrationServer } from '../machines/migrationServer.ts';
import { migrationSession } from '../machines/migrationSession.ts';
import type { NetmsgServer } from '../netmsg/server.ts';
import { MachError } from '../protocol/errors.ts';
import type { ReceivedMessage } from '../protocol/message.ts';
import {
  type CreateRequest,
  migrationReply,
  requestData,
  type SessionState,
} from '../protocol/migration.ts';
import { Disposition, PortRight } from '../protocol/rights.ts';
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
  const actors: Actor<typeof migrationSession>[] = [];
  const reply = (
    m: ReceivedMessage,
    ok: boolean,
    state: SessionState,
    error?: string,
    extra = [] as Parameters<typeof migrationReply>[3],
  ) => {
    if (m.remotePort === 0) return;
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
      return reply(m, false, 'unknown', 'CREATE data is malformed');
    }
    const invalid = checkCreate(req, host);
    if (invalid) return reply(m, false, 'unknown', invalid);
    const refused = opts.refuseCreate?.(req) ?? admission(req, host);
    if (refused) return reply(m, false, 'unknown', refused);
    const memory = host.memory.createAddressSpace(`${req.task}@${host.name}`);
    try {
      let pagerRight = 0;
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
      if (e instanceof MachError)
        return reply(m, false, 'unknown', `cannot build the address space: ${e.message}`);
      throw e;
    }
    const task = createTask(host, req.task, memory);
    const sessionPort = ipc.allocate(
      space,
      PortRight.RECEIVE,
      `${host.name}:session:${req.session}`,
    );
    const target = { host, space, task, memory, sessionPort, prefetch: [] as number[] };
    const actor = createActor(migrationSession, {
      clock: host.world.clock,
      input: {
        io: sessionIo(target, () => {}),
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
    bindMailbox(ipc, space, sessionPort, actor);
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
      },
    },
  });
  bindMailbox(ipc, space, port, actor);
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
