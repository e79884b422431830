import type { Image } from './image.ts';
import { decodeInstruction, registerName } from './isa.ts';

/** Address-to-label map for annotating branch targets, built from an image's symbols. */
export function labelsByAddress(image: Image): Map<number, string> {
  const textEnd = new Map<number, string>();
  for (const [name, addr] of Object.entries(image.symbols)) {
    if (!textEnd.has(addr)) textEnd.set(addr, name);
  }
  return textEnd;
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/**
 * One instruction as assembly text, e.g. `add r1, r2, r3`, `ldw r1, [sp + 8]`, `beq 0x1040 <loop>`.
 * Illegal encodings print as `.illegal 0x...` with the raw words.
 */
export function disassembleInstruction(
  bytes: Uint8Array,
  offset: number,
  labels?: ReadonlyMap<number, string>,
): string {
  const d = decodeInstruction(bytes, offset);
  if (!d.legal || !d.info) {
    const w0 = (d.opcode | (d.x << 8) | (d.y << 16) | (d.z << 24)) >>> 0;
    return `.illegal ${hex(w0)}, ${hex(d.imm)}`;
  }
  const { x, y, z, imm } = d;
  const m = d.info.mnemonic;
  const rx = registerName(x);
  const ry = registerName(y);
  const rz = registerName(z);
  const mem = imm === 0 ? `[${ry}]` : imm < 0 ? `[${ry} - ${-imm}]` : `[${ry} + ${imm}]`;
  const target = () => {
    const name = labels?.get(imm >>> 0);
    return name ? `${hex(imm)} <${name}>` : hex(imm);
  };
  switch (d.info.format) {
    case 'none':
      return m;
    case 'x,y':
      return `${m} ${rx}, ${ry}`;
    case 'x,imm':
      return `${m} ${rx}, ${imm}`;
    case 'x,y,z':
      return `${m} ${rx}, ${ry}, ${rz}`;
    case 'x,y,imm':
      return `${m} ${rx}, ${ry}, ${imm}`;
    case 'y,z':
      return `${m} ${ry}, ${rz}`;
    case 'y,imm':
      return `${m} ${ry}, ${imm}`;
    case 'imm':
      return `${m} ${target()}`;
    case 'y,z,imm':
      return `${m} ${ry}, ${rz}, ${target()}`;
    case 'y':
      return `${m} ${ry}`;
    case 'x':
      return `${m} ${rx}`;
    case 'x,[y+imm]':
      return `${m} ${rx}, ${mem}`;
    case 'z,[y+imm]':
      return `${m} ${rz}, ${mem}`;
  }
}

/**
 * Disassembles an image's text segment, one line per instruction:
 * `00001008  loop:  addi r1, r1, 1`.
 */
export function disassemble(image: Image): string {
  const labels = labelsByAddress(image);
  const out: string[] = [];
  for (const seg of image.segments) {
    if (seg.kind !== 'text') continue;
    for (let off = 0; off + 8 <= seg.bytes.length; off += 8) {
      const addr = seg.address + off;
      const label = labels.get(addr);
      if (label) out.push(`${label}:`);
      out.push(
        `  ${addr.toString(16).padStart(8, '0')}  ${disassembleInstruction(seg.bytes, off, labels)}`,
      );
    }
  }
  return out.join('\n');
}
