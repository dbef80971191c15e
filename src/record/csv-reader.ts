/**
 * Streaming reader for svtrace CSV records: header `svID,appid,iteration,smpCnt,t0_ns,...` (exactly the
 * column names), one SV per line, empty field = null, svID quoted when it holds a comma or quote.
 *
 * Hand-written byte-level parser (no CSV library parses int64 nanoseconds exactly without BigInt or strings
 * per field): it reads the file in large chunks and parses each plain line's integers straight from the
 * bytes into the batch's typed arrays, timestamps as exact 32-bit halves. A line it cannot take that way
 * (a quoted svID, anything malformed) goes through the string path, which also words the errors.
 */
import { readFileSync } from "node:fs";
import { ChunkedFile } from "./chunked-file.js";
import { type ExtraColumn, emptyColumns, type RecordColumns, trim } from "./columns.js";
import { badInput, inferredMeta, NameBytes, NameTable, type RecordInput } from "./input.js";
import { EXTRA_COLUMN, type ExtraKind, extraKind, FIXED_COLUMNS, type RecordMeta } from "./schema.js";

const BATCH = 65536;
/** bytes parsed per step (lines never straddle a step; longer lines grow it) */
const BLOCK = 4 << 20;
const INT = /^\d+$/;
const TIME = /^-?\d+$/;
const TWO32 = 4294967296;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const POW10 = [1, 10, 100, 1000, 10000];
const NL = 10;
const CR = 13;
const COMMA = 44;
const QUOTE = 34;
const MINUS = 45;

/** Split one CSV line (RFC 4180 quoting); returns null on an unterminated quote. */
export function splitCsvLine(line: string): string[] | null {
  if (!line.includes('"')) return line.split(",");
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return null;
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
      if (i >= line.length) return out;
      if (line[i] !== ",") return null;
      i++;
    } else {
      const c = line.indexOf(",", i);
      if (c < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, c));
      i = c + 1;
    }
  }
}

const DECODER = new TextDecoder("utf-8");

export class CsvRecordReader implements RecordInput {
  readonly kind = "csv" as const;
  readonly identity = true;
  readonly hasMeta = false;
  readonly meta: RecordMeta;
  readonly warnings: string[] = [];
  private readonly file: ChunkedFile;
  private readonly width: number;
  private readonly np: number;
  private readonly table = new NameTable();
  private readonly nameBytes = new NameBytes(this.table);
  private nRows = 0;
  private lineNo = 0;
  /** the batch being filled and its next row */
  private c: RecordColumns;
  private r = 0;
  private hi: Int32Array[] = [];
  /** context columns (record --context); their lines take the string path */
  private readonly extras: { name: string; kind: ExtraKind; ok: boolean }[];
  private dictIndex: Map<string, number>[] = [];
  private lo: Uint32Array[] = [];

  constructor(readonly path: string) {
    this.file = new ChunkedFile(path);
    let header: string;
    try {
      header = this.headerLine();
    } catch (e) {
      this.file.close();
      throw e;
    }
    const cols = header.split(",");
    const fixedOk = FIXED_COLUMNS.every((c, i) => cols[i] === c);
    const rest = cols.slice(FIXED_COLUMNS.length);
    // record --context: the context columns follow the time columns
    let nTimes = rest.findIndex((c) => EXTRA_COLUMN.test(c));
    if (nTimes < 0) nTimes = rest.length;
    this.extras = rest.slice(nTimes).map((name) => {
      const m = EXTRA_COLUMN.exec(name);
      return { name, kind: m ? extraKind(m[2] as string) : ("u32" as ExtraKind), ok: m !== null };
    });
    const points = rest.slice(0, nTimes).map((c) => /^(t\d+[a-z]?)_ns$/.exec(c)?.[1]);
    if (
      !fixedOk ||
      points.length === 0 ||
      points.some((p) => p === undefined) ||
      this.extras.some((x) => !x.ok)
    ) {
      this.file.close();
      badInput(
        path,
        "line 1",
        `header "${header.slice(0, 80)}" is not svID,appid,iteration,smpCnt,tN_ns,...`,
      );
    }
    this.width = cols.length;
    this.np = points.length;
    this.meta = sidecarMeta(path, points as string[]) ?? inferredMeta(points as string[], "unknown");
    this.c = this.fresh();
  }

  /** Read line 1 (the header) and move past it. */
  private headerLine(): string {
    for (let want = 65536; ; want *= 2) {
      const n = this.file.ensure(want);
      if (n === 0)
        badInput(
          this.path,
          "line 1",
          "empty file; expected the CSV header svID,appid,iteration,smpCnt,t1_ns,...",
        );
      const buf = this.file.peek(n);
      const nl = buf.indexOf(NL);
      if (nl >= 0 || n < want) {
        const end = nl < 0 ? n : nl;
        this.file.take(nl < 0 ? n : nl + 1);
        this.lineNo = 1;
        return DECODER.decode(buf.subarray(0, end)).replace(/\r$/, "");
      }
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

  *batches(): Generator<RecordColumns> {
    let want = BLOCK;
    for (;;) {
      const n = this.file.ensure(want);
      if (n === 0) break;
      const buf = this.file.peek(n);
      const atEof = n < want;
      let lim = n;
      if (!atEof) {
        const last = buf.lastIndexOf(NL);
        if (last < 0) {
          want *= 2; // a line longer than the block
          continue;
        }
        lim = last + 1;
      }
      let pos = 0;
      while (pos < lim) {
        pos = this.fill(buf, pos, lim);
        if (this.r === BATCH) {
          this.nRows += BATCH;
          yield this.c;
          this.c = this.fresh();
          this.r = 0;
        }
      }
      this.file.take(lim);
      want = BLOCK;
    }
    if (this.r > 0) {
      this.nRows += this.r;
      const last = trim(this.c, this.r);
      this.r = 0;
      yield last;
    }
  }

  /** Parse lines of buf[pos..lim) into the batch until it is full or the range ends; returns the new pos. */
  private fill(buf: Uint8Array, pos: number, lim: number): number {
    const c = this.c;
    const np = this.np;
    const hiA = this.hi;
    const loA = this.lo;
    let r = this.r;
    let i = pos;
    while (i < lim && r < BATCH) {
      const start = i;
      this.lineNo++;
      let ch = buf[i] as number;
      // empty line (LF, CRLF or CR at end of file)
      if (ch === NL || (ch === CR && (i + 1 === lim || buf[i + 1] === NL))) {
        i = ch === CR && i + 1 < lim ? i + 2 : i + 1;
        continue;
      }
      // biome-ignore lint/suspicious/noConfusingLabels: one exit to the string path from deep in the fast path
      fast: {
        if (ch === QUOTE || this.extras.length > 0) break fast;
        let h = 0x811c9dc5;
        for (; i < lim; i++) {
          ch = buf[i] as number;
          if (ch === COMMA || ch === NL) break;
          h = Math.imul(h ^ ch, 16777619);
        }
        if (ch !== COMMA || i === lim) break fast;
        const s = this.nameBytes.indexOf(buf, start, i, h);
        i++;
        // appid, iteration, smpCnt: 1..10 digits each, then a comma
        let appid = 0;
        let d = i;
        for (; ; i++) {
          const dg = (buf[i] as number) - 48;
          if (!(dg >= 0 && dg <= 9)) break;
          appid = appid * 10 + dg;
        }
        if (i === d || i - d > 10 || appid > 0xffff || buf[i] !== COMMA) break fast;
        i++;
        let iteration = 0;
        d = i;
        for (; ; i++) {
          const dg = (buf[i] as number) - 48;
          if (!(dg >= 0 && dg <= 9)) break;
          iteration = iteration * 10 + dg;
        }
        if (i === d || i - d > 10 || iteration > 0xffffffff || buf[i] !== COMMA) break fast;
        i++;
        let smpCnt = 0;
        d = i;
        for (; ; i++) {
          const dg = (buf[i] as number) - 48;
          if (!(dg >= 0 && dg <= 9)) break;
          smpCnt = smpCnt * 10 + dg;
        }
        if (i === d || i - d > 10 || smpCnt > 0xffffffff || buf[i] !== COMMA) break fast;
        const r2 = r * 2;
        for (let p = 0; p < np; p++) {
          i++; // past the comma before this field
          ch = i < lim ? (buf[i] as number) : NL;
          if (ch === COMMA || ch === NL || ch === CR) {
            let valid = c.valid[p];
            if (!valid) {
              valid = new Uint8Array(BATCH).fill(1);
              c.valid[p] = valid;
            }
            valid[r] = 0;
          } else {
            const neg = ch === MINUS;
            if (neg) i++;
            // up to 15 digits in a (exact below 2^53), up to 4 more in b
            let a = 0;
            let b = 0;
            d = i;
            for (; i < lim; i++) {
              const dg = (buf[i] as number) - 48;
              if (!(dg >= 0 && dg <= 9)) break;
              if (i - d < 15) a = a * 10 + dg;
              else b = b * 10 + dg;
            }
            const nd = i - d;
            if (nd === 0 || nd > 19) break fast;
            let hi: number;
            let lo: number;
            if (nd <= 15) {
              hi = Math.floor(a / TWO32);
              lo = a - hi * TWO32;
            } else {
              const pw = POW10[nd - 15] as number;
              const aHi = Math.floor(a / TWO32);
              const low = (a - aHi * TWO32) * pw + b;
              const carry = Math.floor(low / TWO32);
              lo = low - carry * TWO32;
              hi = aHi * pw + carry;
            }
            if (neg) {
              if (hi > 0x80000000 || (hi === 0x80000000 && lo !== 0)) break fast;
              if (lo === 0) hi = -hi;
              else {
                lo = TWO32 - lo;
                hi = -hi - 1;
              }
            } else if (hi > 0x7fffffff) break fast;
            (hiA[p] as Int32Array)[r2 + 1] = hi;
            (loA[p] as Uint32Array)[r2] = lo;
            const v = c.valid[p];
            if (v) v[r] = 1;
          }
          if (p < np - 1 ? buf[i] !== COMMA : i < lim && buf[i] !== NL && buf[i] !== CR) break fast;
        }
        // line end: LF, CRLF, or the end of the file (a lone CR only there)
        if (i < lim) {
          if (buf[i] === CR) i++;
          if (i < lim) {
            if (buf[i] !== NL) break fast;
            i++;
          }
        }
        c.stream[r] = s;
        c.appid[r] = appid;
        c.iteration[r] = iteration;
        c.smpCnt[r] = smpCnt;
        r++;
        continue;
      }
      // the string path
      let end = buf.indexOf(NL, start);
      if (end < 0 || end >= lim) end = lim;
      i = end < lim ? end + 1 : lim;
      let line = DECODER.decode(buf.subarray(start, end));
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line.length === 0) continue;
      this.parseLine(line, r);
      r++;
    }
    this.r = r;
    return i;
  }

  /** Row r from one line as a string (quoted svIDs, and the error messages). */
  private parseLine(line: string, r: number): void {
    const c = this.c;
    const where = `line ${this.lineNo}`;
    const f = splitCsvLine(line);
    if (!f) badInput(this.path, where, "unterminated quote");
    if (f.length !== this.width)
      badInput(this.path, where, `${f.length} fields, the header has ${this.width}`);
    const [svID, appid, iteration, smpCnt] = f as [string, string, string, string];
    if (!INT.test(appid) || Number(appid) > 0xffff)
      badInput(this.path, where, `appid "${appid}" is not 0..65535`);
    if (!INT.test(iteration) || Number(iteration) > 0xffffffff)
      badInput(this.path, where, `iteration "${iteration}" is not a whole number`);
    if (!INT.test(smpCnt) || Number(smpCnt) > 0xffffffff)
      badInput(this.path, where, `smpCnt "${smpCnt}" is not a whole number`);
    c.stream[r] = this.table.indexOf(svID);
    c.appid[r] = Number(appid);
    c.iteration[r] = Number(iteration);
    c.smpCnt[r] = Number(smpCnt);
    for (let p = 0; p < this.np; p++) {
      const v = f[4 + p] as string;
      let valid = c.valid[p];
      if (v === "") {
        if (!valid) {
          valid = new Uint8Array(BATCH).fill(1);
          c.valid[p] = valid;
        }
        valid[r] = 0;
        continue;
      }
      const name = this.meta.points[p]?.name;
      if (!TIME.test(v))
        badInput(this.path, where, `${name}_ns "${v.slice(0, 30)}" is not a nanosecond count`);
      const t = BigInt(v);
      if (t > INT64_MAX || t < INT64_MIN)
        badInput(this.path, where, `${name}_ns "${v.slice(0, 30)}" is outside the 64-bit range`);
      (c.t[p] as BigInt64Array)[r] = t;
      if (valid) valid[r] = 1;
    }
    this.extras.forEach((x, e) => {
      const col = c.extra?.[e] as ExtraColumn;
      const v = f[4 + this.np + e] as string;
      if (v === "") {
        if (!col.valid) col.valid = new Uint8Array(BATCH).fill(1);
        col.valid[r] = 0;
        return;
      }
      if (col.valid) col.valid[r] = 1;
      if (x.kind === "str") {
        const idx = this.dictIndex[e] as Map<string, number>;
        let i = idx.get(v);
        if (i === undefined) {
          i = col.dict.push(v) - 1;
          idx.set(v, i);
        }
        col.values[r] = i;
      } else {
        if (!INT.test(v) || Number(v) > 0xffffffff)
          badInput(this.path, where, `${x.name} "${v.slice(0, 30)}" is not a whole number below 2^32`);
        col.values[r] = Number(v);
      }
    });
  }

  private fresh(): RecordColumns {
    const c = emptyColumns(BATCH, this.np, this.table.names);
    if (this.extras.length > 0) {
      c.extra = this.extras.map((x) => ({
        name: x.name,
        kind: x.kind,
        values: new Uint32Array(BATCH),
        valid: null,
        dict: [],
      }));
      this.dictIndex = this.extras.map(() => new Map());
    }
    this.hi = c.t.map((a) => new Int32Array(a.buffer));
    this.lo = c.t.map((a) => new Uint32Array(a.buffer));
    return c;
  }

  close(): void {
    this.file.close();
  }
}

/** The metadata svtrace wrote beside a CSV record (`<file>.meta.json`), when its points match the header. */
function sidecarMeta(path: string, points: string[]): RecordMeta | undefined {
  try {
    const m = JSON.parse(readFileSync(`${path}.meta.json`, "utf8")) as RecordMeta;
    if (!Array.isArray(m.points) || m.points.map((p) => p.name).join() !== points.join()) return undefined;
    return m;
  } catch {
    return undefined;
  }
}
