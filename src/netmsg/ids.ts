import { customRandom, nanoid, urlAlphabet } from 'nanoid';
import type { Random } from '../world/random.ts';

/**
 * Network port identifiers (mach-network-server.txt, section 3.1): a task that never held a right
 * cannot name the port on the wire, because the identifier is 21 random URL-safe characters
 * (126 bits). By default the bits come from the world's seeded generator, so a run replays bit
 * for bit; `crypto` draws them from the system's secure generator instead.
 */
export function networkPortIds(random: Random, crypto: boolean): () => string {
  if (crypto) return () => nanoid();
  return customRandom(urlAlphabet, 21, (size) => {
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = random.int(0, 255);
    return bytes;
  });
}
