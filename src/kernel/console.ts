import type { PortSpace } from '../actors/portSpace.ts';
import { MachError } from '../protocol/errors.ts';
import {
  type ConsoleState,
  consoleArrivedMessage,
  consoleWriteMessage,
  isConsoleState,
} from '../protocol/managers.ts';
import { Disposition, PortType } from '../protocol/rights.ts';
import type { Host } from './host.ts';
import type { Task } from './task.ts';

/**
 * The console of a task (reference/seed section 4): besides `task.output`, every console_write of
 * a task with a console binding is sent, numbered, as a CONSOLE_WRITE message through a send right
 * in the task's own port space: a right to the console port of the user manager of the task's home
 * host. Being an ordinary right of the task, it moves with the task when it migrates (the binding's
 * numbers travel in the migration's RESTORE), so output keeps reaching the home, in order.
 *
 * The host's console (`host.consoleName`, a send right in the kernel's space, like a host special
 * port) is the local user manager's console port. When a task's console right turns out dead (its
 * home failed), the kernel rebinds the task to the host's console and sends it again every write
 * the task made on this host: the output then continues here.
 */
export interface ConsoleBinding {
  /** Name of the console send right in the task's space. */
  name: number;
  /** Number of the next write. */
  seq: number;
  /** The host whose user manager shows the output. */
  home: string;
  /** The first number the current console port was sent (where the user manager's stream starts). */
  start: number;
  /** The number of `task.output[0]`: the first write made on this host. */
  since: number;
  /** Whether this host's console was told the task writes here with another host's console. */
  announced: boolean;
}

/** Makes `portName` (a receive or send right in `space`) the console of `host`. */
export function setHostConsole(host: Host, space: PortSpace, portName: number): void {
  const ipc = host.ipc;
  const ks = host.kernelSpace;
  const e = space.lookup(portName);
  if (e === undefined)
    throw new MachError('KERN_INVALID_NAME', `console port ${portName} is not in "${space.label}"`);
  const d = e.bits & PortType.RECEIVE ? Disposition.MAKE_SEND : Disposition.COPY_SEND;
  const name = ipc.extractRight(space, portName, d, ks);
  const old = host.consoleName;
  host.consoleName = name;
  if (old !== 0 && old !== name && ks.lookup(old) !== undefined) ipc.deallocate(ks, old);
}

/** Binds a task to its own host's console: the host becomes the task's home for output. */
export function attachConsole(task: Task): void {
  const host = task.host;
  if (host.consoleName === 0)
    throw new MachError('KERN_FAILURE', `host ${host.name} has no console (no user manager)`);
  if (task.console !== null)
    throw new MachError('KERN_RIGHT_EXISTS', `task ${task.name} already has a console`);
  const name = host.ipc.extractRight(
    host.kernelSpace,
    host.consoleName,
    Disposition.COPY_SEND,
    task.space,
  );
  const seq = task.output.length;
  task.console = { name, seq, home: host.name, start: seq, since: 0, announced: true };
}

/** What of a task's console binding migration carries (RESTORE), or undefined if it has none. */
export function consoleState(task: Task): ConsoleState | undefined {
  const c = task.console;
  if (c === null) return undefined;
  return { name: c.name, seq: c.seq, home: c.home, start: c.start };
}

/**
 * Binds a task arriving by migration to the console it had (its right arrives at COMMIT under the
 * same name). Returns false, binding nothing, if `state` is malformed.
 */
export function bindConsole(task: Task, state: unknown): boolean {
  if (!isConsoleState(state)) return false;
  task.console = {
    name: state.name,
    seq: state.seq,
    home: state.home,
    start: state.start,
    since: state.seq - task.output.length,
    announced: false,
  };
  return true;
}

/** console_write's second half: sends the write (already in `task.output`) to the console. */
export function consoleWrite(task: Task, text: string): void {
  const c = task.console;
  if (c === null) return;
  const seq = c.seq++;
  if (!task.host.up || !task.space.active) return;
  const e = task.space.lookup(c.name);
  // No right under the name: it is on its way to another host with the task (the write stays in
  // `output`), or the program gave it up.
  if (e === undefined) return;
  if (e.bits & PortType.DEAD_NAME) {
    // The home is gone; the replay that rebinding sends includes this write.
    redirectConsole(task);
    return;
  }
  if (!c.announced) announce(task, c);
  if (e.bits & PortType.SEND) send(task, c, seq, text);
}

/**
 * The first write of a task that arrived here with another host's console: the host's console
 * (its user manager) is told, so that it watches that home and can take the output over if the
 * home fails, even if nobody else announced the arrival (its source failed right after the commit).
 */
function announce(task: Task, c: ConsoleBinding): void {
  const host = task.host;
  c.announced = true;
  if (c.home === host.name || host.consoleName === 0) return;
  const ks = host.kernelSpace;
  if (((ks.lookup(host.consoleName)?.bits ?? 0) & PortType.SEND) === 0) return;
  try {
    host.ipc.send(ks, consoleArrivedMessage(host.consoleName, { task: task.name, home: c.home }), {
      timeout: 0,
    });
  } catch (err) {
    // A full console queue: the arrival is announced by the migration managers as well.
    if (!(err instanceof MachError)) throw err;
  }
}

/**
 * The task's console right is dead (its home failed): rebinds it to this host's console and sends
 * every write the task made here, so the output continues on this host. Returns whether the task
 * is now bound here; a live right to another console is left alone.
 */
export function redirectConsole(task: Task): boolean {
  const c = task.console;
  const host = task.host;
  if (c === null || task.terminated || !host.up || !task.space.active || host.consoleName === 0)
    return false;
  const ipc = host.ipc;
  const ks = host.kernelSpace;
  const local = ks.lookup(host.consoleName);
  if (local === undefined || !(local.bits & PortType.SEND)) return false;
  const e = task.space.lookup(c.name);
  if (e !== undefined && !(e.bits & PortType.DEAD_NAME)) return e.port === local.port;
  try {
    if (e !== undefined) ipc.destroy(task.space, c.name);
    ipc.insertRight(task.space, c.name, ks, host.consoleName, Disposition.COPY_SEND);
  } catch (err) {
    if (err instanceof MachError) return false;
    throw err;
  }
  const from = c.home;
  c.home = host.name;
  c.start = c.since;
  if (host.world.trace.enabled)
    host.world.trace.emit('console.redirect', {
      host: host.name,
      task: task.name,
      from,
      replayed: task.output.length,
    });
  task.output.forEach((text, i) => {
    send(task, c, c.since + i, text);
  });
  return true;
}

function send(task: Task, c: ConsoleBinding, seq: number, text: string): void {
  const host = task.host;
  const m = consoleWriteMessage(c.name, {
    task: task.name,
    host: host.name,
    home: c.home,
    seq,
    start: c.start,
    text,
  });
  const failed = (err: MachError) => {
    // The console port died between the look-up and the send: its home is gone.
    if (err.codeName === 'MACH_SEND_INVALID_DEST') redirectConsole(task);
  };
  try {
    // A full console queue holds the write back (in order) rather than losing it.
    host.ipc.send(task.space, m, {}, (r) => {
      if (!r.ok) failed(r.error);
    });
  } catch (err) {
    if (!(err instanceof MachError)) throw err;
    failed(err);
  }
}
