/**
 * `svtrace compare A B`: two runs side by side. Each run is a record (any format `report` reads) or a
 * `report --json` summary. For every segment both runs have (every stream together, and each stream both
 * have) every statistic and threshold count with its absolute and relative change ("352 533 -> 512,
 * -99.8 %"), as a terminal table, one JSON object, or an HTML page with the histograms overlaid.
 */
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from "node:fs";
import pc from "picocolors";
import { analyzeRecord } from "../analysis/analyze.js";
import type { LatencyHistogram } from "../analysis/histogram.js";
import { type ReportSummary, type SegmentStats, STAT_KEYS, type StatKey } from "../analysis/summary.js";
import { fail } from "../errors.js";
import { openRecordFile } from "../record/open.js";
import { exceedanceOption, histogramOption } from "./charts.js";
import { count, table, us } from "./format.js";
import { chartsHtml, pageHtml } from "./html.js";
import { xmlEscape as esc } from "./junit.js";
import type { Plot } from "./plots.js";
import { svtraceVersion } from "./run-report.js";

export interface Run {
  path: string;
  summary: ReportSummary;
  /** null when the run was given as a JSON summary */
  histograms: Record<string, LatencyHistogram> | null;
}

export interface Change {
  a: number | null;
  b: number | null;
  /** b - a */
  delta: number | null;
  /** (b - a) / a; null when a is 0 or missing */
  relative: number | null;
}

export interface SegmentComparison {
  name: string;
  alias: string | null;
  stats: Record<StatKey, Change>;
  over_us: Record<string, Change>;
  negative: Change;
}

export interface ScopeComparison {
  /** "all" or an svID */
  scope: string;
  segments: SegmentComparison[];
}

export interface Comparison {
  tool: "svtrace compare";
  a: { path: string; rows: number; start: string | null; duration_s: number | null };
  b: { path: string; rows: number; start: string | null; duration_s: number | null };
  thresholds_us: number[];
  scopes: ScopeComparison[];
  warnings: string[];
}

/** Load a run: a `report --json` summary, or any record file (analysed with the given thresholds). */
export async function loadRun(path: string, thresholdsUs: number[]): Promise<Run> {
  let head = "";
  try {
    const fd = openSync(path, "r");
    const b = new Uint8Array(1);
    if (readSync(fd, b, 0, 1, 0) === 1) head = String.fromCharCode(b[0] as number);
    closeSync(fd);
  } catch {
    // let the record reader name the problem
  }
  if (head === "{") {
    let s: ReportSummary;
    try {
      s = JSON.parse(readFileSync(path, "utf8")) as ReportSummary;
    } catch (e) {
      return fail(
        `${path}: not valid JSON (${(e as Error).message}); give a record or a \`svtrace report --json\` summary`,
      );
    }
    if (s?.tool !== "svtrace report" || !Array.isArray(s.streams))
      fail(`${path}: this JSON is not a \`svtrace report --json\` summary`);
    return { path, summary: s, histograms: null };
  }
  const input = openRecordFile(path);
  try {
    const a = await analyzeRecord(input, { thresholdsUs, top: 10, svtraceVersion: svtraceVersion() });
    return { path, summary: a.summary, histograms: a.histograms };
  } finally {
    input.close();
  }
}

export function change(a: number | null | undefined, b: number | null | undefined): Change {
  const x = a ?? null;
  const y = b ?? null;
  const delta = x !== null && y !== null ? y - x : null;
  const relative = delta !== null && x !== null && x !== 0 ? delta / Math.abs(x) : null;
  return { a: x, b: y, delta, relative };
}

function compareSegment(a: SegmentStats, b: SegmentStats, thresholds: string[]): SegmentComparison {
  const stats = {} as Record<StatKey, Change>;
  for (const k of STAT_KEYS) stats[k] = change(a[k], b[k]);
  const over_us: Record<string, Change> = {};
  for (const t of thresholds) over_us[t] = change(a.over_us[t], b.over_us[t]);
  return { name: a.name, alias: a.alias, stats, over_us, negative: change(a.negative, b.negative) };
}

function compareScope(
  scope: string,
  a: Record<string, SegmentStats>,
  b: Record<string, SegmentStats>,
  names: string[],
  thresholds: string[],
): ScopeComparison {
  const segments: SegmentComparison[] = [];
  for (const n of names) {
    const x = a[n];
    const y = b[n];
    if (x && y) segments.push(compareSegment(x, y, thresholds));
  }
  return { scope, segments };
}

export function compareRuns(a: Run, b: Run): Comparison {
  const sa = a.summary;
  const sb = b.summary;
  const names = sa.segmentNames.length === 2 ? sa.segmentNames.slice(0, 1) : sa.segmentNames;
  const common = names.filter((n) => sb.all.segments[n]);
  const warnings: string[] = [];
  if (common.length === 0)
    fail(
      `${a.path} and ${b.path} have no segment in common (${sa.segmentNames.join(", ")} vs ${sb.segmentNames.join(", ")})`,
    );
  if (common.length < names.length || sb.segmentNames.length !== sa.segmentNames.length)
    warnings.push(
      `segments differ: A has ${sa.segmentNames.join(", ")}; B has ${sb.segmentNames.join(", ")}; comparing ${common.join(", ")}`,
    );
  const thresholds = sa.thresholds_us.filter((t) => sb.thresholds_us.includes(t)).map(String);
  const scopes = [compareScope("all", sa.all.segments, sb.all.segments, common, thresholds)];
  if (sa.streams.length > 1 || sb.streams.length > 1 || sa.streams[0]?.svID !== sb.streams[0]?.svID) {
    for (const s of sa.streams) {
      const o = sb.streams.find((x) => x.svID === s.svID);
      if (o) scopes.push(compareScope(s.svID, s.segments, o.segments, common, thresholds));
    }
  }
  const info = (r: Run) => ({
    path: r.path,
    rows: r.summary.rows,
    start: r.summary.start,
    duration_s: r.summary.duration_s,
  });
  return {
    tool: "svtrace compare",
    a: info(a),
    b: info(b),
    thresholds_us: thresholds.map(Number),
    scopes,
    warnings,
  };
}

/** "1.0 µs (-8.3 %)" or "352 533 -> 512, -99.8 %" */
export function describeChange(c: Change, kind: "us" | "count"): string {
  const rel =
    c.relative === null
      ? c.delta === 0
        ? "0 %"
        : c.a === 0 && (c.b ?? 0) > 0
          ? "new"
          : "-"
      : `${c.relative >= 0 ? "+" : ""}${(c.relative * 100).toFixed(1)} %`;
  if (kind === "count") return `${count(c.a)} -> ${count(c.b)}, ${rel}`;
  if (c.delta === null) return "-";
  return `${c.delta >= 0 ? "+" : ""}${us(c.delta)} µs, ${rel}`;
}

const ROWS: [StatKey, "us" | "count"][] = STAT_KEYS.map((k) => [k, k === "count" ? "count" : "us"]);

export function renderCompareTerminal(cmp: Comparison, color: boolean): string {
  const c = pc.createColors(color);
  const out: string[] = [];
  out.push(
    c.bold(
      `svtrace compare: A = ${cmp.a.path} (${count(cmp.a.rows)} SVs), B = ${cmp.b.path} (${count(cmp.b.rows)} SVs)`,
    ),
  );
  out.push("latencies in µs; change = B - A");
  for (const scope of cmp.scopes) {
    for (const seg of scope.segments) {
      out.push(
        "",
        c.bold(
          c.cyan(
            `${scope.scope === "all" ? "all streams" : scope.scope}, ${seg.name}${seg.alias ? ` (${seg.alias})` : ""}`,
          ),
        ),
      );
      const rows: string[][] = [["", "A", "B", "change"]];
      for (const [k, kind] of ROWS) {
        const ch = seg.stats[k];
        const fmt = kind === "count" ? count : us;
        const text = describeChange(ch, kind);
        const worse = k !== "count" && (ch.delta ?? 0) > 0;
        rows.push([
          k,
          fmt(ch.a),
          fmt(ch.b),
          ch.delta === 0 || k === "count" ? text : worse ? c.red(text) : c.green(text),
        ]);
      }
      for (const [t, ch] of Object.entries(seg.over_us)) {
        const text = describeChange(ch, "count");
        rows.push([
          `> ${t} µs`,
          count(ch.a),
          count(ch.b),
          (ch.delta ?? 0) > 0 ? c.red(text) : (ch.delta ?? 0) < 0 ? c.green(text) : text,
        ]);
      }
      rows.push([
        "negative",
        count(seg.negative.a),
        count(seg.negative.b),
        describeChange(seg.negative, "count"),
      ]);
      const t = table(rows);
      out.push(c.dim(t[0] as string), ...t.slice(1));
    }
  }
  for (const w of cmp.warnings) out.push(c.yellow(`warning: ${w}`));
  return `${out.join("\n")}\n`;
}

export async function renderCompareHtml(cmp: Comparison, a: Run, b: Run): Promise<string> {
  const body: string[] = [];
  body.push(
    `<h1>svtrace compare</h1><p class="meta">A = ${esc(cmp.a.path)} (${count(cmp.a.rows)} SVs${cmp.a.start ? `, from ${esc(cmp.a.start)}` : ""})<br>B = ${esc(cmp.b.path)} (${count(cmp.b.rows)} SVs${cmp.b.start ? `, from ${esc(cmp.b.start)}` : ""})</p>`,
  );
  for (const w of cmp.warnings) body.push(`<div class="warn">${esc(w)}</div>`);
  const plots: Plot[] = [];
  const all = cmp.scopes[0] as ScopeComparison;
  if (a.histograms && b.histograms) {
    for (const seg of all.segments) {
      const ha = a.histograms[seg.name];
      const hb = b.histograms[seg.name];
      if (!ha || !hb) continue;
      const title = `${seg.name}${seg.alias ? ` (${seg.alias})` : ""}`;
      plots.push({
        id: `histogram-${seg.name}`,
        title,
        option: histogramOption(
          `Latency histogram, ${title}: A vs B`,
          [
            { label: `A ${a.path}`, hist: ha },
            { label: `B ${b.path}`, hist: hb },
          ],
          cmp.thresholds_us,
        ),
      });
      plots.push({
        id: `exceedance-${seg.name}`,
        title,
        option: exceedanceOption(`Exceedance, ${title}: A vs B`, [
          { label: `A ${a.path}`, hist: ha },
          { label: `B ${b.path}`, hist: hb },
        ]),
      });
    }
  } else
    body.push(`<div class="warn">a run was given as a JSON summary: it has no histogram to overlay</div>`);
  for (const scope of cmp.scopes) {
    for (const seg of scope.segments) {
      body.push(
        `<h2>${esc(scope.scope === "all" ? "All streams" : scope.scope)}, ${esc(seg.name)}${seg.alias ? ` (${esc(seg.alias)})` : ""}</h2>`,
      );
      const rows = ROWS.map(([k, kind]) => {
        const ch = seg.stats[k];
        const fmt = kind === "count" ? count : us;
        const cls = k === "count" || !ch.delta ? "" : ch.delta > 0 ? "up" : "down";
        return `<tr><td>${esc(k)}${kind === "us" ? " (µs)" : ""}</td><td>${fmt(ch.a)}</td><td>${fmt(ch.b)}</td><td class="${cls}">${esc(describeChange(ch, kind))}</td></tr>`;
      });
      for (const [t, ch] of Object.entries(seg.over_us)) {
        const cls = !ch.delta ? "" : ch.delta > 0 ? "up" : "down";
        rows.push(
          `<tr><td>&gt; ${esc(t)} µs</td><td>${count(ch.a)}</td><td>${count(ch.b)}</td><td class="${cls}">${esc(describeChange(ch, "count"))}</td></tr>`,
        );
      }
      body.push(`<table><tr><th></th><th>A</th><th>B</th><th>change</th></tr>${rows.join("")}</table>`);
    }
    if (scope === all && plots.length > 0) body.push("<h2>Plots</h2>", await chartsHtml(plots));
  }
  return pageHtml(`svtrace compare: ${cmp.a.path} vs ${cmp.b.path}`, body.join("\n"));
}

export interface CompareOptions {
  a: string;
  b: string;
  thresholdsUs?: number[];
  json?: boolean;
  html?: string;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
  color?: boolean;
}

export async function runCompare(o: CompareOptions): Promise<Comparison> {
  const out = o.out ?? process.stdout;
  const thresholds = [...new Set([100, 200, 250, ...(o.thresholdsUs ?? [])])];
  const a = await loadRun(o.a, thresholds);
  const b = await loadRun(o.b, thresholds);
  const cmp = compareRuns(a, b);
  if (o.json) out.write(`${JSON.stringify(cmp)}\n`);
  else
    out.write(
      renderCompareTerminal(
        cmp,
        o.color ?? ((out as { isTTY?: boolean }).isTTY === true && !process.env.NO_COLOR),
      ),
    );
  if (o.html) {
    const html = await renderCompareHtml(cmp, a, b);
    try {
      writeFileSync(o.html, html);
    } catch (e) {
      fail(`cannot write ${o.html}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    (o.err ?? process.stderr).write(`svtrace: wrote ${o.html}\n`);
  }
  return cmp;
}
