/**
 * What the publisher is told to do (PublishConfig, passed to its worker thread) and what it reports back
 * (PublishSummary, also the `svtrace publish --json` object).
 */

import type { GenOptions } from "../gen/plan.js";
import type { TimingStats } from "./gap-stats.js";

export type T0Clock = "realtime" | "tai";

export interface PublishConfig {
  iface: string;
  netns?: string;
  gen: GenOptions;
  /** frames per stream to send (slots; skipped smpCnt values count as slots); undefined = until stopped */
  count?: number;
  /** write the send time into each ASDU's refrTm, from this clock */
  t0?: T0Clock;
  /** smpCnt 0 at the top of each wall-clock (CLOCK_REALTIME) second */
  align: boolean;
  /** smpCnt values never sent (every second) */
  skipSmpCnt: number[];
  /** SCHED_FIFO priority 1..99 for the sender thread */
  priority?: number;
  /** pin the sender thread to this CPU */
  cpu?: number;
  /** sleep until this long before each deadline, then spin (ns); default 60 µs */
  spinNs?: number;
  /** send stream s at s/N of the period after stream 0 (one frame per deadline) instead of all N at once */
  stagger?: boolean;
}

export interface StreamSent {
  svID: string;
  appid: number;
  sent: number;
  skipped: number;
  send_errors: number;
}

export interface PublishSummary {
  iface: string;
  netns: string | null;
  /** total frames sent, all streams */
  sent: number;
  /** total ASDUs (samples) sent */
  samples: number;
  skipped: number;
  send_errors: number;
  streams: StreamSent[];
  frames_per_second_per_stream: number;
  period_us: number;
  asdu_per_frame: number;
  /** bursts (one frame per stream) whose first send started more than one period after its deadline */
  deadlines_missed: number;
  /** bursts started more than 10 µs after the deadline */
  late_over_10us: number;
  /** interval between consecutive bursts' first sends */
  gap: TimingStats;
  /** |interval - period| */
  gap_error: TimingStats;
  /** how late each burst started against its deadline */
  lateness: TimingStats;
  /** time to send one frame of every stream (a burst), from its start to the end of the last send() */
  burst: TimingStats;
  /** refrTm carries the send time from this clock, or null when --t0 is off */
  t0_clock: T0Clock | null;
  /** CLOCK_TAI - CLOCK_REALTIME as measured at start (ns) */
  tai_minus_realtime_ns: number;
  aligned: boolean;
  /** CLOCK_REALTIME of the first burst's deadline, ISO */
  started_at: string;
  duration_s: number;
  stopped_by: "count" | "signal" | "error";
  scheduling: string;
  /** what went wrong: the interface went away (stopped_by "error", interface_gone true) or sends failed */
  error?: string;
  /** true when the run stopped because the interface was set down or removed (error says which) */
  interface_gone?: boolean;
}
