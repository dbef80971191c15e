/**
 * Streaming line output for commands that print a lot (decode): joins lines into ~64 KiB chunks, waits for
 * 'drain' when the stream is full, and yields to the event loop between chunks so that a closed pipe (EPIPE,
 * e.g. `| head`) stops the command instead of letting it decode the whole file into the void.
 */
import type { Writable } from "node:stream";

const CHUNK = 64 * 1024;

/** Write every line (a newline is added to each). Resolves false if the output was closed early. */
export async function writeLines(lines: Iterable<string>, out: Writable = process.stdout): Promise<boolean> {
  let closed = false;
  const onError = () => {
    closed = true;
  };
  out.on("error", onError);
  try {
    let buf = "";
    for (const line of lines) {
      buf += `${line}\n`;
      if (buf.length >= CHUNK) {
        if (!(await flush(out, buf)) || closed) return false;
        buf = "";
      }
    }
    if (buf.length > 0 && !(await flush(out, buf))) return false;
    return !closed;
  } finally {
    out.off("error", onError);
  }
}

async function flush(out: Writable, chunk: string): Promise<boolean> {
  if (out.destroyed || out.writableEnded) return false;
  const ok = out.write(chunk);
  if (!ok) {
    await new Promise<void>((resolve) => {
      const done = () => {
        out.off("drain", done);
        out.off("error", done);
        out.off("close", done);
        resolve();
      };
      out.on("drain", done);
      out.on("error", done);
      out.on("close", done);
    });
  } else {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return !out.destroyed;
}
