/**
 * Sequential, synchronous reading of a file in large chunks with a bounded buffer: `ensure(n)` makes n bytes
 * available at the cursor, `take(n)` hands them out as a view (valid until the next call). The buffer keeps
 * the file's 8-byte alignment so typed-array views over Arrow buffers need no copy. Memory is one chunk,
 * whatever the file size.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

const CHUNK = 8 << 20;

export class ChunkedFile {
  readonly size: number;
  private readonly fd: number;
  private buf = new Uint8Array(0);
  private start = 0;
  private end = 0;
  /** file offset of buf[end] */
  private filePos = 0;
  private eof = false;

  constructor(readonly path: string) {
    this.fd = openSync(path, "r");
    this.size = fstatSync(this.fd).size;
  }

  /** file offset of the cursor */
  get position(): number {
    return this.filePos - (this.end - this.start);
  }

  /** bytes available at the cursor without reading */
  get available(): number {
    return this.end - this.start;
  }

  /** Make at least n bytes available at the cursor; returns how many are (fewer only at end of file). */
  ensure(n: number): number {
    if (this.end - this.start >= n || this.eof) return Math.min(this.end - this.start, n);
    const pos = this.position;
    const rem = this.end - this.start;
    const want = Math.max(CHUNK, n + 8);
    const align = pos & 7;
    if (this.buf.byteLength < want + align || this.start > 0) {
      const next = this.buf.byteLength >= want + align ? this.buf : new Uint8Array(want + align);
      if (next === this.buf) this.buf.copyWithin(align, this.start, this.end);
      else next.set(this.buf.subarray(this.start, this.end), align);
      this.buf = next;
      this.start = align;
      this.end = align + rem;
    }
    while (this.end - this.start < n) {
      const got = readSync(this.fd, this.buf, this.end, this.buf.byteLength - this.end, this.filePos);
      if (got === 0) {
        this.eof = true;
        break;
      }
      this.end += got;
      this.filePos += got;
    }
    return Math.min(this.end - this.start, n);
  }

  /** The next n bytes without moving the cursor (call ensure(n) first); a view into the buffer. */
  peek(n: number): Uint8Array {
    return this.buf.subarray(this.start, this.start + n);
  }

  /** The next n bytes (call ensure(n) first); a view into the buffer. */
  take(n: number): Uint8Array {
    const v = this.buf.subarray(this.start, this.start + n);
    this.start += n;
    return v;
  }

  /** Everything available at the cursor, reading one more chunk if none is; empty at end of file. */
  takeChunk(): Uint8Array {
    if (this.end === this.start) this.ensure(1);
    return this.take(this.end - this.start);
  }

  close(): void {
    closeSync(this.fd);
  }
}
