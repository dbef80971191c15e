/**
 * Reader for the original svtrace `results` file: one latency in whole microseconds per line, no identity and
 * no time. Each latency becomes a row of a two-point record (t1 = 0, t2 = latency), svID "(results)", so the
 * statistics work on it; `identity` is false so reports skip drops, duplicates and time series.
 */
import { emptyColumns, type RecordColumns, trim } from "./columns.js";
import { badInput, NameTable, type RecordInput } from "./input.js";
import { LineReader } from "./line-reader.js";
import type { RecordMeta } from "./schema.js";

const BATCH = 65536;
export const LEGACY_STREAM = "(results)";

export class LegacyResultsReader implements RecordInput {
  readonly kind = "legacy" as const;
  readonly identity = false;
  readonly hasMeta = false;
  readonly warnings: string[] = [];
  readonly meta: RecordMeta = {
    svtraceVersion: "original (python)",
    host: "unknown",
    kernel: "unknown",
    bpftrace: "unknown",
    profile: "legacy",
    points: [
      { name: "t1", label: "T1 tpacket_rcv", probe: "kprobe:tpacket_rcv (original svtrace)" },
      { name: "t2", label: "T2 consume_skb", probe: "kprobe:consume_skb (original svtrace)" },
    ],
    clock: "tai",
    start: "",
  };
  private readonly reader: LineReader;
  private readonly table = new NameTable();
  private nRows = 0;

  constructor(readonly path: string) {
    this.reader = new LineReader(path);
    this.table.indexOf(LEGACY_STREAM);
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
      if (line === "" || line.startsWith("Attaching")) continue;
      if (!/^-?\d+$/.test(line))
        badInput(
          this.path,
          `line ${this.reader.lineNo}`,
          `"${line.slice(0, 40)}" is not a latency in whole microseconds (original svtrace results file)`,
        );
      c.smpCnt[r] = (this.nRows + r) % 65536;
      (c.t[1] as BigInt64Array)[r] = BigInt(line) * 1000n;
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
  return emptyColumns(BATCH, 2, names);
}
