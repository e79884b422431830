import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type AnyStateMachine, StateMachine } from 'xstate';

/**
 * Every statechart of the project: each StateMachine exported by a file in src/machines/ (one
 * file per chart, as design.md asks: task, thread, pager, netmsg server and its sub-machines,
 * migration client, server and session, request/reply, and the section 4 managers when they are
 * added there). Found by loading the folder, so a new chart is exported without registering it.
 */
export interface MachineEntry {
  /** The machine's id (unique across the project; the export's file name). */
  readonly id: string;
  /** The export that holds it, e.g. `migrationClient`. */
  readonly exportName: string;
  /** Its source file, relative to the repository, e.g. `src/machines/pager.ts`. */
  readonly source: string;
  readonly machine: AnyStateMachine;
}

export const MACHINES_DIR = fileURLToPath(new URL('../machines/', import.meta.url));

export async function loadMachines(dir = MACHINES_DIR): Promise<MachineEntry[]> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
    .sort();
  const entries: MachineEntry[] = [];
  for (const f of files) {
    const mod = (await import(
      new URL(f, `file://${dir.endsWith('/') ? dir : `${dir}/`}`).href
    )) as Record<string, unknown>;
    for (const [exportName, value] of Object.entries(mod)) {
      if (!(value instanceof StateMachine)) continue;
      entries.push({
        id: value.id,
        exportName,
        source: `src/machines/${f}`,
        machine: value as AnyStateMachine,
      });
    }
  }
  // Ids name the files: two machines with one id get their export names added.
  const count = new Map<string, number>();
  for (const e of entries) count.set(e.id, (count.get(e.id) ?? 0) + 1);
  return entries
    .map((e) => ((count.get(e.id) ?? 0) > 1 ? { ...e, id: `${e.id}-${e.exportName}` } : e))
    .sort((a, b) => a.id.localeCompare(b.id));
}
