import { type Actor, createActor } from 'xstate';
import type { IpcKernel } from '../actors/ipcKernel.ts';
import { bindMailbox } from '../actors/mailbox.ts';
import type { PortSpace } from '../actors/portSpace.ts';
import { type PagerStats, type PagerTiming, pagerMachine } from '../machines/pager.ts';
import { BackingStore } from '../memory/backingStore.ts';
import { releaseRights } from '../memory/releaseRights.ts';
import '../memory/traceEvents.ts';
import { MachError } from '../protocol/errors.ts';
import { MemoryObjectReturn } from '../protocol/memoryObject.ts';
import { MACH_PORT_QLIMIT_MAX, PortRight } from '../protocol/rights.ts';

/**
 * Runs the default pager machine on a host: a task-like port space of its own, its port as the
 * machine's mailbox, and the machine's io calls as mach_msg calls from that space.
 */
export interface RunningPager {
  readonly actor: Actor<typeof pagerMachine>;
  readonly space: PortSpace;
  /** The pager's port (its name in `space`): kernels send memory object calls here. */
  readonly port: number;
  readonly store: BackingStore;
  /**
   * memory_object_lock_request on `object` (the pager's object number): the kernel returns dirty
   * pages in [offset, offset + length) and, with `flush`, drops them. `onCompleted` runs when the
   * kernel's memory_object_lock_completed arrives.
   */
  lockRequest(
    object: number,
    offset: number,
    length: number,
    options?: { flush?: boolean; returnAll?: boolean },
  ): void;
  /** Called with each memory_object_lock_completed (object, offset, length). */
  onLockCompleted: ((object: number, offset: number, length: number) => void) | null;
  stats(): PagerStats;
  stop(): void;
}

export interface PagerOptions {
  readonly label?: string;
  readonly timing?: PagerTiming;
}

export function startPager(ipc: IpcKernel, options: PagerOptions = {}): RunningPager {
  const label = options.label ?? `${ipc.host}:default-pager`;
  const world = ipc.world;
  const space = ipc.createSpace(label);
  const port = ipc.allocate(space, PortRight.RECEIVE, label);
  ipc.setQlimit(space, port, MACH_PORT_QLIMIT_MAX);
  const store = new BackingStore();
  let unbind = () => {};
  const running: RunningPager = {
    actor: undefined as unknown as Actor<typeof pagerMachine>,
    space,
    port,
    store,
    onLockCompleted: null,
    lockRequest(object, offset, length, opts = {}) {
      running.actor.send({
        type: 'lock',
        object,
        offset,
        length,
        shouldReturn: opts.returnAll ? MemoryObjectReturn.ALL : MemoryObjectReturn.DIRTY,
        shouldFlush: opts.flush ?? false,
      });
    },
    stats: () => running.actor.getSnapshot().context.stats,
    stop() {
      unbind();
      running.actor.stop();
    },
  };
  const actor = createActor(pagerMachine, {
    clock: world.clock,
    input: {
      port,
      store,
      timing: options.timing,
      io: {
        send: (m) => {
          if (!space.active) return;
          try {
            // A full queue makes the send wait (in order) rather than fail.
            ipc.send(space, m, {}, () => {});
          } catch (e) {
            // The kernel side is gone (control port destroyed): nobody wants the answer.
            if (!(e instanceof MachError)) throw e;
          }
        },
        release: (names) => releaseRights(ipc, space, names),
        destroy: (name) => {
          if (space.active && space.lookup(name) !== undefined) ipc.destroy(space, name);
        },
        now: () => world.now(),
        rejected: (id, reason) => {
          if (world.trace.enabled)
            world.trace.emit('vm.rejected', { host: ipc.host, side: 'pager', id, reason });
        },
        lockCompleted: (object, offset, length) =>
          running.onLockCompleted?.(object, offset, length),
        close: () => {
          unbind();
          if (space.active && space.lookup(port) !== undefined) ipc.destroy(space, port);
        },
      },
    },
  });
  (running as { actor: Actor<typeof pagerMachine> }).actor = actor;
  unbind = bindMailbox(ipc, space, port, actor);
  actor.start();
  return running;
}
