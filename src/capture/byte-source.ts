/**
 * A file read forward through one fixed-size buffer (memory does not grow with file size).
 * `need(n)` makes n bytes available at `pos`, moving the unread tail to the front and reading more;
 * the buffer grows only when a single record is larger than it.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { forgetView, viewOf } from "../sv/byte-views.js";
import { CaptureError, captureFsError } from "./errors.js";

/** no record in a capture may be larger than this (a sign of a corrupt length field) */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export class ByteSource {
  buf: Buffer;
  view: DataView;
  /** buf.buffer and buf.byteOffset, kept here: reading them from buf costs ~20 ns each (not inlined by V8) */
  arrayBuffer: ArrayBufferLike;
  bufOffset: number;
  /** read cursor in buf */
  pos = 0;
  /** end of valid bytes in buf */
  end = 0;
  /** file offset of buf[0] */
  base = 0;
  eof = false;
  readonly size: number;
  #fd: number;

  constructor(
    readonly path: string,
    bufferSize: number,
  ) {
    try {
      this.#fd = openSync(path, "r");
    } catch (err) {
      throw captureFsError(path, err);
    }
    try {
      const st = fstatSync(this.#fd);
      if (st.isDirectory()) throw Object.assign(new Error("directory"), { code: "EISDIR" });
      this.size = st.size;
    } catch (err) {
      this.close();
      throw captureFsError(path, err);
    }
    this.buf = Buffer.allocUnsafe(Math.max(4096, bufferSize));
    this.arrayBuffer = this.buf.buffer;
    this.bufOffset = this.buf.byteOffset;
    this.view = new DataView(this.arrayBuffer, this.bufOffset, this.buf.byteLength);
  }

  /** A view of buf[off, off + len) (no copy; valid until the next need()); see sv/byte-views.ts. */
  bytes(off: number, len: number): Uint8Array {
    return viewOf(this.arrayBuffer, this.bufOffset + off, len);
  }

  /** bytes available from pos */
  get available(): number {
    return this.end - this.pos;
  }

  /** file offset of pos */
  get offset(): number {
    return this.base + this.pos;
  }

  /** Make n bytes available at pos; false if the file ends first. Invalidates views of earlier bytes. */
  need(n: number): boolean {
    if (this.end - this.pos >= n) return true;
    if (n > MAX_RECORD_BYTES)
      throw new CaptureError(this.path, `record of ${n} bytes at offset ${this.offset}: the file is corrupt`);
    if (this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.end);
      this.base += this.pos;
      this.end -= this.pos;
      this.pos = 0;
    }
    if (n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.end);
      this.buf = bigger;
      this.arrayBuffer = bigger.buffer;
      this.bufOffset = bigger.byteOffset;
      this.view = new DataView(bigger.buffer, bigger.byteOffset, bigger.byteLength);
    }
    while (this.end < n && !this.eof) {
      let got: number;
      try {
        got = readSync(this.#fd, this.buf, this.end, this.buf.length - this.end, null);
      } catch (err) {
        throw captureFsError(this.path, err);
      }
      if (got === 0) this.eof = true;
      this.end += got;
    }
    return this.end - this.pos >= n;
  }

  close(): void {
    forgetView();
    if (this.#fd >= 0) {
      try {
        closeSync(this.#fd);
      } catch {
        // already closed
      }
      this.#fd = -1;
    }
  }
}
