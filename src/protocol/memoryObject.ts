import { decodeData, inlineData } from './codec.ts';
import type { MachMessage, MessageItem, ReceivedItem, ReceivedMessage } from './message.ts';
import { Disposition, MACH_PORT_NULL, ReceivedRight } from './rights.ts';

/**
 * The external memory management protocol between a kernel and a memory manager (pager), after
 * mach3-kernel-interfaces.txt chapter 5. Calls the kernel makes on a manager (memory_object_init,
 * _data_request, _data_return, _terminate, _lock_completed) go to the manager's port and carry
 * the object's memory control port, so a manager serving several kernels knows whom to answer.
 * Calls a manager makes on the kernel (memory_object_data_supply, _data_unavailable, _data_error,
 * _lock_request) go to that control port: the port itself names the object.
 *
 * Deviation from Mach: a manager has one port for all its objects and the object is named by a
 * number in the body (Mach gives each abstract memory object a port of its own). There is no
 * memory cache name port (vm_region reports the object number instead) and no memory_object_ready:
 * as for the default manager's memory_object_create, the kernel does not wait for readiness.
 *
 * Offsets and lengths are in bytes, as in Mach; page data travels out of line.
 */
export const MemoryObjectId = {
  // kernel -> manager
  INIT: 2200,
  TERMINATE: 2201,
  DATA_REQUEST: 2202,
  DATA_RETURN: 2203,
  LOCK_COMPLETED: 2204,
  // manager -> kernel (on the memory control port)
  DATA_SUPPLY: 2250,
  DATA_UNAVAILABLE: 2251,
  DATA_ERROR: 2252,
  LOCK_REQUEST: 2253,
} as const;
export type MemoryObjectId = (typeof MemoryObjectId)[keyof typeof MemoryObjectId];

/** memory_object_return_t of memory_object_lock_request. */
export const MemoryObjectReturn = { NONE: 0, DIRTY: 1, ALL: 2 } as const;
export type MemoryObjectReturn = (typeof MemoryObjectReturn)[keyof typeof MemoryObjectReturn];

/** VM_PROT_NO_CHANGE: a lock_value that leaves access restrictions as they are. */
export const VM_PROT_NO_CHANGE = 8;

export interface InitBody {
  readonly object: number;
  readonly pageSize: number;
}
export interface DataRequestBody {
  readonly object: number;
  readonly offset: number;
  readonly length: number;
  /** desired_access: VM_PROT_* bits. */
  readonly access: number;
}
export interface DataReturnBody {
  readonly object: number;
  readonly offset: number;
  readonly dirty: boolean;
  readonly kernelCopy: boolean;
}
export interface TerminateBody {
  readonly object: number;
}
export interface LockCompletedBody {
  readonly object: number;
  readonly offset: number;
  readonly length: number;
}
export interface DataSupplyBody {
  readonly offset: number;
  /** Access not permitted on the data (VM_PROT_* bits). */
  readonly lockValue: number;
  /** The manager keeps no copy: the kernel must return the pages even when clean. */
  readonly precious: boolean;
}
export interface DataUnavailableBody {
  readonly offset: number;
  readonly length: number;
}
export interface DataErrorBody {
  readonly offset: number;
  readonly length: number;
  readonly reason: number;
}
export interface LockRequestBody {
  readonly offset: number;
  readonly length: number;
  readonly shouldReturn: MemoryObjectReturn;
  readonly shouldFlush: boolean;
  /** VM_PROT_* bits, or VM_PROT_NO_CHANGE. */
  readonly lockValue: number;
}

/** A call as the manager receives it; `control` names the control send right it arrived with. */
export type ManagerCall =
  | ({ readonly kind: 'init'; readonly control: number } & InitBody)
  | ({ readonly kind: 'data_request'; readonly control: number } & DataRequestBody)
  | ({
      readonly kind: 'data_return';
      readonly control: number;
      readonly data: Uint8Array;
    } & DataReturnBody)
  /** `control` names the control port's receive right, now the manager's to destroy. */
  | ({ readonly kind: 'terminate'; readonly control: number } & TerminateBody)
  | ({ readonly kind: 'lock_completed' } & LockCompletedBody);

/** A call as the kernel receives it on a control port. */
export type KernelCall =
  | ({ readonly kind: 'data_supply'; readonly data: Uint8Array } & DataSupplyBody)
  | ({ readonly kind: 'data_unavailable' } & DataUnavailableBody)
  | ({ readonly kind: 'data_error' } & DataErrorBody)
  | ({ readonly kind: 'lock_request'; readonly replyTo: number } & LockRequestBody);

/** Why a message was refused, and the names of the rights it brought (to be released). */
export interface Malformed {
  readonly malformed: string;
  readonly rights: readonly number[];
}

// ---- building messages -----------------------------------------------------------------------

const control = (name: number): MessageItem => ({
  type: 'port',
  name,
  disposition: Disposition.MAKE_SEND,
});

function toManager(pager: number, id: number, body: MessageItem[]): MachMessage {
  return { remotePort: pager, remoteDisposition: Disposition.COPY_SEND, id, body };
}

/** memory_object_init: the kernel maps the object for the first time (`ctl`: its receive right). */
export function initMessage(pager: number, ctl: number, b: InitBody): MachMessage {
  return toManager(pager, MemoryObjectId.INIT, [inlineData(pick(b, INIT_KEYS)), control(ctl)]);
}

/** memory_object_data_request: a cache miss. */
export function dataRequestMessage(pager: number, ctl: number, b: DataRequestBody): MachMessage {
  return toManager(pager, MemoryObjectId.DATA_REQUEST, [
    inlineData(pick(b, REQUEST_KEYS)),
    control(ctl),
  ]);
}

/** memory_object_data_return: evicted or cleaned data; `move` gives the buffer away. */
export function dataReturnMessage(
  pager: number,
  ctl: number,
  b: DataReturnBody,
  data: Uint8Array,
  move = false,
): MachMessage {
  return toManager(pager, MemoryObjectId.DATA_RETURN, [
    inlineData(pick(b, RETURN_KEYS)),
    control(ctl),
    { type: 'ool', data, deallocate: move },
  ]);
}

/**
 * memory_object_terminate: no mapping of the object remains. As in Mach, the kernel gives the
 * manager the control port's receive right, so the manager destroys the port.
 */
export function terminateMessage(pager: number, ctl: number, b: TerminateBody): MachMessage {
  return toManager(pager, MemoryObjectId.TERMINATE, [
    inlineData({ object: b.object }),
    { type: 'port', name: ctl, disposition: Disposition.MOVE_RECEIVE },
  ]);
}

/** memory_object_lock_completed, sent through the reply right of a lock_request. */
export function lockCompletedMessage(replyTo: number, b: LockCompletedBody): MachMessage {
  return {
    remotePort: replyTo,
    remoteDisposition: Disposition.MOVE_SEND_ONCE,
    id: MemoryObjectId.LOCK_COMPLETED,
    body: [inlineData(pick(b, COMPLETED_KEYS))],
  };
}

function toKernel(ctl: number, id: number, body: MessageItem[]): MachMessage {
  return { remotePort: ctl, remoteDisposition: Disposition.COPY_SEND, id, body };
}

/** memory_object_data_supply: the page contents, out of line. */
export function dataSupplyMessage(ctl: number, b: DataSupplyBody, data: Uint8Array): MachMessage {
  return toKernel(ctl, MemoryObjectId.DATA_SUPPLY, [
    inlineData(pick(b, SUPPLY_KEYS)),
    { type: 'ool', data },
  ]);
}

/** memory_object_data_unavailable: no data; the kernel zero-fills. */
export function dataUnavailableMessage(ctl: number, b: DataUnavailableBody): MachMessage {
  return toKernel(ctl, MemoryObjectId.DATA_UNAVAILABLE, [inlineData(pick(b, RANGE_KEYS))]);
}

/** memory_object_data_error: the data cannot be provided. */
export function dataErrorMessage(ctl: number, b: DataErrorBody): MachMessage {
  return toKernel(ctl, MemoryObjectId.DATA_ERROR, [inlineData(pick(b, ERROR_KEYS))]);
}

/** memory_object_lock_request; `replyTo` (a receive right of the manager) gets lock_completed. */
export function lockRequestMessage(
  ctl: number,
  b: LockRequestBody,
  replyTo: number = MACH_PORT_NULL,
): MachMessage {
  const m = toKernel(ctl, MemoryObjectId.LOCK_REQUEST, [inlineData(pick(b, LOCK_KEYS))]);
  if (replyTo === MACH_PORT_NULL) return m;
  return { ...m, localPort: replyTo, localDisposition: Disposition.MAKE_SEND_ONCE };
}

const INIT_KEYS = ['object', 'pageSize'] as const;
const REQUEST_KEYS = ['object', 'offset', 'length', 'access'] as const;
const RETURN_KEYS = ['object', 'offset', 'dirty', 'kernelCopy'] as const;
const COMPLETED_KEYS = ['object', 'offset', 'length'] as const;
const SUPPLY_KEYS = ['offset', 'lockValue', 'precious'] as const;
const RANGE_KEYS = ['offset', 'length'] as const;
const ERROR_KEYS = ['offset', 'length', 'reason'] as const;
const LOCK_KEYS = ['offset', 'length', 'shouldReturn', 'shouldFlush', 'lockValue'] as const;

/** Only the protocol's fields go on the wire, whatever else the caller's object carries. */
function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const k of keys) out[k] = o[k];
  return out;
}

// ---- parsing messages ------------------------------------------------------------------------

type Field = 'count' | 'size' | 'index' | 'prot' | 'lock' | 'flag' | 'return';

/** How each field is checked; the first bad one names the rejection. */
const CHECKS: Record<Field, (v: unknown) => boolean> = {
  index: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  count: (v) => Number.isSafeInteger(v) && (v as number) > 0,
  size: (v) =>
    Number.isSafeInteger(v) && (v as number) >= 8 && ((v as number) & ((v as number) - 1)) === 0,
  prot: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 7,
  lock: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= VM_PROT_NO_CHANGE,
  flag: (v) => typeof v === 'boolean',
  return: (v) => v === 0 || v === 1 || v === 2,
};
const EXPECTED: Record<Field, string> = {
  index: 'a non-negative integer',
  count: 'a positive integer',
  size: 'a power of two >= 8',
  prot: 'VM_PROT_* bits (0..7)',
  lock: 'VM_PROT_* bits or VM_PROT_NO_CHANGE (0..8)',
  flag: 'a boolean',
  return: 'MEMORY_OBJECT_RETURN_NONE, _DIRTY or _ALL (0, 1, 2)',
};

interface Shape {
  readonly call: string;
  readonly fields: Readonly<Record<string, Field>>;
  /** Body items after the inline data, in order ('controlReceive': the control receive right). */
  readonly items: readonly ('control' | 'controlReceive' | 'ool')[];
  /** Whether a reply right is required ('required'), allowed ('optional') or refused. */
  readonly reply: 'required' | 'optional' | 'none';
}

const MANAGER_SHAPES: Record<number, Shape> = {
  [MemoryObjectId.INIT]: {
    call: 'init',
    fields: { object: 'index', pageSize: 'size' },
    items: ['control'],
    reply: 'none',
  },
  [MemoryObjectId.DATA_REQUEST]: {
    call: 'data_request',
    fields: { object: 'index', offset: 'index', length: 'count', access: 'prot' },
    items: ['control'],
    reply: 'none',
  },
  [MemoryObjectId.DATA_RETURN]: {
    call: 'data_return',
    fields: { object: 'index', offset: 'index', dirty: 'flag', kernelCopy: 'flag' },
    items: ['control', 'ool'],
    reply: 'none',
  },
  [MemoryObjectId.TERMINATE]: {
    call: 'terminate',
    fields: { object: 'index' },
    items: ['controlReceive'],
    reply: 'none',
  },
  [MemoryObjectId.LOCK_COMPLETED]: {
    call: 'lock_completed',
    fields: { object: 'index', offset: 'index', length: 'count' },
    items: [],
    reply: 'none',
  },
};

const KERNEL_SHAPES: Record<number, Shape> = {
  [MemoryObjectId.DATA_SUPPLY]: {
    call: 'data_supply',
    fields: { offset: 'index', lockValue: 'prot', precious: 'flag' },
    items: ['ool'],
    reply: 'none',
  },
  [MemoryObjectId.DATA_UNAVAILABLE]: {
    call: 'data_unavailable',
    fields: { offset: 'index', length: 'count' },
    items: [],
    reply: 'none',
  },
  [MemoryObjectId.DATA_ERROR]: {
    call: 'data_error',
    fields: { offset: 'index', length: 'count', reason: 'index' },
    items: [],
    reply: 'none',
  },
  [MemoryObjectId.LOCK_REQUEST]: {
    call: 'lock_request',
    fields: {
      offset: 'index',
      length: 'count',
      shouldReturn: 'return',
      shouldFlush: 'flag',
      lockValue: 'lock',
    },
    items: [],
    reply: 'optional',
  },
};

/** Port names a received message brought into the receiver's space (its reply right too). */
export function rightsIn(m: ReceivedMessage): number[] {
  const names: number[] = [];
  if (m.remotePort !== MACH_PORT_NULL && m.remotePort !== -1) names.push(m.remotePort);
  for (const it of m.body)
    if (it.type === 'port' && it.name !== MACH_PORT_NULL && it.name !== -1) names.push(it.name);
  return names;
}

/** Reads a kernel-to-manager call, or says which field is wrong. */
export function parseManagerCall(m: ReceivedMessage): ManagerCall | Malformed {
  return parseShaped(m, MANAGER_SHAPES) as ManagerCall | Malformed;
}

/** Reads a manager-to-kernel call arriving on a control port, or says which field is wrong. */
export function parseKernelCall(m: ReceivedMessage): KernelCall | Malformed {
  return parseShaped(m, KERNEL_SHAPES) as KernelCall | Malformed;
}

function parseShaped(
  m: ReceivedMessage,
  shapes: Record<number, Shape>,
): Record<string, unknown> | Malformed {
  const rights = rightsIn(m);
  const bad = (why: string): Malformed => ({ malformed: why, rights });
  const shape = shapes[m.id];
  if (shape === undefined) return bad(`message id ${m.id} is not a call of this interface`);
  const name = shape.call;
  const hasReply = m.remotePort !== MACH_PORT_NULL;
  if (shape.reply === 'none' && hasReply) return bad(`${name} carries an unexpected reply right`);
  if (hasReply && m.remoteRight !== ReceivedRight.PORT_SEND_ONCE)
    return bad(`${name} reply right must be a send-once right`);
  if (m.body.length !== 1 + shape.items.length)
    return bad(`${name} body must have ${1 + shape.items.length} items, got ${m.body.length}`);
  const head = m.body[0] as ReceivedItem;
  if (head.type !== 'inline') return bad(`${name} body[0] must be inline data`);
  let fields: unknown;
  try {
    fields = decodeData(head.data);
  } catch (e) {
    return bad(`${name} data does not decode: ${(e as Error).message}`);
  }
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields))
    return bad(`${name} data must be a record`);
  const out: Record<string, unknown> = { kind: name };
  for (const [key, field] of Object.entries(shape.fields)) {
    const v = (fields as Record<string, unknown>)[key];
    if (!CHECKS[field](v))
      return bad(`${name}.${key} must be ${EXPECTED[field]}, got ${describe(v)}`);
    out[key] = v;
  }
  for (let i = 0; i < shape.items.length; i++) {
    const item = m.body[i + 1] as ReceivedItem;
    const kind = shape.items[i];
    if (kind === 'control' || kind === 'controlReceive') {
      const right = kind === 'control' ? ReceivedRight.PORT_SEND : ReceivedRight.PORT_RECEIVE;
      if (item.type !== 'port' || item.right !== right || item.name <= 0)
        return bad(
          `${name} body[${i + 1}] must be the memory control ${kind === 'control' ? 'send' : 'receive'} right`,
        );
      out.control = item.name;
    } else {
      if (item.type !== 'ool' || item.data.length === 0)
        return bad(`${name} body[${i + 1}] must be out-of-line page data`);
      out.data = item.data;
    }
  }
  if (shape.reply !== 'none') out.replyTo = m.remotePort;
  return out;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined) return 'nothing';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
