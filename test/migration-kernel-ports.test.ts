/**
 * Kernel ports keep working after migration (reference/seed section 3.1; issue 5): the task port
 * and the thread ports are kernel ports whose receive rights move with the task, so whoever holds
 * a send right to them, on any host, still controls the task where it now runs: task_info says
 * where that is, task_suspend and task_resume stop and restart it there, the thread ports answer
 * for its threads. When the task ends, its ports die, and their holders see dead names.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PortSpace } from '../src/actors/portSpace.ts';
import type { Cluster } from '../src/cluster.ts';
import type { Host } from '../src/kernel/host.ts';
import type { Task } from '../src/kernel/task.ts';
import { dataOf, inlineData } from '../src/protocol/codec.ts';
import { MachError } from '../src/protocol/errors.ts';
import { KernelRoutine, type KernelRoutineName } from '../src/protocol/kernelInterface.ts';
import type { ReceivedMessage } from '../src/protocol/message.ts';
import type { Strategy } from '../src/protocol/migration.ts';
import { NotifyId } from '../src/protocol/notifications.ts';
import { Disposition, PortRight, PortType } from '../src/protocol/rights.ts';
import {
  baseline,
  census,
  OutputLog,
  paperCluster,
  runMigration,
  spawnProgram,
  taskOn,
} from './support/migrationFixtures.ts';

const open: { close(): void }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});

interface Answer {
  readonly code: number;
  readonly result?: unknown;
  /** Names, in the controller's space, of the rights the reply carried. */
  readonly ports: number[];
}

/** A port space on some host that controls a task through send rights to its kernel ports. */
class RemoteController {
  readonly space: PortSpace;
  readonly reply: number;

  constructor(
    readonly cluster: Cluster,
    readonly host: Host,
  ) {
    this.space = host.ipc.createSpace(`controller@${host.name}`);
    this.reply = host.ipc.allocate(this.space, PortRight.RECEIVE, 'controller-reply');
  }

  /** A send right to the task's port, through the netmsg name service (or directly at home). */
  taskPort(task: Task): number {
    if (task.host === this.host)
      return this.host.ipc.extractRight(
        task.space,
        task.selfName,
        Disposition.COPY_SEND,
        this.space,
      );
    const label = `task-port:${task.name}`;
    try {
      this.cluster.netmsg.server(task.host.name).checkIn(label, task.space, task.selfName);
    } catch {
      // checked in for another controller already
    }
    let name = 0;
    this.cluster.netmsg.server(this.host.name).lookUp(label, task.host.name, this.space, (r) => {
      if (!r.ok) throw r.error;
      name = r.name;
    });
    this.runUntil(() => name !== 0);
    return name;
  }

  /** Sends a request and runs the world until its reply comes back. */
  call(port: number, routine: KernelRoutineName, args?: unknown): Answer {
    const ipc = this.host.ipc;
    ipc.send(this.space, {
      remotePort: port,
      remoteDisposition: Disposition.COPY_SEND,
      localPort: this.reply,
      localDisposition: Disposition.MAKE_SEND_ONCE,
      id: KernelRoutine[routine],
      body: args === undefined ? [] : [inlineData(args)],
    });
    let m: ReceivedMessage | null = null;
    const got = ipc.receive(this.space, this.reply, {}, (r) => {
      if (r.ok) m = r.message;
    });
    if (got !== null) m = got;
    this.runUntil(() => m !== null);
    const reply = m as unknown as ReceivedMessage;
    expect(reply.id).toBe(KernelRoutine[routine] + 100);
    const { code, result } = dataOf<{ code: number; result?: unknown }>(reply);
    const ports = reply.body.flatMap((i) => (i.type === 'port' ? [i.name] : []));
    return { code, ports, ...(result === undefined ? {} : { result }) };
  }

  runUntil(done: () => boolean): void {
    const w = this.cluster.world;
    w.runUntil(done, { until: w.now() + 2000 });
    if (!done()) throw new Error('the controller waited in vain');
  }
}

/** Primes on the Pentium, a controller on each host holding its task port and thread port. */
function setup(strategy: Strategy) {
  const { cluster, pentium, i486, third } = paperCluster({ third: true });
  const log = new OutputLog(cluster);
  open.push(log);
  const task = spawnProgram(pentium, 'primes');
  cluster.world.runUntilTime(2);
  const controllers = [pentium, i486, third!].map((h) => new RemoteController(cluster, h));
  const ports = controllers.map((c) => {
    const taskPort = c.taskPort(task);
    const threads = c.call(taskPort, 'task_threads');
    expect(threads.code).toBe(0);
    expect(threads.ports).toHaveLength(1);
    return { taskPort, threadPort: threads.ports[0]! };
  });
  for (const [i, c] of controllers.entries())
    expect(c.call(ports[i]!.taskPort, 'task_info').result).toMatchObject({ host: 'pentium' });
  const m = cluster.migrate(task, 'i486', { strategy });
  cluster.world.runUntil(() => m.result() !== null, { until: 60_000 });
  expect(m.result()?.outcome).toBe('committed');
  const moved = taskOn(i486)!;
  return { cluster, log, task, moved, controllers, ports };
}

describe.each(['eager', 'demand'] as const)('after a migration (%s)', (strategy) => {
  it('holders of the task port on every host reach the task where it now runs', () => {
    const { controllers, ports, moved } = setup(strategy);
    controllers.forEach((c, i) => {
      const info = c.call(ports[i]!.taskPort, 'task_info');
      expect(info.code).toBe(0);
      expect(info.result).toEqual({ name: 'prog', suspendCount: 0, threads: 1, host: 'i486' });
      const thread = c.call(ports[i]!.threadPort, 'thread_info');
      expect(thread.code).toBe(0);
      expect(thread.result).toMatchObject({ suspendCount: 0 });
    });
    // task_self in the task still names its own (moved) task port.
    const self = moved.space.lookup(moved.selfName)!;
    expect(self.bits & PortType.SEND).toBeTruthy();
    expect(self.port).toBe(moved.port);
  });

  it('task_suspend and task_resume from another host stop and restart it there', () => {
    const { cluster, log, controllers, ports, moved } = setup(strategy);
    const remote = controllers[2]!; // on the third host
    expect(remote.call(ports[2]!.taskPort, 'task_suspend').code).toBe(0);
    expect(moved.suspendCount).toBe(1);
    const printed = log.text().length;
    cluster.world.runUntilTime(cluster.world.now() + 30);
    expect(log.text().length).toBe(printed);
    expect(remote.call(ports[2]!.taskPort, 'task_info').result).toMatchObject({ suspendCount: 1 });
    expect(remote.call(ports[2]!.taskPort, 'task_resume').code).toBe(0);
    cluster.world.runUntil(() => moved.exit !== null, { until: cluster.world.now() + 10_000 });
    expect(log.text()).toBe(baseline('primes').output);
  });

  it('thread_suspend and thread_resume through a thread port held at the old home', () => {
    const { cluster, log, controllers, ports, moved } = setup(strategy);
    const home = controllers[0]!; // on the Pentium, where the thread port was
    expect(home.call(ports[0]!.threadPort, 'thread_suspend').code).toBe(0);
    expect(moved.threads[0]!.suspendCount).toBe(1);
    const printed = log.text().length;
    cluster.world.runUntilTime(cluster.world.now() + 30);
    expect(log.text().length).toBe(printed);
    expect(home.call(ports[0]!.threadPort, 'thread_resume').code).toBe(0);
    cluster.world.runUntil(() => moved.exit !== null, { until: cluster.world.now() + 10_000 });
    expect(log.text()).toBe(baseline('primes').output);
  });

  it('task_terminate from the destination host ends it there', () => {
    const { cluster, controllers, ports, moved } = setup(strategy);
    expect(controllers[1]!.call(ports[1]!.taskPort, 'task_terminate', { status: 7 }).code).toBe(0);
    expect(moved.exit).toMatchObject({ status: 7, reason: 'task_terminate' });
    cluster.world.runUntilIdle({ until: cluster.world.now() + 60_000 });
    for (const h of cluster.hosts.values()) expect(census(h).problems).toEqual([]);
  });

  it('when the task ends, every holder sees a dead name (and its dead-name notification)', () => {
    const { cluster, controllers, ports, moved } = setup(strategy);
    const notified = controllers.map((c, i) => {
      const ipc = c.host.ipc;
      const notify = ipc.allocate(c.space, PortRight.RECEIVE, 'notify');
      ipc.requestNotification(
        c.space,
        ports[i]!.taskPort,
        'dead-name',
        0,
        notify,
        Disposition.MAKE_SEND_ONCE,
      );
      let got: ReceivedMessage | null = null;
      ipc.receive(c.space, notify, {}, (r) => {
        if (r.ok) got = r.message;
      });
      return () => got as ReceivedMessage | null;
    });
    cluster.world.runUntil(() => moved.exit !== null, { until: cluster.world.now() + 10_000 });
    cluster.world.runUntil(() => notified.every((n) => n() !== null), {
      until: cluster.world.now() + 5000,
    });
    controllers.forEach((c, i) => {
      const n = notified[i]!()!;
      expect(n.id).toBe(NotifyId.DEAD_NAME);
      const e = c.space.lookup(ports[i]!.taskPort)!;
      expect(e.bits & PortType.DEAD_NAME).toBeTruthy();
      // A request to a dead name is refused at once.
      expect(() =>
        c.host.ipc.send(c.space, {
          remotePort: ports[i]!.taskPort,
          remoteDisposition: Disposition.COPY_SEND,
          id: KernelRoutine.task_info,
          body: [],
        }),
      ).toThrow(MachError);
    });
  });
});

it('a controller holding the task port follows it through two moves and back', () => {
  const { cluster, pentium, i486, third } = paperCluster({ third: true });
  const task = spawnProgram(pentium, 'primes');
  cluster.world.runUntilTime(2);
  const c = new RemoteController(cluster, third!);
  const port = c.taskPort(task);
  let current = task;
  for (const [to, host] of [
    ['i486', i486],
    ['pentium', pentium],
  ] as const) {
    const m = runMigration(cluster, cluster.migrate(current, to), 'none');
    expect(m.outcome).toBe('committed');
    current = taskOn(host)!;
    expect(c.call(port, 'task_info').result).toMatchObject({ host: to, name: 'prog' });
  }
});

it('a task and a thread suspended by their holder before the move arrive suspended', () => {
  const { cluster, pentium, i486 } = paperCluster();
  const log = new OutputLog(cluster);
  open.push(log);
  const task = spawnProgram(pentium, 'primes');
  cluster.world.runUntilTime(2);
  const c = new RemoteController(cluster, i486);
  const port = c.taskPort(task);
  const thread = c.call(port, 'task_threads').ports[0]!;
  expect(c.call(port, 'task_suspend').code).toBe(0);
  expect(c.call(thread, 'thread_suspend').code).toBe(0);
  const r = runMigration(cluster, cluster.migrate(task, 'i486'), 'none');
  expect(r.outcome).toBe('committed');
  const moved = taskOn(i486)!;
  expect(moved.suspendCount).toBe(1);
  expect(moved.threads[0]!.suspendCount).toBe(1);
  const printed = log.text();
  cluster.world.runUntilTime(cluster.world.now() + 20);
  expect(log.text()).toBe(printed);
  expect(c.call(port, 'task_resume').code).toBe(0);
  expect(c.call(thread, 'thread_resume').code).toBe(0);
  cluster.world.runUntil(() => moved.exit !== null, { until: cluster.world.now() + 10_000 });
  expect(log.text()).toBe(baseline('primes').output);
});
