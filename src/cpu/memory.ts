/**
 * The interpreter's view of a task's address space: page-granular translation that the kernel
 * implements (resident pages, pager, protection, copy-on-write).
 */

/**
 * Why a page cannot be accessed:
 * - `notResident`: mapped and allowed, but its data is not in memory yet. The interpreter stops
 *   with a restartable `pagefault`; the kernel asks the pager and runs the thread again.
 * - `unmapped`: no region covers the address: `bad_address` exception.
 * - `protection`: mapped, but the access (a write to a read-only page, or any access to a page
 *   without read permission) is not allowed: `protection` exception.
 */
export type PageFaultKind = 'notResident' | 'unmapped' | 'protection';

export interface Memory {
  /** Bytes per page: a power of two, at least 8 (one instruction). */
  readonly pageSize: number;
  /**
   * Translates a page for a read (`write` false; instruction fetches are reads) or a write.
   * Returns the page's bytes (exactly `pageSize` long, byteOffset a multiple of 4, shared with
   * the kernel: the interpreter reads and writes them in place), or why it cannot be accessed.
   *
   * Caching contract: within one `run()` call the interpreter calls `page(i, false)` before the
   * first read of page i and `page(i, true)` before the first write to it, and may keep the
   * result until `run()` returns. So every run reports each page it writes at least once (enough
   * for dirty tracking between runs), a write may return a different array than the read did (a
   * copy-on-write copy; the interpreter then uses it for reads too), and the kernel must not
   * remap pages between `page()` calls of a run (it cannot: `run()` is synchronous). What it
   * takes back inside a `page()` call it announces through `shootdowns`.
   *
   * Speed: return the same Uint8Array object for a resident page from run to run (a frame); the
   * interpreter keys its Int32Array views and compiled code by it. A fresh array each time is
   * correct but slow. The kernel may change a frame's bytes between runs (page-in, reuse of the
   * frame for another page): compiled code is checked against the bytes once per run.
   */
  page(pageIndex: number, write: boolean): Uint8Array | PageFaultKind;
  /**
   * Counts the times the memory took back translations it had given out (a TLB shootdown): when
   * it changes during a `page()` call, the interpreter flushes its TLB, since a page another
   * entry points at may now live in another frame (copy-on-write, a lent frame being written).
   */
  readonly shootdowns?: number;
}

/** An access that could not complete: where, how, and why. */
export interface MemoryAccessFault {
  readonly kind: PageFaultKind;
  readonly address: number;
  readonly write: boolean;
}

function pageShift(memory: Memory): number {
  const ps = memory.pageSize;
  if (!(ps >= 8 && (ps & (ps - 1)) === 0)) {
    throw new RangeError(`page size must be a power of two >= 8, got ${ps}`);
  }
  return 31 - Math.clz32(ps);
}

/**
 * Copies `length` bytes starting at `address` out of a Memory (for system calls such as
 * console_write). Returns the bytes, or the first page that could not be read.
 */
export function readMemory(
  memory: Memory,
  address: number,
  length: number,
): Uint8Array | MemoryAccessFault {
  const out = new Uint8Array(length);
  const shift = pageShift(memory);
  const mask = memory.pageSize - 1;
  let done = 0;
  while (done < length) {
    const a = (address + done) >>> 0;
    const page = memory.page(a >>> shift, false);
    if (typeof page === 'string') return { kind: page, address: a, write: false };
    const off = a & mask;
    const n = Math.min(length - done, memory.pageSize - off);
    out.set(page.subarray(off, off + n), done);
    done += n;
  }
  return out;
}

/**
 * Copies bytes into a Memory at `address` (for system call results, e.g. a received message).
 * Checks every page first, so on a fault nothing has been written.
 */
export function writeMemory(
  memory: Memory,
  address: number,
  bytes: Uint8Array,
): MemoryAccessFault | undefined {
  const shift = pageShift(memory);
  const mask = memory.pageSize - 1;
  const pages: Uint8Array[] = [];
  let done = 0;
  while (done < bytes.length) {
    const a = (address + done) >>> 0;
    const page = memory.page(a >>> shift, true);
    if (typeof page === 'string') return { kind: page, address: a, write: true };
    pages.push(page);
    done += Math.min(bytes.length - done, memory.pageSize - (a & mask));
  }
  done = 0;
  for (const page of pages) {
    const off = ((address + done) >>> 0) & mask;
    const n = Math.min(bytes.length - done, memory.pageSize - off);
    page.set(bytes.subarray(done, done + n), off);
    done += n;
  }
  return undefined;
}

/** Reads a little-endian 32-bit word (signed). */
export function readWord(memory: Memory, address: number): number | MemoryAccessFault {
  const b = readMemory(memory, address, 4);
  if (!(b instanceof Uint8Array)) return b;
  return b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
}

/** Writes a little-endian 32-bit word. */
export function writeWord(
  memory: Memory,
  address: number,
  value: number,
): MemoryAccessFault | undefined {
  const b = new Uint8Array(4);
  b[0] = value;
  b[1] = value >>> 8;
  b[2] = value >>> 16;
  b[3] = value >>> 24;
  return writeMemory(memory, address, b);
}
