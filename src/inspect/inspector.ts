import { type AnyActorRef, type InspectionEvent, StateMachine } from 'xstate';
import type { Cluster } from '../cluster.ts';
import type { Migration } from '../migration/migrate.ts';
import type { TraceEvent } from '../world/trace.ts';

/**
 * `--inspect`: the XState inspection events of a run, sent to a Stately inspector over a
 * WebSocket (@statelyai/inspect's message format; its `createInspectorServer` from
 * '@statelyai/inspect/server' bridges them to the Stately inspector in a browser).
 *
 * The actors of a simulated cluster are many separate roots (each task, each migration client,
 * each netmsg server...), created deep inside the kernel, so they are attached as they appear:
 * existing ones when a cluster is attached, tasks on their `task.create` trace event, migration
 * clients when they start. Each root's `system.inspect` then reports its events and snapshots,
 * and its children's (threads, invoked steps).
 *
 * The simulation runs synchronously, so everything is sent into the socket's buffer and flushed
 * when the run is over (`close`). Contexts hold live kernel objects: they are cut to plain data
 * a few levels deep before they are sent.
 *
 * Both packages (@statelyai/inspect and ws) are loaded only when --inspect is given.
 */

export const DEFAULT_INSPECT_URL = 'ws://localhost:8080';

export class InspectorUnreachableError extends Error {
  constructor(
    readonly url: string,
    why: string,
  ) {
    super(`cannot reach the inspector at ${url}: ${why}`);
    this.name = 'InspectorUnreachableError';
  }
}

export interface InspectSession {
  readonly url: string;
  /** Attaches a cluster's actors now and its tasks as they are created. */
  attachCluster(cluster: Cluster): void;
  attachMigration(m: Migration): void;
  /** Attaches one root actor (and its children). */
  attachActor(actor: AnyActorRef): void;
  /** Inspection messages sent so far. */
  readonly sent: number;
  /** Flushes what is buffered and closes the socket. */
  close(): Promise<void>;
}

interface Sink {
  actor(a: AnyActorRef, snapshot: object): void;
  event(target: AnyActorRef, event: object, source: AnyActorRef | undefined): void;
  snapshot(a: AnyActorRef, snapshot: object, event: object): void;
}

/** Connects to the inspector (or fails within `timeoutMs` with an InspectorUnreachableError). */
export async function connectInspector(
  url = DEFAULT_INSPECT_URL,
  opts: { timeoutMs?: number } = {},
): Promise<InspectSession> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InspectorUnreachableError(url, 'not a URL (expected ws://host:port)');
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:')
    throw new InspectorUnreachableError(
      url,
      `expected a ws:// or wss:// URL, got ${parsed.protocol}`,
    );
  const [{ default: WebSocket }, { createInspector }] = await Promise.all([
    import('ws'),
    import('@statelyai/inspect'),
  ]);
  const ws = new WebSocket(url, { handshakeTimeout: opts.timeoutMs ?? 3000 });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new InspectorUnreachableError(url, `no answer within ${opts.timeoutMs ?? 3000} ms`));
    }, opts.timeoutMs ?? 3000);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.once('error', (e: Error & { code?: string }) => {
      clearTimeout(timer);
      reject(new InspectorUnreachableError(url, e.code ?? e.message));
    });
  });
  // Later socket errors must not crash the run: they are reported at close.
  let lateError: Error | null = null;
  ws.on('error', (e) => {
    lateError = e;
  });
  let sent = 0;
  const inspector = createInspector(
    {
      send(event) {
        if (ws.readyState !== WebSocket.OPEN) return;
        ws.send(JSON.stringify(event));
        sent++;
      },
      stop() {
        ws.close();
      },
    },
    { autoStart: false },
  );
  const sink: Sink = {
    // Callback and promise actors (the migration client's steps) have no definition: they are
    // named by their id, with their parent kept.
    actor: (a, snapshot) =>
      inspector.actor(
        (a as { logic?: unknown }).logic instanceof StateMachine
          ? a
          : ({
              sessionId: a.sessionId,
              _parent: (a as { _parent?: unknown })._parent,
              logic: { config: { id: a.id } },
            } as unknown as AnyActorRef),
        snapshot,
      ),
    event: (target, event, source) =>
      inspector.event(target, event as { type: string }, source ? { source } : {}),
    snapshot: (a, snapshot, event) =>
      inspector.snapshot(a, snapshot, { event: event as { type: string } }),
  };
  const session = createSession(url, sink);
  return {
    url,
    attachCluster: session.attachCluster,
    attachMigration: session.attachMigration,
    attachActor: session.attachActor,
    get sent() {
      return sent;
    },
    async close() {
      // Let the socket drain, then close it politely.
      const deadline = Date.now() + 10_000;
      while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      await new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.close();
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 2000).unref();
      });
      if (lateError) throw new InspectorUnreachableError(url, (lateError as Error).message);
    },
  };
}

/** The attaching logic, independent of the transport (tests use it with an array sink). */
export function createSession(
  url: string,
  sink: Sink,
): Pick<InspectSession, 'attachCluster' | 'attachMigration' | 'attachActor'> {
  const attached = new WeakSet<object>();
  const clusters = new WeakSet<Cluster>();
  const known = new WeakSet<AnyActorRef>();

  const register = (a: AnyActorRef) => {
    if (known.has(a)) return;
    known.add(a);
    // An actor under construction reports itself before it has a snapshot.
    let snap: { children?: Record<string, AnyActorRef> } | undefined;
    try {
      snap = a.getSnapshot();
    } catch {
      snap = undefined; // XState's development build refuses the read: the snapshot follows
    }
    sink.actor(a, plainSnapshot(snap));
    const children = snap?.children;
    for (const c of Object.values(children ?? {})) register(c);
  };

  const attachActor = (actor: AnyActorRef) => {
    const system = actor.system as { inspect?: (o: (e: InspectionEvent) => void) => unknown };
    register(actor);
    if (attached.has(actor.system) || typeof system.inspect !== 'function') return;
    attached.add(actor.system);
    system.inspect((e) => {
      switch (e.type) {
        case '@xstate.actor':
          register(e.actorRef as AnyActorRef);
          break;
        case '@xstate.event':
          sink.event(
            e.actorRef as AnyActorRef,
            plain(e.event, 3) as object,
            e.sourceRef as AnyActorRef | undefined,
          );
          break;
        case '@xstate.snapshot':
          sink.snapshot(
            e.actorRef as AnyActorRef,
            plainSnapshot(e.snapshot),
            plain(e.event, 3) as object,
          );
          break;
      }
    });
  };

  const attachCluster = (cluster: Cluster) => {
    if (clusters.has(cluster)) return;
    clusters.add(cluster);
    for (const h of cluster.hosts.values()) for (const t of h.tasks.values()) attachActor(t.actor);
    for (const s of cluster.migrationServers.values()) attachActor(s.actor);
    if (cluster.migrationServers.size > 0)
      for (const h of cluster.hosts.keys()) attachActor(cluster.netmsg.server(h).actor);
    cluster.world.trace.events$.subscribe((e: TraceEvent) => {
      if (e.kind !== 'task.create') return;
      const host = cluster.hosts.get(e.host);
      if (!host) return;
      for (const t of host.tasks.values()) if (t.name === e.task) attachActor(t.actor);
    });
  };

  const attachMigration = (m: Migration) => attachActor(m.actor);
  void url;
  return { attachCluster, attachMigration, attachActor };
}

/** A snapshot as plain data: status, value, a shallow context. */
function plainSnapshot(s: unknown): object {
  const snap = (s ?? {}) as {
    status?: string;
    value?: unknown;
    context?: unknown;
    output?: unknown;
  };
  return {
    status: snap.status ?? 'active',
    value: plain(snap.value, 6),
    context: plain(snap.context, 2),
    ...(snap.output !== undefined ? { output: plain(snap.output, 2) } : {}),
  };
}

/**
 * Plain JSON data of depth at most `depth`: functions become their names, byte arrays their
 * sizes, class instances (hosts, ports, worlds) a short tag, long arrays are cut.
 */
export function plain(v: unknown, depth: number, seen = new WeakSet<object>()): unknown {
  if (v === null || v === undefined) return v ?? null;
  switch (typeof v) {
    case 'string':
      return v.length > 200 ? `${v.slice(0, 200)}…` : v;
    case 'number':
      return Number.isFinite(v) ? v : String(v);
    case 'boolean':
      return v;
    case 'bigint':
      return String(v);
    case 'function':
      return `[function ${(v as { name?: string }).name || 'anonymous'}]`;
    case 'symbol':
      return String(v);
  }
  const o = v as object;
  if (ArrayBuffer.isView(o)) return `[${(o as Uint8Array).byteLength} bytes]`;
  if (seen.has(o)) return '[circular]';
  const proto = Object.getPrototypeOf(o);
  if (!Array.isArray(o) && proto !== Object.prototype && proto !== null)
    return `[${(proto?.constructor?.name as string | undefined) ?? 'object'}]`;
  if (depth <= 0) return Array.isArray(o) ? `[${o.length} items]` : '[…]';
  seen.add(o);
  if (Array.isArray(o)) {
    const items = o.slice(0, 50).map((x) => plain(x, depth - 1, seen));
    if (o.length > 50) items.push(`… ${o.length - 50} more`);
    return items;
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) out[k] = plain(x, depth - 1, seen);
  return out;
}
