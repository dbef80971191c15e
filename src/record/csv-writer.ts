/**
 * Writes record batches as CSV: header exactly the column names (svID,appid,iteration,smpCnt,t0_ns,...),
 * one line per SV, empty field = null. svIDs holding a comma, quote or line break are quoted (RFC 4180).
 */
import { writeSync } from "node:fs";
import type { RecordColumns } from "./columns.js";
import { contextColumns, csvHeader, type RecordMeta } from "./schema.js";

export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export class CsvRecordSink {
  constructor(
    private readonly fd: number,
    meta: RecordMeta,
  ) {
    writeSync(fd, `${csvHeader(meta.points, contextColumns(meta))}\n`);
  }

  writeBatch(c: RecordColumns): void {
    const names = c.names.map(csvField);
    const parts: string[] = [];
    for (let r = 0; r < c.length; r++) {
      let line = `${names[c.stream[r] as number]},${c.appid[r]},${c.iteration[r]},${c.smpCnt[r]}`;
      for (let p = 0; p < c.t.length; p++) {
        const v = c.valid[p];
        line += v && v[r] === 0 ? "," : `,${(c.t[p] as BigInt64Array)[r]}`;
      }
      if (c.extra)
        for (const x of c.extra) {
          if (x.valid && x.valid[r] === 0) line += ",";
          else if (x.kind === "str") line += `,${csvField(x.dict[x.values[r] as number] ?? "")}`;
          else line += `,${x.values[r]}`;
        }
      parts.push(line);
      if (parts.length >= 8192) this.flush(parts);
    }
    this.flush(parts);
  }

  private flush(parts: string[]): void {
    if (parts.length === 0) return;
    writeSync(this.fd, `${parts.join("\n")}\n`);
    parts.length = 0;
  }

  finish(): void {}
}
