/** A usage error: printed as one line with a hint, exit status 2, no stack trace. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint = 'run `npx xmach --help` for usage',
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
