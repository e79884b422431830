import type { IpcKernel } from '../actors/ipcKernel.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import { PortType } from '../protocol/rights.ts';

/**
 * Gives back the rights a refused message brought, one per listed name (a name listed twice
 * brought two user references): send, send-once and dead names are deallocated; a receive right
 * that came alone is destroyed. Rights the space held before (a receive right whose send right
 * came back) keep everything but the reference the message added.
 */
export function releaseRights(ipc: IpcKernel, space: PortSpace, names: readonly number[]): void {
  if (!space.active) return;
  for (const name of names) {
    const e = space.lookup(name);
    if (e === undefined) continue;
    if (e.bits & (PortType.SEND | PortType.SEND_ONCE | PortType.DEAD_NAME))
      ipc.deallocate(space, name);
    else if (e.bits & PortType.RECEIVE) ipc.destroy(space, name);
  }
}
