import { existsSync } from 'node:fs';
import { Cluster } from '../cluster.ts';
import { AssemblyError } from '../cpu/assembler.ts';
import { assembleFile } from '../cpu/sourceFiles.ts';
import { spawn } from '../kernel/loader.ts';
import { HOST_PROFILES, hostProfile } from '../world/profiles.ts';
import { intFlag, parseFlags } from './args.ts';
import { UsageError } from './errors.ts';

export const EXEC_HELP = `xmach exec <program.s> [--host PROFILE] [--seed N] [--json]

Assembles a program and runs it as a task on a one-host cluster, printing its console output.

  --host PROFILE   ${Object.keys(HOST_PROFILES).join(', ')} (default pentium90)
  --seed N         seed of the world (default 1)
  --json           print {"output", "exit", "reason", "instructions", "virtual_ms"}
  --limit MS       stop after MS of virtual time (default 600000)`;

export function execCommand(argv: string[]): number {
  const { values, positionals } = parseFlags('exec', argv, {
    host: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
    limit: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(EXEC_HELP);
    return 0;
  }
  const file = positionals[0];
  if (file === undefined)
    throw new UsageError('exec: missing the program file', 'usage: npx xmach exec <program.s>');
  if (positionals.length > 1)
    throw new UsageError(
      `exec: unexpected argument "${positionals[1]}"`,
      'usage: npx xmach exec <program.s>',
    );
  if (!existsSync(file))
    throw new UsageError(
      `exec: no such program file "${file}"`,
      'examples are in examples/, e.g. examples/primes.s',
    );
  let profile: ReturnType<typeof hostProfile>;
  try {
    profile = hostProfile(values.host ?? 'pentium90');
  } catch (e) {
    throw new UsageError(
      `exec: ${(e as Error).message}`,
      `--host takes one of ${Object.keys(HOST_PROFILES).join(', ')}`,
    );
  }
  const seed = intFlag('exec', 'seed', values.seed, 1);
  const limit = intFlag('exec', 'limit', values.limit, 600_000, 1);
  let image: ReturnType<typeof assembleFile>;
  try {
    image = assembleFile(file, { pageSize: profile.pageSize });
  } catch (e) {
    if (e instanceof AssemblyError)
      throw new UsageError(`exec: ${e.message}`, 'fix the program source');
    throw e;
  }
  const cluster = new Cluster({ seed, hosts: { host: profile } });
  const host = cluster.host('host');
  const task = spawn(host, image, file.replace(/^.*\//, '').replace(/\.s$/, ''));
  if (!values.json)
    task.host.world.trace.events$.subscribe((e) => {
      if (e.kind === 'task.output' && e.task === task.name) process.stdout.write(e.text);
    });
  cluster.world.runUntil(() => task.exit !== null, { until: limit });
  const instructions = task.threads.reduce((n, t) => n + t.instructions, 0);
  const exit = task.exit;
  if (values.json) {
    console.log(
      JSON.stringify(
        {
          output: task.outputText,
          exit: exit?.status ?? null,
          reason: exit?.reason ?? 'still running at the time limit',
          instructions,
          virtual_ms: cluster.world.now(),
        },
        null,
        2,
      ),
    );
  } else if (exit === null) {
    console.error(`xmach: ${task.name} still running after ${limit} ms of virtual time`);
  } else if (exit.reason !== 'exit' && exit.reason !== 'last thread ended') {
    console.error(`xmach: ${task.name} ended: ${exit.reason}`);
  }
  if (exit === null) return 1;
  return exit.reason === 'exit' || exit.reason === 'last thread ended'
    ? exit.status === 0
      ? 0
      : 1
    : 1;
}
