/**
 * The demo ends with the report of its run: the record file read back and summarized per stream and segment
 * (count, min, mean, p50, p99, p99.9, max, over the threshold). Uses `svtrace report`'s library when it exists.
 */
import type { Writable } from "node:stream";
import { LiveModel } from "../live/model.js";
import { fmtUs } from "../live/screen.js";
import { rowsOf } from "../record/columns.js";
import { openRecordFile } from "../record/open.js";
import type { DemoResult } from "./demo.js";

export interface DemoReportOptions {
  thresholdUs: number;
  out: Writable;
}

/** Read the record back and print the per-stream, per-segment statistics of the whole run. */
export async function runDemoReport(r: DemoResult, opts: DemoReportOptions): Promise<void> {
  const input = openRecordFile(r.recordPath);
  const model = new LiveModel({ points: input.meta.points, thresholdUs: opts.thresholdUs });
  try {
    for (const batch of input.batches()) model.addRows([...rowsOf(batch)]);
  } finally {
    input.close();
  }
  const snap = model.snapshot();
  const lines = [`Report of ${r.recordPath} (${input.rows} SVs; latencies in µs):`];
  const head = `  ${"stream".padEnd(10)}${"segment".padEnd(15)}${["count", "min", "mean", "p50", "p99", "p99.9", "max", `>${opts.thresholdUs}µs`].map((h) => h.padStart(9)).join("")}`;
  lines.push(head);
  const rows: [string, typeof snap.all][] = [
    ...snap.streams.map((s) => [s.svID, s.segments] as [string, typeof snap.all]),
    ["all", snap.all],
  ];
  for (const [svID, segs] of rows) {
    for (const [name, s] of Object.entries(segs)) {
      if (s.count === 0) continue;
      const label = s.alias ? `${name} ${s.alias}` : name;
      const cells = [
        String(s.count),
        fmtUs(s.min),
        fmtUs(s.mean),
        fmtUs(s.p50),
        fmtUs(s.p99),
        fmtUs(s["p99.9"]),
        fmtUs(s.max),
        String(s.over_threshold),
      ];
      lines.push(`  ${svID.padEnd(10)}${label.padEnd(15)}${cells.map((c) => c.padStart(9)).join("")}`);
    }
  }
  lines.push(`Full report: svtrace report ${r.recordPath} (add --html report.html for plots)`);
  opts.out.write(`${lines.join("\n")}\n`);
}
