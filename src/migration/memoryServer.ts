import type { Host } from '../kernel/host.ts';
import type { PagerTiming } from '../machines/pager.ts';
import type { AddressSpace } from '../memory/addressSpace.ts';
import { dataPages } from '../memory/dataPages.ts';
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
  readPages(from, pages, (data, error) => {
    if (error) {
      pager.stop();
      return done(null, error);
    }
    for (let i = 0; i < regions.length; i++) pager.store.open(i);
    pages.forEach((vp, k) => {
      const addr = vp * ps;
      const i = regions.findIndex((r) => addr >= r.address && addr < r.address + r.size);
      if (i >= 0)
        pager.store.write(i, addr - regions[i]!.address, data.subarray(k * ps, (k + 1) * ps), ps);
    });
    done({ pager, pages: pages.length });
  });
}
