import { PortType } from '../protocol/rights.ts';
import type { Port } from './port.ts';
import type { PortSet } from './portSet.ts';

/** One name in a space: the rights it denotes (type bits), its user references, its object. */
export interface Entry {
  readonly name: number;
  bits: number;
  /** User references of the send right or dead name (receive and send-once count as one). */
  urefs: number;
  port: Port | null;
  pset: PortSet | null;
  /** The send-once right a dead-name request on this name will use. */
  dnRequest: Port | null;
}

const SEND_OR_ONCE = PortType.SEND | PortType.SEND_ONCE;

/**
 * A task's port name space (Mach's ipc_space): names are local, so a right is a capability only
 * in the space that holds it. Send and receive rights for one port share one name; every
 * send-once right has a name of its own.
 */
export class PortSpace {
  readonly entries = new Map<number, Entry>();
  /** The name under which this space holds send and/or receive rights for a port. */
  readonly byPort = new Map<Port, Entry>();
  active = true;
  private nextName = 0x103;

  constructor(
    readonly id: number,
    public label: string,
  ) {}

  /** Looks a name up; a send or send-once right whose port died reads as a dead name. */
  lookup(name: number): Entry | undefined {
    const e = this.entries.get(name);
    if (e?.port?.dead && e.bits & SEND_OR_ONCE) this.toDeadName(e);
    return e;
  }

  /** Converts the send or send-once right of `e` into a dead name (the port died). */
  toDeadName(e: Entry): void {
    if (e.bits & PortType.SEND_ONCE) e.urefs = 1;
    e.bits = (e.bits & ~(SEND_OR_ONCE | PortType.RECEIVE)) | PortType.DEAD_NAME;
    if (e.port !== null && this.byPort.get(e.port) === e) this.byPort.delete(e.port);
    e.port = null;
  }

  /** A fresh name: never one that denotes a right now. */
  allocateName(): number {
    while (this.entries.has(this.nextName)) this.nextName++;
    return this.nextName++;
  }

  insert(
    name: number,
    bits: number,
    urefs: number,
    port: Port | null,
    pset: PortSet | null,
  ): Entry {
    const e: Entry = { name, bits, urefs, port, pset, dnRequest: null };
    this.entries.set(name, e);
    if (port !== null && bits & (PortType.SEND | PortType.RECEIVE)) this.byPort.set(port, e);
    return e;
  }

  /** Removes the name once it denotes nothing. */
  removeIfEmpty(e: Entry): void {
    if (e.bits !== 0) return;
    this.entries.delete(e.name);
    if (e.port !== null && this.byPort.get(e.port) === e) this.byPort.delete(e.port);
  }

  /** Names in ascending order (mach_port_names). */
  names(): number[] {
    return [...this.entries.keys()].sort((a, b) => a - b);
  }
}
