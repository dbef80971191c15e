/**
 * The HTML report: one self-contained page (inline CSS and inline SVG charts rendered server-side with
 * ECharts; no script, no network) with the verdict, warnings, per-stream tables, the plots and the spikes.
 */

import { type ReportSummary, type SegmentStats, STAT_KEYS } from "../analysis/summary.js";
import { CHART_HEIGHT, CHART_WIDTH, renderSvg } from "./charts.js";
import { crossClockLine } from "./cross-clock.js";
import { count, us } from "./format.js";
import { xmlEscape as esc } from "./junit.js";
import { type Plot, plottedSegments } from "./plots.js";
import { attributionLines } from "./terminal.js";

export const PAGE_CSS = `
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:24px;color:#1f2328;background:#fff;font-size:14px}
h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:right;font-variant-numeric:tabular-nums}
th{background:#f6f8fa}td{white-space:nowrap}td:first-child,th:first-child{text-align:left}
.meta{color:#57606a;margin:2px 0}.pass{color:#1a7f37;font-weight:bold}.fail{color:#cf222e;font-weight:bold}
.warn{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;margin:4px 0}
.chart{margin:8px 0 18px}.chart svg{max-width:100%;height:auto;border:1px solid #eaeef2}
.verdict{font-size:18px;padding:8px 12px;display:inline-block;border-radius:6px;margin:8px 0}
.verdict.pass{background:#dafbe1}.verdict.fail{background:#ffebe9}
.up{color:#cf222e}.down{color:#1a7f37}
`;

export function segmentTableHtml(summary: ReportSummary, segments: Record<string, SegmentStats>): string {
  const th = [
    "segment",
    ...STAT_KEYS.map((s) => (s === "count" ? s : `${s} (µs)`)),
    ...summary.thresholds_us.map((t) => `&gt; ${t} µs`),
    "negative",
  ];
  const rows = plottedSegments(summary)
    .map((name) => segments[name])
    .filter((s): s is SegmentStats => s !== undefined)
    .map((s) => {
      const cells = [
        esc(s.alias ? `${s.name} (${s.alias})` : s.name),
        ...STAT_KEYS.map((k) => (k === "count" ? count(s.count) : us(s[k]))),
        ...summary.thresholds_us.map((t) => count(s.over_us[String(t)] ?? 0)),
        count(s.negative),
      ];
      return `<tr>${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`;
    });
  return `<table><tr>${th.map((h) => `<th>${h}</th>`).join("")}</tr>${rows.join("")}</table>`;
}

export async function chartsHtml(plots: Plot[]): Promise<string> {
  const parts: string[] = [];
  for (const p of plots) {
    const svg = await renderSvg(p.option, CHART_WIDTH, CHART_HEIGHT);
    parts.push(`<div class="chart" id="${esc(p.id)}" data-chart="${esc(p.id)}">${svg}</div>`);
  }
  return parts.join("\n");
}

export function pageHtml(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="generator" content="svtrace report"><style>${PAGE_CSS}</style></head>
<body>
${body}
</body></html>
`;
}

export async function renderHtml(summary: ReportSummary, plots: Plot[]): Promise<string> {
  const b: string[] = [];
  const inputs = summary.inputs.map((i) => `${i.path} (${i.kind}, ${count(i.rows)} rows)`).join(", ");
  b.push(`<h1>svtrace report</h1><p class="meta">${esc(inputs)}</p>`);
  b.push(
    `<p class="meta">points: ${summary.points.map((p) => `${esc(p.name)} = ${esc(p.label)}`).join("; ")}</p>`,
  );
  if (summary.crossClock) b.push(`<p class="meta">${esc(crossClockLine(summary.crossClock))}</p>`);
  const m = summary.meta;
  if (m.host !== "unknown")
    b.push(
      `<p class="meta">recorded on ${esc(m.host)}, kernel ${esc(m.kernel)}, ${m.backend === "libbpf" ? "libbpf" : `bpftrace ${esc(m.bpftrace)}`}, profile ${esc(m.profile)}, clock ${esc(m.clock)}${m.iface ? `, interface ${esc(m.iface)}` : ""}</p>`,
    );
  if (summary.start)
    b.push(
      `<p class="meta">from ${esc(summary.start)} to ${esc(summary.end ?? "")} (${summary.duration_s} s), ${count(summary.rows)} SVs</p>`,
    );
  else b.push(`<p class="meta">${count(summary.rows)} latencies (no SV identity or time in this input)</p>`);
  if (summary.verdict) {
    const v = summary.verdict;
    b.push(`<div class="verdict ${v.pass ? "pass" : "fail"}">verdict: ${v.pass ? "PASS" : "FAILED"}</div>`);
    b.push(
      `<table><tr><th>check</th><th>result</th><th>worst (µs)</th><th>SVs over</th></tr>${v.checks
        .map(
          (c) =>
            `<tr><td>${esc(c.name)}</td><td class="${c.pass ? "pass" : "fail"}">${c.pass ? "PASS" : "FAILED"}</td><td>${us(c.value)}</td><td>${count(c.over)}</td></tr>`,
        )
        .join("")}</table>`,
    );
  }
  for (const w of summary.warnings) b.push(`<div class="warn">${esc(w)}</div>`);
  b.push("<h2>Streams</h2>");
  for (const s of summary.streams) {
    const facts = [`${count(s.rows)} SVs`, `complete ${count(s.complete)}`];
    if (s.drops !== null)
      facts.push(
        `drops ${count(s.drops)}`,
        `duplicates ${count(s.duplicates)}`,
        `out of order ${count(s.outOfOrder)}`,
      );
    facts.push(`missed ${count(s.missed)}`, `lost in path ${count(s.lostInPath)}`);
    if (s.modulus) facts.push(`smpCnt modulus ${s.modulus}`);
    b.push(
      `<h3>${esc(s.svID)}${s.appid ? ` (APPID 0x${s.appid.toString(16).padStart(4, "0")})` : ""}</h3><p class="meta">${facts.join(", ")}</p>`,
    );
    b.push(segmentTableHtml(summary, s.segments));
  }
  if (summary.streams.length > 1) {
    b.push(`<h3>All ${summary.streams.length} streams</h3>`);
    b.push(segmentTableHtml(summary, summary.all.segments));
  }
  b.push("<h2>Plots</h2>");
  b.push(await chartsHtml(plots));
  if (summary.spikes.length > 0) {
    b.push(`<h2>Top ${summary.spikes.length} spikes</h2>`);
    const segs = plottedSegments(summary);
    const head = ["time (UTC)", "svID", "iteration", "smpCnt", ...segs.map((n) => `${n} (µs)`)];
    const rows = summary.spikes.map(
      (sp) =>
        `<tr>${[
          sp.time ?? "-",
          sp.svID,
          String(sp.iteration),
          String(sp.smpCnt),
          ...segs.map((n) => us(sp.segments[n] ?? null)),
        ]
          .map((c) => `<td>${esc(c)}</td>`)
          .join("")}</tr>`,
    );
    b.push(`<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr>${rows.join("")}</table>`);
  }
  {
    const [title, ...lines] = attributionLines(summary);
    b.push(`<h2>${esc(title as string)}</h2>`);
    b.push(`<ul>${lines.map((l) => `<li>${esc(l.trim())}</li>`).join("")}</ul>`);
  }
  b.push(
    `<p class="meta">latencies in µs; percentiles within 0.05 %, min/max/counts exact; generated by svtrace ${esc(summary.svtraceVersion)}</p>`,
  );
  return pageHtml(`svtrace report: ${summary.inputs.map((i) => i.path).join(", ")}`, b.join("\n"));
}
