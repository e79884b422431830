import type { PortSpace } from '../actors/portSpace.ts';
import type { Task } from '../kernel/task.ts';
import type { AddressSpace } from '../memory/addressSpace.ts';
import type {
  PortDescription,
  RegionDescription,
  ThreadDescription,
} from '../protocol/migration.ts';
import { PortType } from '../protocol/rights.ts';

/**
 * What migration must move, read off a task (reference/seed section 3: the suspend count, the
 * memory image, and per thread its suspend count, priority, policy and registers, plus the port
 * rights the kernel keeps for the task).
 */
export function describeRegions(memory: AddressSpace): RegionDescription[] {
  return memory.regionList().map((r) => ({
    start: r.address,
    size: r.size,
    protection: r.protection,
    maxProtection: r.maxProtection,
    inheritance: r.inheritance,
  }));
}

export function describeThreads(task: Task): ThreadDescription[] {
  return task.threads
    .filter((t) => !t.terminated)
    .map((t) => ({
      regs: Array.from(t.state.regs),
      pc: t.state.pc,
      flags: t.state.flags,
      // The task suspension migration added is the task's, not the thread's.
      suspendCount: t.suspendCount,
      priority: t.priority,
      policy: t.policy,
      selfName: t.selfName,
      // A call backed out of the kernel at suspension: re-issued at the destination.
      restart: t.restart,
    }));
}

/** Every name of the space and what it denotes, in ascending name order. */
export function describePorts(space: PortSpace): PortDescription[] {
  const out: PortDescription[] = [];
  for (const name of space.names()) {
    const e = space.lookup(name)!;
    if (e.bits & PortType.PORT_SET) out.push({ name, kind: 'set' });
    else if (e.bits & PortType.RECEIVE) {
      const set = e.port!.pset;
      let setName = 0;
      if (set !== null) for (const [n, x] of space.entries) if (x.pset === set) setName = n;
      out.push({ name, kind: 'receive', send: e.bits & PortType.SEND ? e.urefs : 0, set: setName });
    } else if (e.bits & PortType.SEND) out.push({ name, kind: 'send', urefs: e.urefs });
    else if (e.bits & PortType.SEND_ONCE) out.push({ name, kind: 'send-once' });
    else if (e.bits & PortType.DEAD_NAME) out.push({ name, kind: 'dead', urefs: e.urefs });
  }
  return out;
}
