import { runIpcDemo } from '../demo/ipcDemo.ts';
import type { TraceEvent } from '../world/trace.ts';
import { intFlag, parseFlags } from './args.ts';

export const DEMO_HELP = `xmach demo [--seed N] [--json]

Runs the built-in scenario on the simulated paper cluster (Pentium 90 + i486DX 33 on 10 Mbit/s
Ethernet): a key-value server written as an XState machine, one client drained as an actor
mailbox and one as a blocked receiver, a malformed request, an invalid name, and the server's exit
on its no-senders notification. Prints a timeline in virtual time.

  --seed N   seed of the world (default 1); same seed, same trace
  --json     print one JSON document instead of the timeline`;

export function demoCommand(argv: string[]): number {
  const { values } = parseFlags('demo', argv, {
    seed: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(DEMO_HELP);
    return 0;
  }
  const seed = intFlag('demo', 'seed', values.seed, 1);
  const r = runIpcDemo(seed);
  if (values.json) {
    console.log(JSON.stringify({ ...r, trace: r.trace }, null, 2));
    return r.invariantViolations.length === 0 ? 0 : 1;
  }
  console.log(`xmach demo (seed ${seed}): Mach IPC on host "pentium", virtual time in ms\n`);
  for (const e of r.trace) {
    const line = describe(e);
    if (line) console.log(`${e.time.toFixed(3).padStart(9)}  ${line}`);
  }
  console.log('\nreplies:');
  for (const x of r.replies) {
    console.log(
      `  ${x.client.padEnd(9)} ${JSON.stringify(x.request).padEnd(38)} -> ${JSON.stringify(x.reply)}`,
    );
  }
  console.log(`\nrefused: ${r.refused.join('; ')}`);
  console.log(`server: ${r.served} served, ${r.rejected} rejected, final state "${r.serverState}"`);
  console.log(
    `right accounting: ${r.invariantViolations.length === 0 ? 'consistent' : r.invariantViolations.join('; ')}`,
  );
  console.log(
    `trace digest: ${r.digest} (${r.trace.length} events, ends at ${r.endMs.toFixed(3)} ms)`,
  );
  return r.invariantViolations.length === 0 ? 0 : 1;
}

function describe(e: TraceEvent): string | null {
  switch (e.kind) {
    case 'ipc.send':
      return `${e.from.padEnd(10)} send     id ${e.id} -> ${e.portLabel} (${e.size} bytes)`;
    case 'ipc.receive':
      return `${e.to.padEnd(10)} receive  id ${e.id} from ${e.portLabel} (seqno ${e.seqno})`;
    case 'ipc.notify':
      return `${'kernel'.padEnd(10)} notify   ${e.notification}`;
    case 'ipc.port-dead':
      return `${'kernel'.padEnd(10)} port ${e.portLabel} died (${e.destroyedMessages} queued messages destroyed)`;
    case 'ipc.block':
      return `${e.space.padEnd(10)} blocks in ${e.op}`;
    case 'ipc.timeout':
      return `${e.space.padEnd(10)} ${e.op} timed out`;
    default:
      return null;
  }
}
