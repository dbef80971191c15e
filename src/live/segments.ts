/**
 * Segments of a trace: each pair of consecutive points ("T1-T2", alias "Thyp") and "total", from the first
 * point that saw an SV to the last point. Names follow SEGMENT_ALIASES in ../record/schema.ts.
 */
import { type PointMeta, SEGMENT_ALIASES } from "../record/schema.js";

export interface SegmentDef {
  /** "T1-T2" style, or "total" */
  name: string;
  /** the svtrace-ansible name when there is one ("Thyp", "Tsub", ...) */
  alias?: string;
  /** index of the start point in the record's points; -1 for total (first point present in the row) */
  from: number;
  /** index of the end point */
  to: number;
}

/** "t1" -> "T1", "t2a" -> "T2a" */
export function pointTitle(point: Pick<PointMeta, "name">): string {
  return point.name.charAt(0).toUpperCase() + point.name.slice(1);
}

/** Consecutive pairs, then "total" (first present point -> last point) when there are 3 or more points. */
export function segmentsFor(points: Pick<PointMeta, "name">[]): SegmentDef[] {
  const out: SegmentDef[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const name = `${pointTitle(points[i])}-${pointTitle(points[i + 1])}`;
    out.push({ name, alias: SEGMENT_ALIASES[name], from: i, to: i + 1 });
  }
  if (points.length >= 3) {
    const span = `${pointTitle(points[0])}-${pointTitle(points[points.length - 1])}`;
    out.push({ name: "total", alias: SEGMENT_ALIASES[span], from: -1, to: points.length - 1 });
  }
  return out;
}

/** The segment's latency in ns for one row's timestamps, or undefined when a point did not see the SV. */
export function segmentLatency(seg: SegmentDef, t: (bigint | null)[]): number | undefined {
  const end = t[seg.to];
  if (end === null || end === undefined) return undefined;
  let start: bigint | null | undefined;
  if (seg.from >= 0) start = t[seg.from];
  else {
    for (let i = 0; i < seg.to && start == null; i++) start = t[i];
  }
  if (start === null || start === undefined) return undefined;
  return Number(end - start);
}
