import type { Host } from '../kernel/host.ts';
import type { PagerTiming } from '../machines/pager.ts';
import type { AddressSpace } from '../memory/addressSpace.ts';
import { dataPages } from '../memory/dataPages.ts';
import { MachError } from '../protocol/errors.ts';
import { Disposition, PortRight } from '../protocol/rights.ts';
import { type RunningPager, startPager } from '../servers/pager.ts';
import { readPages } from './pageTransfer.ts';

/**
 * The paper's "memory server": a pager on the source host that serves the migrated task's page
 * faults over the network (demand paging, pre-paging), or the pager both hosts reach that the
 * source flushes to (flush). Each region of the task is memory object i of this pager, at the
 * region's page offsets.
 */

/** Serving from the frozen copy in memory: Markatos' 1.85 ms of software per page, no disk. */
export const MEMORY_SERVER_TIMING: PagerTiming = {
  diskLatencyMs: 1.85,
  diskBytesPerSecond: 400_000_000,
};

export interface MemoryServer {
  readonly pager: RunningPager;
  /** Pages loaded into the server (what the destination may still fetch). */
  readonly pages: number;
}

/** Loads the pages of `from` into a new pager on `host` and returns it. */
export function startMemoryServer(
  host: Host,
  from: AddressSpace,
  label: string,
  timing: PagerTiming,
  done: (s: MemoryServer | null, error?: string) => void,
): void {
  const pager = startPager(host.ipc, { label, timing });
  const regions = from.regionList();
  const pages = dataPages(from);
  const ps = from.pageSize;
  readPages(from, pages, (items, error) => {
    if (error) {
      // Its space goes too (stopping the statechart alone would leave the pager's port behind).
      retireMemoryServer(host, { pager, pages: 0 });
      return done(null, error);
    }
    for (let i = 0; i < regions.length; i++) pager.store.open(i);
    pages.forEach((vp, k) => {
      const addr = vp * ps;
      const i = regions.findIndex((r) => addr >= r.address && addr < r.address + r.size);
      if (i >= 0) pager.store.write(i, addr - regions[i]!.address, items[k]!.data, ps);
    });
    done({ pager, pages: pages.length });
  });
}

/** Stops the memory server and releases everything it holds. */
export function retireMemoryServer(host: Host, server: MemoryServer): void {
  server.pager.stop();
  // (After a crash of the host the space died with its kernel.)
  const space = server.pager.space;
  if (space.active && host.ipc.spaces.has(space)) host.ipc.destroySpace(space);
}

/**
 * After a commit, the memory server serves the destination until nobody there maps it: when the
 * last send right to its port goes (the migrated task ended and its kernel released the pager
 * right), a no-senders notification retires it.
 */
export function retireWhenUnused(host: Host, server: MemoryServer): void {
  const ipc = host.ipc;
  const { space, port } = server.pager;
  if (!space.active || !ipc.spaces.has(space)) return;
  try {
    const notify = ipc.allocate(space, PortRight.RECEIVE, `${space.label}.no-senders`);
    ipc.requestNotification(space, port, 'no-senders', 0, notify, Disposition.MAKE_SEND_ONCE);
    const m = ipc.receive(space, notify, {}, (r) => {
      if (r.ok) retireMemoryServer(host, server);
    });
    if (m !== null) retireMemoryServer(host, server);
  } catch (e) {
    if (!(e instanceof MachError)) throw e;
    retireMemoryServer(host, server);
  }
}
