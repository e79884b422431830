import type { Memory } from './memory.ts';

/**
 * State shared by the interpreter and the region compiler during one `run()`: the TLB (translations
 * cached for this run only, see the caching contract on `Memory.page`), the Memory being run
 * against, and the registry of compiled code pages. `run()` is synchronous and never re-entered,
 * so module-level state is safe.
 */

export const TLB_SIZE = 256;
export const TLB_MASK = TLB_SIZE - 1;

const DUMMY_U8: Uint8Array = new Uint8Array(8);
const DUMMY_W32: Int32Array = new Int32Array(2);

/** Read TLB: tag = page index, with the page's bytes and an Int32Array view of them. */
export const rTag = new Int32Array(TLB_SIZE).fill(-1);
export const rU8: Uint8Array[] = new Array<Uint8Array>(TLB_SIZE).fill(DUMMY_U8);
export const rW32: Int32Array[] = new Array<Int32Array>(TLB_SIZE).fill(DUMMY_W32);
/** Write TLB. A page with compiled code is never left in it (stores must invalidate the code). */
export const wTag = new Int32Array(TLB_SIZE).fill(-1);
export const wU8: Uint8Array[] = new Array<Uint8Array>(TLB_SIZE).fill(DUMMY_U8);
export const wW32: Int32Array[] = new Array<Int32Array>(TLB_SIZE).fill(DUMMY_W32);

export const OK = 0;
export const NOT_RESIDENT = 1;
export const UNMAPPED = 2;
export const PROTECTION = 3;

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error('xmach vm: the interpreter needs a little-endian host');
}

const views = new WeakMap<Uint8Array, Int32Array>();

/** Compiled code of one region of a code page (see jit.ts). */
export interface RegionCode {
  /** Instructions interpreted in this region, to decide when to compile it. */
  hits: number;
  fn: ((regs: Int32Array, st: Int32Array, ix: number) => number) | undefined;
  /** The region's words when compiled; checked once per run in case the kernel rewrote them. */
  snapshot: Int32Array | undefined;
  /** Run in which the snapshot was last checked. */
  checkedRun: number;
  /** Times compiled (stores into the page discard the code; give up after a few). */
  compiles: number;
  /** Region-relative instructions where control entered the region (become block leaders). */
  readonly entries: Uint8Array;
  /** Page-relative: 1 where the compiled code can be entered (a block starts). */
  leaders: Uint8Array | undefined;
}

/** Compilation state of one code page. */
export interface PageCode {
  /** Address and page size the code was compiled for. */
  readonly base: number;
  readonly pageSize: number;
  readonly regions: RegionCode[];
  /** Number of regions with code. */
  compiled: number;
}

/** Per page array: its compilation state. Keyed by the Uint8Array Memory.page returns. */
export const pageCode = new WeakMap<Uint8Array, PageCode>();

let memory: Memory | undefined;
let pageSize = 4096;
/** Incremented by every run(); lets compiled regions be re-validated once per run. */
export let runId = 0;

/** Starts a run against `m`: flushes the TLB. */
export function beginRun(m: Memory, ps: number): void {
  memory = m;
  pageSize = ps;
  runId++;
  flushTlb();
}

function flushTlb(): void {
  rTag.fill(-1);
  wTag.fill(-1);
}

/** Drops the Memory reference when a run ends (so a finished task can be collected). */
export function endRun(): void {
  memory = undefined;
}

/**
 * Translates page `p` through the Memory and fills the TLB (the write TLB too when `write`).
 * Returns OK or NOT_RESIDENT / UNMAPPED / PROTECTION. A write to a page with compiled code
 * discards that code (compiled code never finds such a page in the write TLB, so its stores
 * leave to the interpreter, which comes here).
 */
export function fill(p: number, write: boolean): number {
  const shootdowns = memory!.shootdowns;
  const page = memory!.page(p, write);
  if (memory!.shootdowns !== shootdowns) flushTlb();
  if (typeof page === 'string') {
    if (page === 'notResident') return NOT_RESIDENT;
    if (page === 'unmapped') return UNMAPPED;
    if (page === 'protection') return PROTECTION;
    throw new TypeError(`Memory.page returned an unknown fault kind '${String(page)}'`);
  }
  let view = views.get(page);
  if (view === undefined) {
    if (page.length !== pageSize || (page.byteOffset & 3) !== 0) {
      throw new RangeError(
        `Memory.page(${p}) returned ${page.length} bytes at offset ${page.byteOffset}; ` +
          `need exactly ${pageSize} bytes, 4-byte aligned`,
      );
    }
    view = new Int32Array(page.buffer, page.byteOffset, pageSize >>> 2);
    views.set(page, view);
  }
  const e = p & TLB_MASK;
  rTag[e] = p;
  rU8[e] = page;
  rW32[e] = view;
  if (write) {
    const code = pageCode.get(page);
    if (code !== undefined && code.compiled > 0) {
      for (const region of code.regions) {
        region.fn = undefined;
        region.snapshot = undefined;
        region.leaders = undefined;
        region.hits = 0;
      }
      code.compiled = 0;
    }
    wTag[e] = p;
    wU8[e] = page;
    wW32[e] = view;
  }
  return OK;
}
