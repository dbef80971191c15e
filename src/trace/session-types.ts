/**
 * The contract between the tracer core (probe catalogue, bpftrace generation, runner) and what consumes
 * its output (`svtrace live`, `record`, Prometheus, `demo`). The core produces SvRows (one per SV, with a
 * timestamp per point, see ../record/schema.ts) and a counters snapshot about once a second.
 */
import type { RecordColumns } from "../record/columns.js";
import type { ClockName, RecordMeta, SvRow, TracerCost } from "../record/schema.js";

export type { RecordMeta, SvRow } from "../record/schema.js";

/** Per-stream counters, cumulative since the trace started. */
export interface StreamCounters {
  svID: string;
  appid?: number;
  /** SVs seen at one point or more */
  received: number;
  /** SVs seen at every point */
  complete: number;
  /** SVs seen at some point but not at an earlier one (the original tool's "missed") */
  missed: number;
  /** SVs that entered (first point) but never reached the last point */
  lostInPath: number;
  /** smpCnt gaps at the first point, counted once across the wrap: never seen by the host */
  dropped: number;
  /** the same SV seen twice at a point */
  duplicates: number;
}

export interface TraceStats {
  /** wall-clock time of the snapshot, ns since the epoch on `clock` */
  atNs: bigint;
  streams: StreamCounters[];
  /** bpftrace "Lost N events" total */
  lostEvents: number;
  /** in-kernel pending-SV map entries and capacity (BPFTRACE_MAP_KEYS_MAX) */
  mapEntries: number;
  mapCapacity: number;
}

export interface TraceWarning {
  kind: "lost-events" | "map-full" | "attach-failed" | "stderr" | "stale" | "multicast-filter";
  message: string;
}

/** What the caller wants traced. Profiles and points come from ../probes/. */
export interface TraceOptions {
  /** "lab" | "hypervisor" | "vm" */
  profile: string;
  /** lab switch variant when profile is "lab" */
  labSwitch?: "bridge" | "ovs" | "tap";
  /** override the profile's points by name (e.g. ["T1", "T2"]) */
  points?: string[];
  /** SV interface (T1 on a hypervisor, T3 in a VM) */
  iface?: string;
  /** only these svIDs (exact); all streams when empty */
  streams?: string[];
  /** expected total SV/s, sizes maps and buffers */
  expectedRate?: number;
  /** user override of the pending-SV map size (svtrace.cfg SV_BUFFER_SIZE) */
  mapKeys?: number;
  clock?: ClockName;

  // ---- added by the tracer core (all optional, compatible) ----
  /** lab: namespace prefix (default SVTRACE_LAB_PREFIX or "svt-") */
  labPrefix?: string;
  /** hypervisor: the VM's tap (vnetN) for T2a */
  tap?: string;
  /** hypervisor: QEMU process whose vhost threads (by tid) are T2b */
  qemuPid?: number;
  /** vm: application thread name (T4) */
  appComm?: string;
  /** vm: application thread ids (T4) */
  appTids?: number[];
  /** the original svtrace's kprobe points (fails with a one-line error where the kernel has no kprobes) */
  kprobes?: boolean;
  /** tracer backend: "libbpf", "bpftrace" or "auto" (default: SVTRACE_BACKEND, else auto: libbpf where it loads) */
  backend?: string;
  /** bpftrace binary (default: SVTRACE_BPFTRACE or "bpftrace") */
  bpftrace?: string;
  /** how long to wait for every probe to attach (default 60 s) */
  readyTimeoutMs?: number;
  /** rows are delivered in batches at least this often (default 200 ms) */
  batchMs?: number;
  /**
   * record --context: each point's CPU and thread (tid, comm) as columns of the record, and the wait
   * analysis of segments longer than thresholdUs (libbpf backend only)
   */
  context?: { thresholdUs: number };
}

/** Why the trace ended and what it saw. Returned by stop(). */
export interface TraceSummary {
  stats: TraceStats;
  /** rows delivered */
  rows: number;
  durationMs: number;
  /** bpftrace exit status */
  exitCode: number | null;
  exitSignal: string | null;
  warnings: TraceWarning[];
  /** the tracer's own cost over the run (BPF run time per point per SV, lost events, map fill) */
  tracer: TracerCost;
}

/** A running trace. Events: ready, rows, stats, warning, exit. */
export interface TraceSession {
  readonly meta: RecordMeta;
  /** the tracer backend running this trace */
  readonly backend: "libbpf" | "bpftrace";
  /** the generated bpftrace program (for --show-program and debugging) */
  readonly program: string;
  /** resolves when every probe is attached (bpftrace ran BEGIN); rejects with a one-line reason */
  readonly ready: Promise<void>;
  /** pid of bpftrace */
  readonly pid: number | undefined;
  on(event: "ready", fn: () => void): this;
  /** rows as record batches (what `record` and `live` consume) */
  on(event: "columns", fn: (batch: RecordColumns) => void): this;
  /** the same rows as SvRow objects (built only when someone listens) */
  on(event: "rows", fn: (rows: SvRow[]) => void): this;
  on(event: "stats", fn: (s: TraceStats) => void): this;
  on(event: "warning", fn: (w: TraceWarning) => void): this;
  on(event: "exit", fn: (s: TraceSummary) => void): this;
  /** the counters now */
  stats(): TraceStats;
  /** stop bpftrace cleanly (SIGINT, END runs), deliver every remaining row, resolve with the summary */
  stop(): Promise<TraceSummary>;
}
