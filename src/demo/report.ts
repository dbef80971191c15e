/**
 * The demo ends with the report of its run: `svtrace report`'s library (runReport) on the record just written:
 * the per-stream, per-segment table (count, min, mean, stddev, percentiles, max, counts over thresholds), and
 * a self-contained HTML page with the plots beside the record.
 */
import type { Writable } from "node:stream";
import { runReport } from "../report/run-report.js";
import type { DemoResult } from "./demo.js";

export interface DemoReportOptions {
  thresholdUs: number;
  out: Writable;
  /** HTML report path (default: the record path with .html); null = none */
  html?: string | null;
}

export function defaultHtmlPath(recordPath: string): string {
  return `${recordPath.replace(/\.(arrow|csv)$/, "")}.html`;
}

/** Run the report on the demo's record; returns the HTML path written, if any. */
export async function runDemoReport(r: DemoResult, opts: DemoReportOptions): Promise<string | undefined> {
  if (r.run.record?.format === "legacy") {
    opts.out.write(`(no report: a legacy results file has no SV identity; use --format arrow or csv)\n`);
    return undefined;
  }
  const html = opts.html === null ? undefined : (opts.html ?? defaultHtmlPath(r.recordPath));
  opts.out.write(`\nReport of ${r.recordPath}:\n`);
  await runReport({
    files: [r.recordPath],
    thresholdsUs: [opts.thresholdUs],
    html,
    out: opts.out,
    progress: false,
  });
  opts.out.write(`\nRecord: ${r.recordPath}${html ? `\nHTML report: ${html}` : ""}\n`);
  return html;
}
