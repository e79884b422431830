import type { ScheduledEvent } from '../world/eventQueue.ts';
import type { KMsg } from './kmsg.ts';
import type { ReceiveOutcome, SendOutcome } from './outcomes.ts';
import type { PortSpace } from './portSpace.ts';

/** A thread (or callback) blocked in mach_msg receive. */
export interface ReceiveWaiter {
  space: PortSpace;
  name: number;
  maxSize: number;
  large: boolean;
  timer: ScheduledEvent | null;
  done: (r: ReceiveOutcome) => void;
}

/** A sender blocked on a full queue; its message is already copied in. */
export interface SendWaiter {
  space: PortSpace;
  kmsg: KMsg;
  timer: ScheduledEvent | null;
  done: (r: SendOutcome) => void;
}
