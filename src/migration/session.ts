import type { PortSpace } from '../actors/portSpace.ts';
import { createThreadState } from '../cpu/thread.ts';
import { bindConsole } from '../kernel/console.ts';
import type { Host } from '../kernel/host.ts';
import type { Task } from '../kernel/task.ts';
import {
  createThread,
  resumeThread,
  startTask,
  suspendThread,
  terminateTask,
} from '../kernel/taskOps.ts';
import type { SyscallRestart, Thread } from '../kernel/thread.ts';
import type { SessionIo } from '../machines/migrationSession.ts';
import type { AddressSpace } from '../memory/addressSpace.ts';
import { installPages } from '../memory/kernelAccess.ts';
import { MachError } from '../protocol/errors.ts';
import type { MessageItem, OolItem, ReceivedPortItem } from '../protocol/message.ts';
import {
  migrationReply,
  type PagesRequest,
  type RestoreRequest,
  requestData,
} from '../protocol/migration.ts';
import {
  Disposition,
  MACH_PORT_DEAD,
  moveDispositionOf,
  PortRight,
  ReceivedRight,
} from '../protocol/rights.ts';

/**
 * The destination's side of one migration: what the session statechart's io does to the host.
 * Rights that arrive with a COMMIT the session refuses go back in the reply, so none is lost.
 */
export interface SessionTarget {
  readonly host: Host;
  /** The migration server's space: rights arrive here first. */
  readonly space: PortSpace;
  readonly task: Task;
  readonly memory: AddressSpace;
  readonly sessionPort: number;
  /** Pages to fault in ahead of the task once it runs (pre-paging), in order. */
  prefetch: number[];
}

export function sessionIo(t: SessionTarget, onClose: () => void): SessionIo {
  const { host, space, task, memory } = t;
  const ipc = host.ipc;
  let restored: RestoreRequest | null = null;
  let threads: Thread[] = [];
  return {
    pages(m) {
      const req = requestData<PagesRequest>(m);
      const ps = host.profile.pageSize;
      if (!Array.isArray(req?.pages)) return 'PAGES needs a page list';
      if (m.body.length !== req.pages.length + 1)
        return `PAGES carries ${m.body.length - 1} items for ${req.pages.length} pages`;
      for (let i = 0; i < req.pages.length; i++) {
        const p = req.pages[i];
        const item = m.body[i + 1]!;
        if (item.type !== 'ool' || item.data.length !== ps)
          return `PAGES item ${i + 1} is not one page of out-of-line data`;
        if (!Number.isInteger(p) || memory.regions.find(p) === undefined)
          return `page ${String(p)} is not in the new task's address space`;
      }
      // The kernel writes the pages as they were, whatever their protection (text too). Data
      // that arrived over the network is the session's alone, so it becomes the task's frames
      // uncopied; lent frames (from this very host) are copied.
      req.pages.forEach((p, i) => {
        const item = m.body[i + 1] as OolItem;
        installPages(memory, p * ps, item.data, item.lent !== true);
      });
      return null;
    },
    restore(m) {
      const req = requestData<RestoreRequest>(m);
      if (!Array.isArray(req?.threads) || !Array.isArray(req.ports))
        return 'RESTORE needs threads and ports';
      try {
        // The new task's space must hold exactly the old names: clear what task creation made.
        for (const name of task.space.names()) ipc.destroy(task.space, name);
        threads = req.threads.map((td) => {
          const state = createThreadState(td.pc >>> 0, 0);
          state.regs.set(td.regs);
          state.flags = td.flags;
          const th = createThread(task, state);
          th.priority = td.priority;
          th.policy = td.policy;
          th.restart = validRestart(td.restart);
          ipc.destroy(task.space, th.selfName);
          return th;
        });
        for (const p of req.ports) {
          if (p.kind === 'dead') {
            ipc.allocate(task.space, PortRight.DEAD_NAME, undefined, p.name);
            if (p.urefs > 1) ipc.modRefs(task.space, p.name, PortRight.DEAD_NAME, p.urefs - 1);
          } else if (p.kind === 'set') {
            ipc.allocate(task.space, PortRight.PORT_SET, undefined, p.name);
          }
        }
      } catch (e) {
        if (e instanceof MachError) return `restore: ${e.message}`;
        throw e;
      }
      // The console binding (section 4 managers): its right arrives with the others at COMMIT.
      if (req.console !== undefined && !bindConsole(task, req.console))
        return 'RESTORE: console binding is malformed';
      restored = req;
      t.prefetch = Array.isArray(req.prefetch) ? req.prefetch.filter(Number.isInteger) : [];
      return null;
    },
    commit(m) {
      return commitNow(m);
    },
    reply(m, ok, state, error) {
      return replyNow(m, ok, state, error);
    },
    destroyTask() {
      if (!task.terminated) terminateTask(task, -1, 'migration aborted before commit');
    },
    close() {
      if (space.active && space.lookup(t.sessionPort) !== undefined)
        ipc.destroy(space, t.sessionPort);
      onClose();
    },
  };
  function commitNow(m: Parameters<SessionIo['commit']>[0]): string | null {
    const req = restored;
    if (req === null) return 'COMMIT before RESTORE';
    const items = m.body.slice(1).filter((i): i is ReceivedPortItem => i.type === 'port');
    const moving = req.ports.filter(
      (p) => p.kind === 'receive' || p.kind === 'send' || p.kind === 'send-once',
    );
    if (items.length !== 1 + threads.length + moving.length) {
      return `COMMIT carries ${items.length} rights; expected ${1 + threads.length + moving.length}`;
    }
    const ks = host.kernelSpace;
    // Kernel ports first: whoever holds a send right to the task or a thread port keeps control.
    const adoptKernelPort = (item: ReceivedPortItem, obj: Task | Thread) => {
      if (item.right !== ReceivedRight.PORT_RECEIVE || item.name <= 0) return;
      const kname = ks.allocateName();
      ipc.insertRight(ks, kname, space, item.name, Disposition.MOVE_RECEIVE);
      const old = ks.byPort.get(obj.port);
      const port = ks.lookup(kname)!.port!;
      port.kobject = obj;
      obj.port = port;
      host.serveKernelPort(kname);
      if (old) ipc.destroy(ks, old.name);
    };
    adoptKernelPort(items[0]!, task);
    threads.forEach((th, i) => {
      adoptKernelPort(items[1 + i]!, th);
    });
    moving.forEach((p, i) => {
      const item = items[1 + threads.length + i]!;
      if (item.name === MACH_PORT_DEAD || item.name === 0) {
        // The port died on the way: the name becomes a dead name, as it would have at home.
        ipc.allocate(task.space, PortRight.DEAD_NAME, undefined, p.name);
        return;
      }
      if (p.kind === 'receive') {
        ipc.insertRight(task.space, p.name, space, item.name, Disposition.MOVE_RECEIVE);
        if (p.send > 0) {
          ipc.insertRight(task.space, p.name, task.space, p.name, Disposition.MAKE_SEND);
          if (p.send > 1) ipc.modRefs(task.space, p.name, PortRight.SEND, p.send - 1);
        }
        if (p.set !== 0) ipc.moveMember(task.space, p.name, p.set);
      } else if (p.kind === 'send') {
        ipc.insertRight(task.space, p.name, space, item.name, Disposition.MOVE_SEND);
        if (p.urefs > 1) ipc.modRefs(task.space, p.name, PortRight.SEND, p.urefs - 1);
      } else {
        ipc.insertRight(task.space, p.name, space, item.name, Disposition.MOVE_SEND_ONCE);
      }
    });
    task.selfName = req.selfName;
    req.threads.forEach((td, i) => {
      const th = threads[i]!;
      th.selfName = td.selfName;
      if (td.suspendCount === 0) resumeThread(th);
      for (let k = 1; k < td.suspendCount; k++) suspendThread(th);
    });
    for (let k = 0; k < req.suspendCount; k++) task.send({ type: 'SUSPEND' });
    startTask(task);
    prefetch(memory, t.prefetch);
    return null;
  }
  function replyNow(
    m: Parameters<SessionIo['reply']>[0],
    ok: boolean,
    state: Parameters<SessionIo['reply']>[2],
    error?: string,
  ): void {
    if (m.remotePort === 0) return;
    const back: MessageItem[] = [];
    if (!ok) {
      // Refused: every right the request carried goes back to the sender.
      for (const item of m.body) {
        if (item.type !== 'port' || item.name <= 0) continue;
        back.push({ type: 'port', name: item.name, disposition: moveDispositionOf(item.right) });
      }
    }
    try {
      ipc.send(
        space,
        migrationReply(m.remotePort, m.id, { ok, state, ...(error ? { error } : {}) }, back),
        { timeout: 0 },
      );
    } catch (e) {
      if (!(e instanceof MachError)) throw e;
    }
  }
}

/** Pre-paging: fault the listed pages in one after another while the task runs. */
function prefetch(memory: AddressSpace, pages: number[]): void {
  let i = 0;
  const next = () => {
    while (i < pages.length) {
      const p = pages[i++]!;
      if (memory.page(p, false) === 'notResident') {
        memory.faultIn(p, false, (err) => {
          if (!err) next();
        });
        return;
      }
    }
  };
  next();
}

/** A backed-out system call's note, as it arrived (anything malformed is dropped). */
function validRestart(r: unknown): SyscallRestart | null {
  if (r === null || typeof r !== 'object') return null;
  const o = r as Record<string, unknown>;
  if (!Number.isInteger(o.call)) return null;
  if (o.kind === 'sleep' && typeof o.until === 'number' && Number.isFinite(o.until))
    return { call: o.call as number, kind: 'sleep', until: o.until };
  if (o.kind === 'receive') return { call: o.call as number, kind: 'receive' };
  return null;
}
