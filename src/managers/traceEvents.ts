/** Trace events of the section 4 managers (see world/trace.ts). */
declare module '../world/trace.ts' {
  interface TraceEventMap {
    /** A process was started for a user (`host` is its home). */
    'process.spawn': { host: string; task: string };
    /** A user manager showed one console write of a task to its user. */
    'console.show': { host: string; task: string; seq: number; text: string };
    /** A user manager gave up waiting for writes `from`..`to` - 1 (lost with a failed host). */
    'console.skip': { host: string; task: string; from: number; to: number };
    /** A user manager took over the output of processes whose home `home` failed. */
    'console.takeover': { host: string; home: string; tasks: number };
    /** A migration manager's location table changed: `task` runs on `location`. */
    'location.update': { host: string; task: string; location: string; home: string };
    /** A user request follows a process manager's forwarding pointer to `to`. */
    'request.forward': { host: string; task: string; to: string };
    /** A user request reached its process (or failed to). */
    'request.done': { host: string; task: string; op: string; ok: boolean; where: string };
  }
}

export {};
