import type { SyscallRestart } from '../kernel/thread.ts';
import { dataOf } from './codec.ts';
import type { ConsoleState } from './managers.ts';
import type { MachMessage, MessageItem, ReceivedMessage } from './message.ts';
import { rpcReply, rpcRequest } from './requestReply.ts';

/**
 * The migration protocol between a migration client (source host) and the migration server
 * (destination host), after reference/seed section 3: create the new task, copy its memory,
 * restore thread and port state, then commit or abort. Requests carry typed inline data and a
 * send-once reply right; a reply's id is the request's + 100.
 */
export const MigrationId = {
  CREATE: 4001,
  PAGES: 4002,
  RESTORE: 4003,
  COMMIT: 4004,
  ABORT: 4005,
  STATUS: 4006,
} as const;
export type MigrationId = (typeof MigrationId)[keyof typeof MigrationId];
/** A protocol request by name. */
export type MigrationMessage = keyof typeof MigrationId;

/** The name of a request id ('CREATE', ...), or `id <n>` for an id that is none. */
export function messageName(id: number): string {
  for (const [k, v] of Object.entries(MigrationId)) if (v === id) return k;
  return `id ${id}`;
}

export type Strategy = 'eager' | 'precopy' | 'demand' | 'prepage' | 'flush';
export const STRATEGIES: readonly Strategy[] = ['eager', 'precopy', 'demand', 'prepage', 'flush'];

export interface RegionDescription {
  readonly start: number;
  readonly size: number;
  readonly protection: number;
  readonly maxProtection: number;
  readonly inheritance: number;
}

export interface CreateRequest {
  readonly session: string;
  readonly task: string;
  readonly home: string;
  readonly pageSize: number;
  readonly strategy: Strategy;
  readonly regions: readonly RegionDescription[];
  /** Pages that hold data (the rest are zero): what the destination must find room for. */
  readonly pages: number;
  /** demand / prepage / flush: the regions are mapped to objects 0..n-1 of this pager (body port 0). */
  readonly remotePager: boolean;
}

export interface PagesRequest {
  readonly session: string;
  /** Virtual page numbers, in the order of the out-of-line data. */
  readonly pages: readonly number[];
}

export interface ThreadDescription {
  readonly regs: readonly number[];
  readonly pc: number;
  readonly flags: number;
  readonly suspendCount: number;
  readonly priority: number;
  readonly policy: 'round-robin' | 'fifo';
  /** The thread port's name in the task's space (thread_self). */
  readonly selfName: number;
  /**
   * The system call the thread was blocked in, backed out onto its trap at suspension (pc is on
   * the trap): what its re-execution must remember (kernel/thread.ts, SyscallRestart).
   */
  readonly restart?: SyscallRestart | null;
}

/** A name in the task's port space and what it denotes. */
export type PortDescription =
  | { readonly name: number; readonly kind: 'receive'; readonly send: number; readonly set: number }
  | { readonly name: number; readonly kind: 'send'; readonly urefs: number }
  | { readonly name: number; readonly kind: 'send-once' }
  | { readonly name: number; readonly kind: 'dead'; readonly urefs: number }
  | { readonly name: number; readonly kind: 'set' };

export interface RestoreRequest {
  readonly session: string;
  readonly suspendCount: number;
  readonly selfName: number;
  readonly threads: readonly ThreadDescription[];
  readonly ports: readonly PortDescription[];
  /** Pre-paging: pages the destination fetches ahead of the task, in order. */
  readonly prefetch?: readonly number[];
  /**
   * The task's console binding (reference/seed section 4, kernel/console.ts): its right moves at
   * COMMIT like any other; this carries the numbering, so output stays in order and exactly once.
   */
  readonly console?: ConsoleState;
}

/** COMMIT carries the task's rights as body ports: first the task port's receive right, then
 * each thread port's, then one right per entry of RestoreRequest.ports that moves a right. */
export interface CommitRequest {
  readonly session: string;
}

export type SessionState =
  | 'creating'
  | 'receiving'
  | 'prepared'
  | 'committed'
  | 'aborted'
  | 'unknown';

export interface MigrationReply {
  readonly ok: boolean;
  readonly error?: string;
  readonly state?: SessionState;
}

export function migrationRequest(
  dest: number,
  reply: number,
  id: MigrationId,
  data: unknown,
  extra: MessageItem[] = [],
): MachMessage {
  return rpcRequest(dest, reply, id, data, extra);
}

export function migrationReply(
  replyRight: number,
  id: number,
  reply: MigrationReply,
  extra: MessageItem[] = [],
): MachMessage {
  return rpcReply(replyRight, id, reply, extra);
}

/** Reads a request's typed data; throws a MachError naming what is missing. */
export function requestData<T>(m: ReceivedMessage): T {
  return dataOf<T>(m);
}

export function parseMigrationReply(m: ReceivedMessage): MigrationReply {
  try {
    const r = dataOf<MigrationReply>(m);
    if (r && typeof r === 'object' && typeof r.ok === 'boolean') return r;
  } catch {
    // fall through
  }
  return { ok: false, error: `malformed reply (id ${m.id})` };
}
