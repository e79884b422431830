import { describe, expect, it } from 'vitest';
import { Cluster } from '../src/cluster.ts';
import { assemble } from '../src/cpu/assembler.ts';
import { spawn } from '../src/kernel/loader.ts';
import { createThread, resumeTask, suspendTask, terminateTask } from '../src/kernel/taskOps.ts';
import { MachError } from '../src/protocol/errors.ts';
import { PortType } from '../src/protocol/rights.ts';
import { oneHost, printProgram, runToExit, spawnSource } from './support/kernelFixtures.ts';

describe('tasks on a simulated host', () => {
  it('run a program to its exit and keep its console output in order', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, printProgram('hello, mach\n', 3));
    runToExit(cluster, task);
    expect(task.outputText).toBe('hello, mach\n');
    expect(task.exit).toMatchObject({ status: 3, reason: 'exit' });
    expect(task.actor.getSnapshot().value).toBe('terminated');
  });

  it('take simulated time in proportion to the host speed', () => {
    const loop = `
        .text
_start: li r1, 0
        li r2, 100000
again:  addi r1, r1, 1
        blt r1, r2, again
        li r1, 0
        li r0, SYS_EXIT
        trap`;
    const fast = oneHost('pentium90');
    const slow = oneHost('i486dx33');
    const a = spawnSource(fast.host, loop);
    const b = spawnSource(slow.host, loop);
    runToExit(fast.cluster, a);
    runToExit(slow.cluster, b);
    const ratio = b.exit!.time / a.exit!.time;
    // 90 vs 27 million instructions per second, plus the same page-fault waits on both.
    expect(ratio).toBeGreaterThan(2);
    expect(ratio).toBeLessThan(90 / 27 + 0.01);
  });

  it('count suspensions: a task runs only when every suspend has been matched by a resume', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, printProgram('x'));
    suspendTask(task);
    suspendTask(task);
    expect(task.suspendCount).toBe(2);
    cluster.world.runUntilTime(50);
    expect(task.exit).toBeNull();
    resumeTask(task);
    cluster.world.runUntilTime(100);
    expect(task.exit).toBeNull();
    resumeTask(task);
    runToExit(cluster, task);
    expect(task.outputText).toBe('x');
  });

  it('refuse to resume a task that is not suspended, changing nothing', () => {
    const { host } = oneHost();
    const task = spawnSource(host, printProgram('x'));
    expect(() => resumeTask(task)).toThrowError(MachError);
    expect(() => resumeTask(task)).toThrow(/KERN_FAILURE/);
    expect(task.suspendCount).toBe(0);
  });

  it('give each task a task port: the task holds a send right to it, and it dies with the task', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(host, printProgram('x'));
    expect(host.ipc.type(task.space, task.selfName) & PortType.SEND).toBeTruthy();
    const observer = host.ipc.createSpace('observer');
    const name = host.ipc.extractRight(task.space, task.selfName, 19, observer);
    runToExit(cluster, task);
    expect(host.ipc.type(observer, name) & PortType.DEAD_NAME).toBeTruthy();
  });

  it('terminate a task with all its threads, releasing its ports and memory', () => {
    const { cluster, host } = oneHost();
    const task = spawnSource(
      host,
      `
        .text
_start: b _start`,
    );
    cluster.world.runUntilTime(5);
    createThread(task);
    const framesBefore = host.memory.stats.freeFrames;
    terminateTask(task, 9, 'killed');
    expect(task.threads.every((t) => t.terminated)).toBe(true);
    expect(task.space.active).toBe(false);
    expect(host.memory.stats.freeFrames).toBeGreaterThan(framesBefore);
    expect(host.tasks.has(task.id)).toBe(false);
  });
});

describe('a host that crashes while a program is still loading', () => {
  it('ends the task with its host; the load does not throw out of the world', () => {
    const cluster = Cluster.paper(1);
    // 256 KiB of initialized data: loading it takes page faults, so virtual time.
    const image = assemble(`
        .text
_start: li    r0, SYS_EXIT
        li    r1, 0
        trap
        .data
blob:   .space 256 * 1024, 7
`);
    const task = spawn(cluster.host('pentium'), image, 'loading');
    cluster.world.schedule(0.01, () => cluster.network.crash('pentium'));
    expect(() => cluster.world.runUntilIdle({ until: 10_000 })).not.toThrow();
    expect(task.exit?.reason).toBe('host pentium crashed');
    expect(task.outputText).toBe('');
  });
});
