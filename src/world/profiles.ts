/**
 * Hardware profiles. The paper's hosts (reference/seed, section 3) were a Pentium 90 MHz with 32 MB
 * and an i486DX 33 MHz with 8 MB on Ethernet; the i386 Mach page size is 4 KiB.
 */
export interface HostProfile {
  readonly name: string;
  readonly description: string;
  /** Simulated instructions the CPU retires per simulated second. */
  readonly instructionsPerSecond: number;
  readonly memoryBytes: number;
  readonly pageSize: number;
}

export interface LinkProfile {
  readonly name: string;
  /** One-way propagation and switching latency, ms. */
  readonly latencyMs: number;
  readonly bitsPerSecond: number;
  /** Framing bytes added to every frame on the wire (headers, preamble, gap). */
  readonly frameOverheadBytes: number;
}

const MiB = 1024 * 1024;

export const HOST_PROFILES = {
  pentium90: {
    name: 'pentium90',
    description: 'Pentium 90 MHz, 32 MB (the paper)',
    instructionsPerSecond: 90_000_000,
    memoryBytes: 32 * MiB,
    pageSize: 4096,
  },
  i486dx33: {
    name: 'i486dx33',
    description: 'i486DX 33 MHz, 8 MB (the paper)',
    instructionsPerSecond: 27_000_000,
    memoryBytes: 8 * MiB,
    pageSize: 4096,
  },
  modern: {
    name: 'modern',
    description: 'a modern 3 GHz core, 1 GiB for the simulation',
    instructionsPerSecond: 3_000_000_000,
    memoryBytes: 1024 * MiB,
    pageSize: 4096,
  },
} as const satisfies Record<string, HostProfile>;

export type HostProfileName = keyof typeof HOST_PROFILES;

export const LINK_PROFILES = {
  /** 10 Mbit/s Ethernet: an 8 KiB page takes about 6.6 ms on the wire (design.md section 6). */
  ethernet10: {
    name: 'ethernet10',
    latencyMs: 0.1,
    bitsPerSecond: 10_000_000,
    frameOverheadBytes: 38,
  },
  ethernet100: {
    name: 'ethernet100',
    latencyMs: 0.05,
    bitsPerSecond: 100_000_000,
    frameOverheadBytes: 38,
  },
  gigabit: {
    name: 'gigabit',
    latencyMs: 0.02,
    bitsPerSecond: 1_000_000_000,
    frameOverheadBytes: 38,
  },
} as const satisfies Record<string, LinkProfile>;

export type LinkProfileName = keyof typeof LINK_PROFILES;

/** Time on the wire for a frame of `bytes` payload bytes: (payload + framing) / bandwidth. */
export function wireTimeMs(link: LinkProfile, bytes: number): number {
  return ((bytes + link.frameOverheadBytes) * 8 * 1000) / link.bitsPerSecond;
}

export function hostProfile(name: string): HostProfile {
  const p = (HOST_PROFILES as Record<string, HostProfile>)[name];
  if (!p) {
    throw new RangeError(
      `unknown host profile "${name}" (known: ${Object.keys(HOST_PROFILES).join(', ')})`,
    );
  }
  return p;
}
