import { MachError } from '../protocol/errors.ts';
import type { ReceivedMessage } from '../protocol/message.ts';
import { netnameReplyMessage, parseNetnameRequest } from '../protocol/netmsg.ts';
import { MACH_PORT_NULL, ReceivedRight } from '../protocol/rights.ts';
import type { NetmsgContext } from './context.ts';
import { checkInHeld, checkOut, startLookup } from './lookups.ts';
import { discardReceived, release } from './spaceOps.ts';

/**
 * The netname calls as messages to the server's service port (section 12.2), for tasks that
 * speak Mach IPC rather than call the server's TypeScript API.
 */
export function serveRequest(S: NetmsgContext, m: ReceivedMessage): void {
  const parsed = parseNetnameRequest(m);
  if ('malformed' in parsed) {
    const reply = m.remotePort;
    const once = m.remoteRight === ReceivedRight.PORT_SEND_ONCE;
    // Keep the reply right out of the discard: it carries the error back.
    discardReceived(S, once ? { ...m, remotePort: MACH_PORT_NULL } : m);
    if (once) answer(S, reply, m.id, { ok: false, error: parsed.malformed });
    return;
  }
  const reply = m.remotePort;
  switch (parsed.op) {
    case 'check-in': {
      const ok = checkInHeld(S, parsed.name, parsed.port);
      if (!ok) release(S, parsed.port, ReceivedRight.PORT_SEND);
      answer(
        S,
        reply,
        m.id,
        ok ? { ok: true } : { ok: false, error: `"${parsed.name}" is already checked in` },
      );
      return;
    }
    case 'check-out': {
      const ok = checkOut(S, parsed.name);
      answer(
        S,
        reply,
        m.id,
        ok ? { ok: true } : { ok: false, error: `"${parsed.name}" is not checked in` },
      );
      return;
    }
    case 'look-up':
      startLookup(S, parsed.name, parsed.host, S.ns, (r) => {
        if (S.stopped) return;
        if (r.ok) answer(S, reply, m.id, { ok: true }, r.name);
        else answer(S, reply, m.id, { ok: false, error: r.error.message });
      });
      return;
  }
}

function answer(
  S: NetmsgContext,
  reply: number,
  requestId: number,
  r: { ok: true } | { ok: false; error: string },
  port = MACH_PORT_NULL,
): void {
  try {
    S.k.send(S.ns, netnameReplyMessage(reply, requestId, r, port), { timeout: 0 });
  } catch (err) {
    if (!(err instanceof MachError)) throw err;
    // The client is gone (its reply right is a dead name): nothing to tell it.
    release(S, reply, ReceivedRight.PORT_SEND_ONCE);
    release(S, port, ReceivedRight.PORT_SEND);
  }
}
