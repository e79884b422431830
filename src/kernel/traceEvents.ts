/** Trace events of tasks, threads and the scheduler (see world/trace.ts). */
declare module '../world/trace.ts' {
  interface TraceEventMap {
    'task.create': { host: string; task: string };
    'task.output': { host: string; task: string; text: string };
    'task.suspend': { host: string; task: string; count: number };
    'task.resume': { host: string; task: string; count: number };
    'task.exit': { host: string; task: string; status: number; reason: string };
    'thread.create': { host: string; thread: string };
    /** `exception` is the ExceptionKind (a field named `kind` would overwrite the event's kind). */
    'thread.exception': { host: string; thread: string; exception: string; detail: string };
    'thread.exit': { host: string; thread: string };
    /** A task's console was rebound to its host's console (its home's died); writes replayed. */
    'console.redirect': { host: string; task: string; from: string; replayed: number };
  }
}

export {};
