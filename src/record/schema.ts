/**
 * The svtrace record: one row per SV, one nanosecond timestamp column per trace point.
 *
 * Columns, in order: svID, appid, iteration, smpCnt, then one `tN_ns` column per point
 * (`t0_ns` = publisher send time carried in refrTm when the publisher used --t0, then `t1_ns`..).
 * Timestamps are nanoseconds since the Unix epoch on the clock named in the metadata (realtime or TAI);
 * null where that point did not see the SV.
 *
 * Files: Apache Arrow IPC *stream* (default, batches of at most one second, so a killed run keeps all but
 * the last batch), CSV with exactly the column names as header (empty field = null), or the original
 * svtrace `results` file (one latency in whole microseconds per line, first to last point).
 */

export type RecordFormat = "arrow" | "csv" | "legacy";
export type ClockName = "realtime" | "tai";

/** One trace point of a record (T0..T4 in the talk the project starts from). */
export interface PointMeta {
  /** column stem: "t0".."t9" */
  name: string;
  /** human label, e.g. "T1 hyp-in receive" */
  label: string;
  /** where it was taken, e.g. "tracepoint:net:netif_receive_skb dev=hyp-in" or "refrTm (publisher --t0)" */
  probe: string;
}

/** Stored as Arrow schema metadata under the key "svtrace" (JSON). */
export interface RecordMeta {
  svtraceVersion: string;
  host: string;
  kernel: string;
  /** bpftrace version when the bpftrace backend traced ("none" with libbpf) */
  bpftrace: string;
  /** tracer backend (absent in records from before the libbpf backend: bpftrace) */
  backend?: "libbpf" | "bpftrace";
  profile: string;
  points: PointMeta[];
  clock: ClockName;
  iface?: string;
  /** ISO 8601 start time */
  start: string;
  /** CLOCK_MONOTONIC -> `clock` offset svtrace added to the kernel times (ns), and its uncertainty (ns) */
  clockOffsetNs?: string;
  clockOffsetRttNs?: number;
  /** the tracer's own cost, known at the end of the run (null while recording, absent in old records) */
  tracer?: TracerCost | null;
  /** `record --context`: per-point CPU/thread columns and the wait analysis (absent without context) */
  context?: ContextMeta;
  /** a join of a host record and a guest record: how the guest's clock was mapped onto the host's */
  crossClock?: CrossClockMeta;
}

/** What `--context` recorded (see contextColumns). */
export interface ContextMeta {
  /** a segment longer than this gets the wait analysis of its later point */
  thresholdUs: number;
  /** the wait columns are filled (libbpf) or not, and why */
  wait: boolean;
  waitNote?: string;
}

/** How a guest record's times were put on the host's clock (see clock-sync.ts). */
export interface CrossClockMeta {
  /** how the exchanges travelled */
  method: string;
  /** point names (in the joined record) on the host's clock and on the guest's */
  hostPoints: string[];
  guestPoints: string[];
  /** host monotonic - guest monotonic at the first round (ns) */
  offsetNs: string;
  /** ± on every time mapped from the guest (ns): half the slower kept round trip */
  uncertaintyNs: number;
  /** fastest and median round trip of each round (start, end), and exchanges per round */
  rttMinNs: number[];
  rttMedianNs: number[];
  samples: number[];
  /** guest clock rate against the host's between the rounds (null with one round) */
  driftPpm: number | null;
  driftOverRunNs: number | null;
  /** guest CLOCK_REALTIME - host CLOCK_REALTIME at the first round (ns): the guest wall clock's error */
  guestRealtimeOffsetNs: string;
  /** how far the guest's CLOCK_REALTIME stepped against its monotonic clock between the rounds (ns) */
  guestRealtimeStepNs: number | null;
}

/** What the tracer cost and lost, measured over a run (see src/trace/bpf-cost.ts). */
export interface TracerCost {
  /** how it was measured, or why it was not */
  source: string;
  /** SVs recorded (the divisor of the per-SV figures) */
  svs: number;
  /** BPF run time per SV at each point (ns), by point name ("T1", ...) */
  cost_ns: Record<string, number>;
  /** every program of the tracer together (probes, drain, timers), per SV */
  total_ns_per_sv: number;
  /** the programs that are not a point (drain timers, BEGIN/END), per SV */
  other_ns_per_sv: number;
  /** one entry per tracepoint program */
  programs: {
    attach: string;
    points: string[];
    progId: number | null;
    runs: number;
    runTimeNs: number;
    nsPerRun: number;
    nsPerSv: number;
  }[];
  /** nested runs the kernel skipped (an SV can miss a point silently) */
  recursion_misses: number;
  lost_events: number;
  map_capacity: number;
  /** most entries seen in the pending-SV map, and that as a share of its capacity */
  map_entries_max: number;
  map_fill_max: number;
}

/** One SV as recorded. `t[i]` is the timestamp of points[i] (bigint ns) or null. */
export interface SvRow {
  svID: string;
  appid: number;
  iteration: number;
  smpCnt: number;
  t: (bigint | null)[];
}

/** Context columns of each point, after every tN_ns column (record --context). */
export const CONTEXT_FIELDS = [
  { suffix: "cpu", kind: "u32" },
  { suffix: "tid", kind: "u32" },
  { suffix: "comm", kind: "str" },
] as const;
/** Wait-analysis columns of each point but the first (null unless the segment ending there was slow). */
export const WAIT_FIELDS = [
  { suffix: "wait_run_ns", kind: "u32" },
  { suffix: "wait_runnable_ns", kind: "u32" },
  { suffix: "wait_sleep_ns", kind: "u32" },
  { suffix: "blocker_pid", kind: "u32" },
  { suffix: "blocker_comm", kind: "str" },
] as const;
export type ExtraKind = "u32" | "str";
export const EXTRA_SUFFIXES: readonly string[] = [...CONTEXT_FIELDS, ...WAIT_FIELDS].map((f) => f.suffix);
/** `t2b_blocker_comm` -> point "t2b", suffix "blocker_comm" */
export const EXTRA_COLUMN = new RegExp(`^(t\\d+[a-z]?)_(${EXTRA_SUFFIXES.join("|")})$`);

export interface ExtraSpec {
  name: string;
  kind: ExtraKind;
  /** index of the point in meta.points */
  point: number;
  suffix: string;
}

/**
 * The extra columns of a record with context, in file order: for each probe point (not t0) its cpu, tid,
 * comm; then, for each probe point after the first probe, its wait columns (all of them even on the
 * bpftrace backend, where they stay null, so every record with context has one layout).
 */
export function contextColumns(meta: Pick<RecordMeta, "points" | "context">): ExtraSpec[] {
  if (!meta.context) return [];
  const out: ExtraSpec[] = [];
  const p0 = firstProbe(meta.points);
  meta.points.forEach((p, i) => {
    if (i < p0) return;
    for (const f of CONTEXT_FIELDS)
      out.push({ name: `${p.name}_${f.suffix}`, kind: f.kind, point: i, suffix: f.suffix });
  });
  meta.points.forEach((p, i) => {
    if (i <= p0) return;
    for (const f of WAIT_FIELDS)
      out.push({ name: `${p.name}_${f.suffix}`, kind: f.kind, point: i, suffix: f.suffix });
  });
  return out;
}

/** Kind of an extra column by its suffix. */
export function extraKind(suffix: string): ExtraKind {
  return suffix.endsWith("comm") ? "str" : "u32";
}

export const FIXED_COLUMNS = ["svID", "appid", "iteration", "smpCnt"] as const;

export function timeColumn(point: Pick<PointMeta, "name">): string {
  return `${point.name}_ns`;
}

/**
 * Index of a record's first probe: 1 when points[0] is t0 and later points exist, else 0. t0 is not a probe:
 * it is the publisher's send time, read from refrTm by the last point, so a row has it only when the
 * publisher set --t0 and the SV reached the last point. Whether an SV was seen at every point ("complete"),
 * skipped by one ("missed") and when it arrived are read from the probes only.
 */
export function firstProbe(points: readonly Pick<PointMeta, "name">[]): number {
  return points[0]?.name === "t0" && points.length > 1 ? 1 : 0;
}

/** The CSV header line for a record with these points (no trailing newline). */
export function csvHeader(points: Pick<PointMeta, "name">[], extras: ExtraSpec[] = []): string {
  return [...FIXED_COLUMNS, ...points.map(timeColumn), ...extras.map((e) => e.name)].join(",");
}

/**
 * Segment names: consecutive point pairs are "T1-T2" style; the well-known pairs also have the names
 * svtrace-ansible's threshold file uses. "total" is first-to-last point of a record.
 */
export const SEGMENT_ALIASES: Record<string, string> = {
  "T0-T1": "Tnet",
  "T1-T2": "Thyp",
  "T2-T3": "Ttrans",
  "T3-T4": "Tsub",
  "T0-T4": "Ttot",
  "T1-T4": "Tseapath",
};
