import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Cluster } from '/work/main/src/cluster.ts';
import { spawn } from '/work/main/src/kernel/loader.ts';
import { assemble } from '/work/main/src/vm/assembler.ts';
import { HOST_PROFILES } from '/work/main/src/world/profiles.ts';
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
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
const c = new Cluster({ hosts: { h: profile } });
for (let i = 0; i < 20; i++) spawn(c.host('h'), image, `w${i}`);
c.world.runUntilIdle();
gc(); gc();
writeHeapSnapshot('/tmp/scratch/before.heapsnapshot');
const keep = [];
for (let i = 0; i < 2000; i++) keep.push(spawn(c.host('h'), image, `t${i}`));
c.world.runUntilIdle();
gc(); gc();
writeHeapSnapshot('/tmp/scratch/after.heapsnapshot');
console.log(keep.length);
