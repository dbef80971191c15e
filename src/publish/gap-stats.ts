/**
 * Summaries of timing histograms in the units the publish/subscribe reports use (µs, 3 decimals):
 * count, min, p50, p99, max (and p99.9 when asked), from a LatencyHistogram of nanoseconds.
 */
import type { LatencyHistogram } from "../analysis/histogram.js";

export interface TimingStats {
  count: number;
  min_us: number | null;
  p50_us: number | null;
  p99_us: number | null;
  p999_us: number | null;
  max_us: number | null;
  mean_us: number | null;
}

const us = (ns: number): number | null => (Number.isFinite(ns) ? Math.round(ns) / 1000 : null);

export function timingStats(h: LatencyHistogram): TimingStats {
  if (h.count === 0)
    return { count: 0, min_us: null, p50_us: null, p99_us: null, p999_us: null, max_us: null, mean_us: null };
  return {
    count: h.count,
    min_us: us(h.min),
    p50_us: us(h.percentile(50)),
    p99_us: us(h.percentile(99)),
    p999_us: us(h.percentile(99.9)),
    max_us: us(h.max),
    mean_us: us(h.mean),
  };
}

/** "p50 250.0 / p99 254.3 / max 3541.2 µs" */
export function formatStats(s: TimingStats): string {
  if (s.count === 0) return "n/a";
  const f = (v: number | null) => (v === null ? "n/a" : v.toFixed(1));
  return `min ${f(s.min_us)} / p50 ${f(s.p50_us)} / p99 ${f(s.p99_us)} / max ${f(s.max_us)} µs`;
}
