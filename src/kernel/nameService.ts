import type { IpcKernel } from '../actors/ipcKernel.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import { MachError } from '../protocol/errors.ts';
import { Disposition, PortType } from '../protocol/rights.ts';

/**
 * The host's name service: netname_check_in registers a send right under a name, netname_look_up
 * returns a send right for a name (The Mach Network Server, the name service section). Look-ups
 * for other hosts go through the network server; this table answers for its own host.
 */
export class NameService {
  /** Name to the name of a send right held in the kernel's space. */
  private readonly table = new Map<string, number>();
  /** Asks another host's name service (installed by the network server). */
  remoteLookUp: ((host: string, name: string, into: PortSpace) => number) | null = null;

  constructor(
    private readonly ipc: () => IpcKernel,
    private readonly kernelSpace: () => PortSpace,
    private readonly hostName: string,
  ) {}

  checkIn(name: string, space: PortSpace, portName: number): void {
    if (name.length === 0)
      throw new MachError('KERN_INVALID_ARGUMENT', 'an empty name cannot be checked in');
    if (this.table.has(name))
      throw new MachError(
        'KERN_NAME_EXISTS',
        `"${name}" is already checked in on ${this.hostName}`,
      );
    const e = space.lookup(portName);
    if (e === undefined)
      throw new MachError(
        'KERN_INVALID_NAME',
        `port name 0x${(portName >>> 0).toString(16)} is not in space "${space.label}"`,
      );
    const d = e.bits & PortType.RECEIVE ? Disposition.MAKE_SEND : Disposition.COPY_SEND;
    const held = this.ipc().extractRight(space, portName, d, this.kernelSpace());
    this.table.set(name, held);
  }

  /** Returns the name, in `into`, of a send right for `name` (on `host`, or this host if null). */
  lookUp(name: string, host: string | null, into: PortSpace): number {
    if (host !== null && host !== this.hostName) {
      if (this.remoteLookUp === null)
        throw new MachError('KERN_INVALID_HOST', `no network server to reach host "${host}"`);
      return this.remoteLookUp(host, name, into);
    }
    const held = this.table.get(name);
    if (held === undefined)
      throw new MachError('KERN_INVALID_NAME', `"${name}" is not checked in on ${this.hostName}`);
    const ks = this.kernelSpace();
    if (!(ks.lookup(held)!.bits & PortType.SEND)) {
      // The port died: forget the name (its holder is gone).
      this.ipc().deallocate(ks, held);
      this.table.delete(name);
      throw new MachError(
        'KERN_INVALID_NAME',
        `"${name}" was checked in on ${this.hostName} but its port has died`,
      );
    }
    return this.ipc().extractRight(ks, held, Disposition.COPY_SEND, into);
  }

  names(): string[] {
    return [...this.table.keys()].sort();
  }
}
