/**
 * Reader for seapath's sv_timestamp_logger files: `iteration:svID:smpCnt:timestamp_us` per line (µs since the
 * epoch, CLOCK_REALTIME or PHC time), one file per host. Also the older `svID:smpCnt:timestamp_us` format,
 * whose iteration is then computed per stream from smpCnt wraps. `SV drop: N` lines (printed at exit) are
 * noted. Each file is a one-point record; several are joined per SV with ./join.ts.
 */
import { SmpCntTracker } from "../streams/continuity.js";
import { emptyColumns, type RecordColumns, trim } from "./columns.js";
import { badInput, inferredMeta, NameTable, type RecordInput } from "./input.js";
import { LineReader } from "./line-reader.js";
import type { PointMeta, RecordMeta } from "./schema.js";

const BATCH = 65536;
const NUM = /^\d+$/;

/** A line of the logger format looks like this (for sniffing). */
export function looksLikeLoggerLine(line: string): boolean {
  return /^(\d+:)?[^:]*(:[^:]*)*:\d+:\d+$/.test(line) && line.split(":").length >= 3;
}

export class TimestampLoggerReader implements RecordInput {
  readonly kind = "logger" as const;
  readonly identity = true;
  readonly hasMeta = false;
  readonly meta: RecordMeta;
  readonly warnings: string[] = [];
  /** the logger's own drop count (`SV drop: N`), when it printed one */
  loggerDrops: number | undefined;
  private readonly reader: LineReader;
  private readonly table = new NameTable();
  private readonly trackers = new Map<string, SmpCntTracker>();
  private nRows = 0;

  constructor(
    readonly path: string,
    point: PointMeta,
  ) {
    this.reader = new LineReader(path);
    this.meta = { ...inferredMeta([point.name], "sv_timestamp_logger"), points: [point] };
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
    let c = fresh(this.table.names);
    let r = 0;
    for (const raw of this.reader.lines()) {
      const line = raw.trim();
      if (line === "") continue;
      const where = `line ${this.reader.lineNo}`;
      const drop = /^SV drop: (\d+)$/.exec(line);
      if (drop) {
        this.loggerDrops = Number(drop[1]);
        continue;
      }
      const f = line.split(":");
      if (f.length < 3)
        badInput(this.path, where, `"${line.slice(0, 60)}" is not iteration:svID:smpCnt:timestamp_us`);
      const ts = f[f.length - 1] as string;
      const cnt = f[f.length - 2] as string;
      let iteration: number;
      let svID: string;
      if (f.length >= 4 && NUM.test(f[0] as string)) {
        iteration = Number(f[0]);
        svID = f.slice(1, -2).join(":");
      } else {
        svID = f.slice(0, -2).join(":");
        iteration = -1;
      }
      if (!NUM.test(cnt) || Number(cnt) > 0xffff)
        badInput(this.path, where, `smpCnt "${cnt}" is not 0..65535`);
      if (!NUM.test(ts))
        badInput(this.path, where, `timestamp "${ts.slice(0, 30)}" is not whole microseconds`);
      const smpCnt = Number(cnt);
      if (iteration < 0) {
        let tr = this.trackers.get(svID);
        if (!tr) {
          tr = new SmpCntTracker();
          this.trackers.set(svID, tr);
        }
        iteration = tr.push(smpCnt).iteration;
      }
      if (iteration > 0xffffffff) badInput(this.path, where, `iteration ${iteration} is too large`);
      c.stream[r] = this.table.indexOf(svID);
      c.iteration[r] = iteration;
      c.smpCnt[r] = smpCnt;
      (c.t[0] as BigInt64Array)[r] = BigInt(ts) * 1000n;
      r++;
      if (r === BATCH) {
        this.nRows += r;
        yield c;
        c = fresh(this.table.names);
        r = 0;
      }
    }
    if (r > 0) {
      this.nRows += r;
      yield trim(c, r);
    }
  }

  close(): void {
    this.reader.close();
  }
}

function fresh(names: string[]): RecordColumns {
  return emptyColumns(BATCH, 1, names);
}
