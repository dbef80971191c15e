/**
 * User-facing errors: one line naming the problem and what to do, and a non-zero exit status.
 * Anything that is not a UserError is a bug and is reported as an internal error.
 */

export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "UserError";
  }
}

/** Throw a UserError: `fail("cannot read x.pcap: no such file; check the path")`. */
export function fail(message: string, exitCode = 1): never {
  throw new UserError(message, exitCode);
}

/** Print an error the way every svtrace command does and return the exit status to use. */
export function reportError(err: unknown): number {
  if (err instanceof UserError) {
    process.stderr.write(`svtrace: ${err.message}\n`);
    return err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === "object" && e.code === "EPIPE") return 0; // output closed (e.g. `| head`): not an error
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(
    `svtrace: internal error: ${msg} (set SVTRACE_DEBUG=1 for a stack trace; please report it)\n`,
  );
  if (process.env.SVTRACE_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  return 70;
}
