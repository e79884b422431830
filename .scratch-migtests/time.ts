import { readFileSync } from 'node:fs';
import { Cluster } from '../src/cluster.ts';
import { spawn } from '../src/kernel/loader.ts';
import { assemble } from '../src/vm/assembler.ts';
for (const [prog, defs] of [['primes', {}], ['primes', {N: 20000, STEP: 2000}], ['threads', {}], ['threads', {CHUNK: 5000}], ['bigmem', {}], ['bigmem', {SIZE: 256*1024, MIB: 64*1024, MIB_WORDS_MASK: 16*1024-1}]] as const) {
  const t0 = performance.now();
  const cluster = Cluster.paper(1);
  const image = assemble(readFileSync(`examples/${prog}.s`, 'utf8'), { defines: defs as any });
  const task = spawn(cluster.host('pentium'), image, 'prog');
  cluster.world.runUntil(() => task.exit !== null);
  console.log(prog, JSON.stringify(defs), 'virtual', cluster.world.now().toFixed(1), 'wall', (performance.now() - t0).toFixed(0), JSON.stringify(task.outputText.slice(-80)), task.exit);
}
