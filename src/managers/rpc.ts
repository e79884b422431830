import type { IpcKernel } from '../actors/ipcKernel.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import type { NetmsgServer } from '../netmsg/server.ts';
import { MachError } from '../protocol/errors.ts';
import { type ManagerId, managerReply, managerRequest } from '../protocol/managers.ts';
import type { ReceivedMessage } from '../protocol/message.ts';
import { PortType, ReceivedRight } from '../protocol/rights.ts';
import { exchange } from '../servers/rpc.ts';

/** Request/reply between managers, on any host, with a timeout (see servers/rpc.ts). */
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
  exchange(
    ipc,
    space,
    (replyPort) => managerRequest(dest, replyPort, id, data),
    timeoutMs,
    (r) =>
      done(
        r.ok
          ? r
          : { ok: false, error: r.lost ? 'no reply: the request or its answer was lost' : r.error },
      ),
  );
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
