import { BENCH_HELP, benchCommand } from './benchCommand.ts';
import { CHECK_HELP, checkCommand } from './checkCommand.ts';
import { DEMO_HELP, demoCommand } from './demoCommand.ts';
import { UsageError } from './errors.ts';
import { EXEC_HELP, execCommand } from './execCommand.ts';
import { EXPORT_HELP, exportCommand } from './exportCommand.ts';
import { FUZZ_HELP, fuzzCommand } from './fuzzCommand.ts';
import { RUN_HELP, runCommand } from './runCommand.ts';

const HELP = `xmach: Mach-style process migration as XState actors, on a deterministic simulated cluster

usage: npx xmach <command> [flags]

commands:
  demo     run the built-in scenario on the simulated paper cluster (the main job)
  run      run a scenario (hosts, network, programs, migrations, faults) from JSON or YAML
  exec     run one program (assembly source) as a task on a one-host cluster
  export   write every statechart as XState JSON, Mermaid and SCXML
  check    run every model's paths against the real system (model-based tests)
  fuzz     run the seeded fault campaign and check the invariants
  bench    measure performance figures against baselines in the same run
  help     show this help, or a command's: npx xmach help <command>

global flags:
  --help, -h   show help
  --verbose    print stack traces of internal errors`;

const COMMANDS: Record<
  string,
  { run: (argv: string[]) => number | Promise<number>; help: string }
> = {
  demo: { run: demoCommand, help: DEMO_HELP },
  exec: { run: execCommand, help: EXEC_HELP },
  run: { run: runCommand, help: RUN_HELP },
  export: { run: exportCommand, help: EXPORT_HELP },
  check: { run: checkCommand, help: CHECK_HELP },
  fuzz: { run: fuzzCommand, help: FUZZ_HELP },
  bench: { run: benchCommand, help: BENCH_HELP },
};

/** Runs the CLI; returns the exit status. Usage errors print one line and a hint. */
export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const args = argv.filter((a) => a !== '--verbose');
  const [cmd, ...rest] = args;
  try {
    if (cmd === undefined || cmd === '--help' || cmd === '-h') {
      console.log(HELP);
      return 0;
    }
    if (cmd === 'help') {
      const topic = rest[0];
      if (topic === undefined) console.log(HELP);
      else if (COMMANDS[topic]) console.log(COMMANDS[topic].help);
      else throw new UsageError(`help: unknown command "${topic}"`);
      return 0;
    }
    const command = COMMANDS[cmd];
    if (!command) {
      throw new UsageError(
        cmd.startsWith('-') ? `unknown flag "${cmd}"` : `unknown command "${cmd}"`,
      );
    }
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`xmach: ${e.message}`);
      console.error(`hint: ${e.hint}`);
      return 2;
    }
    console.error(`xmach: internal error: ${(e as Error).message ?? String(e)}`);
    if (verbose) console.error((e as Error).stack);
    else console.error('hint: rerun with --verbose for the stack trace');
    return 1;
  }
}
