import type { Image } from './image.ts';
import {
  type Memory,
  type MemoryAccessFault,
  type PageFaultKind,
  readMemory,
  writeMemory,
} from './memory.ts';

export interface FlatMemoryOptions {
  /** Bytes per page (default 4096). */
  pageSize?: number;
  /**
   * true (default): every address is mapped and zero-filled on first touch.
   * false: only pages mapped with `map()` / `loadImage()` exist; others are `unmapped`.
   */
  lazy?: boolean;
}

/**
 * A simple Memory for tests, benchmarks and stand-alone runs: every mapped page is resident,
 * allocated on first use. Pages of non-writable segments loaded with `loadImage` are read-only
 * (a store raises `protection`).
 */
export class FlatMemory implements Memory {
  readonly pageSize: number;
  readonly lazy: boolean;
  private readonly shift: number;
  private readonly pages = new Map<number, Uint8Array>();
  private readonly mapped = new Set<number>();
  private readonly readOnly = new Set<number>();
  private privileged = false;

  constructor(options: FlatMemoryOptions = {}) {
    this.pageSize = options.pageSize ?? 4096;
    this.lazy = options.lazy ?? true;
    const ps = this.pageSize;
    if (!(ps >= 8 && (ps & (ps - 1)) === 0)) {
      throw new RangeError(`page size must be a power of two >= 8, got ${ps}`);
    }
    this.shift = 31 - Math.clz32(ps);
  }

  page(pageIndex: number, write: boolean): Uint8Array | PageFaultKind {
    if (!this.lazy && !this.mapped.has(pageIndex)) return 'unmapped';
    if (write && !this.privileged && this.readOnly.has(pageIndex)) return 'protection';
    let p = this.pages.get(pageIndex);
    if (p === undefined) {
      p = new Uint8Array(this.pageSize);
      this.pages.set(pageIndex, p);
    }
    return p;
  }

  /** Maps [address, address + size) (page-rounded), optionally read-only. */
  map(address: number, size: number, writable = true): void {
    const first = (address >>> 0) >>> this.shift;
    const last = (address + Math.max(size, 1) - 1) >>> this.shift;
    for (let p = first; p <= last; p++) {
      this.mapped.add(p);
      if (writable) this.readOnly.delete(p);
      else this.readOnly.add(p);
    }
  }

  /** Maps and fills the image's segments and its stack. */
  loadImage(image: Image): void {
    for (const seg of image.segments) {
      this.map(seg.address, seg.size, seg.writable);
      this.write(seg.address, seg.bytes);
    }
    this.map(image.stackTop - image.stackSize, image.stackSize, true);
  }

  /** Number of pages allocated so far. */
  get residentPages(): number {
    return this.pages.size;
  }

  /** Reads bytes (ignoring protection); throws on unmapped addresses. */
  read(address: number, length: number): Uint8Array {
    const r = readMemory(this, address, length);
    if (!(r instanceof Uint8Array)) throw faultError(r);
    return r;
  }

  /** Writes bytes, ignoring read-only protection (like the kernel loading a program). */
  write(address: number, bytes: Uint8Array): void {
    this.privileged = true;
    try {
      const f = writeMemory(this, address, bytes);
      if (f) throw faultError(f);
    } finally {
      this.privileged = false;
    }
  }

  readWord(address: number): number {
    const b = this.read(address, 4);
    return b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
  }

  writeWord(address: number, value: number): void {
    this.write(address, Uint8Array.of(value, value >>> 8, value >>> 16, value >>> 24));
  }

  /** Decodes `length` bytes at `address` as UTF-8. */
  readString(address: number, length: number): string {
    return new TextDecoder().decode(this.read(address, length));
  }
}

function faultError(f: MemoryAccessFault): Error {
  return new RangeError(
    `${f.write ? 'write to' : 'read of'} 0x${f.address.toString(16)} failed: ${f.kind}`,
  );
}
