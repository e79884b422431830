import { dataOf, inlineData } from './codec.ts';
import type { MachMessage, ReceivedMessage } from './message.ts';
import { REPLY_OFFSET, rpcReply, rpcRequest } from './requestReply.ts';
import { Disposition, MACH_PORT_NULL, ReceivedRight } from './rights.ts';

/**
 * The I/O protocol of migrated processes (reference/seed section 4): a process manager, a user
 * manager and a migration manager on every host.
 *
 * - CONSOLE_ARRIVED (kernel to the local user manager, one way): a task whose console is another
 *   host's made its first write here (it arrived by migration): the user manager watches that home.
 * - CONSOLE_WRITE (kernel to a user manager, one way): one console_write of a task, numbered. The
 *   task's kernel side holds a send right to the console port of its home's user manager in the
 *   task's own port space, so the right (and the output) follows the task when it migrates; the
 *   numbers let the user manager put writes sent from different hosts back in order, exactly once.
 * - PROCESS (to a process manager, request/reply): a user request delivered to a process.
 * - MIGRATION (to a migration manager, request/reply): migrate a task, say where a task is.
 * - LOCATION (migration manager to migration manager, one way): a task committed on a host.
 *
 * Requests carry typed inline data and a send-once reply right; a reply's id is the request's + 100
 * (the convention of protocol/requestReply.ts). Everything read from a message is validated here.
 */
export const ManagerId = {
  CONSOLE_WRITE: 5001,
  CONSOLE_ARRIVED: 5002,
  PROCESS: 5010,
  MIGRATION: 5020,
  LOCATION: 5021,
} as const;
export type ManagerId = (typeof ManagerId)[keyof typeof ManagerId];

export { REPLY_OFFSET };

/** Names under which each host's managers are checked in with its netmsg server. */
export const PROCESS_MANAGER_NAME = 'process-manager';
export const USER_MANAGER_NAME = 'user-manager';
export const MIGRATION_MANAGER_NAME = 'migration-manager';

// ---- console --------------------------------------------------------------------------------

/**
 * A task's console binding as it crosses hosts inside the migration protocol's RESTORE: the name
 * of the console send right in the task's space (the right itself moves with the other rights at
 * COMMIT), the number of the next write, the host whose user manager shows the output, and the
 * first number that user manager has been sent.
 */
export interface ConsoleState {
  readonly name: number;
  readonly seq: number;
  readonly home: string;
  readonly start: number;
}

export function isConsoleState(x: unknown): x is ConsoleState {
  if (x === null || typeof x !== 'object') return false;
  const c = x as Record<string, unknown>;
  return (
    Number.isInteger(c.name) &&
    (c.name as number) > 0 &&
    Number.isInteger(c.seq) &&
    (c.seq as number) >= 0 &&
    Number.isInteger(c.start) &&
    (c.start as number) >= 0 &&
    (c.start as number) <= (c.seq as number) &&
    typeof c.home === 'string' &&
    c.home.length > 0
  );
}

/** One console write as the user manager receives it. */
export interface ConsoleWrite {
  readonly task: string;
  /** The host the writing task runs on. */
  readonly host: string;
  /** The host whose user manager the writer believes shows its output. */
  readonly home: string;
  readonly seq: number;
  /** The first number this console port was sent by the task (where its stream starts). */
  readonly start: number;
  readonly text: string;
}

export function consoleWriteMessage(dest: number, w: ConsoleWrite): MachMessage {
  return {
    remotePort: dest,
    remoteDisposition: Disposition.COPY_SEND,
    id: ManagerId.CONSOLE_WRITE,
    body: [inlineData(w)],
  };
}

export function parseConsoleWrite(m: ReceivedMessage): ConsoleWrite | { malformed: string } {
  if (m.id !== ManagerId.CONSOLE_WRITE) return { malformed: `id ${m.id} is not CONSOLE_WRITE` };
  let w: Partial<ConsoleWrite>;
  try {
    w = dataOf<Partial<ConsoleWrite>>(m);
  } catch (e) {
    return { malformed: `CONSOLE_WRITE data does not decode: ${(e as Error).message}` };
  }
  if (
    w === null ||
    typeof w !== 'object' ||
    typeof w.task !== 'string' ||
    typeof w.host !== 'string' ||
    typeof w.home !== 'string' ||
    typeof w.text !== 'string' ||
    !Number.isInteger(w.seq) ||
    !Number.isInteger(w.start) ||
    (w.seq as number) < (w.start as number) ||
    (w.start as number) < 0
  )
    return { malformed: 'CONSOLE_WRITE needs task, host, home, text and seq >= start >= 0' };
  return w as ConsoleWrite;
}

/** A task whose console belongs to another host writes here for the first time. */
export interface ConsoleArrived {
  readonly task: string;
  readonly home: string;
}

export function consoleArrivedMessage(dest: number, a: ConsoleArrived): MachMessage {
  return {
    remotePort: dest,
    remoteDisposition: Disposition.COPY_SEND,
    id: ManagerId.CONSOLE_ARRIVED,
    body: [inlineData(a)],
  };
}

export function parseConsoleArrived(m: ReceivedMessage): ConsoleArrived | { malformed: string } {
  if (m.id !== ManagerId.CONSOLE_ARRIVED) return { malformed: `id ${m.id} is not CONSOLE_ARRIVED` };
  try {
    const a = dataOf<Partial<ConsoleArrived>>(m);
    if (
      a !== null &&
      typeof a === 'object' &&
      typeof a.task === 'string' &&
      typeof a.home === 'string'
    )
      return a as ConsoleArrived;
  } catch {
    // fall through
  }
  return { malformed: 'CONSOLE_ARRIVED needs task and home' };
}

// ---- process manager --------------------------------------------------------------------------

/** What a user may ask of a process, wherever it runs. */
export type UserRequest =
  | { readonly op: 'status' }
  | { readonly op: 'suspend' }
  | { readonly op: 'resume' }
  | { readonly op: 'kill'; readonly status?: number };

export const USER_OPS: readonly UserRequest['op'][] = ['status', 'suspend', 'resume', 'kill'];

/** What a process manager reports about one of its processes. */
export interface ProcessStatus {
  readonly task: string;
  /** Where it runs (or ran, when it has ended). */
  readonly host: string;
  readonly home: string;
  readonly state: 'running' | 'suspended' | 'exited';
  readonly suspendCount: number;
  readonly exit: { readonly status: number; readonly reason: string } | null;
  /** Console writes made on this host. */
  readonly writesHere: number;
}

export interface ProcessRequest {
  readonly task: string;
  readonly request: UserRequest;
}

/**
 * The reply of a process manager. `movedTo`: the task left this host for that one (the process
 * manager's forwarding pointer); `unknown`: it never ran here.
 */
export type ProcessReply =
  | { readonly ok: true; readonly status: ProcessStatus }
  | {
      readonly ok: false;
      readonly error: string;
      readonly movedTo?: string;
      readonly unknown?: true;
    };

export function isUserRequest(x: unknown): x is UserRequest {
  if (x === null || typeof x !== 'object') return false;
  const r = x as Record<string, unknown>;
  if (!USER_OPS.includes(r.op as UserRequest['op'])) return false;
  return r.op !== 'kill' || r.status === undefined || Number.isInteger(r.status);
}

export function parseProcessRequest(m: ReceivedMessage): ProcessRequest | { malformed: string } {
  const base = checkRequest(m, ManagerId.PROCESS);
  if (base !== null) return { malformed: base };
  let r: Partial<ProcessRequest>;
  try {
    r = dataOf<Partial<ProcessRequest>>(m);
  } catch (e) {
    return { malformed: `PROCESS data does not decode: ${(e as Error).message}` };
  }
  if (r === null || typeof r !== 'object' || typeof r.task !== 'string' || r.task.length === 0)
    return { malformed: 'PROCESS needs a task name' };
  if (!isUserRequest(r.request))
    return { malformed: `PROCESS request must be one of ${USER_OPS.join(', ')}` };
  return r as ProcessRequest;
}

// ---- migration manager -----------------------------------------------------------------------

/** Where a task is, as a migration manager knows it; `at` orders reports (virtual ms of commit). */
export interface Location {
  readonly task: string;
  readonly host: string;
  readonly home: string;
  readonly at: number;
}

export function isLocation(x: unknown): x is Location {
  if (x === null || typeof x !== 'object') return false;
  const l = x as Record<string, unknown>;
  return (
    typeof l.task === 'string' &&
    typeof l.host === 'string' &&
    typeof l.home === 'string' &&
    typeof l.at === 'number' &&
    Number.isFinite(l.at)
  );
}

export type MigrationManagerRequest =
  | {
      readonly op: 'migrate';
      readonly task: string;
      readonly to: string;
      readonly strategy?: string;
      /** Migration managers this request already went through (forwarding hops). */
      readonly hops?: number;
    }
  | { readonly op: 'locate'; readonly task: string };

/** A migration's outcome as a migration manager reports it (a MigrationResult's summary). */
export interface MigrationSummary {
  readonly task: string;
  readonly from: string;
  readonly to: string;
  readonly strategy: string;
  readonly outcome: 'committed' | 'rolled-back' | 'unresolved' | 'interrupted';
  readonly reason: string | null;
  readonly startMs: number;
  readonly endMs: number;
  readonly freezeMs: number;
}

/** The answer to a migration request: what the migration did, or why it was not attempted. */
export type MigrateReply =
  | { readonly ok: true; readonly result: MigrationSummary }
  | { readonly ok: false; readonly error: string };

export type MigrationManagerReply =
  | { readonly ok: true; readonly result?: MigrationSummary; readonly location?: Location | null }
  | { readonly ok: false; readonly error: string };

export function parseMigrationManagerRequest(
  m: ReceivedMessage,
): MigrationManagerRequest | { malformed: string } {
  const base = checkRequest(m, ManagerId.MIGRATION);
  if (base !== null) return { malformed: base };
  let r: Record<string, unknown>;
  try {
    r = dataOf<Record<string, unknown>>(m);
  } catch (e) {
    return { malformed: `MIGRATION data does not decode: ${(e as Error).message}` };
  }
  if (r === null || typeof r !== 'object' || typeof r.task !== 'string' || r.task.length === 0)
    return { malformed: 'MIGRATION needs a task name' };
  if (r.op === 'locate') return { op: 'locate', task: r.task };
  if (r.op === 'migrate') {
    if (typeof r.to !== 'string' || r.to.length === 0)
      return { malformed: 'MIGRATION migrate needs a destination host' };
    if (r.strategy !== undefined && typeof r.strategy !== 'string')
      return { malformed: 'MIGRATION strategy must be a string' };
    if (r.hops !== undefined && !(Number.isInteger(r.hops) && (r.hops as number) >= 0))
      return { malformed: 'MIGRATION hops must be a non-negative integer' };
    return r as unknown as MigrationManagerRequest;
  }
  return { malformed: `MIGRATION op must be migrate or locate, got ${String(r.op)}` };
}

export function locationMessage(dest: number, l: Location): MachMessage {
  return {
    remotePort: dest,
    remoteDisposition: Disposition.COPY_SEND,
    id: ManagerId.LOCATION,
    body: [inlineData(l)],
  };
}

export function parseLocation(m: ReceivedMessage): Location | { malformed: string } {
  if (m.id !== ManagerId.LOCATION) return { malformed: `id ${m.id} is not LOCATION` };
  try {
    const l = dataOf<unknown>(m);
    return isLocation(l) ? l : { malformed: 'LOCATION needs task, host, home and at' };
  } catch (e) {
    return { malformed: `LOCATION data does not decode: ${(e as Error).message}` };
  }
}

// ---- requests and replies ---------------------------------------------------------------------

export function managerRequest(
  dest: number,
  reply: number,
  id: ManagerId,
  data: unknown,
): MachMessage {
  return rpcRequest(dest, reply, id, data);
}

export function managerReply(replyRight: number, requestId: number, data: unknown): MachMessage {
  return rpcReply(replyRight, requestId, data);
}

/** Reads a reply of the shape `{ ok: boolean, ... }`; anything else becomes `{ ok: false }`. */
export function parseManagerReply<T extends { ok: boolean }>(
  m: ReceivedMessage,
  requestId: number,
): T | { ok: false; error: string } {
  if (m.id !== requestId + REPLY_OFFSET)
    return { ok: false, error: `message ${m.id} is not a reply to ${requestId}` };
  try {
    const r = dataOf<T>(m);
    if (r !== null && typeof r === 'object' && typeof r.ok === 'boolean') return r;
  } catch {
    // fall through
  }
  return { ok: false, error: `malformed reply (id ${m.id})` };
}

function checkRequest(m: ReceivedMessage, id: number): string | null {
  if (m.id !== id) return `message id ${m.id} is not ${id}`;
  if (m.remotePort === MACH_PORT_NULL || m.remoteRight !== ReceivedRight.PORT_SEND_ONCE)
    return 'request carries no send-once reply right';
  const item = m.body[0];
  if (m.body.length !== 1 || item?.type !== 'inline') return 'request body must be one inline item';
  return null;
}
