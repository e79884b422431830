import type { Chart, ChartState, ChartTransition } from './model.ts';

/**
 * A chart as SCXML (W3C State Chart XML, 2015): <state>, <parallel>, <final> and <history>
 * elements with XState's state ids, <transition event cond target type>, and <invoke>. XState's
 * delayed (`after`) transitions become a <send delayexpr> on entry, cancelled on exit, and a
 * transition on that event; eventless (`always`) transitions have no event attribute. Named
 * actions and guards are kept as names: actions as <xs:action name> elements in an XState
 * namespace (SCXML allows executable content from other namespaces), guards in `cond`.
 */
export const XSTATE_NS = 'https://stately.ai/xstate/v5';

export function xmlEscape(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const attr = (name: string, value: string | null | undefined) =>
  value === null || value === undefined || value === '' ? '' : ` ${name}="${xmlEscape(value)}"`;

/** SCXML event names are dot-separated tokens: anything else becomes '_'. */
export function scxmlEvent(ev: string): string {
  return ev.replace(/[^A-Za-z0-9._:-]/g, '_');
}

function sendId(s: ChartState, t: ChartTransition): string {
  return `${s.id}.after.${String(t.delay)}`;
}

export function toScxml(chart: Chart, opts: { declaration?: boolean } = {}): string {
  const out: string[] = [];
  if (opts.declaration ?? true) out.push('<?xml version="1.0" encoding="UTF-8"?>');
  const root = chart.root;
  const initial = root.type === 'parallel' ? null : (root.initial ?? root.children[0]?.id ?? null);
  out.push(
    `<scxml xmlns="http://www.w3.org/2005/07/scxml" xmlns:xs="${XSTATE_NS}" version="1.0" datamodel="ecmascript"${attr('name', chart.id)}${attr('initial', initial)}>`,
  );
  const body = (s: ChartState, indent: string) => {
    const inner = `${indent}  `;
    const afters = s.transitions.filter((t) => t.kind === 'after');
    if (s.entry.length > 0 || afters.length > 0) {
      out.push(`${indent}<onentry>`);
      for (const a of s.entry) out.push(`${inner}<xs:action${attr('name', a)}/>`);
      for (const t of afters) {
        const delay =
          typeof t.delay === 'number'
            ? attr('delay', `${t.delay}ms`)
            : attr('delayexpr', String(t.delay));
        out.push(
          `${inner}<send${attr('id', sendId(s, t))}${attr('event', scxmlEvent(t.event))}${delay}/>`,
        );
      }
      out.push(`${indent}</onentry>`);
    }
    if (s.exit.length > 0 || afters.length > 0) {
      out.push(`${indent}<onexit>`);
      for (const a of s.exit) out.push(`${inner}<xs:action${attr('name', a)}/>`);
      for (const t of afters) out.push(`${inner}<cancel${attr('sendid', sendId(s, t))}/>`);
      out.push(`${indent}</onexit>`);
    }
    for (const inv of s.invoke)
      out.push(`${indent}<invoke${attr('id', inv.id)} type="xstate"${attr('src', inv.src)}/>`);
    for (const t of s.transitions) {
      const a =
        attr('event', t.kind === 'always' ? null : scxmlEvent(t.event)) +
        attr('cond', t.guard) +
        attr('target', t.targets.join(' ')) +
        (!t.reenter && t.targets.length > 0 && t.targets.every((id) => id.startsWith(`${s.id}.`))
          ? ' type="internal"'
          : '');
      if (t.actions.length === 0) out.push(`${indent}<transition${a}/>`);
      else {
        out.push(`${indent}<transition${a}>`);
        for (const x of t.actions) out.push(`${inner}<xs:action${attr('name', x)}/>`);
        out.push(`${indent}</transition>`);
      }
    }
    for (const c of s.children) element(c, indent);
  };
  const element = (s: ChartState, indent: string) => {
    const inner = `${indent}  `;
    const tag =
      s.type === 'parallel'
        ? 'parallel'
        : s.type === 'final'
          ? 'final'
          : s.type === 'history'
            ? 'history'
            : 'state';
    const extra =
      tag === 'history'
        ? attr('type', s.history ?? 'shallow')
        : tag === 'state' && s.initial
          ? attr('initial', s.initial)
          : '';
    out.push(`${indent}<${tag}${attr('id', s.id)}${extra}>`);
    if (s.description)
      out.push(`${inner}<!-- ${xmlEscape(s.description).replace(/--/g, '- -')} -->`);
    if (tag !== 'history') body(s, inner);
    out.push(`${indent}</${tag}>`);
  };
  // The root's own entry/exit/transitions have no element of their own in SCXML: a wrapping
  // <state> carries them when there are any.
  const rootHasOwn =
    root.transitions.length > 0 ||
    root.entry.length > 0 ||
    root.exit.length > 0 ||
    root.invoke.length > 0;
  if (rootHasOwn) {
    out[out.length - 1] = out[out.length - 1]!.replace(
      /initial="[^"]*"/,
      `initial="${xmlEscape(root.id)}"`,
    );
    element(root, '  ');
  } else for (const c of root.children) element(c, '  ');
  out.push('</scxml>');
  return `${out.join('\n')}\n`;
}
