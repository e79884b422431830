import { InspectorUnreachableError } from '../inspect/inspector.ts';
import { UsageError } from './errors.ts';

/** A report file that cannot be written, as one line with a hint. */
export function reportError(command: string, path: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT')
    return new UsageError(
      `${command}: cannot write the report "${path}": no such folder`,
      'create the folder first, or give a path in an existing one',
    );
  if (err.code === 'EISDIR')
    return new UsageError(
      `${command}: cannot write the report "${path}": it is a folder`,
      'give a file name, e.g. --report report.html',
    );
  if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS')
    return new UsageError(
      `${command}: cannot write the report "${path}": permission denied`,
      'give a path you can write to',
    );
  return e as Error;
}

/** The inspector could not be reached (or dropped the connection): one line with a hint. */
export function inspectorError(command: string, e: unknown): Error {
  if (e instanceof InspectorUnreachableError)
    return new UsageError(
      `${command}: --inspect: ${e.message}`,
      'start an inspector server first (e.g. node -e "import(\'@statelyai/inspect/server\').then((m) => m.createInspectorServer())"), or point --inspect-url at one',
    );
  return e as Error;
}
