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
  }
}

export {};
