import type { PortSpace } from '../actors/portSpace.ts';
import type { Host } from '../kernel/host.ts';
import type { Task } from '../kernel/task.ts';
import {
  createTask,
  createThread,
  resumeTask,
  suspendTask,
  terminateTask,
} from '../kernel/taskOps.ts';
import type { MigrationClientIo } from '../machines/migrationClient.ts';
import { DEFAULT_PAGER_TIMING, diskTimeMs } from '../machines/pager.ts';
import { dataPages } from '../memory/dataPages.ts';
import type { NetmsgServer } from '../netmsg/server.ts';
import { MachError } from '../protocol/errors.ts';
import type { MessageItem, ReceivedMessage } from '../protocol/message.ts';
import {
  type CreateRequest,
  MigrationId,
  type PortDescription,
  parseMigrationReply,
  type SessionState,
  type Strategy,
  type ThreadDescription,
} from '../protocol/migration.ts';
import { Disposition } from '../protocol/rights.ts';
import { copyThreadState } from '../vm/thread.ts';
import { describePorts, describeRegions, describeThreads } from './describe.ts';
import { MEMORY_SERVER_TIMING, type MemoryServer, startMemoryServer } from './memoryServer.ts';
import { sendPages, type TransferStats } from './pageTransfer.ts';
import { call } from './rpc.ts';
import { MIGRATION_SERVER_NAME } from './server.ts';

/** Everything the client's steps share: the runtime side of one migration. */
export interface ClientState {
  readonly host: Host;
  readonly netmsg: NetmsgServer;
  readonly task: Task;
  readonly to: string;
  readonly strategy: Strategy;
  readonly session: string;
  readonly batchPages: number;
  readonly space: PortSpace;
  serverName: number;
  sessionName: number;
  suspendedByUs: boolean;
  duplicate: Task | null;
  threads: ThreadDescription[];
  ports: PortDescription[];
  memoryServer: MemoryServer | null;
  /** Rights taken out of the task for COMMIT, by position, while they are away. */
  inFlight: { kind: 'task' | 'thread' | 'port'; index: number; name: number }[] | null;
  readonly transfer: TransferStats;
  precopyRound: number;
  /** When the destination resumed the task (the reply to COMMIT). */
  resumedAt: number | null;
}

const TASK = 'task';

export function clientIo(s: ClientState): MigrationClientIo {
  const ipc = s.host.ipc;
  const world = s.host.world;
  return {
    now: () => world.now(),
    lookUp(done, fail) {
      s.netmsg.lookUp(MIGRATION_SERVER_NAME, s.to, s.space, (r) => {
        if (!r.ok) return fail(`no migration server on ${s.to}: ${r.error.message}`);
        s.serverName = r.name;
        done();
      });
    },
    suspend(done, fail) {
      if (s.task.terminated) return fail(`task ${s.task.name} ended before it could be suspended`);
      try {
        suspendTask(s.task);
        s.suspendedByUs = true;
        done();
      } catch (e) {
        fail((e as Error).message);
      }
    },
    duplicate(done, fail) {
      const t = s.task;
      const mem = t.memory.fork(`${t.name}.duplicate`);
      const dup = createTask(s.host, `${t.name}.duplicate`, mem);
      for (const th of t.threads) if (!th.terminated) createThread(dup, copyThreadState(th.state));
      s.duplicate = dup;
      s.threads = describeThreads(t);
      s.ports = describePorts(t.space);
      if (s.strategy === 'eager' || s.strategy === 'precopy') return done();
      const timing = s.strategy === 'flush' ? DEFAULT_PAGER_TIMING : MEMORY_SERVER_TIMING;
      startMemoryServer(s.host, mem, `${t.name}:memory-server`, timing, (server, error) => {
        if (server === null) return fail(`memory server: ${error}`);
        s.memoryServer = server;
        done();
      });
    },
    create(done, fail) {
      const mem = s.duplicate?.memory ?? s.task.memory;
      const remotePager = s.memoryServer !== null;
      const req: CreateRequest = {
        session: s.session,
        task: s.task.name,
        home: s.host.name,
        pageSize: s.host.profile.pageSize,
        strategy: s.strategy,
        regions: describeRegions(mem),
        pages: dataPages(mem).length,
        remotePager,
      };
      const extra: MessageItem[] = [];
      if (remotePager) {
        const p = s.memoryServer!.pager;
        extra.push({
          type: 'port',
          name: ipc.extractRight(p.space, p.port, Disposition.MAKE_SEND, s.space),
          disposition: Disposition.MOVE_SEND,
        });
      }
      call(
        ipc,
        s.space,
        s.serverName,
        MigrationId.CREATE,
        req,
        extra,
        (m) => {
          const r = parseMigrationReply(m);
          const port = m.body[1];
          if (!r.ok || port?.type !== 'port' || port.name <= 0)
            return fail(`creation refused: ${r.error ?? 'no session port'}`);
          s.sessionName = port.name;
          done();
        },
        fail,
      );
    },
    precopyRound(done, fail) {
      if (s.task.terminated) return fail(`task ${s.task.name} ended during pre-copy`);
      const mem = s.task.memory;
      // Round one sends every page with data and starts dirty tracking afresh; later rounds send
      // what was written meanwhile.
      const dirty = mem.takeDirtyPages();
      const pages = s.precopyRound === 0 ? dataPages(mem) : dirty;
      s.precopyRound++;
      sendPages(
        ipc,
        s.space,
        s.sessionName,
        s.session,
        mem,
        pages,
        s.batchPages,
        s.transfer,
        () => done(mem.dirtyPages().length),
        fail,
      );
    },
    copy(done, fail) {
      const dup = s.duplicate!.memory;
      switch (s.strategy) {
        case 'eager':
          return sendPages(
            ipc,
            s.space,
            s.sessionName,
            s.session,
            dup,
            dataPages(dup),
            s.batchPages,
            s.transfer,
            done,
            fail,
          );
        case 'precopy': {
          const dirty = s.task.memory.takeDirtyPages();
          return sendPages(
            ipc,
            s.space,
            s.sessionName,
            s.session,
            dup,
            dirty,
            s.batchPages,
            s.transfer,
            done,
            fail,
          );
        }
        case 'flush': {
          // The dirty pages go to the shared pager's disk before the destination can fault them in.
          const n = s.memoryServer!.pages;
          world.schedule(
            n * diskTimeMs(DEFAULT_PAGER_TIMING, dup.pageSize),
            done,
            'migration.flush',
          );
          return;
        }
        default:
          return done(); // demand, prepage: the memory server answers faults
      }
    },
    restore(done, fail) {
      const prefetch = s.strategy === 'prepage' ? s.task.memory.residentPages() : [];
      const req = {
        session: s.session,
        suspendCount: s.task.suspendCount - (s.suspendedByUs ? 1 : 0),
        selfName: s.task.selfName,
        threads: s.threads,
        ports: s.ports,
        prefetch,
      };
      call(
        ipc,
        s.space,
        s.sessionName,
        MigrationId.RESTORE,
        req,
        [],
        (m) => {
          const r = parseMigrationReply(m);
          if (!r.ok) return fail(`restore refused: ${r.error ?? 'no reason'}`);
          done();
        },
        fail,
      );
    },
    commit(done, fail) {
      let items: MessageItem[];
      try {
        items = takeRights(s);
      } catch (e) {
        putBackRights(s);
        return fail(`cannot take the task's rights: ${(e as Error).message}`);
      }
      call(
        ipc,
        s.space,
        s.sessionName,
        MigrationId.COMMIT,
        { session: s.session },
        items,
        (m) => {
          const r = parseMigrationReply(m);
          if (r.ok && r.state === 'committed') {
            s.resumedAt = world.now();
            s.inFlight = null;
            return done('committed');
          }
          // Refused: the rights came back in the reply.
          returnRights(s, m);
          done((r.state ?? 'aborted') as SessionState);
        },
        (reason) => {
          // The COMMIT itself could not be sent: its rights are still ours.
          if (s.inFlight !== null && reason.includes('MACH_SEND_INVALID_DEST')) {
            putBackRights(s);
            return done('aborted');
          }
          fail(reason);
        },
      );
    },
    status(done, fail) {
      const dest =
        s.sessionName > 0 && s.space.lookup(s.sessionName) ? s.sessionName : s.serverName;
      call(
        ipc,
        s.space,
        dest,
        MigrationId.STATUS,
        { session: s.session },
        [],
        (m) => {
          const r = parseMigrationReply(m);
          if (r.state === 'committed' && s.resumedAt === null) s.resumedAt = world.now();
          done(r.state ?? 'unknown');
        },
        fail,
      );
    },
    finish(done) {
      // The destination owns the task: what is left here (an emptied shell and the duplicate) goes.
      retire(s, `migrated to ${s.to}`);
      done();
    },
    rollBack(done) {
      if (s.sessionName > 0 && s.space.active && s.space.lookup(s.sessionName)) {
        try {
          ipc.send(
            s.space,
            {
              remotePort: s.sessionName,
              remoteDisposition: Disposition.COPY_SEND,
              id: MigrationId.ABORT,
              body: [],
            },
            { timeout: 0 },
          );
        } catch {
          // the destination is unreachable: its session will presume abort
        }
      }
      putBackRights(s);
      if (s.duplicate && !s.duplicate.terminated)
        terminateTask(s.duplicate, 0, 'migration rolled back');
      s.memoryServer?.pager.stop();
      if (s.suspendedByUs && !s.task.terminated && s.task.suspendCount > 0) resumeTask(s.task);
      s.suspendedByUs = false;
      ipc.destroySpace(s.space);
      done();
    },
  };
}

/** Moves the task's rights into the client's space, in COMMIT order; remembers where each came from. */
function takeRights(s: ClientState): MessageItem[] {
  const ipc = s.host.ipc;
  const ks = s.host.kernelSpace;
  const items: MessageItem[] = [];
  s.inFlight = [];
  const take = (
    kind: 'task' | 'thread' | 'port',
    index: number,
    from: PortSpace,
    name: number,
    d: Disposition,
  ) => {
    const n = ipc.extractRight(from, name, d, s.space);
    s.inFlight!.push({ kind, index, name: n });
    items.push({ type: 'port', name: n, disposition: d });
  };
  take(TASK, 0, ks, ks.byPort.get(s.task.port)!.name, Disposition.MOVE_RECEIVE);
  s.task.threads
    .filter((t) => !t.terminated)
    .forEach((t, i) => {
      take('thread', i, ks, ks.byPort.get(t.port)!.name, Disposition.MOVE_RECEIVE);
    });
  s.ports.forEach((p, i) => {
    if (p.kind === 'receive') take('port', i, s.task.space, p.name, Disposition.MOVE_RECEIVE);
    else if (p.kind === 'send') take('port', i, s.task.space, p.name, Disposition.MOVE_SEND);
    else if (p.kind === 'send-once')
      take('port', i, s.task.space, p.name, Disposition.MOVE_SEND_ONCE);
  });
  return items;
}

/** Puts rights still in the client's space back where they came from. */
function putBackRights(s: ClientState): void {
  const moved = s.inFlight;
  s.inFlight = null;
  if (moved === null || !s.space.active) return;
  for (const r of moved) reinstall(s, r, r.name);
}

/** The destination refused COMMIT and sent the rights back: reinstall them. */
function returnRights(s: ClientState, m: ReceivedMessage): void {
  const moved = s.inFlight;
  s.inFlight = null;
  if (moved === null) return;
  const back = m.body.filter((i) => i.type === 'port');
  moved.forEach((r, i) => {
    const item = back[i];
    if (item?.type === 'port' && item.name > 0) reinstall(s, r, item.name);
  });
}

function reinstall(s: ClientState, r: { kind: string; index: number }, name: number): void {
  const ipc = s.host.ipc;
  const ks = s.host.kernelSpace;
  const e = s.space.lookup(name);
  if (e === undefined) return;
  if (r.kind !== 'port') {
    const obj = r.kind === TASK ? s.task : s.task.threads.filter((t) => !t.terminated)[r.index];
    if (!obj) return;
    const kname = ks.allocateName();
    ipc.insertRight(ks, kname, s.space, name, Disposition.MOVE_RECEIVE);
    const port = ks.lookup(kname)!.port!;
    port.kobject = obj;
    obj.port = port;
    s.host.serveKernelPort(kname);
    return;
  }
  const p = s.ports[r.index]!;
  const d =
    p.kind === 'receive'
      ? Disposition.MOVE_RECEIVE
      : p.kind === 'send'
        ? Disposition.MOVE_SEND
        : Disposition.MOVE_SEND_ONCE;
  try {
    ipc.insertRight(s.task.space, p.name, s.space, name, d);
  } catch (err) {
    if (!(err instanceof MachError)) throw err;
    // The name is taken again by its remaining send references: merge is what Mach would do.
    if (d === Disposition.MOVE_SEND && e.bits) ipc.deallocate(s.space, name);
  }
}

function retire(s: ClientState, reason: string): void {
  const ipc = s.host.ipc;
  if (s.duplicate && !s.duplicate.terminated) terminateTask(s.duplicate, 0, 'migration committed');
  if (!s.task.terminated) terminateTask(s.task, 0, reason);
  if (s.space.active) ipc.destroySpace(s.space);
}
