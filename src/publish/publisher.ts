/**
 * Run the SV publisher: validates the config (nothing is sent on bad input), starts the `svt-pub` sender
 * worker and resolves with its PublishSummary. `stop()` ends it early (SIGINT handling in the CLI), still
 * with a summary. Also formats the human-readable summary.
 */
import { Worker } from "node:worker_threads";
import { fail } from "../errors.js";
import { buildPlan } from "../gen/plan.js";
import { formatStats } from "./gap-stats.js";
import type { PublishConfig, PublishSummary } from "./types.js";

export interface PublisherHandle {
  /** resolves when the sender has finished (count reached or stopped) */
  done: Promise<PublishSummary>;
  /** ask the sender to stop after the current period */
  stop(): void;
}

/** Start publishing. Throws a UserError for bad input before anything is sent. */
export function startPublisher(config: PublishConfig): PublisherHandle {
  buildPlan(config.gen); // validate in the calling thread: one-line errors, nothing sent
  if (config.priority !== undefined && (config.priority < 1 || config.priority > 99))
    fail(`--priority must be between 1 and 99, got ${config.priority}`);
  const stopBuf = new SharedArrayBuffer(4);
  const stopFlag = new Int32Array(stopBuf);
  const worker = new Worker(new URL("./sender-worker.js", import.meta.url), {
    workerData: { config, stop: stopBuf },
    name: "svt-pub",
  });
  const done = new Promise<PublishSummary>((resolve, reject) => {
    let settled = false;
    worker.once("message", (m: { ok: boolean; summary?: PublishSummary; error?: string; name?: string }) => {
      settled = true;
      if (m.ok && m.summary) resolve(m.summary);
      else if (m.name === "PacketSocketError") reject(userError(m.error ?? "publisher failed"));
      else reject(new Error(m.error ?? "publisher failed"));
    });
    worker.once("error", (e) => {
      settled = true;
      reject(e);
    });
    worker.once("exit", (code) => {
      if (!settled) reject(new Error(`publisher thread exited with code ${code} before reporting`));
    });
  });
  return {
    done,
    stop: () => {
      Atomics.store(stopFlag, 0, 1);
    },
  };
}

function userError(msg: string): Error {
  try {
    fail(msg);
  } catch (e) {
    return e as Error;
  }
}

/** Human-readable summary (several lines, no trailing newline). */
export function formatPublishSummary(s: PublishSummary): string {
  const lines: string[] = [];
  lines.push(
    `published on ${s.iface}${s.netns ? ` (netns ${s.netns})` : ""}: ${s.sent} frames (${s.samples} samples) in ${s.duration_s.toFixed(3)} s, ` +
      `${s.streams.length} stream(s) x ${s.frames_per_second_per_stream} frames/s, ${s.scheduling}` +
      (s.stopped_by === "signal" ? ", stopped by signal" : ""),
  );
  for (const st of s.streams)
    lines.push(
      `  ${st.svID}  APPID 0x${st.appid.toString(16).padStart(4, "0")}  sent ${st.sent}` +
        (st.skipped ? `  skipped ${st.skipped}` : "") +
        (st.send_errors ? `  send errors ${st.send_errors}` : ""),
    );
  lines.push(
    `  deadlines missed ${s.deadlines_missed} (late > 1 period), late > 10 µs ${s.late_over_10us}; period ${s.period_us} µs`,
  );
  lines.push(`  gap        ${formatStats(s.gap)}`);
  lines.push(`  |gap-period| ${formatStats(s.gap_error)}`);
  lines.push(`  burst (one frame per stream) ${formatStats(s.burst)}`);
  lines.push(
    s.t0_clock
      ? `  T0 in refrTm: send time from CLOCK_${s.t0_clock.toUpperCase()} (TAI - REALTIME = ${(s.tai_minus_realtime_ns / 1e9).toFixed(6)} s)`
      : "  T0 off (refrTm not stamped)",
  );
  if (s.aligned)
    lines.push(`  aligned: smpCnt 0 at the top of each CLOCK_REALTIME second, first frame ${s.started_at}`);
  if (s.error) lines.push(`  error: ${s.error}`);
  return lines.join("\n");
}
