import type { IpcKernel } from '../actors/ipcKernel.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import type { NetmsgServer } from '../netmsg/server.ts';
import { MachError } from '../protocol/errors.ts';
import { type ManagerId, managerReply, managerRequest } from '../protocol/managers.ts';
import type { ReceivedMessage } from '../protocol/message.ts';
import { NotifyId } from '../protocol/notifications.ts';
import { PortRight, PortType, ReceivedRight } from '../protocol/rights.ts';

/**
 * Request/reply between managers, on any host: a fresh reply port per call (a late answer to an
 * abandoned call can never be taken for the next one's), a timeout, and the send-once
 * notification netmsg sends when it gives the request or its answer up.
 */
export function callManager(
  ipc: IpcKernel,
  space: PortSpace,
  dest: number,
  id: ManagerId,
  data: unknown,
  timeoutMs: number,
  done: (r: { ok: true; message: ReceivedMessage } | { ok: false; error: string }) => void,
): void {
  if (!space.active) return done({ ok: false, error: 'the manager is gone' });
  let finished = false;
  const finish = (r: Parameters<typeof done>[0]) => {
    if (finished) return;
    finished = true;
    if (space.active && space.lookup(replyPort) !== undefined) ipc.destroy(space, replyPort);
    done(r);
  };
  const replyPort = ipc.allocate(space, PortRight.RECEIVE, `${space.label}.reply`);
  try {
    ipc.send(space, managerRequest(dest, replyPort, id, data), {}, (r) => {
      if (!r.ok) finish({ ok: false, error: r.error.message });
    });
  } catch (e) {
    if (!(e instanceof MachError)) throw e;
    return finish({ ok: false, error: e.message });
  }
  const answer = (m: ReceivedMessage) =>
    m.id === NotifyId.SEND_ONCE
      ? finish({ ok: false, error: 'no reply: the request or its answer was lost' })
      : finish({ ok: true, message: m });
  const m = ipc.receive(space, replyPort, { timeout: timeoutMs }, (r) => {
    if (r.ok) answer(r.message);
    else finish({ ok: false, error: r.error.message });
  });
  if (m !== null) answer(m);
}

/** Answers a request through its send-once reply right; a requester that is gone is ignored. */
export function replyTo(ipc: IpcKernel, space: PortSpace, m: ReceivedMessage, data: unknown): void {
  if (m.remotePort === 0 || m.remoteRight !== ReceivedRight.PORT_SEND_ONCE) return;
  try {
    ipc.send(space, managerReply(m.remotePort, m.id, data), { timeout: 0 });
  } catch (e) {
    if (!(e instanceof MachError)) throw e;
    releaseName(ipc, space, m.remotePort);
  }
}

/** Releases every right a message brought that nobody will use. */
export function releaseMessage(ipc: IpcKernel, space: PortSpace, m: ReceivedMessage): void {
  if (m.remotePort !== 0) releaseName(ipc, space, m.remotePort);
  for (const item of m.body)
    if (item.type === 'port' && item.name > 0) releaseName(ipc, space, item.name);
}

function releaseName(ipc: IpcKernel, space: PortSpace, name: number): void {
  if (!space.active || space.lookup(name) === undefined) return;
  try {
    ipc.deallocate(space, name);
  } catch (e) {
    if (!(e instanceof MachError)) throw e;
  }
}

/**
 * Send rights to one kind of manager (by its netname) on every host, looked up through netmsg on
 * first use and kept; a right that died (its host failed or restarted) is looked up again.
 */
export class PeerRights {
  private readonly rights = new Map<string, number>();
  private readonly waiting = new Map<string, ((r: number | string) => void)[]>();

  constructor(
    private readonly ipc: IpcKernel,
    private readonly space: PortSpace,
    private readonly netmsg: () => NetmsgServer,
    private readonly netname: string,
  ) {}

  /** A send right to the manager on `host` (its name in the space), or why there is none. */
  get(host: string, done: (r: number | string) => void): void {
    const n = this.rights.get(host);
    if (n !== undefined) {
      const e = this.space.lookup(n);
      if (e !== undefined && e.bits & PortType.SEND) return done(n);
      this.forget(host);
    }
    const queue = this.waiting.get(host);
    if (queue !== undefined) {
      queue.push(done);
      return;
    }
    this.waiting.set(host, [done]);
    let server: NetmsgServer;
    try {
      server = this.netmsg();
    } catch (e) {
      return this.settle(host, (e as Error).message);
    }
    server.lookUp(this.netname, host, this.space, (r) => {
      if (!this.space.active) return this.settle(host, 'the manager is gone');
      if (!r.ok) return this.settle(host, `no ${this.netname} on ${host}: ${r.error.message}`);
      this.rights.set(host, r.name);
      this.settle(host, r.name);
    });
  }

  /** Drops the right to `host`'s manager (it failed): the next call looks it up again. */
  forget(host: string): void {
    const n = this.rights.get(host);
    this.rights.delete(host);
    if (n !== undefined) releaseName(this.ipc, this.space, n);
  }

  private settle(host: string, r: number | string): void {
    const queue = this.waiting.get(host) ?? [];
    this.waiting.delete(host);
    for (const cb of queue) cb(r);
  }
}
