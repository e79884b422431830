import type { PortSpace } from '../actors/portSpace.ts';
import { copyThreadState } from '../cpu/thread.ts';
import { consoleState } from '../kernel/console.ts';
import type { Host } from '../kernel/host.ts';
import { backOutOfKernel } from '../kernel/syscalls.ts';
import type { Task } from '../kernel/task.ts';
import {
  createTask,
  createThread,
  resumeTask,
  suspendTask,
  terminateTask,
} from '../kernel/taskOps.ts';
import type { Thread } from '../kernel/thread.ts';
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
import { Disposition, PortRight, PortType } from '../protocol/rights.ts';
import { describePorts, describeRegions, describeThreads } from './describe.ts';
import {
  MEMORY_SERVER_TIMING,
  type MemoryServer,
  retireMemoryServer,
  retireWhenUnused,
  startMemoryServer,
} from './memoryServer.ts';
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
/** How often the suspend step looks again at a task still inside the kernel (ms). */
const SETTLE_POLL_MS = 0.1;
/** How long it waits for a call past its point of no return to finish before giving up (ms). */
const SETTLE_LIMIT_MS = 500;

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
      } catch (e) {
        return fail((e as Error).message);
      }
      // Suspended, the task may still be inside the kernel: a CPU slice whose trap is handled
      // when its time is up, threads blocked in system calls whose waits live in closures here.
      // They are taken out (each blocked call backed out onto its trap, to be re-issued where
      // the thread runs next) before anything is read off the task.
      const since = world.now();
      const settle = () => {
        if (!s.space.active) return; // the migration ended meanwhile
        if (s.task.terminated)
          return fail(`task ${s.task.name} ended before it could be suspended`);
        const busy = backOutOfKernel(s.task);
        if (busy === null) return done();
        if (world.now() - since >= SETTLE_LIMIT_MS)
          return fail(`task ${s.task.name} cannot leave the kernel: ${busy}`);
        world.schedule(SETTLE_POLL_MS, settle, 'migration.settle');
      };
      settle();
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
        // The migration ended while the pages were read (the step timed out, it rolled back):
        // nobody will use this server, and nobody else would retire it.
        if (!s.space.active) return retireMemoryServer(s.host, server);
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
        // The task may end while its pages are on their way (its memory goes with it).
        (reason) => fail(s.task.terminated ? `task ${s.task.name} ended during pre-copy` : reason),
      );
    },
    copy(done, fail) {
      const dup = s.duplicate!.memory;
      const send = (pages: readonly number[]) =>
        sendPages(
          ipc,
          s.space,
          s.sessionName,
          s.session,
          dup,
          pages,
          s.batchPages,
          s.transfer,
          done,
          fail,
        );
      switch (s.strategy) {
        case 'eager':
          return send(dataPages(dup));
        case 'precopy':
          // What the last round left dirty, read from the frozen duplicate.
          return send(s.task.memory.takeDirtyPages());
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
        // The console binding's numbering (managers, section 4); its right moves at COMMIT.
        console: consoleState(s.task),
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
      askDestination(s, MigrationId.STATUS, done, fail);
    },
    abort(done, fail) {
      askDestination(s, MigrationId.ABORT, done, fail);
    },
    finish(done) {
      // The destination owns the task: what is left here (an emptied shell and the duplicate) goes.
      retire(s, `migrated to ${s.to}`);
      // A memory server stays while the destination still maps it (the residual dependency).
      if (s.memoryServer) retireWhenUnused(s.host, s.memoryServer);
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
      // Rights that went with a COMMIT that never arrived are gone: the task and its threads get
      // fresh kernel ports, so that they stay controllable here.
      renewKernelPorts(s);
      if (s.duplicate && !s.duplicate.terminated)
        terminateTask(s.duplicate, 0, 'migration rolled back');
      if (s.memoryServer) retireMemoryServer(s.host, s.memoryServer);
      if (s.suspendedByUs && !s.task.terminated && s.task.suspendCount > 0) resumeTask(s.task);
      s.suspendedByUs = false;
      ipc.destroySpace(s.space);
      done();
    },
  };
}

/**
 * In doubt after COMMIT: asks the destination (STATUS, or ABORT) about the session, through the
 * session's port while it is alive, or else the migration server's port, looked up again when
 * the old right died (netmsg gave up on the host, or it restarted).
 */
function askDestination(
  s: ClientState,
  id: typeof MigrationId.STATUS | typeof MigrationId.ABORT,
  done: (state: SessionState) => void,
  fail: (reason: string) => void,
): void {
  if (!s.space.active) return fail('the migration client is gone');
  const usable = (name: number) => {
    if (name <= 0) return false;
    const e = s.space.lookup(name);
    return e !== undefined && (e.bits & PortType.SEND) !== 0;
  };
  const ask = (dest: number) =>
    call(
      s.host.ipc,
      s.space,
      dest,
      id,
      { session: s.session },
      [],
      (m) => {
        const r = parseMigrationReply(m);
        if (r.state === 'committed' && s.resumedAt === null) s.resumedAt = s.host.world.now();
        done(r.state ?? 'unknown');
      },
      fail,
    );
  if (usable(s.sessionName)) return ask(s.sessionName);
  if (usable(s.serverName)) return ask(s.serverName);
  s.netmsg.lookUp(MIGRATION_SERVER_NAME, s.to, s.space, (r) => {
    if (!r.ok) return fail(`the migration server on ${s.to} cannot be reached: ${r.error.message}`);
    if (!s.space.active) return;
    for (const old of [s.serverName, s.sessionName])
      if (old > 0 && s.space.lookup(old) !== undefined) s.host.ipc.deallocate(s.space, old);
    s.sessionName = 0;
    s.serverName = r.name;
    ask(r.name);
  });
}

/**
 * After a rollback, a task or thread whose kernel port left with a COMMIT that was lost gets a
 * fresh one (holders of the old port see a dead name), and its own send right (task_self,
 * thread_self) is made again under its old name.
 */
function renewKernelPorts(s: ClientState): void {
  const t = s.task;
  // (A task of an earlier incarnation of the host, which crashed, is not the kernel's now.)
  if (t.terminated || !s.host.up || s.host.tasks.get(t.id) !== t) return;
  const ipc = s.host.ipc;
  const ks = s.host.kernelSpace;
  const renew = (obj: Task | Thread, label: string, selfName: number) => {
    if (!obj.port.dead && ks.byPort.has(obj.port)) return;
    const kname = ipc.allocate(ks, PortRight.RECEIVE, label);
    const port = ks.lookup(kname)!.port!;
    port.kobject = obj;
    obj.port = port;
    s.host.serveKernelPort(kname);
    const e = t.space.lookup(selfName);
    if (e !== undefined && e.bits & PortType.DEAD_NAME) ipc.destroy(t.space, selfName);
    if (t.space.lookup(selfName) === undefined)
      ipc.insertRight(t.space, selfName, ks, kname, Disposition.MAKE_SEND);
  };
  renew(t, `task:${t.name}`, t.selfName);
  for (const th of t.threads) if (!th.terminated) renew(th, `thread:${th.name}`, th.selfName);
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
  const sp = s.task.space;
  // The name may still hold send references left behind (a receive right's own send rights, or
  // send references beyond the one that moved). If they denote another port object than the
  // right that came back (the port went over the network and came back as a new real port; the
  // old one is netmsg's proxy for it, or dead), they are references to the same port all the
  // same: they join the right under its name, as they were before it left.
  let keep = 0;
  const cur = sp.lookup(p.name);
  if (cur !== undefined && d !== Disposition.MOVE_SEND_ONCE && cur.port !== e.port) {
    keep = cur.bits & (PortType.SEND | PortType.DEAD_NAME) ? cur.urefs : 0;
    ipc.destroy(sp, p.name);
  }
  try {
    ipc.insertRight(sp, p.name, s.space, name, d);
  } catch (err) {
    if (!(err instanceof MachError)) throw err;
    return; // the right dies with the client's space
  }
  if (keep > 0) {
    if (d === Disposition.MOVE_RECEIVE) {
      ipc.insertRight(sp, p.name, sp, p.name, Disposition.MAKE_SEND);
      if (keep > 1) ipc.modRefs(sp, p.name, PortRight.SEND, keep - 1);
    } else ipc.modRefs(sp, p.name, PortRight.SEND, keep);
  }
  // A receive right goes back into its port set (moving it out took it out of the set).
  if (p.kind === 'receive' && p.set !== 0 && sp.lookup(p.set)?.bits !== undefined) {
    const set = sp.lookup(p.set)!;
    if (set.bits & PortType.PORT_SET) ipc.moveMember(sp, p.name, p.set);
  }
}

function retire(s: ClientState, reason: string): void {
  const ipc = s.host.ipc;
  if (s.duplicate && !s.duplicate.terminated) terminateTask(s.duplicate, 0, 'migration committed');
  if (!s.task.terminated) terminateTask(s.task, 0, reason);
  if (s.space.active) ipc.destroySpace(s.space);
}
