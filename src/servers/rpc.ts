import type { IpcKernel } from '../actors/ipcKernel.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import { MachError } from '../protocol/errors.ts';
import type { MachMessage, ReceivedMessage } from '../protocol/message.ts';
import { NotifyId } from '../protocol/notifications.ts';
import { PortRight } from '../protocol/rights.ts';

export type ExchangeResult =
  | { readonly ok: true; readonly message: ReceivedMessage }
  /** `lost`: the reply right came back as a send-once notification (netmsg gave up). */
  | { readonly ok: false; readonly error: string; readonly lost: boolean };

/**
 * One request/reply exchange from `space`: a fresh reply port per call, so a late answer to an
 * abandoned call can never be taken for the next one's; the reply right used up without an
 * answer (netmsg gave the request or its answer up) comes back as a send-once notification and
 * ends the exchange as lost. `done` runs exactly once; the reply port is gone by then.
 */
export function exchange(
  ipc: IpcKernel,
  space: PortSpace,
  request: (replyPort: number) => MachMessage,
  timeoutMs: number | undefined,
  done: (r: ExchangeResult) => void,
): void {
  let finished = false;
  const replyPort = ipc.allocate(space, PortRight.RECEIVE, `${space.label}.reply`);
  const finish = (r: ExchangeResult) => {
    if (finished) return;
    finished = true;
    if (space.active && space.lookup(replyPort) !== undefined) ipc.destroy(space, replyPort);
    done(r);
  };
  try {
    ipc.send(space, request(replyPort), {}, (r) => {
      if (!r.ok) finish({ ok: false, error: r.error.message, lost: false });
    });
  } catch (e) {
    if (!(e instanceof MachError)) throw e;
    return finish({ ok: false, error: e.message, lost: false });
  }
  if (finished) return;
  const answer = (m: ReceivedMessage) =>
    finish(
      m.id === NotifyId.SEND_ONCE
        ? { ok: false, error: 'no reply', lost: true }
        : { ok: true, message: m },
    );
  const m = ipc.receive(space, replyPort, { timeout: timeoutMs }, (r) => {
    if (r.ok) answer(r.message);
    else finish({ ok: false, error: r.error.message, lost: false });
  });
  if (m !== null) answer(m);
}
