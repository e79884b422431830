import { Decoder, Encoder } from '@msgpack/msgpack';
import type { InlineItem } from './message.ts';

/**
 * Typed data in inline items, encoded with MessagePack: messages stay honest bytes (their size is
 * what crosses the wire), while machines exchange structured requests the way MIG stubs would.
 */
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();

export function encodeData(value: unknown): Uint8Array {
  return encoder.encode(value);
}

export function decodeData<T = unknown>(bytes: Uint8Array): T {
  return decoder.decode(bytes) as T;
}

export function inlineData(value: unknown): InlineItem {
  return { type: 'inline', data: encodeData(value) };
}

/** A 32-bit little-endian integer as an inline item (how notifications carry names). */
export function inlineInt32(n: number): InlineItem {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setInt32(0, n, true);
  return { type: 'inline', data };
}

export function readInt32(data: Uint8Array, offset = 0): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getInt32(offset, true);
}
