/**
 * The segments a report measures: each pair of consecutive points ("T1-T2", alias "Thyp" per
 * SEGMENT_ALIASES) and "total", from the first point that saw the SV to the last point (alias from the
 * record's first and last point names, e.g. "Ttot" for T0-T4). With two points, total is T1-T2 itself.
 */
import { type PointMeta, SEGMENT_ALIASES } from "../record/schema.js";

export interface SegmentSpec {
  /** "T1-T2" or "total" */
  name: string;
  alias?: string;
  /** start point index; -1 = the first point present in the row (total) */
  from: number;
  to: number;
}

export function pointTitle(p: Pick<PointMeta, "name">): string {
  return p.name.charAt(0).toUpperCase() + p.name.slice(1);
}

export function segmentSpecs(points: Pick<PointMeta, "name">[]): SegmentSpec[] {
  const out: SegmentSpec[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const name = `${pointTitle(points[i] as PointMeta)}-${pointTitle(points[i + 1] as PointMeta)}`;
    out.push({ name, alias: SEGMENT_ALIASES[name], from: i, to: i + 1 });
  }
  if (points.length >= 2) {
    const span = `${pointTitle(points[0] as PointMeta)}-${pointTitle(points[points.length - 1] as PointMeta)}`;
    out.push({ name: "total", alias: SEGMENT_ALIASES[span], from: -1, to: points.length - 1 });
  }
  return out;
}

/** The segment a user names: "T1-T2", "Thyp", "total", "Ttot" (case-insensitive). */
export function findSegment(specs: SegmentSpec[], name: string): SegmentSpec | undefined {
  const n = name.toLowerCase();
  return (
    specs.find((s) => s.name.toLowerCase() === n) ??
    specs.find((s) => s.alias?.toLowerCase() === n && s.name !== "total") ??
    specs.find((s) => s.alias?.toLowerCase() === n)
  );
}
