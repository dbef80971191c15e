/**
 * Writes record batches as an Apache Arrow IPC stream (apache-arrow's RecordBatchStreamWriter). Bytes go to
 * the file synchronously with each batch, so a killed process leaves every batch written so far readable.
 */
import { writeSync } from "node:fs";
import {
  AsyncByteQueue,
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
import { FIXED_COLUMNS, type RecordMeta, timeColumn } from "./schema.js";

/** The Arrow schema of a record: svID utf8, appid uint16, iteration/smpCnt uint32, tN_ns int64 nullable. */
export function recordArrowSchema(meta: RecordMeta): Schema {
  const [svID, appid, iteration, smpCnt] = FIXED_COLUMNS;
  const fields = [
    new Field(svID, new Utf8(), false),
    new Field(appid, new Uint16(), false),
    new Field(iteration, new Uint32(), false),
    new Field(smpCnt, new Uint32(), false),
    ...meta.points.map((p) => new Field(timeColumn(p), new Int64(), true)),
  ];
  return new Schema(fields, new Map([["svtrace", JSON.stringify(meta)]]));
}

/** An AsyncByteQueue that writes straight to a file descriptor instead of queueing. */
class FdSink extends AsyncByteQueue {
  constructor(private readonly fd: number) {
    super();
  }
  override write(value: Uint8Array): void {
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

  constructor(fd: number, meta: RecordMeta) {
    this.schema = recordArrowSchema(meta);
    this.writer = new RecordBatchStreamWriter();
    // writes the schema message now, so even an empty record carries its metadata
    this.writer.reset(new FdSink(fd), this.schema);
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
    const children = [
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
    const data = makeData({ type: new Struct(fields), length: n, nullCount: 0, children });
    this.writer.write(new RecordBatch(this.schema, data));
  }

  /** Writes the end-of-stream marker. */
  finish(): void {
    this.writer.close();
  }
}
