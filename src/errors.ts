/**
 * User-facing errors: one line naming the problem and what to do, and a non-zero exit status.
 * Every layer throws them; only the CLI (src/cli/errors.ts) prints them. Anything that is not a UserError is
 * a bug and is reported as an internal error.
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
