import type { MachineEntry } from './machines.ts';
import { toMermaid } from './mermaid.ts';
import { type Chart, type ChartState, chartOf } from './model.ts';
import { toScxml } from './scxml.ts';

export { loadMachines, type MachineEntry } from './machines.ts';
export { toMermaid } from './mermaid.ts';
export { allStates, type Chart, chartOf } from './model.ts';
export { toScxml } from './scxml.ts';

export const EXPORT_FORMATS = ['json', 'mermaid', 'scxml'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export const EXTENSIONS: Record<ExportFormat, string> = {
  json: 'json',
  mermaid: 'mmd',
  scxml: 'scxml',
};

/**
 * The machine as JSON: XState's own definition (`machine.definition`, what `toJSON()` gives, in
 * the shape the Stately tools read), with each state's eventless `always` transitions added
 * (XState's definition leaves them out), and where the machine comes from.
 */
export function toDefinitionJson(e: MachineEntry): unknown {
  const def = JSON.parse(JSON.stringify(e.machine.definition)) as Record<string, unknown>;
  addAlways(def, chartOf(e.machine).root);
  return { id: e.id, exportName: e.exportName, source: e.source, definition: def };
}

function addAlways(def: Record<string, unknown>, s: ChartState): void {
  const always = s.transitions.filter((t) => t.kind === 'always');
  if (always.length > 0)
    def.always = always.map((t) => ({
      target: t.targets.map((id) => `#${id}`),
      ...(t.guard ? { guard: t.guard } : {}),
      actions: t.actions,
      source: `#${s.id}`,
      eventType: '',
    }));
  const states = (def.states ?? {}) as Record<string, Record<string, unknown>>;
  for (const c of s.children) if (states[c.key]) addAlways(states[c.key]!, c);
}

export function render(
  e: MachineEntry,
  format: ExportFormat,
  chart: Chart = chartOf(e.machine),
): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(toDefinitionJson(e), null, 2)}\n`;
    case 'mermaid':
      return `%% ${e.id}: ${e.exportName} in ${e.source}\n${toMermaid(chart)}`;
    case 'scxml':
      return toScxml(chart);
  }
}
