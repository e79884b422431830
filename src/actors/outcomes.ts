import type { MachError } from '../protocol/errors.ts';
import type { ReceivedMessage } from '../protocol/message.ts';

/** How a blocked mach_msg send ended. On failure the message was pseudo-received back. */
export type SendOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: MachError; readonly returned: ReceivedMessage | null };

/** How a blocked mach_msg receive ended. */
export type ReceiveOutcome =
  | { readonly ok: true; readonly message: ReceivedMessage }
  | { readonly ok: false; readonly error: MachError };
