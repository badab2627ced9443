// How the CLI reports failure: one line naming the problem, never a stack trace (unless SRQ_DEBUG is set).

/** A problem with what the user asked for (bad flag, missing file): exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Exit codes: 0 ok, 1 a check failed (e.g. a quality gate), 2 usage or input error. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export function reportError(e: unknown): number {
  const message = e instanceof Error ? e.message : String(e);
  console.error(`srq: ${message.split('\n')[0]}`);
  if (process.env.SRQ_DEBUG && e instanceof Error) console.error(e.stack);
  return EXIT_USAGE;
}
