import type { Port } from './port.ts';
import type { PortSpace } from './portSpace.ts';
import type { ReceiveWaiter } from './waiters.ts';

/** A port set: receive from any member (mach3-kernel-principles.txt, Port Sets). */
export class PortSet {
  readonly members = new Set<Port>();
  receivers: ReceiveWaiter[] | null = null;
  dead = false;
  /** Rotates the scan so that no member with messages is starved. */
  cursor = 0;

  constructor(
    readonly id: number,
    readonly space: PortSpace,
  ) {}

  /** The next member with a message, round robin. */
  nextReady(): Port | undefined {
    const n = this.members.size;
    if (n === 0) return undefined;
    const list = [...this.members];
    for (let i = 0; i < n; i++) {
      const p = list[(this.cursor + i) % n]!;
      if (p.msgcount > 0) {
        this.cursor = (this.cursor + i + 1) % n;
        return p;
      }
    }
    return undefined;
  }
}
