import { type Actor, createActor } from 'xstate';
import type { IpcKernel } from '../actors/ipcKernel.ts';
import { bindMailbox } from '../actors/mailbox.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import { requestReplyClient } from '../machines/requestReplyClient.ts';
import { requestReplyServer } from '../machines/requestReplyServer.ts';
import { MachError } from '../protocol/errors.ts';
import { parseReply, type Reply, replyMessage, requestMessage } from '../protocol/requestReply.ts';
import { Disposition, PortRight } from '../protocol/rights.ts';

/**
 * Runs the request/reply machines on a host's IPC: the server's service port and the client's
 * reply port become actor mailboxes, and the machines' io calls become mach_msg calls.
 */

export interface RunningServer {
  readonly actor: Actor<typeof requestReplyServer>;
  /** The service port's name in the server's space. */
  readonly port: number;
}

/** Starts a server in `space`: allocates its service port, asks for no-senders, binds the mailbox. */
export function startServer(
  ipc: IpcKernel,
  space: PortSpace,
  handle: (request: unknown) => unknown,
  label = 'service',
): RunningServer {
  const port = ipc.allocate(space, PortRight.RECEIVE, label);
  ipc.requestNotification(space, port, 'no-senders', 1, port, Disposition.MAKE_SEND_ONCE);
  const actor = createActor(requestReplyServer, {
    clock: ipc.world.clock,
    input: {
      handle,
      io: {
        reply: (replyPort, reply) => sendOrDrop(ipc, space, replyPort, reply),
        discard: (name) => ipc.deallocate(space, name),
        close: () => ipc.destroy(space, port),
      },
    },
  });
  bindMailbox(ipc, space, port, actor);
  actor.start();
  return { actor, port };
}

function sendOrDrop(ipc: IpcKernel, space: PortSpace, replyPort: number, reply: Reply): void {
  try {
    ipc.send(space, replyMessage(replyPort, reply), { timeout: 0 });
  } catch (e) {
    // A reply right to a client that died is a dead name: release it; the client is gone.
    if (!(e instanceof MachError)) throw e;
    try {
      ipc.deallocate(space, replyPort);
    } catch {
      // already gone
    }
  }
}

/** Starts an XState client in `space` that holds a send right named `server`. */
export function startClient(
  ipc: IpcKernel,
  space: PortSpace,
  server: number,
  requests: readonly unknown[],
  timeoutMs = 1000,
): Actor<typeof requestReplyClient> {
  const replyPort = ipc.allocate(space, PortRight.RECEIVE, `${space.label}.reply`);
  const actor = createActor(requestReplyClient, {
    clock: ipc.world.clock,
    input: {
      requests,
      timeoutMs,
      io: {
        call: (request) =>
          ipc.send(space, requestMessage(server, replyPort, request), { timeout: 0 }),
        release: () => {
          ipc.deallocate(space, server);
          ipc.destroy(space, replyPort);
        },
      },
    },
  });
  bindMailbox(ipc, space, replyPort, actor);
  actor.start();
  return actor;
}

/**
 * The other way to drain a mailbox: a blocked receiver. Sends a request and waits in mach_msg
 * receive on its reply port, as a thread would; `done` runs when the reply (or an error) comes.
 */
export function blockingCall(
  ipc: IpcKernel,
  space: PortSpace,
  server: number,
  replyPort: number,
  request: unknown,
  timeoutMs: number,
  done: (r: Reply) => void,
): void {
  ipc.send(space, requestMessage(server, replyPort, request), { timeout: 0 });
  const m = ipc.receive(space, replyPort, { timeout: timeoutMs }, (r) =>
    done(r.ok ? parseReply(r.message) : { ok: false, error: r.error.message }),
  );
  if (m !== null) done(parseReply(m));
}
