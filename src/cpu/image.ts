/**
 * A program image: what the assembler produces and the kernel maps into a new task.
 */

export type SegmentKind = 'text' | 'data' | 'bss';

export interface Segment {
  readonly kind: SegmentKind;
  /** First address, a multiple of the image's page size. */
  readonly address: number;
  /** Size in bytes of the region to map. */
  readonly size: number;
  /**
   * Initial contents of the first `bytes.length` bytes; the rest, up to `size`, is zero-filled.
   * Empty for bss.
   */
  readonly bytes: Uint8Array;
  /** text: false; data and bss: true. */
  readonly writable: boolean;
  /** text: true. (The interpreter does not enforce execute permission; kernels may.) */
  readonly executable: boolean;
}

export interface Image {
  /** text, then data, then bss, each page aligned; empty data and bss segments are omitted. */
  readonly segments: readonly Segment[];
  /** Address of the first instruction (`.entry`, else `_start`, else the start of text). */
  readonly entry: number;
  /** Labels (absolute addresses) and `.equ` constants defined by the program. */
  readonly symbols: Readonly<Record<string, number>>;
  /** The initial thread's stack is [stackTop - stackSize, stackTop); sp starts at stackTop. */
  readonly stackTop: number;
  readonly stackSize: number;
  /** Page size the layout was aligned to. */
  readonly pageSize: number;
  /** Source line of each instruction address (in its own file if included), for debugging. */
  readonly lines: ReadonlyMap<number, number>;
}

/** The segment containing `address`, if any. */
export function segmentAt(image: Image, address: number): Segment | undefined {
  const a = address >>> 0;
  return image.segments.find((s) => a >= s.address && a < s.address + s.size);
}

/** Total bytes the image maps, stack included. */
export function imageSize(image: Image): number {
  return image.segments.reduce((t, s) => t + s.size, 0) + image.stackSize;
}
