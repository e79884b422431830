import type { IpcKernel } from '../actors/ipcKernel.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import type { AddressSpace } from '../memory/addressSpace.ts';
import { lendPage } from '../memory/kernelAccess.ts';
import type { OolItem } from '../protocol/message.ts';
import { MigrationId, parseMigrationReply } from '../protocol/migration.ts';
import { call } from './rpc.ts';

/**
 * Step 5 as data: reads pages (faulting them in through the pager where needed) and sends them
 * to the destination session in batches, one acknowledged message a batch, each page an
 * out-of-line item. Pages go as virtual copies (lent frames, as Mach's vm_read gives): nothing is
 * copied until netmsg puts the batch on the wire.
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
    readPages(from, chunk, (items, error) => {
      if (error) return fail(error);
      call(
        ipc,
        space,
        session,
        MigrationId.PAGES,
        { session: sessionId, pages: chunk },
        items,
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

/** Lends each page as an out-of-line item, faulting non-resident ones in first. */
export function readPages(
  from: AddressSpace,
  pages: readonly number[],
  cont: (items: OolItem[], error?: string) => void,
): void {
  const out: OolItem[] = [];
  const step = () => {
    while (out.length < pages.length) {
      const p = pages[out.length]!;
      const page = lendPage(from, p);
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
      out.push({ type: 'ool', data: page, lent: true });
    }
    cont(out);
  };
  step();
}
