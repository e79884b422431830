import type { Chart, ChartState, ChartTransition } from './model.ts';

/**
 * A chart as a Mermaid stateDiagram-v2. State ids are the XState path joined with `__` (Mermaid
 * ids take no dots); each state is declared with its key as its label. Parallel regions are
 * separated by `--`. Each transition is written inside the composite state that contains both its
 * source and target (Mermaid draws no edge across composite boundaries otherwise). Transitions
 * without a target (actions only) change no state and are left out of the diagram.
 */
export function toMermaid(chart: Chart): string {
  const lines: string[] = ['stateDiagram-v2'];
  const byId = new Map<string, ChartState>();
  const index = (s: ChartState) => {
    byId.set(s.id, s);
    s.children.forEach(index);
  };
  index(chart.root);
  const rootId = chart.root.id;
  const mid = (s: ChartState) =>
    s.id === rootId ? 'root' : s.path.map((p) => p.replace(/[^A-Za-z0-9_]/g, '_')).join('__');

  // Edges grouped by the composite state (by id) they are drawn in.
  const edges = new Map<string, string[]>();
  const add = (scope: string, line: string) => {
    const l = edges.get(scope) ?? [];
    l.push(line);
    edges.set(scope, l);
  };
  const ancestors = (s: ChartState): ChartState[] => {
    const out: ChartState[] = [];
    for (let i = 0; i <= s.path.length; i++) {
      const id = [rootId, ...s.path.slice(0, i)].join('.');
      const a = byId.get(id);
      if (a) out.push(a);
    }
    return out; // root first, s last
  };
  /** The innermost compound (non-parallel) state that contains both, strictly above each. */
  const scopeOf = (a: ChartState, b: ChartState): ChartState => {
    const pa = ancestors(a);
    const pb = ancestors(b);
    let common = chart.root;
    for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
      if (pa[i] !== pb[i]) break;
      if (pa[i] !== a && pa[i] !== b) common = pa[i]!;
    }
    // A parallel state's children are regions: the edge goes in the region itself or above.
    while (common.type === 'parallel' && common !== chart.root) {
      const up = ancestors(common);
      common = up[up.length - 2] ?? chart.root;
    }
    return common;
  };
  const label = (t: ChartTransition) => {
    const guard = t.guard ? ` [${t.guard}]` : '';
    return `${t.label}${guard}`.replace(/[:;#]/g, ' ').replace(/\s+/g, ' ').trim();
  };

  const walkEdges = (s: ChartState) => {
    for (const t of s.transitions) {
      for (const targetId of t.targets) {
        const target = byId.get(targetId);
        if (!target) continue;
        // The machine's own transitions apply in every state: drawn from each top-level one.
        const sources =
          s === chart.root ? s.children.filter((c) => c.type !== 'final' && c !== target) : [s];
        for (const src of sources)
          add(scopeOf(src, target).id, `${mid(src)} --> ${mid(target)} : ${label(t)}`);
      }
    }
    s.children.forEach(walkEdges);
  };
  walkEdges(chart.root);

  const emit = (s: ChartState, indent: string) => {
    const inner = `${indent}  `;
    if (s.children.length === 0) {
      lines.push(`${indent}state "${s.key}" as ${mid(s)}`);
      if (s.type === 'final') lines.push(`${indent}${mid(s)} --> [*]`);
      return;
    }
    const open = s === chart.root ? null : `${indent}state ${mid(s)} {`;
    // The alias first, so the composite shows its key rather than its id.
    if (open && mid(s) !== s.key) lines.push(`${indent}state "${s.key}" as ${mid(s)}`);
    if (open) lines.push(open);
    const body = s === chart.root ? indent : inner;
    if (s.type === 'parallel') {
      s.children.forEach((region, i) => {
        if (i > 0) lines.push(`${body}--`);
        emit(region, body);
      });
    } else {
      const initial = s.initial ? byId.get(s.initial) : undefined;
      if (initial) lines.push(`${body}[*] --> ${mid(initial)}`);
      for (const c of s.children) emit(c, body);
    }
    for (const e of edges.get(s.id) ?? []) lines.push(`${body}${e}`);
    if (open) lines.push(`${indent}}`);
    if (s !== chart.root && s.type === 'final') lines.push(`${indent}${mid(s)} --> [*]`);
  };
  if (chart.root.children.length === 0) {
    lines.push(`  state "${chart.root.key}" as root`, '  [*] --> root');
  } else emit(chart.root, '  ');
  return `${lines.join('\n')}\n`;
}

/** The Mermaid id of every state but the root (for checks). */
export function mermaidIds(chart: Chart): string[] {
  const out: string[] = [];
  const walk = (s: ChartState) => {
    if (s !== chart.root) out.push(s.path.map((p) => p.replace(/[^A-Za-z0-9_]/g, '_')).join('__'));
    s.children.forEach(walk);
  };
  walk(chart.root);
  return out;
}
