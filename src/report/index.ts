import { writeFileSync } from 'node:fs';
import { renderReport } from './html.ts';
import type { ReportData } from './model.ts';

export { renderReport } from './html.ts';
export {
  type ReportData,
  type ReportMigration,
  reportFromDemo,
  reportFromScenario,
} from './model.ts';

/** Writes the report page to `path`; returns its size in bytes. */
export function writeReport(path: string, data: ReportData): number {
  const html = renderReport(data);
  writeFileSync(path, html);
  return Buffer.byteLength(html);
}
