import type { IpcKernel } from '../actors/ipcKernel.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import type { MessageItem, ReceivedMessage } from '../protocol/message.ts';
import { type MigrationId, messageName, migrationRequest } from '../protocol/migration.ts';
import { exchange } from '../servers/rpc.ts';

/** One request/reply exchange of the migration protocol (see servers/rpc.ts). */
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
  exchange(
    ipc,
    space,
    (replyPort) => migrationRequest(dest, replyPort, id, data, extra),
    undefined,
    (r) => {
      if (!r.ok) {
        return fail(
          r.lost ? `no reply to ${what}: the request or its answer was lost on the way` : r.error,
        );
      }
      // Only the answer to this request is one.
      if (r.message.id !== id + 100)
        return fail(`${what}: unexpected answer (message id ${r.message.id})`);
      done(r.message);
    },
  );
}
