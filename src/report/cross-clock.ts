/**
 * The segments of a joined host + guest record that cross the two clocks (one point on the host's, the other on
 * the guest's, mapped onto the host's: see ../record/clock-sync.ts), with the mapping's uncertainty, for the
 * terminal, HTML and --json reports. A negative latency there is counted and explained, never clipped.
 */
import type { CrossClockSummary, ReportSummary } from "../analysis/summary.js";
import type { CrossClockMeta } from "../record/schema.js";

export function crossClockSummary(s: ReportSummary): CrossClockSummary | null {
  const cc: CrossClockMeta | undefined = s.meta.crossClock;
  if (!cc) return null;
  const host = new Set(cc.hostPoints);
  const guest = new Set(cc.guestPoints);
  const first = s.points.find((p) => p.name !== "t0")?.name;
  const side = (n: string): "h" | "g" | undefined =>
    host.has(n) ? "h" : guest.has(n) ? "g" : n === "first" && first ? side(first) : undefined;
  const segments: string[] = [];
  const negative: Record<string, number> = {};
  for (const seg of Object.values(s.all.segments)) {
    const a = side(seg.from);
    const b = side(seg.to);
    if (a && b && a !== b && !segments.includes(seg.name)) {
      segments.push(seg.name);
      negative[seg.name] = seg.negative;
    }
  }
  return {
    segments,
    uncertainty_ns: cc.uncertaintyNs,
    method: cc.method,
    rtt_min_ns: cc.rttMinNs,
    samples: cc.samples,
    drift_ppm: cc.driftPpm,
    guest_realtime_offset_ns: cc.guestRealtimeOffsetNs,
    guest_realtime_step_ns: cc.guestRealtimeStepNs,
    negative,
  };
}

/** One line for the terminal and HTML. */
export function crossClockLine(x: CrossClockSummary): string {
  const us = (ns: number) => (ns / 1000).toFixed(1);
  const neg = Object.entries(x.negative).filter(([, n]) => n > 0);
  return (
    `two clocks: ${x.segments.join(", ") || "no segment"} cross${x.segments.length === 1 ? "es" : ""} from the host's clock to the guest's ` +
    `(mapped onto the host's): ± ${us(x.uncertainty_ns)} µs on each latency there (fastest round trip ${x.rtt_min_ns.map(us).join(" / ")} µs ` +
    `over the ${x.method}${x.drift_ppm !== null ? `, drift ${x.drift_ppm} ppm` : ""})` +
    (neg.length > 0
      ? `; ${neg.map(([k, n]) => `${n} in ${k}`).join(", ")} below zero: within the clock uncertainty when above -${us(x.uncertainty_ns)} µs`
      : "")
  );
}
