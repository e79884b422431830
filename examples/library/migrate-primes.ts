// The README's migration example; test/readme-example.test.ts runs it.
import { fileURLToPath } from 'node:url';
import { assembleFile, Cluster, type MigrationResult, spawn } from '../../src/index.ts';

export function migratePrimes(strategy: 'eager' | 'demand' = 'demand'): {
  result: MigrationResult;
  output: string;
} {
  const program = fileURLToPath(new URL('../primes.s', import.meta.url)); // examples/primes.s
  const cluster = Cluster.paper(1); // a Pentium 90 and an i486DX 33 on 10 Mbit/s Ethernet
  const task = spawn(cluster.host('pentium'), assembleFile(program), 'primes');
  let output = '';
  cluster.world.trace.events$.subscribe((e) => {
    if (e.kind === 'task.output') output += e.text; // wherever the task runs
  });
  cluster.world.runUntilTime(30); // let it compute for 30 ms of virtual time
  const m = cluster.migrate(task, 'i486', { strategy });
  cluster.world.runUntilIdle();
  return { result: m.result()!, output };
}
