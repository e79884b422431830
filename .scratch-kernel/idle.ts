import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createActor } from '/work/main/node_modules/xstate/dist/xstate.cjs.mjs';
import { Cluster } from '/work/main/src/cluster.ts';
import { spawn } from '/work/main/src/kernel/loader.ts';
import { createTask, createThread } from '/work/main/src/kernel/taskOps.ts';
import { taskMachine } from '/work/main/src/machines/task.ts';
import { threadMachine } from '/work/main/src/machines/thread.ts';
import { PortRight } from '/work/main/src/protocol/rights.ts';
import { assemble } from '/work/main/src/vm/assembler.ts';
import { HOST_PROFILES } from '/work/main/src/world/profiles.ts';
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const heap = () => { for (let i = 0; i < 3; i++) gc(); return process.memoryUsage().heapUsed; };
const N = 2000;
const IDLE = `
        .text
_start: li    r0, SYS_PORT_ALLOCATE
        li    r1, MACH_PORT_RIGHT_RECEIVE
        trap
        mov   r5, r1
        li    r0, SYS_MACH_MSG
        li    r1, 0x2000
        li    r2, MACH_RCV_MSG
        li    r3, 0
        li    r4, 64
        trap
`;
const image = assemble(IDLE);
const profile = { ...HOST_PROFILES.modern, name: 'x' };
function measure(label: string, fn: (c: Cluster, i: number) => unknown, after?: (c: Cluster) => void) {
  const c = new Cluster({ hosts: { h: profile } });
  for (let i = 0; i < 20; i++) fn(c, i);
  after?.(c);
  const keep: unknown[] = [];
  const b = heap();
  for (let i = 0; i < N; i++) keep.push(fn(c, i + 100));
  after?.(c);
  const a = heap();
  console.log(label.padEnd(40), ((a - b) / N).toFixed(0));
  return keep;
}
measure('task actor', () => createActor(taskMachine, { input: { name: 'x' } }).start());
measure('thread actor', () => createActor(threadMachine, { input: { name: 'x', suspended: true } }).start());
measure('space', (c) => c.host('h').ipc.createSpace('s'));
measure('space + port', (c) => { const s = c.host('h').ipc.createSpace('s'); c.host('h').ipc.allocate(s, PortRight.RECEIVE); return s; });
measure('address space', (c) => c.host('h').memory.createAddressSpace('a'));
measure('createTask', (c) => createTask(c.host('h'), 't', c.host('h').memory.createAddressSpace('a')));
measure('createTask+thread', (c) => { const t = createTask(c.host('h'), 't', c.host('h').memory.createAddressSpace('a')); createThread(t); return t; });
measure('spawn (not run)', (c, i) => spawn(c.host('h'), image, `t${i}`));
measure('spawn + run to block', (c, i) => spawn(c.host('h'), image, `t${i}`), (c) => c.world.runUntilIdle());
measure('spawn suspended + run', (c, i) => spawn(c.host('h'), image, `t${i}`, { suspended: true }), (c) => c.world.runUntilIdle());
