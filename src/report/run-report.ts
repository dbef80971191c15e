/**
 * `runReport(options)`: the whole of `svtrace report` as a library call (the CLI and `svtrace demo` use it):
 * open the inputs, analyse them in one streaming pass (progress bar on a TTY), compute the verdict, then write
 * the terminal table or the JSON summary, and the JUnit, HTML and PNG files asked for.
 */

import { readFileSync, writeFileSync } from "node:fs";
import type { Writable } from "node:stream";
import cliProgress from "cli-progress";
import { type Analysis, analyzeRecord, DEFAULT_THRESHOLDS_US } from "../analysis/analyze.js";
import { segmentSpecs } from "../analysis/segments.js";
import type { ReportSummary } from "../analysis/summary.js";
import { fail } from "../errors.js";
import { openInputs } from "../record/open.js";
import { crossClockSummary } from "./cross-clock.js";
import { renderHtml } from "./html.js";
import { renderJUnit } from "./junit.js";
import { buildPlots } from "./plots.js";
import { writePngs } from "./png.js";
import { renderTerminal } from "./terminal.js";
import { computeVerdict, type Limit, parseLimit, resolveLimit } from "./verdict.js";

export interface ReportOptions {
  /** record files (Arrow, CSV, original results); several are concatenated or joined */
  files: string[];
  /** sv_timestamp_logger files of the publisher (T0), hypervisor (T1) and subscriber (T4) */
  pub?: string;
  hyp?: string;
  sub?: string;
  /** thresholds in µs added to the default 100, 200, 250 */
  thresholdsUs?: number[];
  /** limit on total (first to last point), µs */
  maxLatencyUs?: number;
  /** "Thyp=100" or parsed limits */
  limits?: (string | Limit)[];
  /** spikes to list (default 10) */
  top?: number;
  /** print the summary as one JSON object instead of the table */
  json?: boolean;
  junit?: string;
  html?: string;
  png?: string;
  /** where the table or JSON goes (default stdout) */
  out?: Writable;
  /** where progress and file notes go (default stderr) */
  err?: Writable;
  /** colour in the table (default: out is a TTY and NO_COLOR is unset) */
  color?: boolean;
  /** progress bar (default: err is a TTY) */
  progress?: boolean;
  /** rows an input may run ahead in a join before an SV counts as missing from it */
  joinWindow?: number;
}

export interface ReportResult {
  summary: ReportSummary;
  analysis: Analysis;
  /** 0 = pass (or no limits), 1 = a limit failed */
  exitCode: number;
  /** files written (JUnit, HTML, PNGs) */
  written: string[];
}

export function svtraceVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    return pkg.version;
  } catch {
    return "unknown";
  }
}

function isTty(w: Writable): boolean {
  return (w as Writable & { isTTY?: boolean }).isTTY === true;
}

function writeFile(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    fail(
      `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; check the directory exists and is writable`,
    );
  }
}

export async function runReport(opts: ReportOptions): Promise<ReportResult> {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  const limits: Limit[] = (opts.limits ?? []).map((l) => (typeof l === "string" ? parseLimit(l) : l));
  if (opts.maxLatencyUs !== undefined) limits.push({ segment: "total", us: opts.maxLatencyUs });
  for (const t of [...(opts.thresholdsUs ?? []), ...limits.map((l) => l.us)])
    if (!(Number.isFinite(t) && t > 0))
      fail(`threshold ${t} µs: thresholds and limits are positive numbers of microseconds`);

  const input = openInputs({
    files: opts.files,
    pub: opts.pub,
    hyp: opts.hyp,
    sub: opts.sub,
    join: opts.joinWindow ? { window: opts.joinWindow } : undefined,
  });
  let analysis: Analysis;
  try {
    const specs = segmentSpecs(input.meta.points);
    if (specs.length === 0)
      fail(
        `${input.path}: only ${input.meta.points.length} point; a latency needs two (give the other host's file too)`,
      );
    const resolved = limits.map((limit) => ({ limit, spec: resolveLimit(limit, specs) }));
    const thresholdsUs = [...DEFAULT_THRESHOLDS_US, ...(opts.thresholdsUs ?? []), ...limits.map((l) => l.us)];
    const showProgress = opts.progress ?? isTty(err);
    const bar = showProgress
      ? new cliProgress.SingleBar(
          {
            stream: err as NodeJS.WritableStream,
            format: "reading {bar} {percentage}% | {rows} SVs | {eta_formatted} left",
            hideCursor: true,
            clearOnComplete: true,
            fps: 5,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
    bar?.start(Math.max(1, input.size), 0, { rows: 0 });
    let lastUpdate = 0;
    try {
      analysis = await analyzeRecord(input, {
        thresholdsUs,
        top: opts.top ?? 10,
        svtraceVersion: svtraceVersion(),
        onProgress: bar
          ? (done, _size, rows) => {
              const now = Date.now();
              if (now - lastUpdate < 200) return;
              lastUpdate = now;
              bar.update(done, { rows });
            }
          : undefined,
      });
    } finally {
      bar?.stop();
    }
    if (resolved.length > 0 || opts.junit)
      analysis.summary.verdict = computeVerdict(analysis.summary, resolved);
  } finally {
    input.close();
  }

  const summary = analysis.summary;
  summary.tracer = summary.meta.tracer ?? null;
  summary.crossClock = crossClockSummary(summary);
  const written: string[] = [];
  if (opts.json) out.write(`${JSON.stringify(summary)}\n`);
  else out.write(renderTerminal(summary, opts.color ?? (isTty(out) && !process.env.NO_COLOR)));
  if (opts.junit) {
    writeFile(opts.junit, renderJUnit(summary));
    written.push(opts.junit);
  }
  const limitsUs: Record<string, number> = {};
  for (const c of summary.verdict?.checks ?? [])
    if (c.limit_us && c.segment !== "all") limitsUs[c.segment] = c.limit_us;
  if (opts.html || opts.png) {
    const plots = buildPlots(summary, analysis.histograms, limitsUs);
    if (opts.html) {
      writeFile(opts.html, await renderHtml(summary, plots));
      written.push(opts.html);
    }
    if (opts.png) written.push(...(await writePngs(opts.png, plots)));
  }
  if (written.length > 0 && !opts.json) err.write(`svtrace: wrote ${written.join(", ")}\n`);
  return { summary, analysis, exitCode: summary.verdict && !summary.verdict.pass ? 1 : 0, written };
}
