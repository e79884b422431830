/** Trace events of migration (see world/trace.ts). */
declare module '../world/trace.ts' {
  interface TraceEventMap {
    'migration.start': { task: string; from: string; to: string; strategy: string };
    'migration.end': {
      task: string;
      from: string;
      to: string;
      strategy: string;
      outcome: string;
      reason: string;
    };
    /** The migration client starts a step (source host). */
    'migration.step': { host: string; session: string; task: string; step: string };
    /** The client sends a protocol request (source host). */
    'migration.request': { host: string; session: string; message: string };
    /** The destination's migration server receives a request. */
    'migration.received': { host: string; session: string; message: string };
    /** The destination answers a request (`state` is the session's, as answered). */
    'migration.reply': {
      host: string;
      session: string;
      message: string;
      ok: boolean;
      state: string;
    };
    /** A fault injected into a migration (migration/faultInjection.ts). */
    'migration.fault': { session: string; fault: string; detail: string };
  }
}

export {};
