import type { IpcKernel } from '../actors/ipcKernel.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import type { AddressSpace } from '../memory/addressSpace.ts';
import { peekPage } from '../memory/kernelAccess.ts';
import { MigrationId, parseMigrationReply } from '../protocol/migration.ts';
import { call } from './rpc.ts';

/**
 * Step 5 as data: reads pages (faulting them in through the pager where needed) and sends them
 * to the destination session in batches of out-of-line data, one acknowledged message a batch.
 * Page copies are plain loops; only the batch exchange is a protocol step.
 */
export interface TransferStats {
  pages: number;
  bytes: number;
}

export function sendPages(
  ipc: IpcKernel,
  space: PortSpace,
  session: number,
  sessionId: string,
  from: AddressSpace,
  pages: readonly number[],
  batch: number,
  stats: TransferStats,
  done: () => void,
  fail: (reason: string) => void,
): void {
  const ps = from.pageSize;
  let i = 0;
  const nextBatch = () => {
    if (i >= pages.length) return done();
    const chunk = pages.slice(i, i + batch);
    readPages(from, chunk, (data, error) => {
      if (error) return fail(error);
      call(
        ipc,
        space,
        session,
        MigrationId.PAGES,
        { session: sessionId, pages: chunk },
        [{ type: 'ool', data, deallocate: true }],
        (reply) => {
          const r = parseMigrationReply(reply);
          if (!r.ok) return fail(`destination refused pages: ${r.error ?? 'no reason'}`);
          stats.pages += chunk.length;
          stats.bytes += chunk.length * ps;
          i += chunk.length;
          nextBatch();
        },
        fail,
      );
    });
  };
  nextBatch();
}

/** Reads whole pages into one buffer, faulting non-resident ones in first. */
export function readPages(
  from: AddressSpace,
  pages: readonly number[],
  cont: (data: Uint8Array, error?: string) => void,
): void {
  const ps = from.pageSize;
  const out = new Uint8Array(pages.length * ps);
  let k = 0;
  const step = () => {
    while (k < pages.length) {
      const p = pages[k]!;
      const page = peekPage(from, p);
      if (page === 'notResident') {
        from.faultIn(p, false, (err) =>
          err ? cont(out, `cannot read page ${p}: ${err.message}`) : step(),
        );
        return;
      }
      if (typeof page === 'string')
        return cont(
          out,
          `page ${p} of ${from.label} is ${page === 'unmapped' ? 'not mapped' : 'not accessible'}`,
        );
      out.set(page, k * ps);
      k++;
    }
    cont(out);
  };
  step();
}
