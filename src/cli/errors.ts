/**
 * How every svtrace command prints an error: a UserError (src/errors.ts) as one line, anything else as an
 * internal error with exit status 70.
 */
import { UserError } from "../errors.js";

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
