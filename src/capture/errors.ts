/**
 * Capture file errors. They are UserErrors: the CLI prints them as one line (`svtrace: <file>: ...`) and exits 1.
 */
import { UserError } from "../errors.js";

export class CaptureError extends UserError {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = "CaptureError";
  }
}

/** Turn an fs error on `path` into a one-line CaptureError naming the problem and what to do. */
export function captureFsError(path: string, err: unknown): CaptureError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return new CaptureError(path, "no such file; check the path");
    case "EACCES":
    case "EPERM":
      return new CaptureError(path, "permission denied; check the file's permissions or run as root");
    case "EISDIR":
      return new CaptureError(path, "is a directory; give a .pcap or .pcapng file");
    default:
      return new CaptureError(path, `cannot read: ${(err as Error)?.message ?? String(err)}`);
  }
}
