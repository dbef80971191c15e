/**
 * The CI verdict: `--max-latency-us N` (on total) and `--limit SEG=US` (svtrace-ansible's threshold names:
 * Thyp, Tsub, Ttot, ... or T1-T2 style) each give one PASS/FAIL check on every stream together, from exact
 * over-threshold counts; a negative latency anywhere (a clock problem) fails the "min latency > 0" check,
 * as sv-timestamp-analysis does.
 */

import { findSegment, type SegmentSpec } from "../analysis/segments.js";
import type { ReportSummary, Verdict, VerdictCheck } from "../analysis/summary.js";
import { fail } from "../errors.js";

export interface Limit {
  /** segment as the user named it */
  segment: string;
  us: number;
}

/** "Thyp=100" -> { segment: "Thyp", us: 100 } */
export function parseLimit(text: string): Limit {
  const m = /^\s*([A-Za-z0-9_.-]+)\s*=\s*([0-9]+(?:\.[0-9]+)?)\s*(?:us|µs)?\s*$/.exec(text);
  if (!m) fail(`--limit ${text}: expected SEGMENT=MICROSECONDS, e.g. --limit Thyp=100 or --limit T1-T2=100`);
  return { segment: m[1] as string, us: Number(m[2]) };
}

/** Resolve a limit's segment name against the record's segments, or fail naming the ones that exist. */
export function resolveLimit(limit: Limit, specs: SegmentSpec[]): SegmentSpec {
  const s = findSegment(specs, limit.segment);
  if (!s) {
    const names = specs.map((x) => (x.alias ? `${x.name} (${x.alias})` : x.name)).join(", ");
    fail(
      `--limit ${limit.segment}=${limit.us}: this record has no segment ${limit.segment}; its segments are ${names}`,
    );
  }
  return s;
}

export function computeVerdict(
  summary: ReportSummary,
  limits: { limit: Limit; spec: SegmentSpec }[],
): Verdict {
  const checks: VerdictCheck[] = [];
  for (const { limit, spec } of limits) {
    const seg = summary.all.segments[spec.name];
    const over = seg?.over_us[String(limit.us)] ?? 0;
    const label =
      spec.alias && limit.segment.toLowerCase() === spec.alias.toLowerCase() ? spec.alias : spec.name;
    checks.push({
      name: `${label} <= ${limit.us} us`,
      segment: spec.name,
      limit_us: limit.us,
      value: seg?.max ?? null,
      over,
      pass: (seg?.count ?? 0) > 0 && over === 0,
    });
  }
  let negative = 0;
  let min: number | null = null;
  for (const name of summary.segmentNames) {
    const seg = summary.all.segments[name];
    if (!seg || name === "total") continue;
    negative += seg.negative;
    if (seg.min !== null && (min === null || seg.min < min)) min = seg.min;
  }
  checks.push({
    name: "min latency > 0 us",
    segment: "all",
    limit_us: 0,
    value: min,
    over: negative,
    pass: negative === 0,
  });
  return { pass: checks.every((c) => c.pass), checks };
}
