/**
 * What the subscriber is told to do (SubscribeConfig, passed to its worker thread) and what it reports
 * (SubscribeSummary, also the `svtrace subscribe --json` object).
 */
import type { TimingStats } from "../publish/gap-stats.js";
import type { T0Clock } from "../publish/types.js";

export interface SubscribeConfig {
  iface: string;
  netns?: string;
  /** stop after this many seconds (from the moment the socket is bound); undefined = until stopped */
  durationS?: number;
  /** write sv_timestamp_logger lines `iteration:svID:smpCnt:timestamp_us` here */
  logFile?: string;
  /** log only SVs with smpCnt 0 (sv_timestamp_logger -l) */
  onlyCnt0: boolean;
  /** timestamps in the log: userspace CLOCK_REALTIME when the frame is handled (like sv_timestamp_logger), or the kernel's */
  /** "kernel-ns": the kernel's time in nanoseconds instead of µs (svtrace selfcheck compares it to the tracer's) */
  logTimestamps: "user" | "kernel" | "kernel-ns";
  /** the clock refrTm was stamped from (publish --t0-clock); latency is converted to CLOCK_REALTIME */
  t0Clock: T0Clock;
  /** only this svID (others are counted as ignored) */
  svID?: string;
}

export interface StreamReceived {
  svID: string;
  appid: number;
  src: string;
  dst: string | null;
  vlan: { vid: number; pcp: number } | null;
  /** frames whose first ASDU belongs to this stream */
  received: number;
  /** ASDUs (samples) of this stream */
  samples: number;
  /** samples lost (smpCnt gaps, also across the wrap) */
  missing: number;
  gaps: number;
  duplicates: number;
  out_of_order: number;
  wraps: number;
  /** smpCnt modulus used (given by the rate, or inferred at the first wrap) */
  modulus: number | null;
  first_smpCnt: number | null;
  last_smpCnt: number | null;
  /** kernel receive-timestamp interval between consecutive frames of the stream */
  interarrival: TimingStats;
  /** |interval - nominal period| for consecutive frames (no gap between them); nominal = ASDUs x 1 s / modulus */
  gap_error: TimingStats & { period_us: number | null };
  /** kernel receive time - refrTm (ASDU 0), when frames carry refrTm (publish --t0) */
  latency: (TimingStats & { clock: string }) | null;
}

export interface SubscribeSummary {
  iface: string;
  netns: string | null;
  /** frames of SV streams received (all streams) */
  received: number;
  samples: number;
  missing: number;
  duplicates: number;
  out_of_order: number;
  streams: StreamReceived[];
  /** frames that were not SV or did not decode */
  not_sv: number;
  decode_errors: number;
  ignored: number;
  /** where the per-frame timestamps come from */
  timestamps: string;
  duration_s: number;
  started_at: string;
  stopped_by: "duration" | "signal" | "error";
  log_file: string | null;
  log_lines: number;
  /** why it stopped early: the interface was set down or removed (stopped_by "error") */
  error?: string;
  interface_gone?: boolean;
}
