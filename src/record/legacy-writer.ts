/**
 * Writes the original svtrace `results` file: one latency per line in whole microseconds (truncated, as the
 * original's integer division did), from the first to the last point of the record. SVs missing either
 * point have no latency and are left out, as in the original.
 */
import { writeSync } from "node:fs";
import type { RecordColumns } from "./columns.js";
import type { RecordMeta } from "./schema.js";

export class LegacyRecordSink {
  private readonly first: number;
  private readonly last: number;
  written = 0;

  constructor(
    private readonly fd: number,
    meta: RecordMeta,
  ) {
    if (meta.points.length < 2) throw new Error("the legacy results format needs at least two points");
    this.first = 0;
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
