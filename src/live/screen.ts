/**
 * Renders a LiveSnapshot as the text of the live screen (what the original svtrace redrew after `clear` every
 * second, LANDSCAPE.md §3.3, with every stream and segment): a header, per stream its counters and one line per
 * segment (min/mean/p50/p99/p99.9/max in µs and the count over the threshold), and a log2 histogram.
 * Pure functions: the caller decides where the text goes (log-update on a TTY, plain lines otherwise).
 */
import pc from "picocolors";
import type { LiveSnapshot, SegmentSnapshot } from "./model.js";

export interface ScreenOptions {
  color: boolean;
  /** terminal rows; streams beyond what fits are summarized (undefined = no limit) */
  rows?: number;
  /** title suffix, e.g. "lab (bridge)" */
  title?: string;
}

type Paint = (s: string) => string;

function painter(color: boolean): Record<"bold" | "dim" | "red" | "yellow" | "green" | "cyan", Paint> {
  const c = pc.createColors(color);
  return { bold: c.bold, dim: c.dim, red: c.red, yellow: c.yellow, green: c.green, cyan: c.cyan };
}

/** ns -> "12.3" µs (one decimal below 1000 µs, none above), "-" when null */
export function fmtUs(ns: number | null): string {
  if (ns === null) return "-";
  const us = ns / 1000;
  return Math.abs(us) >= 1000 ? us.toFixed(0) : us.toFixed(1);
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : " ".repeat(n - s.length) + s;
}
function padEnd(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

const SEG_HEAD = ["count", "min", "mean", "p50", "p99", "p99.9", "max"];

function segmentLine(
  name: string,
  s: SegmentSnapshot,
  thresholdUs: number,
  p: ReturnType<typeof painter>,
): string {
  const label = s.alias ? `${name} ${s.alias}` : name;
  const cells = [
    pad(String(s.count), 9),
    pad(fmtUs(s.min), 8),
    pad(fmtUs(s.mean), 8),
    pad(fmtUs(s.p50), 8),
    pad(fmtUs(s.p99), 8),
    pad(fmtUs(s["p99.9"]), 8),
    pad(fmtUs(s.max), 9),
  ];
  const over = pad(String(s.over_threshold), 8);
  const maxCell = s.max !== null && s.max > thresholdUs * 1000 ? p.yellow(cells[6]) : cells[6];
  const overCell = s.over_threshold > 0 ? p.yellow(over) : over;
  const bad = s.non_positive > 0 ? p.red(`  ${s.non_positive} not in path order`) : "";
  return `  ${padEnd(label, 16)}${cells.slice(0, 6).join("")}${maxCell}${overCell}${bad}`;
}

export function renderScreen(snap: LiveSnapshot, opts: ScreenOptions): string {
  const p = painter(opts.color);
  const lines: string[] = [];
  const mapPct = (snap.map.fill * 100).toFixed(1);
  const lost = snap.lost_events > 0 ? p.red(`lost events ${snap.lost_events}`) : `lost events 0`;
  lines.push(
    `${p.bold("svtrace live")}${opts.title ? ` ${opts.title}` : ""}  ${snap.elapsed_s.toFixed(0)} s  ` +
      `${snap.rate} SV/s  ${lost}  map ${snap.map.entries}/${snap.map.capacity} (${mapPct} %)  clock ${snap.clock}`,
  );
  lines.push(p.dim(`points: ${snap.points.map((pt) => pt.label || pt.name).join(" > ")}`));
  const head =
    `  ${padEnd("segment", 16)}${pad(SEG_HEAD[0], 9)}` +
    SEG_HEAD.slice(1, 6)
      .map((h) => pad(h, 8))
      .join("") +
    pad("max", 9) +
    pad(`>${snap.threshold_us}µs`, 8);
  lines.push(p.dim(`${head}   (latencies in µs)`));
  const segNames = snap.streams.length > 0 ? Object.keys(snap.streams[0].segments) : Object.keys(snap.all);
  const perStream = 1 + segNames.length;
  const histLines = snap.histogram.bins.filter((b) => b[2] > 0).length + 1;
  const budget = opts.rows
    ? Math.max(perStream, opts.rows - lines.length - histLines - 4)
    : Number.POSITIVE_INFINITY;
  let used = 0;
  let hidden = 0;
  for (const s of snap.streams) {
    if (used + perStream > budget) {
      hidden++;
      continue;
    }
    used += perStream;
    const counters =
      `received ${s.received}  missed ${s.missed}  dropped ${s.dropped > 0 ? p.yellow(String(s.dropped)) : "0"}  ` +
      `duplicates ${s.duplicates}  lost in path ${s.lost_in_path}  rows ${s.rows}`;
    const appid = s.appid === null ? "" : ` 0x${s.appid.toString(16).padStart(4, "0")}`;
    lines.push(`${p.cyan(p.bold(s.svID))}${p.dim(appid)}  ${counters}`);
    for (const name of segNames) lines.push(segmentLine(name, s.segments[name], snap.threshold_us, p));
  }
  if (snap.streams.length === 0) lines.push(p.yellow("No SV collected yet."));
  if (hidden > 0) lines.push(p.dim(`(${hidden} more streams: enlarge the terminal or use --json)`));
  if (snap.streams.length > 1) {
    lines.push(p.bold("all streams"));
    for (const name of Object.keys(snap.all))
      lines.push(segmentLine(name, snap.all[name], snap.threshold_us, p));
  }
  lines.push(...renderHistogram(snap, opts.color));
  for (const w of snap.warnings ?? []) lines.push(p.yellow(`warning: ${w}`));
  return lines.join("\n");
}

/** The log2 histogram of the drawn segment, bpftrace style: `[8, 16) µs   3120 |@@@@@   |`. */
export function renderHistogram(snap: LiveSnapshot, color: boolean): string[] {
  const p = painter(color);
  const bins = snap.histogram.bins;
  let first = bins.findIndex((b) => b[2] > 0);
  let last = bins.length - 1;
  while (last >= 0 && bins[last][2] === 0) last--;
  if (first < 0) return [];
  if (first > last) first = last;
  const max = Math.max(...bins.slice(first, last + 1).map((b) => b[2]));
  const width = 40;
  const out = [p.dim(`${snap.histogram.segment} latency, all streams (log2 µs bins):`)];
  for (let i = first; i <= last; i++) {
    const [lo, hi, n] = bins[i];
    const range = hi === null ? `[${lo}, ...)` : `[${lo}, ${hi})`;
    const bar = n > 0 ? "@".repeat(Math.max(1, Math.round((n / max) * width))) : "";
    const overThreshold = lo >= snap.threshold_us;
    const barText = `|${padEnd(bar, width)}|`;
    out.push(
      `${padEnd(range, 16)}${pad(String(n), 10)} ${overThreshold && n > 0 ? p.yellow(barText) : barText}`,
    );
  }
  return out;
}

/** One plain line per stream (for a pipe or a log): what a non-TTY `svtrace live` appends every second. */
export function renderPlainLines(snap: LiveSnapshot): string[] {
  const seg = snap.histogram.segment;
  const lines: string[] = [];
  for (const s of snap.streams) {
    const segs = Object.entries(s.segments)
      .map(([name, v]) => `${v.alias ?? name} p50 ${fmtUs(v.p50)} p99 ${fmtUs(v.p99)} max ${fmtUs(v.max)}`)
      .join("; ");
    lines.push(
      `${snap.elapsed_s.toFixed(0)}s ${s.svID} received ${s.received} missed ${s.missed} dropped ${s.dropped} ` +
        `duplicates ${s.duplicates} rows ${s.rows} >${snap.threshold_us}us ${s.segments[seg]?.over_threshold ?? 0} | ${segs}`,
    );
  }
  lines.push(
    `${snap.elapsed_s.toFixed(0)}s all ${snap.rate} SV/s lost_events ${snap.lost_events} map ${snap.map.entries}/${snap.map.capacity}`,
  );
  return lines;
}
