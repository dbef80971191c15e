/**
 * Streaming reader for svtrace CSV records: header `svID,appid,iteration,smpCnt,t0_ns,...` (exactly the
 * column names), one SV per line, empty field = null, svID quoted when it holds a comma or quote.
 */
import { emptyColumns, type RecordColumns, trim } from "./columns.js";
import { badInput, inferredMeta, NameTable, type RecordInput } from "./input.js";
import { LineReader } from "./line-reader.js";
import { FIXED_COLUMNS, type RecordMeta } from "./schema.js";

const BATCH = 65536;
const INT = /^\d+$/;
const TIME = /^-?\d+$/;

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

export class CsvRecordReader implements RecordInput {
  readonly kind = "csv" as const;
  readonly identity = true;
  readonly hasMeta = false;
  readonly meta: RecordMeta;
  readonly warnings: string[] = [];
  private readonly reader: LineReader;
  private readonly lines: Generator<string>;
  private readonly width: number;
  private readonly table = new NameTable();
  private nRows = 0;

  constructor(readonly path: string) {
    this.reader = new LineReader(path);
    this.lines = this.reader.lines();
    const first = this.lines.next();
    if (first.done) {
      this.reader.close();
      badInput(path, "line 1", "empty file; expected the CSV header svID,appid,iteration,smpCnt,t1_ns,...");
    }
    const cols = first.value.split(",");
    const fixedOk = FIXED_COLUMNS.every((c, i) => cols[i] === c);
    const points = cols.slice(FIXED_COLUMNS.length).map((c) => /^(t\d+[a-z]*)_ns$/.exec(c)?.[1]);
    if (!fixedOk || points.length === 0 || points.some((p) => p === undefined)) {
      this.reader.close();
      badInput(
        path,
        "line 1",
        `header "${first.value.slice(0, 80)}" is not svID,appid,iteration,smpCnt,tN_ns,...`,
      );
    }
    this.width = cols.length;
    this.meta = inferredMeta(points as string[], "unknown");
  }

  get size(): number {
    return this.reader.size;
  }
  get bytesRead(): number {
    return this.reader.bytesRead;
  }
  get rows(): number {
    return this.nRows;
  }

  *batches(): Generator<RecordColumns> {
    const np = this.width - FIXED_COLUMNS.length;
    let c = this.fresh(np);
    let r = 0;
    for (const line of this.lines) {
      if (line.length === 0) continue;
      const where = `line ${this.reader.lineNo}`;
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
      for (let p = 0; p < np; p++) {
        const v = f[4 + p] as string;
        if (v === "") {
          let valid = c.valid[p];
          if (!valid) {
            valid = new Uint8Array(BATCH).fill(1);
            c.valid[p] = valid;
          }
          valid[r] = 0;
        } else {
          if (!TIME.test(v))
            badInput(
              this.path,
              where,
              `${this.meta.points[p]?.name}_ns "${v.slice(0, 30)}" is not a nanosecond count`,
            );
          (c.t[p] as BigInt64Array)[r] = BigInt(v);
        }
      }
      r++;
      if (r === BATCH) {
        this.nRows += r;
        yield c;
        c = this.fresh(np);
        r = 0;
      }
    }
    if (r > 0) {
      this.nRows += r;
      yield trim(c, r);
    }
  }

  private fresh(np: number): RecordColumns {
    return emptyColumns(BATCH, np, this.table.names);
  }

  close(): void {
    this.reader.close();
  }
}
