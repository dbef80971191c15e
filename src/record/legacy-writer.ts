/**
 * Writes the original svtrace `results` file: one latency per line in whole microseconds (truncated, as the
 * original's integer division did), from the first to the last point of the record. SVs missing either
 * point have no latency (t0, the publisher's refrTm, is not a point here) and are left out, as in the original.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { ArrowRecordReader } from "./arrow-reader.js";
import type { RecordColumns } from "./columns.js";
import { firstProbe, type RecordMeta } from "./schema.js";

export class LegacyRecordSink {
  private readonly first: number;
  private readonly last: number;
  written = 0;

  constructor(
    private readonly fd: number,
    meta: RecordMeta,
  ) {
    // t0 (refrTm, the publisher's send time) is not a probe: the original measured between kernel points
    this.first = firstProbe(meta.points);
    if (meta.points.length - this.first < 2)
      throw new Error("the legacy results format needs at least two trace points");
    this.last = meta.points.length - 1;
  }

  writeBatch(c: RecordColumns): void {
    const a = c.t[this.first] as BigInt64Array;
    const b = c.t[this.last] as BigInt64Array;
    const va = c.valid[this.first];
    const vb = c.valid[this.last];
    const lines: string[] = [];
    for (let r = 0; r < c.length; r++) {
      if ((va && va[r] === 0) || (vb && vb[r] === 0)) continue;
      lines.push(String(((b[r] as bigint) - (a[r] as bigint)) / 1000n));
    }
    this.written += lines.length;
    if (lines.length > 0) writeSync(this.fd, `${lines.join("\n")}\n`);
  }

  finish(): void {}
}

/** Write the legacy `results` file from a finished Arrow record; returns the number of latencies written. */
export function writeLegacyResultsFrom(recordPath: string, resultsPath: string): number {
  const input = new ArrowRecordReader(recordPath);
  const fd = openSync(resultsPath, "w");
  try {
    const sink = new LegacyRecordSink(fd, input.meta);
    for (const batch of input.batches()) sink.writeBatch(batch);
    return sink.written;
  } finally {
    closeSync(fd);
    input.close();
  }
}
