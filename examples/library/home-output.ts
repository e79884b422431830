// The README's section 4 example (I/O of a migrated process); test/managers-output.test.ts runs it.
import { fileURLToPath } from 'node:url';
import {
  assembleFile,
  Cluster,
  type Location,
  type MigrateReply,
  startManagers,
} from '../../src/index.ts';

export function homeOutput(): {
  moved: MigrateReply | null;
  output: string;
  where: Location | null;
} {
  const program = fileURLToPath(new URL('../primes.s', import.meta.url)); // examples/primes.s
  const cluster = Cluster.paper(1); // a Pentium 90 and an i486DX 33 on 10 Mbit/s Ethernet
  const managers = startManagers(cluster); // process, user and migration managers on each host
  managers.run(assembleFile(program), 'primes', 'pentium'); // started for the user at the Pentium
  cluster.world.runUntilTime(30);
  const moved = managers.migrate('primes', 'i486', { strategy: 'demand' });
  cluster.world.runUntilIdle();
  return {
    moved: moved.result(), // { ok: true, result: { outcome: 'committed', ... } }
    output: managers.output('primes'), // as the user at the Pentium saw it, all of it, in order
    where: managers.locate('primes', 'pentium'), // { host: 'i486', home: 'pentium', ... }
  };
}
