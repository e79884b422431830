import { Cluster } from '../../src/cluster.ts';
import type { Host } from '../../src/kernel/host.ts';
import { spawn } from '../../src/kernel/loader.ts';
import type { Task } from '../../src/kernel/task.ts';
import { assemble } from '../../src/vm/assembler.ts';
import type { HostProfile } from '../../src/world/profiles.ts';

/** A one-host cluster with the given profile (default Pentium 90). */
export function oneHost(
  profile: HostProfile | string = 'pentium90',
  seed = 1,
): { cluster: Cluster; host: Host } {
  const cluster = new Cluster({ seed, hosts: { h: profile } });
  return { cluster, host: cluster.host('h') };
}

/** Assembles `source` and spawns it as a task on `host`. */
export function spawnSource(host: Host, source: string, name = 'prog'): Task {
  return spawn(host, assemble(source, { pageSize: host.profile.pageSize }), name);
}

/** Runs the world until `task` has ended (or `untilMs` of virtual time). */
export function runToExit(cluster: Cluster, task: Task, untilMs = 600_000): void {
  cluster.world.runUntil(() => task.exit !== null, { until: untilMs });
}

/** A program that prints `text` with console_write and exits with `status`. */
export function printProgram(text: string, status = 0): string {
  return `
        .text
_start: la    r1, msg
        li    r2, ${new TextEncoder().encode(text).length}
        li    r0, SYS_CONSOLE_WRITE
        trap
        li    r1, ${status}
        li    r0, SYS_EXIT
        trap
        .data
msg:    .ascii "${text.replace(/\n/g, '\\n')}"
`;
}
