import { MachError } from '../protocol/errors.ts';
import {
  dataRequestMessage,
  dataReturnMessage,
  initMessage,
  type KernelCall,
  lockCompletedMessage,
  parseKernelCall,
  terminateMessage,
} from '../protocol/memoryObject.ts';
import type { ReceivedMessage } from '../protocol/message.ts';
import { decodeNotification } from '../protocol/notifications.ts';
import { MACH_PORT_QLIMIT_MAX, PortRight, PortType } from '../protocol/rights.ts';
import { lockObject } from './flush.ts';
import { releaseRights } from './releaseRights.ts';
import type { VmKernel } from './vmKernel.ts';
import type { PageWaiter, ResidentPage, VmObject } from './vmObject.ts';
import { VM_PROT_ALL } from './vmTypes.ts';

/**
 * The kernel's half of the external memory management protocol (mach3-kernel-interfaces.txt,
 * chapter 5): memory_object_init when an object first needs its pager, data_request on a cache
 * miss, data_return for dirty pages leaving memory, terminate when the last mapping goes; and the
 * manager's calls arriving on the control ports: data_supply, data_unavailable, data_error and
 * lock_request.
 */

/** Gives `o` its pager (the default pager unless it has one) and sends memory_object_init. */
export function ensurePager(vm: VmKernel, o: VmObject): boolean {
  if (o.control !== 0) return true;
  if (vm.dead || o.terminated) return false;
  if (o.pagerPort === 0) o.pagerPort = vm.defaultPager;
  if (o.pagerPort === 0) return false;
  const ctl = vm.ipc.allocate(vm.space, PortRight.RECEIVE, `${vm.host}:control#${o.id}`);
  vm.ipc.setQlimit(vm.space, ctl, MACH_PORT_QLIMIT_MAX);
  o.control = ctl;
  vm.byControl.set(ctl, o);
  vm.listenOnControl(ctl);
  watchPager(vm, o.pagerPort);
  vm.stats.inits++;
  return vm.send(initMessage(o.pagerPort, ctl, { object: o.pagerKey, pageSize: vm.pageSize }));
}

/**
 * Waits for page `offset` of `o`: joins the outstanding request for it, or sends
 * memory_object_data_request. `waiter` runs when the page arrived (or with the error).
 */
export function requestPage(vm: VmKernel, o: VmObject, offset: number, waiter: PageWaiter): void {
  const waiting = o.pending.get(offset);
  if (waiting !== undefined) {
    waiting.push(waiter);
    return;
  }
  const fail = () =>
    vm.world.schedule(
      0,
      () => waiter(new MachError('KERN_MEMORY_ERROR', `object ${o.id} has no reachable pager`)),
      'vm.fault-failed',
    );
  if (!ensurePager(vm, o)) return void fail();
  o.pending.set(offset, [waiter]);
  vm.stats.dataRequests++;
  const ps = vm.pageSize;
  const m = dataRequestMessage(o.pagerPort, o.control, {
    object: o.pagerKey,
    offset: offset * ps,
    length: ps,
    access: VM_PROT_ALL,
  });
  if (!vm.send(m)) {
    o.pending.delete(offset);
    fail();
  }
}

/** memory_object_data_return of a resident page; `keep` says the kernel keeps its copy. */
export function sendReturn(vm: VmKernel, p: ResidentPage, keep: boolean): void {
  const o = p.object;
  if (!ensurePager(vm, o)) {
    if (p.dirty) vm.stats.pagesLost++;
    return;
  }
  const body = {
    object: o.pagerKey,
    offset: p.offset * vm.pageSize,
    dirty: p.dirty,
    kernelCopy: keep,
  };
  // An evicted frame is never used again, so it can move into the message without a copy.
  if (vm.send(dataReturnMessage(o.pagerPort, o.control, body, p.data, !keep))) {
    o.existence.add(p.offset);
    vm.stats.pageOuts++;
  } else if (p.dirty) vm.stats.pagesLost++;
}

/** memory_object_terminate: the control port's receive right goes to the manager with it. */
export function sendTerminate(vm: VmKernel, o: VmObject): void {
  const ctl = o.control;
  if (ctl === 0) return;
  o.control = 0;
  vm.byControl.delete(ctl);
  vm.unbindControl(ctl);
  if (vm.send(terminateMessage(o.pagerPort, ctl, { object: o.pagerKey }))) vm.stats.terminates++;
  else if (!vm.dead && vm.space.active) vm.ipc.destroy(vm.space, ctl);
}

/** Asks to be told when the pager behind the send right `name` dies (once per name). */
function watchPager(vm: VmKernel, name: number): void {
  // (The default pager dies only with its host, and the kernel with it.)
  if (vm.dead || name === vm.defaultPager || vm.watchedPagers.has(name)) return;
  // Already dead: the data_request will not go out, and the fault fails then.
  const e = vm.space.lookup(name);
  if (e === undefined || !(e.bits & PortType.SEND)) return;
  try {
    vm.ipc.requestNotification(vm.space, name, 'dead-name', 0, vm.pagerDeathPort());
    vm.watchedPagers.add(name);
  } catch (err) {
    if (!(err instanceof MachError)) throw err;
    if (vm.watchedPagers.size === 0) vm.dropPagerDeathPort();
  }
}

/**
 * The pager behind `name` died: nothing will ever answer the page requests made to it, so the
 * faults waiting on them fail with KERN_MEMORY_ERROR (the thread gets a memory exception), and
 * later faults fail as their data_request cannot be sent.
 */
function onPagerDeath(vm: VmKernel, m: ReceivedMessage): void {
  const n = decodeNotification(m);
  if (n?.kind === 'dead-name') {
    // The notification's own user reference on the dead name.
    if (vm.space.active && vm.space.lookup(n.name) !== undefined)
      vm.ipc.deallocate(vm.space, n.name);
    for (const o of vm.byControl.values()) {
      if (o.pagerPort !== n.name) continue;
      for (const off of [...o.pending.keys()])
        wake(o, off, new MachError('KERN_MEMORY_ERROR', `the pager of object ${o.id} died`));
    }
  }
  // Dead, or given up by the kernel itself (port-deleted): no longer watched. The port goes
  // with the last watch, so a kernel that maps no other pager has no more ports than before.
  if (n?.kind === 'dead-name' || n?.kind === 'port-deleted') {
    vm.watchedPagers.delete(n.name);
    if (vm.watchedPagers.size === 0) vm.dropPagerDeathPort();
  }
}

/** A message on a control port: the manager answering or commanding the kernel. */
export function onControlMessage(vm: VmKernel, port: number, m: ReceivedMessage): void {
  if (port !== 0 && port === vm.deathPort) return onPagerDeath(vm, m);
  const o = vm.byControl.get(port);
  const call = parseKernelCall(m);
  if ('malformed' in call) return reject(vm, m.id, call.malformed, call.rights);
  if (o === undefined)
    return reject(vm, m.id, `port 0x${port.toString(16)} controls no object`, []);
  const bad = checkRange(vm, o, call);
  if (bad !== null)
    return reject(vm, m.id, bad, call.kind === 'lock_request' ? [call.replyTo] : []);
  const ps = vm.pageSize;
  const first = call.offset / ps;
  switch (call.kind) {
    case 'data_supply': {
      const n = call.data.length / ps;
      for (let i = 0; i < n; i++) {
        const off = first + i;
        if (o.pages.has(off)) vm.stats.suppliesIgnored++;
        else {
          const frame = vm.allocateFrame(true)!;
          frame.set(call.data.subarray(i * ps, (i + 1) * ps));
          vm.install(o, off, frame, false).precious = call.precious;
          vm.stats.pageIns++;
          traceIn(vm, o, off, 'pager');
        }
        wake(o, off);
      }
      return;
    }
    case 'data_unavailable': {
      // The kernel supplies zero-filled pages (data_unavailable, first and third cases).
      for (let off = first; off < first + call.length / ps; off++) {
        if (!o.pages.has(off)) {
          vm.install(o, off, vm.allocateFrame(true)!, false);
          vm.stats.zeroFills++;
          traceIn(vm, o, off, 'zero');
        }
        wake(o, off);
      }
      return;
    }
    case 'data_error':
      for (let off = first; off < first + call.length / ps; off++) {
        const err = new MachError(
          'KERN_MEMORY_ERROR',
          `pager reported error ${call.reason} for page ${off} of object ${o.id}`,
        );
        wake(o, off, err);
      }
      return;
    case 'lock_request':
      vm.stats.lockRequests++;
      lockObject(vm, o, first, call.length / ps, call.shouldReturn, call.shouldFlush);
      if (call.replyTo !== 0)
        vm.send(
          lockCompletedMessage(call.replyTo, {
            object: o.pagerKey,
            offset: call.offset,
            length: call.length,
          }),
        );
      return;
  }
}

/** Offsets and sizes must be whole pages inside the object (memory_object_data_supply NOTES). */
function checkRange(vm: VmKernel, o: VmObject, c: KernelCall): string | null {
  const ps = vm.pageSize;
  const length = c.kind === 'data_supply' ? c.data.length : c.length;
  const what = c.kind === 'data_supply' ? 'data length' : 'length';
  if (c.offset % ps !== 0)
    return `${c.kind}.offset ${c.offset} is not a multiple of the page size ${ps}`;
  if (length % ps !== 0)
    return `${c.kind} ${what} ${length} is not a multiple of the page size ${ps}`;
  if (c.offset + length > o.size * ps)
    return `${c.kind} range [${c.offset}, ${c.offset + length}) exceeds object ${o.id} (${o.size * ps} bytes)`;
  return null;
}

function wake(o: VmObject, off: number, error?: MachError): void {
  const ws = o.pending.get(off);
  if (ws === undefined) return;
  o.pending.delete(off);
  for (const w of ws) w(error);
}

function reject(vm: VmKernel, id: number, reason: string, rights: readonly number[]): void {
  vm.stats.rejected++;
  releaseRights(vm.ipc, vm.space, rights);
  if (vm.world.trace.enabled)
    vm.world.trace.emit('vm.rejected', { host: vm.host, side: 'kernel', id, reason });
}

function traceIn(vm: VmKernel, o: VmObject, page: number, source: 'pager' | 'zero'): void {
  if (vm.world.trace.enabled)
    vm.world.trace.emit('vm.pagein', { host: vm.host, object: o.id, page, source });
}
