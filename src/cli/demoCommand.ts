import { runIpcDemo } from '../demo/ipcDemo.ts';
import { demoJson, type MigrationDemo, runMigrationDemo } from '../demo/migrationDemo.ts';
import { observeMigrations } from '../inspect/clusterHook.ts';
import {
  connectInspector,
  DEFAULT_INSPECT_URL,
  type InspectSession,
} from '../inspect/inspector.ts';
import { STRATEGIES, type Strategy } from '../protocol/migration.ts';
import { reportFromDemo, writeReport } from '../report/index.ts';
import { HOST_PROFILES } from '../world/profiles.ts';
import type { TraceEvent } from '../world/trace.ts';
import { intFlag, parseFlags } from './args.ts';
import { UsageError } from './errors.ts';
import { inspectorError, reportError } from './outputs.ts';

export const DEMO_HELP = `xmach demo [--seed N] [--strategy S] [--program FILE.s] [--json] [--report FILE.html]
           [--inspect] [--ipc]

The paper's scenario on the simulated cluster: a Pentium 90 (32 MB) and an i486DX 33 (8 MB) on
10 Mbit/s Ethernet. A task that computes and prints is migrated mid-run from the Pentium to the
i486 with each memory strategy, and once with the network cut during the copy, which rolls back
to the duplicate. Prints the timeline of the seven steps in virtual time, a metrics table, and
whether each run printed exactly what an unmigrated run prints.

  --seed N          seed of the world (default 1); same seed, same run
  --strategy S      only this strategy: ${STRATEGIES.join(', ')}
  --program FILE.s  the program to migrate (default examples/primes.s)
  --json            print {"migrations": [{"strategy", "committed", "phases", "freeze_ms",
                    "total_ms", "bytes", "remote_faults", "output_matches_reference"}...]}
  --report FILE.html  also write a self-contained HTML report: the timeline of each run's
                    steps per host, and the strategies compared as charts (freeze, total, bytes)
  --inspect         send the XState inspection events of the migrated runs to a Stately
                    inspector over WebSocket
  --inspect-url URL the inspector's WebSocket (default ${DEFAULT_INSPECT_URL}; implies --inspect)
  --ipc             the Mach IPC scenario instead (a key-value server as an XState machine)`;

export function demoCommand(argv: string[]): number | Promise<number> {
  const { values } = parseFlags('demo', argv, {
    seed: { type: 'string' },
    strategy: { type: 'string' },
    program: { type: 'string' },
    json: { type: 'boolean' },
    report: { type: 'string' },
    inspect: { type: 'boolean' },
    'inspect-url': { type: 'string' },
    ipc: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(DEMO_HELP);
    return 0;
  }
  const seed = intFlag('demo', 'seed', values.seed, 1);
  if (values.ipc) return ipcDemo(seed, values.json ?? false);
  const strategy = values.strategy;
  if (strategy !== undefined && !STRATEGIES.includes(strategy as Strategy)) {
    throw new UsageError(
      `demo: unknown strategy "${strategy}"`,
      `--strategy takes one of ${STRATEGIES.join(', ')}`,
    );
  }
  const inspectUrl = values['inspect-url'] ?? (values.inspect ? DEFAULT_INSPECT_URL : undefined);
  if (inspectUrl === undefined) return finishDemo(runDemo(values, seed, strategy, null), values);
  return (async () => {
    let session: InspectSession;
    try {
      session = await connectInspector(inspectUrl);
    } catch (e) {
      throw inspectorError('demo', e);
    }
    let demo: MigrationDemo;
    try {
      demo = runDemo(values, seed, strategy, session);
    } finally {
      await session.close().catch((e) => {
        throw inspectorError('demo', e);
      });
    }
    if (!values.json)
      console.error(`inspector: ${session.sent} inspection events sent to ${inspectUrl}`);
    return finishDemo(demo, values);
  })();
}

interface DemoFlags {
  readonly program?: string | undefined;
  readonly json?: boolean | undefined;
  readonly report?: string | undefined;
}

function runDemo(
  values: DemoFlags,
  seed: number,
  strategy: string | undefined,
  session: InspectSession | null,
): MigrationDemo {
  const run = () =>
    runMigrationDemo({
      seed,
      ...(values.program ? { program: values.program } : {}),
      ...(strategy ? { strategies: [strategy as Strategy] } : {}),
    });
  try {
    return session === null
      ? run()
      : observeMigrations((cluster, m) => {
          session.attachCluster(cluster);
          session.attachMigration(m);
        }, run);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT')
      throw new UsageError(
        `demo: no such program file "${values.program}"`,
        'examples are in examples/, e.g. examples/primes.s',
      );
    if (err.name === 'AssemblyError')
      throw new UsageError(`demo: ${err.message}`, 'fix the program source');
    throw e;
  }
}

function finishDemo(demo: MigrationDemo, values: DemoFlags): number {
  if (values.report !== undefined) {
    try {
      writeReport(values.report, reportFromDemo(demo));
    } catch (e) {
      throw reportError('demo', values.report, e);
    }
  }
  const ok = demo.runs.every((r) => r.outputMatches);
  if (values.json) {
    console.log(JSON.stringify(demoJson(demo), null, 2));
    return ok ? 0 : 1;
  }
  printDemo(demo);
  if (values.report !== undefined) console.log(`\nreport: ${values.report}`);
  return ok ? 0 : 1;
}

function printDemo(d: MigrationDemo): void {
  const p = HOST_PROFILES;
  console.log(`xmach demo: migrating a running task between the paper's hosts (seed ${d.seed})`);
  console.log(
    `hosts: pentium (${p.pentium90.description}) and i486 (${p.i486dx33.description}), 10 Mbit/s Ethernet`,
  );
  console.log(
    `program: ${d.program}; unmigrated it runs ${d.referenceMs.toFixed(1)} ms; each run migrates it at ${d.migrateAtMs} ms\n`,
  );
  for (const r of d.runs) {
    const res = r.result;
    console.log(
      `== ${r.label}: ${res.outcome}${res.reason ? ` (${res.failedStep}: ${res.reason})` : ''}`,
    );
    for (const ph of res.phases) {
      console.log(
        `   ${ph.step.padEnd(10)} ${ph.start_ms.toFixed(3).padStart(11)} -> ${ph.end_ms.toFixed(3).padStart(11)} ms`,
      );
    }
    console.log(`   output ${r.outputMatches ? 'matches' : 'DIFFERS FROM'} the unmigrated run\n`);
  }
  console.log(
    'strategy                             outcome      freeze ms   total ms      bytes  remote faults  output',
  );
  for (const r of d.runs) {
    const res = r.result;
    console.log(
      `${r.label.padEnd(36)} ${res.outcome.padEnd(11)} ${res.freezeMs.toFixed(2).padStart(10)} ${res.totalMs.toFixed(2).padStart(10)} ${String(res.bytes).padStart(10)} ${String(res.remoteFaults).padStart(14)}  ${r.outputMatches ? 'matches' : 'DIFFERS'}`,
    );
  }
}

function ipcDemo(seed: number, json: boolean): number {
  const r = runIpcDemo(seed);
  if (json) {
    console.log(JSON.stringify(r, null, 2));
    return r.invariantViolations.length === 0 ? 0 : 1;
  }
  console.log(`xmach demo --ipc (seed ${seed}): Mach IPC on host "pentium", virtual time in ms\n`);
  for (const e of r.trace) {
    const line = describe(e);
    if (line) console.log(`${e.time.toFixed(3).padStart(9)}  ${line}`);
  }
  console.log('\nreplies:');
  for (const x of r.replies)
    console.log(
      `  ${x.client.padEnd(9)} ${JSON.stringify(x.request).padEnd(38)} -> ${JSON.stringify(x.reply)}`,
    );
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
