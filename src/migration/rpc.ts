import type { IpcKernel } from '../actors/ipcKernel.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import { MachError } from '../protocol/errors.ts';
import type { MessageItem, ReceivedMessage } from '../protocol/message.ts';
import { type MigrationId, messageName, migrationRequest } from '../protocol/migration.ts';
import { NotifyId } from '../protocol/notifications.ts';
import { PortRight } from '../protocol/rights.ts';

/**
 * One request/reply exchange of the migration protocol: a fresh reply port per call, so a late
 * answer to an abandoned call can never be mistaken for the answer to the next one.
 */
export function call(
  ipc: IpcKernel,
  space: PortSpace,
  dest: number,
  id: MigrationId,
  data: unknown,
  extra: MessageItem[],
  done: (reply: ReceivedMessage) => void,
  fail: (reason: string) => void,
): void {
  if (!space.active) return fail('the migration client is gone');
  const what = messageName(id);
  if (ipc.world.trace.enabled) {
    const session = String((data as { session?: unknown } | null)?.session ?? '');
    ipc.world.trace.emit('migration.request', { host: ipc.host, session, message: what });
  }
  const replyPort = ipc.allocate(space, PortRight.RECEIVE, `${space.label}.reply`);
  try {
    const queued = ipc.send(space, migrationRequest(dest, replyPort, id, data, extra), {}, (r) => {
      if (!r.ok) {
        ipc.destroy(space, replyPort);
        fail(r.error.message);
      }
    });
    if (!queued && !space.active) return;
  } catch (e) {
    ipc.destroy(space, replyPort);
    if (e instanceof MachError) return fail(e.message);
    throw e;
  }
  // The reply right used up without a reply (netmsg gave up on the request or the answer) comes
  // back as a send-once notification: the exchange failed.
  // Only the answer to this request is one.
  const answer = (m: ReceivedMessage) =>
    m.id === NotifyId.SEND_ONCE
      ? fail(`no reply to ${what}: the request or its answer was lost on the way`)
      : m.id !== id + 100
        ? fail(`${what}: unexpected answer (message id ${m.id})`)
        : done(m);
  const m = ipc.receive(space, replyPort, {}, (r) => {
    if (space.active && space.lookup(replyPort) !== undefined) ipc.destroy(space, replyPort);
    if (r.ok) answer(r.message);
    else fail(r.error.message);
  });
  if (m !== null) {
    ipc.destroy(space, replyPort);
    answer(m);
  }
}
