/** Trace events of virtual memory and the pager (see world/trace.ts for how kinds are registered). */
declare module '../world/trace.ts' {
  interface TraceEventMap {
    /** A thread (or the kernel) needs page `page` of `space` and it is not resident. */
    'vm.fault': { host: string; space: string; page: number; write: boolean };
    /** A page of memory object `object` became resident: from its pager, or zero-filled. */
    'vm.pagein': { host: string; object: number; page: number; source: 'pager' | 'zero' };
    /** A page left memory; `dirty` ones went back to the pager with memory_object_data_return. */
    'vm.pageout': {
      host: string;
      object: number;
      page: number;
      dirty: boolean;
      reason: 'evict' | 'flush' | 'clean';
    };
    /** A write to a page shared copy-on-write gave `space` its own copy in `object`. */
    'vm.cow': { host: string; space: string; page: number; object: number };
    /** A memory object protocol message was refused (it changed nothing). */
    'vm.rejected': { host: string; side: 'kernel' | 'pager'; id: number; reason: string };
  }
}

export {};
