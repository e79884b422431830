import {
  MACH_MSG_TYPE,
  MSG,
  machMsghBits,
  machMsgType,
  parseMachMsgType,
} from '../cpu/syscalls.ts';
import { MachError } from '../protocol/errors.ts';
import type { MachMessage, MessageItem, ReceivedMessage } from '../protocol/message.ts';
import { type Disposition, isDisposition } from '../protocol/rights.ts';

/**
 * Translation between a message in task memory (the mach_msg_header_t layout documented in
 * cpu/syscalls.ts) and the kernel's MachMessage. Inline data keeps its type descriptor so a
 * received message reads back exactly as it was written. Out-of-line regions are read and written
 * by the caller (the kernel's syscall layer), which knows the address space.
 */

export interface OolRef {
  /** Index of the item in the body. */
  readonly item: number;
  readonly address: number;
  readonly size: number;
  readonly deallocate: boolean;
}

export interface ParsedSend {
  readonly message: MachMessage;
  /** Out-of-line regions still to be read from the sender's memory into the items. */
  readonly ool: OolRef[];
}

const MSGH_BITS_REMOTE = 0xff;
const MSGH_BITS_COMPLEX = 0x80000000;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Parses `bytes` (send_size bytes read from task memory) into a message; throws naming the field. */
export function parseSendBuffer(bytes: Uint8Array): ParsedSend {
  if (bytes.length < MSG.HEADER_SIZE)
    throw new MachError(
      'MACH_SEND_MSG_TOO_SMALL',
      `send size ${bytes.length} is smaller than the ${MSG.HEADER_SIZE}-byte header`,
    );
  if (bytes.length % 4 !== 0)
    throw new MachError(
      'MACH_SEND_MSG_TOO_SMALL',
      `send size ${bytes.length} is not a multiple of 4`,
    );
  const v = view(bytes);
  const bits = v.getUint32(MSG.BITS, true);
  const size = v.getUint32(MSG.SIZE, true);
  if (size !== bytes.length)
    throw new MachError(
      'MACH_SEND_MSG_TOO_SMALL',
      `msgh_size ${size} does not match the send size ${bytes.length}`,
    );
  const remoteDisposition = bits & MSGH_BITS_REMOTE;
  const localDisposition = (bits >>> 8) & 0xff;
  const localPort = v.getInt32(MSG.LOCAL_PORT, true);
  const body: MessageItem[] = [];
  const ool: OolRef[] = [];
  let off: number = MSG.BODY;
  while (off < size) {
    if (off + 4 > size)
      throw new MachError(
        'MACH_SEND_MSG_TOO_SMALL',
        `type descriptor at offset ${off} runs past the end`,
      );
    const t = parseMachMsgType(v.getUint32(off, true));
    off += 4;
    if (t.longform) {
      // mach_msg_type_long_t: name and size in the next word, the element count in the one after.
      if (off + 8 > size)
        throw new MachError(
          'MACH_SEND_MSG_TOO_SMALL',
          `long-form descriptor at offset ${off - 4} runs past the end`,
        );
      const w = v.getUint32(off, true);
      t.name = w & 0xffff;
      t.sizeBits = w >>> 16;
      t.number = v.getUint32(off + 4, true);
      off += 8;
    }
    const isPort = isDisposition(t.name);
    if (isPort && !(bits & MSGH_BITS_COMPLEX))
      throw new MachError(
        'MACH_SEND_INVALID_TYPE',
        `port right at offset ${off - 4} in a message without MACH_MSGH_BITS_COMPLEX`,
      );
    if (!t.inline) {
      if (off + 4 > size)
        throw new MachError(
          'MACH_SEND_MSG_TOO_SMALL',
          `out-of-line address at offset ${off} runs past the end`,
        );
      if (isPort)
        throw new MachError(
          'MACH_SEND_INVALID_TYPE',
          `out-of-line port arrays (offset ${off - 4}) are not supported`,
        );
      const address = v.getUint32(off, true);
      off += 4;
      ool.push({
        item: body.length,
        address,
        size: (t.number * t.sizeBits + 7) >> 3,
        deallocate: t.deallocate,
      });
      body.push({ type: 'ool', data: new Uint8Array(0), deallocate: t.deallocate });
      continue;
    }
    if (isPort) {
      if (t.sizeBits !== 32)
        throw new MachError(
          'MACH_SEND_INVALID_TYPE',
          `port descriptor at offset ${off - 4} must have 32-bit elements`,
        );
      for (let i = 0; i < t.number; i++) {
        if (off + 4 > size)
          throw new MachError(
            'MACH_SEND_MSG_TOO_SMALL',
            `port name at offset ${off} runs past the end`,
          );
        body.push({
          type: 'port',
          name: v.getInt32(off, true),
          disposition: t.name as Disposition,
        });
        off += 4;
      }
      continue;
    }
    const len = (t.number * t.sizeBits + 7) >> 3;
    if (off + len > size)
      throw new MachError(
        'MACH_SEND_MSG_TOO_SMALL',
        `inline data of ${len} bytes at offset ${off} runs past the end`,
      );
    body.push({
      type: 'inline',
      data: bytes.slice(off, off + len),
      msgtName: t.name,
      msgtSize: t.sizeBits,
    });
    off += (len + 3) & ~3;
  }
  const message: MachMessage = {
    remotePort: v.getInt32(MSG.REMOTE_PORT, true),
    remoteDisposition: remoteDisposition as MachMessage['remoteDisposition'],
    localPort,
    localDisposition: (localPort === 0
      ? undefined
      : localDisposition) as MachMessage['localDisposition'],
    id: v.getInt32(MSG.ID, true),
    body,
  };
  return { message, ool };
}

/** Bytes the received message takes in the receiver's buffer. */
export function receivedSize(m: ReceivedMessage): number {
  let n: number = MSG.HEADER_SIZE;
  for (const item of m.body) {
    if (item.type === 'inline') n += 4 + ((item.data.length + 3) & ~3);
    else if (item.type === 'port')
      n += 8; // descriptor + port name
    else n += 16; // long-form descriptor (12) + out-of-line address
  }
  return n;
}

/**
 * Writes a received message into `out` (at least receivedSize bytes): header fields reversed as
 * Mach reverses them; `oolAddresses[i]` gives where body item i's out-of-line data was placed.
 */
export function writeReceived(
  m: ReceivedMessage,
  out: Uint8Array,
  oolAddresses: ReadonlyMap<number, number>,
): number {
  const v = view(out);
  const size = receivedSize(m);
  const complex = m.body.some((i) => i.type !== 'inline');
  v.setUint32(
    MSG.BITS,
    (machMsghBits(m.remoteRight, m.localRight) | (complex ? MSGH_BITS_COMPLEX : 0)) >>> 0,
    true,
  );
  v.setUint32(MSG.SIZE, size, true);
  v.setInt32(MSG.REMOTE_PORT, m.remotePort, true);
  v.setInt32(MSG.LOCAL_PORT, m.localPort, true);
  v.setUint32(MSG.SEQNO, m.seqno, true);
  v.setInt32(MSG.ID, m.id, true);
  let off: number = MSG.BODY;
  m.body.forEach((item, i) => {
    if (item.type === 'inline') {
      const bitsPer = item.msgtSize ?? 8;
      const count = Math.floor((item.data.length * 8) / bitsPer);
      v.setUint32(off, machMsgType(item.msgtName ?? MACH_MSG_TYPE.BYTE, bitsPer, count), true);
      out.set(item.data, off + 4);
      off += 4 + ((item.data.length + 3) & ~3);
    } else if (item.type === 'port') {
      v.setUint32(off, machMsgType(item.right, 32, 1), true);
      v.setInt32(off + 4, item.name, true);
      off += 8;
    } else {
      // Long form, so regions of any size fit; deallocate is set in received descriptors (mach_msg).
      v.setUint32(off, (machMsgType(0, 0, 0, false) | (1 << 29) | (1 << 30)) >>> 0, true);
      v.setUint32(off + 4, (MACH_MSG_TYPE.BYTE | (8 << 16)) >>> 0, true);
      v.setUint32(off + 8, item.data.length, true);
      v.setUint32(off + 12, oolAddresses.get(i) ?? 0, true);
      off += 16;
    }
  });
  return size;
}
