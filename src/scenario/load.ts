import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { type Scenario, ScenarioError, validateScenario } from './schema.ts';

/**
 * Reads a scenario file: `.json` as JSON, `.yaml`/`.yml` as YAML (the `yaml` package, YAML 1.2).
 * Syntax errors become ScenarioErrors with the line and column; program paths are relative to
 * the file's folder.
 */
export function loadScenario(path: string): Scenario {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ScenarioError(
      '',
      code === 'ENOENT'
        ? `no such scenario file "${path}"`
        : code === 'EISDIR'
          ? `"${path}" is a folder, not a scenario file`
          : `cannot read "${path}": ${(e as Error).message}`,
    );
  }
  return validateScenario(parseScenarioText(text, path), { baseDir: dirname(file), file });
}

/** Parses scenario text by the file name's extension (JSON unless it ends in .yaml or .yml). */
export function parseScenarioText(text: string, fileName: string): unknown {
  const ext = extname(fileName).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') {
    try {
      return parseYaml(text, { prettyErrors: true, uniqueKeys: true });
    } catch (e) {
      if (e instanceof YAMLParseError) {
        const pos = e.linePos?.[0];
        const where = pos ? `${fileName}:${pos.line}:${pos.col}` : fileName;
        const first = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        throw new ScenarioError('', `${where}: YAML syntax error: ${first}`);
      }
      throw e;
    }
  }
  if (ext !== '.json')
    throw new ScenarioError(
      '',
      `"${fileName}" is neither .json nor .yaml/.yml: cannot tell how to read it`,
    );
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message
      .split('\n')[0]!
      .replace(/, ".*$/, '')
      .replace(/ in JSON at.*$/, '');
    throw new ScenarioError(
      '',
      `${jsonErrorPlace(text, (e as Error).message, fileName)}: JSON syntax error: ${msg}`,
    );
  }
}

/** file:line:col of a JSON syntax error (JSON is YAML 1.2, whose parser reports positions). */
function jsonErrorPlace(text: string, message: string, fileName: string): string {
  const at = /position (\d+)/.exec(message);
  if (at) {
    const before = text.slice(0, Number(at[1]));
    return `${fileName}:${before.split('\n').length}:${before.length - before.lastIndexOf('\n')}`;
  }
  try {
    parseYaml(text, { prettyErrors: true });
  } catch (e) {
    const pos = e instanceof YAMLParseError ? e.linePos?.[0] : undefined;
    if (pos) return `${fileName}:${pos.line}:${pos.col}`;
  }
  return fileName;
}
