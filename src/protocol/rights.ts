/**
 * Port names, right types and message dispositions, with Mach's numeric values
 * (reference/mach/mach3-kernel-interfaces.txt: mach_port_allocate, mach_port_type, mach_msg).
 */

/** A port name: local to one port name space, meaningless in any other. */
export type PortName = number;

export const MACH_PORT_NULL = 0;
export const MACH_PORT_DEAD = -1;
/** Most user references a send right or dead name can hold (MACH_PORT_UREFS_MAX). */
export const MACH_PORT_UREFS_MAX = 0xffff;
/** Default and maximum queue limits (mach_port_set_qlimit: MACH_PORT_QLIMIT_DEFAULT is 5). */
export const MACH_PORT_QLIMIT_DEFAULT = 5;
export const MACH_PORT_QLIMIT_MAX = 16;

/** mach_port_right_t */
export const PortRight = {
  SEND: 0,
  RECEIVE: 1,
  SEND_ONCE: 2,
  PORT_SET: 3,
  DEAD_NAME: 4,
} as const;
export type PortRight = (typeof PortRight)[keyof typeof PortRight];

/** mach_port_type_t bits: a name may denote several rights at once (send + receive). */
export const PortType = {
  SEND: 1 << 16,
  RECEIVE: 1 << 17,
  SEND_ONCE: 1 << 18,
  PORT_SET: 1 << 19,
  DEAD_NAME: 1 << 20,
} as const;

/** mach_msg_type_name_t values for port rights in messages. */
export const Disposition = {
  MOVE_RECEIVE: 16,
  MOVE_SEND: 17,
  MOVE_SEND_ONCE: 18,
  COPY_SEND: 19,
  MAKE_SEND: 20,
  MAKE_SEND_ONCE: 21,
} as const;
export type Disposition = (typeof Disposition)[keyof typeof Disposition];

/** What a received message says it carries (the PORT_* aliases of the MOVE_* values). */
export const ReceivedRight = {
  PORT_RECEIVE: 16,
  PORT_SEND: 17,
  PORT_SEND_ONCE: 18,
} as const;
export type ReceivedRight = (typeof ReceivedRight)[keyof typeof ReceivedRight];

const DISPOSITION_NAMES: Record<number, string> = {
  16: 'MOVE_RECEIVE',
  17: 'MOVE_SEND',
  18: 'MOVE_SEND_ONCE',
  19: 'COPY_SEND',
  20: 'MAKE_SEND',
  21: 'MAKE_SEND_ONCE',
};

export function isDisposition(d: unknown): d is Disposition {
  return typeof d === 'number' && d >= 16 && d <= 21 && Number.isInteger(d);
}

export function dispositionName(d: number): string {
  return DISPOSITION_NAMES[d] ?? `invalid disposition ${String(d)}`;
}

/** The right a disposition delivers to the receiver. */
export function receivedRightOf(d: Disposition): ReceivedRight {
  switch (d) {
    case Disposition.MOVE_RECEIVE:
      return ReceivedRight.PORT_RECEIVE;
    case Disposition.MOVE_SEND_ONCE:
    case Disposition.MAKE_SEND_ONCE:
      return ReceivedRight.PORT_SEND_ONCE;
    default:
      return ReceivedRight.PORT_SEND;
  }
}

/** The disposition that moves on a right a space holds (the inverse of receivedRightOf). */
export function moveDispositionOf(right: number): Disposition {
  if (right === ReceivedRight.PORT_RECEIVE) return Disposition.MOVE_RECEIVE;
  if (right === ReceivedRight.PORT_SEND_ONCE) return Disposition.MOVE_SEND_ONCE;
  return Disposition.MOVE_SEND;
}

const RIGHT_NAMES = ['SEND', 'RECEIVE', 'SEND_ONCE', 'PORT_SET', 'DEAD_NAME'];
export function rightName(r: number): string {
  return RIGHT_NAMES[r] ?? `invalid right ${String(r)}`;
}

export function typeNames(bits: number): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(PortType)) if (bits & v) out.push(k);
  return out;
}

/** A port name for error details: hex for integers, the raw value for garbage (NaN, strings, null). */
export function nameHex(n: number): string {
  return Number.isInteger(n) ? `0x${(n >>> 0).toString(16)}` : String(n);
}
