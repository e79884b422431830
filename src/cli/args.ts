import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './errors.ts';

/** Parses a command's flags strictly: an unknown flag or a missing value is a UsageError. */
export function parseFlags<const T extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  argv: string[],
  spec: T,
) {
  try {
    return parseArgs({ args: argv, options: spec, strict: true, allowPositionals: true });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(`${command}: ${msg}`, `run \`npx xmach ${command} --help\``);
  }
}

/** An integer flag value, or a UsageError naming the flag. */
export function intFlag(
  command: string,
  name: string,
  value: string | undefined,
  fallback: number,
  min = Number.MIN_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(
      `${command}: --${name} must be an integer${min > Number.MIN_SAFE_INTEGER ? ` >= ${min}` : ''}, got "${value}"`,
    );
  return n;
}
