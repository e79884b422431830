/** Trace events of the IPC layer (see world/trace.ts for how kinds are registered). */
declare module '../world/trace.ts' {
  interface TraceEventMap {
    'ipc.send': {
      host: string;
      from: string;
      port: number;
      portLabel: string;
      id: number;
      size: number;
    };
    'ipc.receive': {
      host: string;
      to: string;
      port: number;
      portLabel: string;
      id: number;
      seqno: number;
    };
    'ipc.block': { host: string; space: string; port: number; op: 'send' | 'receive' };
    'ipc.timeout': { host: string; space: string; op: 'send' | 'receive' };
    'ipc.port-dead': { host: string; port: number; portLabel: string; destroyedMessages: number };
    'ipc.notify': { host: string; notification: string; port: number };
    'ipc.message-destroyed': { host: string; port: number; id: number; reason: string };
  }
}

export {};
