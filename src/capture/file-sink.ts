/**
 * A buffered, synchronous output file for the capture writers: bytes collect in one fixed buffer and go to
 * the file with writeSync when it fills, so writing millions of small packets costs few system calls.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { CaptureError } from "./errors.js";

export class FileSink {
  buf: Buffer;
  view: DataView;
  pos = 0;
  #fd: number;

  constructor(
    readonly path: string,
    bufferSize = 1 << 20,
  ) {
    try {
      this.#fd = openSync(path, "w");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new CaptureError(
        path,
        `cannot create: ${code ?? (err as Error).message}; check the directory and permissions`,
      );
    }
    this.buf = Buffer.allocUnsafe(bufferSize);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Make room for n bytes at pos (flushing, or growing for a single huge record). */
  reserve(n: number): void {
    if (this.#fd < 0) throw new CaptureError(this.path, "write after close");
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) {
      this.buf = Buffer.allocUnsafe(n);
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    }
  }

  flush(): void {
    let off = 0;
    while (off < this.pos) off += writeSync(this.#fd, this.buf, off, this.pos - off);
    this.pos = 0;
  }

  close(): void {
    if (this.#fd < 0) return;
    try {
      this.flush();
    } finally {
      closeSync(this.#fd);
      this.#fd = -1;
    }
  }
}
