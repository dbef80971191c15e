/**
 * Writes record batches as an Apache Arrow IPC stream (apache-arrow's RecordBatchStreamWriter). Bytes go to
 * the file synchronously with each batch, so a killed process leaves every batch written so far readable.
 * The stream starts with the schema and its metadata, before anything is known about the run's end; so the
 * "svtrace" metadata value is written with METADATA_SLOT spaces of padding, and finish(meta) writes the final
 * metadata (the tracer's cost) over it in place, padded to the same length. JSON ignores the trailing spaces
 * and the flatbuffer's string length stays valid, so the file stays one ordinary Arrow stream. A killed run
 * keeps the metadata of the start (tracer: null). On a file that cannot be rewritten (a pipe) the final
 * metadata goes to a `<file>.meta.json` beside it.
 */
import { fstatSync, writeFileSync, writeSync } from "node:fs";
import {
  AsyncByteQueue,
  type Data,
  Field,
  Int64,
  makeData,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  Uint16,
  Uint32,
  Utf8,
} from "apache-arrow";
import type { RecordColumns } from "./columns.js";
import { contextColumns, FIXED_COLUMNS, type RecordMeta, timeColumn } from "./schema.js";

/** Bytes of spaces after the start metadata, room for what finish() adds (the tracer's cost). */
export const METADATA_SLOT = 8192;

/** The Arrow schema of a record: svID utf8, appid uint16, iteration/smpCnt uint32, tN_ns int64 nullable. */
export function recordArrowSchema(meta: RecordMeta, padding = 0): Schema {
  const [svID, appid, iteration, smpCnt] = FIXED_COLUMNS;
  const fields = [
    new Field(svID, new Utf8(), false),
    new Field(appid, new Uint16(), false),
    new Field(iteration, new Uint32(), false),
    new Field(smpCnt, new Uint32(), false),
    ...meta.points.map((p) => new Field(timeColumn(p), new Int64(), true)),
    // record --context: cpu, tid, pid, durations as uint32; thread names as utf8
    ...contextColumns(meta).map((x) => new Field(x.name, x.kind === "str" ? new Utf8() : new Uint32(), true)),
  ];
  return new Schema(fields, new Map([["svtrace", JSON.stringify(meta) + " ".repeat(padding)]]));
}

/** An AsyncByteQueue that writes straight to a file descriptor instead of queueing. */
class FdSink extends AsyncByteQueue {
  /** bytes written so far, and a copy of the first ones (the schema message) */
  written = 0;
  head: Uint8Array[] = [];
  constructor(private readonly fd: number) {
    super();
  }
  override write(value: Uint8Array): void {
    if (this.written < 1 << 20) this.head.push(value.slice());
    this.written += value.byteLength;
    let off = 0;
    while (off < value.byteLength) off += writeSync(this.fd, value, off, value.byteLength - off);
  }
}

const encoder = new TextEncoder();

function packValidity(valid: Uint8Array, n: number): { bitmap: Uint8Array; nulls: number } {
  const bitmap = new Uint8Array(((n + 63) >> 6) << 3);
  let nulls = 0;
  for (let r = 0; r < n; r++) {
    if (valid[r]) bitmap[r >> 3] = (bitmap[r >> 3] as number) | (1 << (r & 7));
    else nulls++;
  }
  return { bitmap, nulls };
}

export class ArrowRecordSink {
  private readonly writer: RecordBatchStreamWriter;
  private readonly schema: Schema;
  /** file offset and byte length of the padded "svtrace" metadata value */
  private slot: { offset: number; length: number } | undefined;

  constructor(
    private readonly fd: number,
    meta: RecordMeta,
    private readonly path?: string,
  ) {
    const start = JSON.stringify(meta);
    this.schema = recordArrowSchema(meta, METADATA_SLOT);
    this.writer = new RecordBatchStreamWriter();
    const sink = new FdSink(fd);
    // writes the schema message now, so even an empty record carries its metadata
    this.writer.reset(sink, this.schema);
    const head = Buffer.concat(sink.head);
    const at = head.indexOf(Buffer.from(start + " ".repeat(64)));
    let seekable = false;
    try {
      seekable = fstatSync(fd).isFile();
    } catch {
      seekable = false;
    }
    if (at >= 0 && seekable) this.slot = { offset: at, length: Buffer.byteLength(start) + METADATA_SLOT };
  }

  writeBatch(c: RecordColumns): void {
    const n = c.length;
    if (n === 0) return;
    // svID: encode each distinct name once, then lay the bytes out per row
    const encoded = c.names.map((s) => encoder.encode(s));
    let bytes = 0;
    for (let r = 0; r < n; r++) bytes += (encoded[c.stream[r] as number] as Uint8Array).byteLength;
    const offsets = new Int32Array(n + 1);
    const chars = new Uint8Array(bytes);
    let off = 0;
    for (let r = 0; r < n; r++) {
      const e = encoded[c.stream[r] as number] as Uint8Array;
      if (e.byteLength === 1) chars[off] = e[0] as number;
      else chars.set(e, off);
      off += e.byteLength;
      offsets[r + 1] = off;
    }
    const fields = this.schema.fields;
    const children: Data[] = [
      makeData({ type: fields[0]?.type as Utf8, length: n, valueOffsets: offsets, data: chars }),
      makeData({ type: fields[1]?.type as Uint16, length: n, data: c.appid.subarray(0, n) }),
      makeData({ type: fields[2]?.type as Uint32, length: n, data: c.iteration.subarray(0, n) }),
      makeData({ type: fields[3]?.type as Uint32, length: n, data: c.smpCnt.subarray(0, n) }),
      ...c.t.map((col, p) => {
        const v = c.valid[p];
        const type = fields[4 + p]?.type as Int64;
        if (!v) return makeData({ type, length: n, nullCount: 0, data: col.subarray(0, n) });
        const { bitmap, nulls } = packValidity(v, n);
        return makeData({ type, length: n, nullCount: nulls, nullBitmap: bitmap, data: col.subarray(0, n) });
      }),
    ];
    const np = c.t.length;
    (c.extra ?? []).forEach((x, e) => {
      const type = fields[4 + np + e]?.type;
      const pv = x.valid ? packValidity(x.valid, n) : null;
      const validity = pv ? { nullCount: pv.nulls, nullBitmap: pv.bitmap } : { nullCount: 0 };
      if (x.kind !== "str") {
        children.push(
          makeData({ type: type as Uint32, length: n, ...validity, data: x.values.subarray(0, n) }),
        );
        return;
      }
      const enc = x.dict.map((s) => encoder.encode(s));
      let total = 0;
      for (let r = 0; r < n; r++)
        if (!x.valid || x.valid[r]) total += (enc[x.values[r] as number] as Uint8Array).byteLength;
      const offs = new Int32Array(n + 1);
      const buf = new Uint8Array(total);
      let o = 0;
      for (let r = 0; r < n; r++) {
        if (!x.valid || x.valid[r]) {
          const b = enc[x.values[r] as number] as Uint8Array;
          // thread names are at most 15 bytes: a byte loop beats TypedArray.set per row
          for (let k = 0; k < b.length; k++) buf[o + k] = b[k] as number;
          o += b.length;
        }
        offs[r + 1] = o;
      }
      children.push(makeData({ type: type as Utf8, length: n, ...validity, valueOffsets: offs, data: buf }));
    });
    const data = makeData({ type: new Struct(fields), length: n, nullCount: 0, children });
    this.writer.write(new RecordBatch(this.schema, data));
  }

  /** Writes the end-of-stream marker, then the final metadata over the start's (see the file comment). */
  finish(meta?: RecordMeta): void {
    this.writer.close();
    if (!meta) return;
    const text = Buffer.from(JSON.stringify(meta));
    if (this.slot && text.byteLength <= this.slot.length) {
      const value = Buffer.alloc(this.slot.length, 0x20);
      text.copy(value);
      writeSync(this.fd, value, 0, value.byteLength, this.slot.offset);
    } else if (this.path) writeFileSync(`${this.path}.meta.json`, `${JSON.stringify(meta, null, 2)}\n`);
  }
}
