import type { Image } from '../cpu/image.ts';
import { createThreadState } from '../cpu/thread.ts';
import { MachError } from '../protocol/errors.ts';
import type { Host } from './host.ts';
import type { Task } from './task.ts';
import { createTask, createThread, resumeThread, startTask, terminateTask } from './taskOps.ts';
import { copyoutBytes } from './userMemory.ts';

export interface SpawnOptions {
  /** Start suspended (task_suspend before its first instruction). */
  readonly suspended?: boolean;
}

/**
 * Creates a task running a program image: maps its text (read/execute), data and bss
 * (read/write) and stack, writes the initial contents through the normal fault path (so they are
 * in pages the pager knows about), then starts one thread at the entry point. `ready` runs once
 * the task is loaded and started (or failed: the task is then terminated with the reason).
 */
export function spawn(
  host: Host,
  image: Image,
  name: string,
  opts: SpawnOptions = {},
  ready?: (task: Task) => void,
): Task {
  if (image.pageSize !== host.profile.pageSize) {
    throw new MachError(
      'KERN_INVALID_ARGUMENT',
      `image laid out for ${image.pageSize}-byte pages; host ${host.name} uses ${host.profile.pageSize}`,
    );
  }
  const memory = host.memory.createAddressSpace(name);
  const task = createTask(host, name, memory);
  for (const seg of image.segments) {
    memory.allocate(seg.address, roundUp(seg.size, image.pageSize), {
      read: true,
      write: true,
      execute: seg.executable,
    });
  }
  memory.allocate(image.stackTop - image.stackSize, image.stackSize, {
    read: true,
    write: true,
    execute: false,
  });
  const withData = image.segments.filter((s) => s.bytes.length > 0);
  const thread = createThread(task, createThreadState(image.entry, image.stackTop));
  const load = (i: number) => {
    const seg = withData[i];
    if (seg === undefined) {
      // Text becomes read-only once written, as an executable's text is.
      for (const s of image.segments) {
        if (!s.writable)
          memory.protect(s.address, roundUp(s.size, image.pageSize), {
            read: true,
            write: false,
            execute: s.executable,
          });
      }
      if (opts.suspended) task.send({ type: 'SUSPEND' });
      resumeThread(thread);
      startTask(task);
      ready?.(task);
      return;
    }
    copyoutBytes(memory, seg.address, seg.bytes, (fault) => {
      // A task that died meanwhile (terminated, or with its host) has nothing left to load.
      if (task.terminated || task.exit !== null) return;
      // The image could not be written (its pages could not be had): the task ends with the
      // reason, as a fault ends it; nothing else on the host is affected.
      if (fault)
        return terminateTask(
          task,
          -1,
          `cannot load ${seg.kind} at 0x${seg.address.toString(16)} (${fault.kind})`,
        );
      load(i + 1);
    });
  };
  load(0);
  return task;
}

function roundUp(n: number, page: number): number {
  return Math.ceil(n / page) * page;
}
