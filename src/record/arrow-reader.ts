/**
 * Streaming reader for svtrace records in the Apache Arrow IPC stream format. apache-arrow's own reader
 * decodes the flatbuffer message headers; the body buffers (the columns) are used in place in the file chunk
 * (views, no copy: a batch is valid until the next one is read), which keeps 48M-row records fast and memory
 * flat. A file cut mid-batch (a killed
 * recording) yields every complete batch and then a warning naming the incomplete one.
 */
import { DataType, type Field, Message, MessageHeader, type Schema } from "apache-arrow";
import { ChunkedFile } from "./chunked-file.js";
import type { ExtraColumn, RecordColumns } from "./columns.js";
import { badInput, fnv1a, inferredMeta, NameBytes, NameTable, type RecordInput } from "./input.js";
import { EXTRA_COLUMN, type ExtraKind, extraKind, type PointMeta, type RecordMeta } from "./schema.js";

const CONTINUATION = 0xffffffff;
const POINT_COLUMN = /^(t\d+[a-z]?)_ns$/;

interface BodyRegion {
  offset: number;
  length: number;
}

interface RecordBatchHeader {
  length: number;
  nodes: { length: number; nullCount: number }[];
  buffers: BodyRegion[];
  compression: unknown;
}

interface RecentName {
  bytes: Uint8Array;
  index: number;
}

interface DictionaryBatchHeader {
  id: number;
  isDelta: boolean;
  data: RecordBatchHeader;
}

/** Where each wanted column's buffers sit among a batch's buffers. */
interface ColumnPlan {
  svID: number;
  appid: number;
  iteration: number;
  smpCnt: number;
  points: number[];
  /** context columns (record --context): field index, name, kind */
  extras: { field: number; name: string; kind: ExtraKind }[];
  /** index of the first buffer (validity) of each field */
  firstBuffer: number[];
  fields: Field[];
}

function buffersOf(field: Field, path: string): number {
  const t = field.type;
  if (DataType.isDictionary(t)) return 2; // validity + indices; the values come in dictionary batches
  if (DataType.isUtf8(t) || DataType.isBinary(t)) return 3;
  if (DataType.isInt(t) || DataType.isFloat(t) || DataType.isTimestamp(t) || DataType.isBool(t)) return 2;
  return badInput(path, "schema", `column ${field.name} has type ${t}, which svtrace records do not use`);
}

function planColumns(schema: Schema, path: string): ColumnPlan {
  const fields = schema.fields;
  const firstBuffer: number[] = [];
  let b = 0;
  for (const f of fields) {
    if (
      DataType.isStruct(f.type) ||
      DataType.isList(f.type) ||
      (DataType.isDictionary(f.type) && f.name !== "svID")
    )
      badInput(path, "schema", `column ${f.name} is ${f.type}; svtrace records have flat columns`);
    firstBuffer.push(b);
    b += buffersOf(f, path);
  }
  const find = (name: string): number => {
    const i = fields.findIndex((f) => f.name === name);
    if (i < 0)
      badInput(
        path,
        "schema",
        `no ${name} column (columns: ${fields.map((f) => f.name).join(", ")}); not an svtrace record`,
      );
    return i;
  };
  const plan: ColumnPlan = {
    svID: find("svID"),
    appid: find("appid"),
    iteration: find("iteration"),
    smpCnt: find("smpCnt"),
    points: [],
    extras: [],
    firstBuffer,
    fields,
  };
  const svType = fields[plan.svID]?.type;
  if (!DataType.isUtf8(svType) && !(DataType.isDictionary(svType) && DataType.isUtf8(svType.dictionary)))
    badInput(path, "schema", "column svID is not utf8 (or dictionary-encoded utf8)");
  for (const name of ["appid", "iteration", "smpCnt"] as const) {
    const t = fields[plan[name]]?.type;
    if (!DataType.isInt(t) || t.bitWidth > 32)
      badInput(path, "schema", `column ${name} is ${t}, expected an integer of 32 bits or less`);
  }
  fields.forEach((f, i) => {
    if (!POINT_COLUMN.test(f.name)) return;
    const t = f.type;
    if (!((DataType.isInt(t) && t.bitWidth === 64) || DataType.isTimestamp(t)))
      badInput(path, "schema", `column ${f.name} is ${t}, expected int64 nanoseconds`);
    plan.points.push(i);
  });
  if (plan.points.length === 0) badInput(path, "schema", "no tN_ns timestamp column; not an svtrace record");
  fields.forEach((f, i) => {
    const m = EXTRA_COLUMN.exec(f.name);
    if (!m) return;
    const kind = extraKind(m[2] as string);
    const t = f.type;
    if (kind === "str" ? !DataType.isUtf8(t) : !(DataType.isInt(t) && t.bitWidth === 32 && !t.isSigned))
      badInput(path, "schema", `column ${f.name} is ${t}, expected ${kind === "str" ? "utf8" : "uint32"}`);
    plan.extras.push({ field: i, name: f.name, kind });
  });
  return plan;
}

function parseMeta(schema: Schema, plan: ColumnPlan, path: string): { meta: RecordMeta; hasMeta: boolean } {
  const names = plan.points.map(
    (i) => (POINT_COLUMN.exec(plan.fields[i]?.name ?? "") as RegExpExecArray)[1] as string,
  );
  const raw = schema.metadata.get("svtrace");
  if (raw === undefined) return { meta: inferredMeta(names, "unknown"), hasMeta: false };
  let meta: RecordMeta;
  try {
    meta = JSON.parse(raw) as RecordMeta;
  } catch {
    return badInput(path, "schema metadata", "the svtrace metadata is not valid JSON");
  }
  if (!meta || typeof meta !== "object" || !Array.isArray(meta.points))
    badInput(path, "schema metadata", "the svtrace metadata has no points list");
  // the columns are the truth: keep metadata labels for points that have a column
  const byName = new Map(meta.points.map((p) => [p.name, p] as const));
  const points: PointMeta[] = names.map(
    (n) => byName.get(n) ?? { name: n, label: n.toUpperCase(), probe: "unknown" },
  );
  return { meta: { ...meta, points }, hasMeta: true };
}

const decoder = new TextDecoder("utf-8", { fatal: false });

/** Integer column of any width <= 32 bits into the wanted unsigned array type. */
function intColumn<T extends Uint16Array | Uint32Array>(
  field: Field,
  bytes: Uint8Array,
  n: number,
  make: (n: number) => T,
): T {
  const t = field.type as { bitWidth: number; isSigned: boolean };
  const out = make(0);
  // the stored type is the wanted one: a view, no copy (valid until the next batch)
  if (!t.isSigned && t.bitWidth === out.BYTES_PER_ELEMENT * 8)
    return (
      out.BYTES_PER_ELEMENT === 2
        ? new Uint16Array(bytes.buffer, bytes.byteOffset, n)
        : new Uint32Array(bytes.buffer, bytes.byteOffset, n)
    ) as T;
  const copy = make(n);
  const src =
    t.bitWidth === 8
      ? t.isSigned
        ? new Int8Array(bytes.buffer, bytes.byteOffset, n)
        : new Uint8Array(bytes.buffer, bytes.byteOffset, n)
      : t.bitWidth === 16
        ? t.isSigned
          ? new Int16Array(bytes.buffer, bytes.byteOffset, n)
          : new Uint16Array(bytes.buffer, bytes.byteOffset, n)
        : t.isSigned
          ? new Int32Array(bytes.buffer, bytes.byteOffset, n)
          : new Uint32Array(bytes.buffer, bytes.byteOffset, n);
  copy.set(src as never);
  return copy;
}

function unpackValidity(bitmap: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let r = 0; r < n; r++) out[r] = ((bitmap[r >> 3] as number) >> (r & 7)) & 1;
  return out;
}

export class ArrowRecordReader implements RecordInput {
  readonly kind = "arrow" as const;
  readonly identity = true;
  readonly meta: RecordMeta;
  readonly hasMeta: boolean;
  readonly warnings: string[] = [];
  private readonly file: ChunkedFile;
  private readonly plan: ColumnPlan;
  private readonly table = new NameTable();
  private readonly nameBytes = new NameBytes(this.table);
  /** names seen so far (up to 64), in the order first seen, for decodeRows */
  private readonly recent: RecentName[] = [];
  private nRows = 0;
  private batchNo = 0;
  /** dictionary-encoded svID: the values of each dictionary id, as NameTable indices */
  private readonly dictionaries = new Map<number, number[]>();

  constructor(readonly path: string) {
    this.file = new ChunkedFile(path);
    try {
      const first = this.nextMessage();
      if (!first || first.message.headerType !== MessageHeader.Schema)
        badInput(path, "start", "not an Arrow IPC stream (no schema message); is it an Arrow *file* or CSV?");
      const schema = first.message.header() as Schema;
      this.plan = planColumns(schema, path);
      const m = parseMeta(schema, this.plan, path);
      this.meta = m.meta;
      this.hasMeta = m.hasMeta;
    } catch (e) {
      this.file.close();
      throw e;
    }
  }

  get size(): number {
    return this.file.size;
  }
  get bytesRead(): number {
    return this.file.position;
  }
  get rows(): number {
    return this.nRows;
  }

  /** The next message: header and body; null at a clean end. Records truncation as a warning. */
  private nextMessage(): { message: Message; body: Uint8Array } | null {
    const f = this.file;
    const at = f.position;
    const got = f.ensure(8);
    if (got === 0) {
      if (at > 0)
        this.warnings.push(
          `${this.path}: no end-of-stream marker after batch ${this.batchNo} (the recording was stopped abruptly); all ${this.nRows} rows before it were read`,
        );
      return null;
    }
    if (got < 4) return this.truncated(at, "message header");
    const head = f.take(4);
    let len = head[0]! | (head[1]! << 8) | (head[2]! << 16) | (head[3]! << 24);
    if (len >>> 0 === CONTINUATION) {
      if (f.ensure(4) < 4) return this.truncated(at, "message length");
      const l = f.take(4);
      len = l[0]! | (l[1]! << 8) | (l[2]! << 16) | (l[3]! << 24);
    }
    if (len === 0) return null; // end-of-stream marker
    if (len < 0 || len > 1 << 30)
      badInput(
        this.path,
        `byte ${at}`,
        `bad Arrow message length ${len}; the file is corrupt or not an Arrow IPC stream`,
      );
    if (f.ensure(len) < len) return this.truncated(at, "message header");
    let message: Message;
    try {
      message = Message.decode(f.take(len).slice());
    } catch (e) {
      return badInput(this.path, `byte ${at}`, `unreadable Arrow message (${(e as Error).message})`);
    }
    const bodyLength = Number(message.bodyLength);
    if (f.ensure(bodyLength) < bodyLength) return this.truncated(at, "batch body");
    return { message, body: f.take(bodyLength) };
  }

  private truncated(at: number, what: string): null {
    this.warnings.push(
      `${this.path}: truncated in batch ${this.batchNo + 1} (${what} at byte ${at} of ${this.file.size}); read the ${this.batchNo} complete batches (${this.nRows} rows) before it`,
    );
    return null;
  }

  *batches(): Generator<RecordColumns> {
    for (;;) {
      const msg = this.nextMessage();
      if (!msg) return;
      const type = msg.message.headerType;
      if (type === MessageHeader.DictionaryBatch) {
        this.readDictionary(msg.message.header() as unknown as DictionaryBatchHeader, msg.body);
        continue;
      }
      if (type !== MessageHeader.RecordBatch) continue;
      const header = msg.message.header() as unknown as RecordBatchHeader;
      this.batchNo++;
      yield this.decodeBatch(header, msg.body);
    }
  }

  private decodeBatch(h: RecordBatchHeader, body: Uint8Array): RecordColumns {
    const where = `batch ${this.batchNo}`;
    if (h.compression)
      badInput(
        this.path,
        where,
        "compressed Arrow batches are not supported; write the record without compression",
      );
    const n = Number(h.length);
    const plan = this.plan;
    const region = (field: number, k: number): Uint8Array => {
      const b = h.buffers[(plan.firstBuffer[field] as number) + k];
      if (!b) return badInput(this.path, where, `missing buffer ${k} of column ${plan.fields[field]?.name}`);
      const off = Number(b.offset);
      const len = Number(b.length);
      if (off < 0 || off + len > body.byteLength)
        badInput(this.path, where, `column ${plan.fields[field]?.name} lies outside the batch body`);
      return body.subarray(off, off + len);
    };
    const need = (field: number, k: number, bytes: number): Uint8Array => {
      const r = region(field, k);
      if (r.byteLength < bytes)
        badInput(this.path, where, `column ${plan.fields[field]?.name} is shorter than its ${n} rows`);
      if (r.byteOffset & 7) return r.slice(); // realign (never for files svtrace writes)
      return r;
    };
    const node = (field: number) => h.nodes[field] ?? badInput(this.path, where, "missing field node");
    if (Number(node(plan.svID).length) !== n) badInput(this.path, where, "column lengths disagree");

    const stream = new Uint32Array(n);
    const svType = plan.fields[plan.svID]?.type;
    if (DataType.isDictionary(svType)) {
      const dict = this.dictionaries.get(Number(svType.id));
      if (!dict) badInput(this.path, where, "svID refers to a dictionary that was never sent");
      const idx = intColumn(
        { type: svType.indices } as Field,
        need(plan.svID, 1, n * (svType.indices.bitWidth / 8)),
        n,
        (k) => new Uint32Array(k),
      );
      for (let r = 0; r < n; r++) {
        const v = dict[idx[r] as number];
        if (v === undefined)
          badInput(this.path, where, `svID dictionary index ${idx[r]} out of range at row ${r}`);
        stream[r] = v;
      }
    } else {
      // svID: compare each row's bytes with the previous row's, decode only when they differ
      const offBytes = need(plan.svID, 1, (n + 1) * 4);
      const offsets = new Int32Array(offBytes.buffer, offBytes.byteOffset, n + 1);
      const chars = region(plan.svID, 2);
      if (!this.decodeUniform(offsets, chars, n, stream))
        this.decodeRows(offsets, chars, n, stream, chars.byteLength, where);
    }
    const f = plan.fields;
    const ints = <T extends Uint16Array | Uint32Array>(col: number, make: (k: number) => T): T => {
      const field = f[col] as Field;
      const width = (field.type as { bitWidth: number }).bitWidth / 8;
      return intColumn(field, need(col, 1, n * width), n, make);
    };
    const appid = ints(plan.appid, (k) => new Uint16Array(k));
    const iteration = ints(plan.iteration, (k) => new Uint32Array(k));
    const smpCnt = ints(plan.smpCnt, (k) => new Uint32Array(k));
    const t: BigInt64Array[] = [];
    const valid: (Uint8Array | null)[] = [];
    for (const p of plan.points) {
      const bytes = need(p, 1, n * 8);
      t.push(new BigInt64Array(bytes.buffer, bytes.byteOffset, n)); // a view into the file chunk
      const nulls = Number(node(p).nullCount);
      if (nulls > 0) {
        const bm = region(p, 0);
        if (bm.byteLength < (n + 7) >> 3)
          badInput(this.path, where, `column ${f[p]?.name} has a short validity bitmap`);
        valid.push(unpackValidity(bm, n));
      } else valid.push(null);
    }
    this.nRows += n;
    const out: RecordColumns = {
      length: n,
      names: this.table.names,
      stream,
      appid,
      iteration,
      smpCnt,
      t,
      valid,
    };
    if (plan.extras.length > 0)
      out.extra = plan.extras.map((x) => this.extraColumn(x, n, region, need, node));
    return out;
  }

  /** A context column of this batch (uint32 as a view; utf8 through a per-batch dictionary). */
  private extraColumn(
    x: { field: number; name: string; kind: ExtraKind },
    n: number,
    region: (field: number, k: number) => Uint8Array,
    need: (field: number, k: number, bytes: number) => Uint8Array,
    node: (field: number) => { nullCount: number },
  ): ExtraColumn {
    const nulls = Number(node(x.field).nullCount);
    const valid = nulls > 0 ? unpackValidity(region(x.field, 0), n) : null;
    if (x.kind !== "str") {
      const b = need(x.field, 1, n * 4);
      return {
        name: x.name,
        kind: x.kind,
        values: new Uint32Array(b.buffer, b.byteOffset, n),
        valid,
        dict: [],
      };
    }
    const ob = need(x.field, 1, (n + 1) * 4);
    const offs = new Int32Array(ob.buffer, ob.byteOffset, n + 1);
    const chars = region(x.field, 2);
    const dict: string[] = [];
    const index = new Map<string, number>();
    const values = new Uint32Array(n);
    for (let r = 0; r < n; r++) {
      if (valid && valid[r] === 0) continue;
      const s = decoder.decode(chars.subarray(offs[r] as number, offs[r + 1] as number));
      let i = index.get(s);
      if (i === undefined) {
        i = dict.push(s) - 1;
        index.set(s, i);
      }
      values[r] = i;
    }
    return { name: x.name, kind: "str", values, valid, dict };
  }

  /** A dictionary batch (svID values when the column is dictionary-encoded utf8). */
  private readDictionary(h: DictionaryBatchHeader, body: Uint8Array): void {
    const where = `dictionary before batch ${this.batchNo + 1}`;
    const d = h.data;
    const n = Number(d.length);
    const offB = d.buffers[1];
    const dataB = d.buffers[2];
    if (!offB || !dataB) badInput(this.path, where, "a dictionary that is not utf8");
    const off = body.slice(Number(offB.offset), Number(offB.offset) + (n + 1) * 4);
    if (off.byteLength < (n + 1) * 4) badInput(this.path, where, "short dictionary offsets");
    const offsets = new Int32Array(off.buffer, 0, n + 1);
    const chars = body.subarray(Number(dataB.offset), Number(dataB.offset) + Number(dataB.length));
    const values = h.isDelta ? [...(this.dictionaries.get(Number(h.id)) ?? [])] : [];
    for (let i = 0; i < n; i++) {
      const a = offsets[i] as number;
      const b = offsets[i + 1] as number;
      if (a < 0 || b < a || b > chars.byteLength) badInput(this.path, where, `bad offsets at value ${i}`);
      values.push(this.table.indexOf(decoder.decode(chars.subarray(a, b))));
    }
    this.dictionaries.set(Number(h.id), values);
  }

  /** All rows share one svID when the offsets have a constant stride and the bytes repeat with it (memcmp). */
  private decodeUniform(offsets: Int32Array, chars: Uint8Array, n: number, stream: Uint32Array): boolean {
    if (n === 0) return true;
    const len = (offsets[1] as number) - (offsets[0] as number);
    if (offsets[0] !== 0 || len <= 0 || offsets[n] !== n * len || chars.byteLength < n * len) return false;
    // interleaved streams: the second row differs already
    if (n > 1) for (let k = 0; k < len; k++) if (chars[k] !== chars[len + k]) return false;
    for (let r = 1; r <= n; r++) if (offsets[r] !== r * len) return false;
    const buf = Buffer.from(chars.buffer, chars.byteOffset, n * len);
    if (n > 1 && Buffer.compare(buf.subarray(len), buf.subarray(0, (n - 1) * len)) !== 0) return false;
    stream.fill(this.table.indexOf(decoder.decode(chars.subarray(0, len))));
    return true;
  }

  /**
   * svIDs row by row without a string per row: each row's bytes are compared with the names seen recently,
   * starting with the one after the last match (streams interleave in a steady cycle, so that guess is
   * usually right), else found by their bytes and hash.
   */
  private decodeRows(
    offsets: Int32Array,
    chars: Uint8Array,
    n: number,
    stream: Uint32Array,
    charsLen: number,
    where: string,
  ): void {
    const recent = this.recent;
    let guess = 0;
    for (let r = 0; r < n; r++) {
      const s = offsets[r] as number;
      const e = offsets[r + 1] as number;
      const len = e - s;
      if (s < 0 || len < 0 || e > charsLen) badInput(this.path, where, `bad svID offsets at row ${r}`);
      let found = -1;
      const m = recent.length;
      for (let tries = 0; tries < m; tries++) {
        const c = recent[guess] as RecentName;
        const b = c.bytes;
        if (b.length === len) {
          let k = len - 1;
          while (k >= 0 && b[k] === chars[s + k]) k--;
          if (k < 0) {
            found = c.index;
            break;
          }
        }
        guess = guess + 1 === m ? 0 : guess + 1;
      }
      if (found < 0) {
        found = this.nameBytes.indexOf(chars, s, e, fnv1a(chars, s, e));
        if (recent.length < 64) {
          recent.push({ bytes: chars.slice(s, e), index: found });
          guess = recent.length - 1;
        }
      }
      stream[r] = found;
      // the next row most likely has the next name in the cycle
      guess = guess + 1 >= recent.length ? 0 : guess + 1;
    }
  }

  close(): void {
    this.file.close();
  }
}
