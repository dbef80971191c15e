/**
 * The end-of-run summary printed by `svtrace live`, `record` and `demo`: per stream the SVs traced, complete,
 * dropped, missed, duplicates, and the total segment's p50/p99/max; lost events; why it stopped; the record file.
 */
import type { LiveSnapshot } from "./model.js";
import { fmtUs } from "./screen.js";
import type { TraceRunResult } from "./trace-run.js";

export function formatSummary(
  r: Pick<TraceRunResult, "snapshot" | "summary" | "stoppedBy" | "record">,
): string {
  const s: LiveSnapshot = r.snapshot;
  const lines: string[] = [];
  const secs = (r.summary.durationMs / 1000).toFixed(1);
  lines.push(
    `svtrace: traced ${secs} s (${s.profile}, clock ${s.clock}), stopped by ${r.stoppedBy}; ` +
      `${r.summary.rows} SVs, lost events ${s.lost_events}, map ${s.map.entries}/${s.map.capacity}`,
  );
  const seg = s.histogram.segment;
  for (const st of s.streams) {
    const t = st.segments[seg];
    const lat =
      t && t.count > 0 ? `  ${seg} p50 ${fmtUs(t.p50)} p99 ${fmtUs(t.p99)} max ${fmtUs(t.max)} µs` : "";
    lines.push(
      `  ${st.svID}: ${st.rows} SVs, ${st.complete_rows} at every point, dropped ${st.dropped}, missed ${st.missed}, ` +
        `duplicates ${st.duplicates}, over ${s.threshold_us} µs ${t?.over_threshold ?? 0}${lat}`,
    );
  }
  if (s.streams.length === 0) lines.push("  no SV was traced");
  if (r.record) lines.push(`  record: ${r.record.path} (${r.record.format}, ${r.record.rows} rows)`);
  return lines.join("\n");
}
