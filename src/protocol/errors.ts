import { type ReturnCodeName, returnCode } from './returnCodes.ts';

/**
 * A failed Mach call: carries the Mach return code (numeric and by name) and says what was wrong.
 * Operations that throw it have changed nothing (see each call's documentation).
 */
export class MachError extends Error {
  readonly code: number;
  readonly codeName: ReturnCodeName;
  readonly detail: string;

  constructor(codeName: ReturnCodeName, detail: string) {
    super(`${codeName}: ${detail}`);
    this.name = 'MachError';
    this.codeName = codeName;
    this.code = returnCode(codeName);
    this.detail = detail;
  }
}

export function isMachError(e: unknown, codeName?: ReturnCodeName): e is MachError {
  return e instanceof MachError && (codeName === undefined || e.codeName === codeName);
}
