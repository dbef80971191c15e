/**
 * The terminal report: what was read, then per stream its counts (SVs, drops, duplicates, missed) and a table
 * of every segment's statistics in µs with the over-threshold counts, every stream together, the top spikes,
 * warnings and the verdict. Colour only when asked (a TTY); plain text when piped.
 */

import pc from "picocolors";
import { describeEntry } from "../analysis/attribution.js";
import type { ReportSummary, SegmentStats } from "../analysis/summary.js";
import { crossClockLine } from "./cross-clock.js";
import { count, table, us } from "./format.js";
import { plottedSegments } from "./plots.js";

const STAT_COLUMNS = ["min", "mean", "p50", "p90", "p99", "p99.9", "p99.99", "p99.999", "max"] as const;

function segmentRows(summary: ReportSummary, segments: Record<string, SegmentStats>): string[][] {
  const head = [
    "segment",
    "count",
    ...STAT_COLUMNS,
    "stddev",
    ...summary.thresholds_us.map((t) => `>${t}us`),
    "neg",
  ];
  const rows = [head];
  for (const name of plottedSegments(summary)) {
    const s = segments[name];
    if (!s) continue;
    const label = s.alias ? `${name} ${s.alias}` : name;
    rows.push([
      label,
      count(s.count),
      ...STAT_COLUMNS.map((k) => us(s[k])),
      us(s.stddev),
      ...summary.thresholds_us.map((t) => count(s.over_us[String(t)] ?? 0)),
      count(s.negative),
    ]);
  }
  return rows;
}

export function renderTerminal(summary: ReportSummary, color: boolean): string {
  const c = pc.createColors(color);
  const out: string[] = [];
  const src = summary.inputs.map((i) => `${i.path} (${i.kind}, ${count(i.rows)} rows)`).join(", ");
  out.push(c.bold(`svtrace report: ${src}`));
  out.push(`points: ${summary.points.map((p) => `${p.name} = ${p.label}`).join("; ")}`);
  const m = summary.meta;
  if (m.host !== "unknown")
    out.push(
      `recorded on ${m.host} (kernel ${m.kernel}, ${m.backend === "libbpf" ? "libbpf" : `bpftrace ${m.bpftrace}`}, profile ${m.profile}, clock ${m.clock}${m.iface ? `, ${m.iface}` : ""})`,
    );
  const tc = summary.tracer;
  if (tc) {
    const pts = Object.entries(tc.cost_ns)
      .map(([k, v]) => `${k} ${(v / 1000).toFixed(2)}`)
      .join(", ");
    out.push(
      `tracer cost (BPF run time per SV, µs): ${pts || "-"}; all programs ${(tc.total_ns_per_sv / 1000).toFixed(2)}; ` +
        `lost events ${tc.lost_events}, map fill max ${tc.map_entries_max}/${tc.map_capacity}` +
        `${tc.recursion_misses ? `, recursion misses ${tc.recursion_misses}` : ""}`,
    );
    if (!tc.source.startsWith("kernel.")) out.push(`  (${tc.source})`);
  }
  if (summary.crossClock) out.push(crossClockLine(summary.crossClock));
  if (summary.start)
    out.push(`from ${summary.start} to ${summary.end} (${summary.duration_s} s), ${count(summary.rows)} SVs`);
  else out.push(`${count(summary.rows)} latencies (no SV identity or time in this input)`);
  out.push("latencies in µs");
  const multi = summary.streams.length > 1;
  for (const s of summary.streams) {
    out.push("");
    const facts = [`${count(s.rows)} SVs`, `complete ${count(s.complete)}`];
    if (s.drops !== null)
      facts.push(
        `drops ${count(s.drops)}`,
        `duplicates ${count(s.duplicates)}`,
        `out of order ${count(s.outOfOrder)}`,
      );
    facts.push(`missed ${count(s.missed)}`, `lost in path ${count(s.lostInPath)}`);
    if (s.modulus) facts.push(`smpCnt modulus ${s.modulus}`);
    const title = s.appid ? `${s.svID} (APPID 0x${s.appid.toString(16).padStart(4, "0")})` : s.svID;
    out.push(`${c.bold(c.cyan(title))}: ${facts.join(", ")}`);
    const rows = table(segmentRows(summary, s.segments));
    out.push(c.dim(rows[0] as string), ...rows.slice(1));
  }
  if (multi) {
    out.push("", c.bold(c.cyan(`all ${summary.streams.length} streams`)));
    const rows = table(segmentRows(summary, summary.all.segments));
    out.push(c.dim(rows[0] as string), ...rows.slice(1));
  }
  if (summary.spikes.length > 0) {
    out.push("", c.bold(`top ${summary.spikes.length} spikes (total latency)`));
    const segs = plottedSegments(summary);
    const head = ["time", "svID", "iteration", "smpCnt", ...segs];
    const rows = [head];
    for (const sp of summary.spikes)
      rows.push([
        sp.time ?? "-",
        sp.svID,
        String(sp.iteration),
        String(sp.smpCnt),
        ...segs.map((n) => us(sp.segments[n] ?? null)),
      ]);
    const t = table(rows);
    out.push(c.dim(t[0] as string), ...t.slice(1));
  }
  out.push("", ...attributionLines(summary, (x) => c.bold(x)));
  for (const w of summary.warnings) out.push(c.yellow(`warning: ${w}`));
  if (summary.verdict) {
    out.push("");
    for (const ch of summary.verdict.checks) {
      const detail =
        ch.segment === "all"
          ? ch.pass
            ? `min ${us(ch.value)} µs`
            : `${count(ch.over)} negative latencies (min ${us(ch.value)} µs): clock problem`
          : ch.value === null
            ? "no SVs measured"
            : ch.pass
              ? `max ${us(ch.value)} µs`
              : `${count(ch.over)} SVs above the limit, max ${us(ch.value)} µs`;
      out.push(`${ch.pass ? c.green("PASS") : c.red("FAIL")} ${ch.name}: ${detail}`);
    }
    out.push(summary.verdict.pass ? c.green(c.bold("verdict: PASS")) : c.red(c.bold("verdict: FAIL")));
  }
  return `${out.join("\n")}\n`;
}

/** The attribution section: a title, one line per cause (largest first per segment), or the note. */
export function attributionLines(summary: ReportSummary, bold: (s: string) => string = (s) => s): string[] {
  const th = summary.attribution_threshold_us;
  const out = [bold(`slow SVs by cause (segments over ${th} µs, from the record's context columns)`)];
  if (summary.attribution.length === 0 && !summary.attribution_note) out.push(`  no segment over ${th} µs`);
  for (const e of summary.attribution) out.push(`  ${describeEntry(e, th, count)}`);
  if (summary.attribution_note) out.push(`  (${summary.attribution_note})`);
  return out;
}
