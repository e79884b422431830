import { Decoder, Encoder } from '@msgpack/msgpack';
import { MachError } from './errors.ts';
import type { InlineItem, ReceivedMessage } from './message.ts';

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

/** Decodes the typed data of a received message's inline item `index` (default the first). */
export function dataOf<T = unknown>(message: ReceivedMessage, index = 0): T {
  const item = message.body[index];
  if (item?.type !== 'inline') {
    throw new MachError(
      'MACH_RCV_INVALID_DATA',
      `message ${message.id} has no inline item at ${index}`,
    );
  }
  return decodeData<T>(item.data);
}
