/**
 * Mach return codes with their Mach 3 values (reference/mach/mach3-kernel-interfaces.txt, the
 * RETURN VALUE sections of mach_msg and the mach_port_* calls).
 */
export const KernReturn = {
  KERN_SUCCESS: 0,
  KERN_INVALID_ADDRESS: 1,
  KERN_PROTECTION_FAILURE: 2,
  KERN_NO_SPACE: 3,
  KERN_INVALID_ARGUMENT: 4,
  KERN_FAILURE: 5,
  KERN_RESOURCE_SHORTAGE: 6,
  KERN_NOT_RECEIVER: 7,
  KERN_NO_ACCESS: 8,
  KERN_MEMORY_FAILURE: 9,
  KERN_MEMORY_ERROR: 10,
  KERN_NOT_IN_SET: 12,
  KERN_NAME_EXISTS: 13,
  KERN_ABORTED: 14,
  KERN_INVALID_NAME: 15,
  KERN_INVALID_TASK: 16,
  KERN_INVALID_RIGHT: 17,
  KERN_INVALID_VALUE: 18,
  KERN_UREFS_OVERFLOW: 19,
  KERN_INVALID_CAPABILITY: 20,
  KERN_RIGHT_EXISTS: 21,
  KERN_INVALID_HOST: 22,
  KERN_MEMORY_PRESENT: 23,
  KERN_TERMINATED: 37,
} as const;

export const MachMsgReturn = {
  MACH_MSG_SUCCESS: 0,
  MACH_SEND_IN_PROGRESS: 0x10000001,
  MACH_SEND_INVALID_DATA: 0x10000002,
  MACH_SEND_INVALID_DEST: 0x10000003,
  MACH_SEND_TIMED_OUT: 0x10000004,
  MACH_SEND_INTERRUPTED: 0x10000007,
  MACH_SEND_MSG_TOO_SMALL: 0x10000008,
  MACH_SEND_INVALID_REPLY: 0x10000009,
  MACH_SEND_INVALID_RIGHT: 0x1000000a,
  MACH_SEND_INVALID_NOTIFY: 0x1000000b,
  MACH_SEND_INVALID_MEMORY: 0x1000000c,
  MACH_SEND_NO_BUFFER: 0x1000000d,
  MACH_SEND_INVALID_TYPE: 0x1000000f,
  MACH_SEND_INVALID_HEADER: 0x10000010,
  MACH_RCV_IN_PROGRESS: 0x10004001,
  MACH_RCV_INVALID_NAME: 0x10004002,
  MACH_RCV_TIMED_OUT: 0x10004003,
  MACH_RCV_TOO_LARGE: 0x10004004,
  MACH_RCV_INTERRUPTED: 0x10004005,
  MACH_RCV_PORT_CHANGED: 0x10004006,
  MACH_RCV_INVALID_NOTIFY: 0x10004007,
  MACH_RCV_INVALID_DATA: 0x10004008,
  MACH_RCV_PORT_DIED: 0x10004009,
  MACH_RCV_IN_SET: 0x1000400a,
  MACH_RCV_HEADER_ERROR: 0x1000400b,
  MACH_RCV_BODY_ERROR: 0x1000400c,
} as const;

export type KernReturnName = keyof typeof KernReturn;
export type MachMsgReturnName = keyof typeof MachMsgReturn;
export type ReturnCodeName = KernReturnName | MachMsgReturnName;

const NAMES = new Map<number, ReturnCodeName>();
for (const [k, v] of Object.entries(KernReturn)) NAMES.set(v, k as ReturnCodeName);
for (const [k, v] of Object.entries(MachMsgReturn)) NAMES.set(v, k as ReturnCodeName);
NAMES.set(0, 'KERN_SUCCESS');

export function returnCodeName(code: number): string {
  return NAMES.get(code) ?? `0x${code.toString(16)}`;
}

export function returnCode(name: ReturnCodeName): number {
  return (
    (KernReturn as Record<string, number>)[name] ?? (MachMsgReturn as Record<string, number>)[name]!
  );
}
