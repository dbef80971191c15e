/**
 * The report summary: what `svtrace report --json` prints (one JSON object) and what the terminal table,
 * HTML page, JUnit file and `svtrace compare` are built from. Latencies are integers in nanoseconds.
 */

import type { PointMeta, RecordMeta, TracerCost } from "../record/schema.js";
import type { AttributionEntry } from "./attribution.js";
import type { SeriesPoint } from "./per-second.js";
import type { Spike } from "./spikes.js";

export const PERCENTILES = [
  ["p50", 0.5],
  ["p90", 0.9],
  ["p99", 0.99],
  ["p99.9", 0.999],
  ["p99.99", 0.9999],
  ["p99.999", 0.99999],
] as const;

export type PercentileKey = (typeof PERCENTILES)[number][0];

export const STAT_KEYS = [
  "count",
  "min",
  "mean",
  "stddev",
  "p50",
  "p90",
  "p99",
  "p99.9",
  "p99.99",
  "p99.999",
  "max",
] as const;
export type StatKey = (typeof STAT_KEYS)[number];

export interface SegmentStats extends Record<StatKey, number | null> {
  /** "T1-T2" or "total" */
  name: string;
  /** "Thyp", "Ttot", ... */
  alias: string | null;
  /** point names the segment runs between ("first" for total's start: the first point that saw the SV) */
  from: string;
  to: string;
  count: number;
  /** threshold in µs -> number of SVs above it (exact) */
  over_us: Record<string, number>;
  /** latencies below zero: the two points' clocks disagree (PTP, TAI/UTC) */
  negative: number;
}

export interface StreamSummary {
  svID: string;
  appid: number;
  rows: number;
  /** rows seen by every probe (t0, the publisher's refrTm, is not a probe: schema.ts firstProbe) */
  complete: number;
  /** rows seen by a probe but not by an earlier one (the original tool's "missed") */
  missed: number;
  /** rows that never reached the last point */
  lostInPath: number;
  /** smpCnt gaps at the first point (samples never seen), counted once across the wrap; null without identity */
  drops: number | null;
  duplicates: number | null;
  /** SVs that reached the first probe after a newer SV of their stream; null without identity */
  outOfOrder: number | null;
  wraps: number | null;
  modulus: number | null;
  /** keyed by segment name and by alias ("T1-T2" and "Thyp"), plus "total" */
  segments: Record<string, SegmentStats>;
}

export interface VerdictCheck {
  /** what was checked, e.g. "Thyp <= 100 us" */
  name: string;
  segment: string;
  limit_us: number | null;
  /** worst value found, ns (max latency; min latency for the negative check) */
  value: number | null;
  /** SVs over the limit (or negative) */
  over: number;
  pass: boolean;
}

export interface Verdict {
  pass: boolean;
  checks: VerdictCheck[];
}

export interface InputInfo {
  path: string;
  kind: string;
  rows: number;
}

/** A joined host + guest record: the segments that cross the two clocks, and the mapping's uncertainty. */
export interface CrossClockSummary {
  /** segment names whose two ends are on different clocks */
  segments: string[];
  /** ± on each of those latencies (ns) */
  uncertainty_ns: number;
  method: string;
  rtt_min_ns: number[];
  samples: number[];
  drift_ppm: number | null;
  guest_realtime_offset_ns: string;
  guest_realtime_step_ns: number | null;
  /** per cross segment, every stream together: latencies below zero */
  negative: Record<string, number>;
}

export interface ReportSummary {
  tool: "svtrace report";
  svtraceVersion: string;
  inputs: InputInfo[];
  meta: RecordMeta;
  points: PointMeta[];
  /** segment names in path order, "total" last */
  segmentNames: string[];
  thresholds_us: number[];
  rows: number;
  /** first and last SV time (ISO), and seconds between them; null without time */
  start: string | null;
  end: string | null;
  duration_s: number | null;
  streams: StreamSummary[];
  /** every stream together */
  all: { segments: Record<string, SegmentStats> };
  /** per-second max and p99 per segment (every stream together) */
  series: Record<string, SeriesPoint[]>;
  spikes: Spike[];
  warnings: string[];
  verdict?: Verdict;
  /** the tracer's own cost from the record's metadata (cost_ns per point), null when the record has none */
  tracer?: TracerCost | null;
  /** slow SVs by segment and cause (record --context); empty, with attribution_note saying why, without */
  attribution: AttributionEntry[];
  attribution_threshold_us: number;
  attribution_note: string | null;
  /** a joined host + guest record: the segments crossing the two clocks and their uncertainty (../report/cross-clock.ts) */
  crossClock?: CrossClockSummary | null;
}
