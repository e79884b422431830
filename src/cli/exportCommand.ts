import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  EXPORT_FORMATS,
  EXTENSIONS,
  type ExportFormat,
  loadMachines,
  type MachineEntry,
  render,
} from '../export/index.ts';
import { parseFlags } from './args.ts';
import { UsageError } from './errors.ts';

export const EXPORT_HELP = `xmach export [--format json|mermaid|scxml] [--out DIR] [--machine ID]

Exports every statechart of src/machines/ (task, thread, pager, netmsg server and its
sub-machines, migration client, server and session, request/reply, managers):
  json     XState's definition (machine.definition, as toJSON() gives it, plus "always")
  mermaid  a Mermaid stateDiagram-v2
  scxml    W3C SCXML

  --format F    one format (default: all three with --out, json on stdout)
  --out DIR     write DIR/<machine>.json, .mmd and .scxml (and DIR/README.md, an index);
                without it, print one format to stdout
  --machine ID  only this machine (e.g. migrationClient); --list shows the ids
  --list        list the machines and where they are defined`;

export async function exportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('export', argv, {
    format: { type: 'string' },
    out: { type: 'string' },
    machine: { type: 'string' },
    list: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(EXPORT_HELP);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(
      `export: unexpected argument "${positionals[0]}"`,
      'usage: npx xmach export [--format json|mermaid|scxml] [--out DIR]',
    );
  const format = values.format;
  if (format !== undefined && !EXPORT_FORMATS.includes(format as ExportFormat))
    throw new UsageError(
      `export: unknown format "${format}"`,
      `--format takes one of ${EXPORT_FORMATS.join(', ')}`,
    );
  let machines = await loadMachines();
  if (values.list) {
    for (const m of machines)
      console.log(`${m.id.padEnd(22)} ${m.exportName.padEnd(22)} ${m.source}`);
    return 0;
  }
  if (values.machine !== undefined) {
    const wanted = values.machine;
    machines = machines.filter((m) => m.id === wanted || m.exportName === wanted);
    if (machines.length === 0)
      throw new UsageError(
        `export: unknown machine "${wanted}"`,
        `machines: ${(await loadMachines()).map((m) => m.id).join(', ')}`,
      );
  }
  if (values.out === undefined) {
    printAll(machines, (format as ExportFormat | undefined) ?? 'json');
    return 0;
  }
  const formats = format ? [format as ExportFormat] : [...EXPORT_FORMATS];
  const dir = values.out;
  try {
    mkdirSync(dir, { recursive: true });
    for (const m of machines)
      for (const f of formats) writeFileSync(join(dir, `${m.id}.${EXTENSIONS[f]}`), render(m, f));
    writeFileSync(join(dir, 'README.md'), index(machines, formats));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (
      err.code === 'EEXIST' ||
      err.code === 'ENOTDIR' ||
      err.code === 'EACCES' ||
      err.code === 'EROFS'
    )
      throw new UsageError(
        `export: cannot write to "${dir}": ${err.code === 'EACCES' || err.code === 'EROFS' ? 'permission denied' : 'not a folder'}`,
        'give --out a folder you can write to (it is created if missing)',
      );
    throw e;
  }
  console.log(
    `wrote ${machines.length} machines × ${formats.length} format${formats.length > 1 ? 's' : ''} to ${dir}/`,
  );
  return 0;
}

function printAll(machines: MachineEntry[], format: ExportFormat): void {
  if (format === 'json') {
    const docs = machines.map((m) => JSON.parse(render(m, 'json')));
    console.log(JSON.stringify(machines.length === 1 ? docs[0] : { machines: docs }, null, 2));
    return;
  }
  machines.forEach((m, i) => {
    if (i > 0) process.stdout.write('\n');
    if (format === 'scxml' && machines.length > 1)
      process.stdout.write(`<!-- ${m.id}: ${m.exportName} in ${m.source} -->\n`);
    process.stdout.write(render(m, format));
  });
}

function index(machines: MachineEntry[], formats: ExportFormat[]): string {
  const lines = [
    '# xmach statecharts',
    '',
    'Written by `npx xmach export`. Each machine of `src/machines/` in each format:',
    'XState definition JSON (import into Stately Studio), Mermaid `stateDiagram-v2`, W3C SCXML.',
    '',
    `| machine | export | source | ${formats.join(' | ')} |`,
    `| --- | --- | --- | ${formats.map(() => '---').join(' | ')} |`,
  ];
  for (const m of machines)
    lines.push(
      `| ${m.id} | \`${m.exportName}\` | ${m.source} | ${formats.map((f) => `[${m.id}.${EXTENSIONS[f]}](${m.id}.${EXTENSIONS[f]})`).join(' | ')} |`,
    );
  return `${lines.join('\n')}\n`;
}
