import type { MachMessage, ReceivedMessage } from '../protocol/message.ts';
import type { NotifyVariant } from '../protocol/notifications.ts';
import type { Disposition, PortRight } from '../protocol/rights.ts';
import type { World } from '../world/world.ts';
import * as msg from './machMsg.ts';
import type { ReceiveOutcome, SendOutcome } from './outcomes.ts';
import { Port } from './port.ts';
import { destroySpace } from './portDeath.ts';
import * as ops from './portOps.ts';
import { PortSet } from './portSet.ts';
import { PortSpace } from './portSpace.ts';
import './traceEvents.ts';

/**
 * The IPC half of one host's kernel: it owns the ports and port name spaces of that host and
 * schedules wake-ups on the world's clock. The calls themselves live in machMsg.ts (messages)
 * and portOps.ts (mach_port_*); this class is the context they share.
 */
export class IpcKernel {
  readonly spaces = new Set<PortSpace>();
  /** Live ports (not yet dead). */
  readonly ports = new Set<Port>();
  private nextPortId = 1;
  private nextSpaceId = 1;
  private nextSetId = 1;
  readonly stats = { sent: 0, received: 0, blocked: 0, notifications: 0, destroyedMessages: 0 };

  constructor(
    readonly world: World,
    /** Host name, for traces. */
    readonly host = 'host',
  ) {}

  createSpace(label: string): PortSpace {
    const s = new PortSpace(this.nextSpaceId++, label);
    this.spaces.add(s);
    return s;
  }

  createPort(label: string): Port {
    const p = new Port(this.nextPortId++, label);
    this.ports.add(p);
    return p;
  }

  createPortSet(space: PortSpace): PortSet {
    return new PortSet(this.nextSetId++, space);
  }

  /**
   * Virtual time a message takes from queue to a woken receiver (the kernel's copy and context
   * switch): set from the host's CPU speed, 0 for a bare kernel.
   */
  deliveryLatencyMs = 0;

  /** Runs `fn` after the delivery latency: wake-ups never re-enter the caller. */
  defer(fn: () => void, label: string): void {
    this.world.schedule(this.deliveryLatencyMs, fn, label);
  }

  // mach_msg (see machMsg.ts)
  send(
    space: PortSpace,
    m: MachMessage,
    opts?: msg.SendOptions,
    done?: (r: SendOutcome) => void,
  ): boolean {
    return msg.send(this, space, m, opts, done);
  }
  receive(
    space: PortSpace,
    name: number,
    opts?: msg.ReceiveOptions,
    done?: (r: ReceiveOutcome) => void,
  ): ReceivedMessage | null {
    return msg.receive(this, space, name, opts, done);
  }

  // mach_port_* (see portOps.ts)
  allocate(space: PortSpace, right: PortRight, label?: string, name?: number): number {
    return ops.allocate(this, space, right, label, name);
  }
  deallocate(space: PortSpace, name: number): void {
    ops.deallocate(this, space, name);
  }
  destroy(space: PortSpace, name: number): void {
    ops.destroy(this, space, name);
  }
  modRefs(space: PortSpace, name: number, right: PortRight, delta: number): void {
    ops.modRefs(this, space, name, right, delta);
  }
  getRefs(space: PortSpace, name: number, right: PortRight): number {
    return ops.getRefs(space, name, right);
  }
  type(space: PortSpace, name: number): number {
    return ops.type(space, name);
  }
  insertRight(
    target: PortSpace,
    targetName: number,
    source: PortSpace,
    name: number,
    d: Disposition,
  ): void {
    ops.insertRight(this, target, targetName, source, name, d);
  }
  extractRight(target: PortSpace, name: number, d: Disposition, into: PortSpace): number {
    return ops.extractRight(this, target, name, d, into);
  }
  moveMember(space: PortSpace, member: number, portSet: number): void {
    ops.moveMember(this, space, member, portSet);
  }
  requestNotification(
    space: PortSpace,
    name: number,
    variant: NotifyVariant,
    sync: number,
    notify: number,
    d?: Disposition,
  ): number {
    return ops.requestNotification(this, space, name, variant, sync, notify, d);
  }
  getAttributes(space: PortSpace, name: number): ops.PortAttributes {
    return ops.getAttributes(space, name);
  }
  setQlimit(space: PortSpace, name: number, qlimit: number): void {
    ops.setQlimit(this, space, name, qlimit);
  }
  setSeqno(space: PortSpace, name: number, seqno: number): void {
    ops.setSeqno(space, name, seqno);
  }
  /** Ends a space (its task terminated), releasing every right it holds. */
  destroySpace(space: PortSpace): void {
    destroySpace(this, space);
  }
}
