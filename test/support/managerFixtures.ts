import { Cluster } from '../../src/cluster.ts';
import { assemble } from '../../src/cpu/assembler.ts';
import type { Image } from '../../src/cpu/image.ts';
import type { Managers, Pending } from '../../src/managers/index.ts';
import type { MigrationSummary } from '../../src/protocol/managers.ts';
import type { Strategy } from '../../src/protocol/migration.ts';
import { HOST_PROFILES } from '../../src/world/profiles.ts';

/**
 * ticker.s: prints `tick <i>\n` for i = 0 .. COUNT - 1, one console_write per line, and sleeps
 * PAUSE ms of virtual time between lines; then `done\n` and exit 0. Its output does not depend on
 * where or when it runs, so a migrated run must print exactly what an unmigrated one prints.
 */
export const TICKER = `
        .equ COUNT, 20
        .equ PAUSE, 50

        .text
_start:
        li    r8, 0                 ; i
loop:
        li    r1, COUNT
        bge   r8, r1, finish
        la    r2, line_end          ; digits of i, backwards from line_end
        mov   r3, r8
digit:
        subi  r2, r2, 1
        remu  r4, r3, 10
        addi  r4, r4, '0'
        stb   r4, [r2]
        divu  r3, r3, 10
        cmp   r3, 0
        bne   digit
        subi  r2, r2, 5             ; "tick " before the digits
        la    r1, s_tick
        li    r5, 0
copy:
        add   r6, r1, r5
        ldb   r7, [r6]
        add   r6, r2, r5
        stb   r7, [r6]
        addi  r5, r5, 1
        li    r6, 5
        blt   r5, r6, copy
        mov   r1, r2                ; console_write(r2 .. line_end + 1)
        la    r3, line_end
        sub   r2, r3, r2
        addi  r2, r2, 1
        li    r0, SYS_CONSOLE_WRITE
        trap
        li    r1, PAUSE
        li    r0, SYS_SLEEP
        trap
        addi  r8, r8, 1
        b     loop
finish:
        la    r1, s_done
        li    r2, 5
        li    r0, SYS_CONSOLE_WRITE
        trap
        li    r1, 0
        li    r0, SYS_EXIT
        trap

        .data
s_tick: .ascii "tick "
s_done: .ascii "done\\n"
buffer: .space 32
line_end: .byte 10
`;

/** The ticker's image for `cluster` (all hosts share one page size), with COUNT and PAUSE. */
export function tickerImage(cluster: Cluster, count = 20, pauseMs = 50): Image {
  const pageSize = [...cluster.hosts.values()][0]!.profile.pageSize;
  return assemble(TICKER, {
    pageSize,
    fileName: 'ticker.s',
    defines: { COUNT: count, PAUSE: pauseMs },
  });
}

/** What the ticker prints. */
export function tickerOutput(count = 20): string {
  let s = '';
  for (let i = 0; i < count; i++) s += `tick ${i}\n`;
  return `${s}done\n`;
}

/** Three hosts on 10 Mbit/s Ethernet: the paper's two and a second Pentium. */
export function threeHosts(seed = 1): Cluster {
  return new Cluster({
    seed,
    hosts: {
      pentium: HOST_PROFILES.pentium90,
      i486: HOST_PROFILES.i486dx33,
      pentium2: HOST_PROFILES.pentium90,
    },
  });
}

/** Runs the world until `p` has its answer (or `untilMs` of virtual time); returns the answer. */
export function answer<T>(cluster: Cluster, p: Pending<T>, untilMs = 600_000): T {
  cluster.world.runUntil(() => p.result() !== null, { until: untilMs });
  const r = p.result();
  if (r === null) throw new Error(`no answer by ${cluster.world.now()} ms`);
  return r;
}

/** Migrates process `task` to `to` through the managers and returns the committed summary. */
export function moveTo(
  cluster: Cluster,
  m: Managers,
  task: string,
  to: string,
  opts: { strategy?: Strategy; from?: string } = {},
): MigrationSummary {
  const r = answer(cluster, m.migrate(task, to, opts));
  if (!r.ok) throw new Error(`migration of ${task} to ${to} refused: ${r.error}`);
  if (r.result.outcome !== 'committed')
    throw new Error(`migration of ${task} to ${to}: ${r.result.outcome} (${r.result.reason})`);
  return r.result;
}

/** Runs the world for `ms` of virtual time. */
export function runFor(cluster: Cluster, ms: number): void {
  cluster.world.runUntilTime(cluster.world.now() + ms);
}
