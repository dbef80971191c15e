/**
 * Run the SV subscriber (the "user application", T4): starts the `svt-sub` receive worker, reports when the
 * socket is bound (`onListening`), and resolves with its SubscribeSummary at the duration or after `stop()`.
 * Also formats the human-readable summary.
 */
import { closeSync, openSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { fail } from "../errors.js";
import { formatStats } from "../publish/gap-stats.js";
import type { SubscribeConfig, SubscribeSummary } from "./types.js";

export interface SubscriberHandle {
  done: Promise<SubscribeSummary>;
  /** resolves once the socket is bound (frames sent after this are received) */
  listening: Promise<void>;
  stop(): void;
}

export function startSubscriber(config: SubscribeConfig): SubscriberHandle {
  if (config.logFile !== undefined) {
    try {
      closeSync(openSync(config.logFile, "w"));
    } catch (e) {
      fail(
        `cannot write --log ${config.logFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  }
  const stopBuf = new SharedArrayBuffer(4);
  const stopFlag = new Int32Array(stopBuf);
  const worker = new Worker(new URL("./receiver-worker.js", import.meta.url), {
    workerData: { config, stop: stopBuf },
    name: "svt-sub",
  });
  let onListening: () => void = () => {};
  let onListenFail: (e: Error) => void = () => {};
  const listening = new Promise<void>((res, rej) => {
    onListening = res;
    onListenFail = rej;
  });
  listening.catch(() => {}); // the same error rejects `done`; avoid an unhandled rejection here
  const done = new Promise<SubscribeSummary>((resolve, reject) => {
    let settled = false;
    const failWith = (e: Error) => {
      settled = true;
      onListenFail(e);
      reject(e);
    };
    worker.on(
      "message",
      (m: {
        listening?: boolean;
        ok?: boolean;
        summary?: SubscribeSummary;
        error?: string;
        name?: string;
      }) => {
        if (m.listening) {
          onListening();
          return;
        }
        if (m.ok && m.summary) {
          settled = true;
          resolve(m.summary);
        } else if (m.name === "PacketSocketError") failWith(userError(m.error ?? "subscriber failed"));
        else failWith(new Error(m.error ?? "subscriber failed"));
      },
    );
    worker.once("error", (e) => failWith(e));
    worker.once("exit", (code) => {
      if (!settled) failWith(new Error(`subscriber thread exited with code ${code} before reporting`));
    });
  });
  return { done, listening, stop: () => Atomics.store(stopFlag, 0, 1) };
}

function userError(msg: string): Error {
  try {
    fail(msg);
  } catch (e) {
    return e as Error;
  }
}

export function formatSubscribeSummary(s: SubscribeSummary): string {
  const lines: string[] = [];
  lines.push(
    `received on ${s.iface}${s.netns ? ` (netns ${s.netns})` : ""} in ${s.duration_s.toFixed(3)} s: ${s.received} frames, ` +
      `${s.samples} samples, ${s.streams.length} stream(s); missing ${s.missing}, duplicates ${s.duplicates}, ` +
      `out of order ${s.out_of_order}` +
      (s.not_sv || s.decode_errors ? `; not SV ${s.not_sv}, decode errors ${s.decode_errors}` : ""),
  );
  for (const st of s.streams) {
    lines.push(
      `  ${st.svID}  APPID 0x${st.appid.toString(16).padStart(4, "0")}${st.vlan ? ` VLAN ${st.vlan.vid}/${st.vlan.pcp}` : ""}  ` +
        `frames ${st.received}  missing ${st.missing}  dup ${st.duplicates}  ooo ${st.out_of_order}  wraps ${st.wraps}` +
        `  modulus ${st.modulus ?? "?"}`,
    );
    lines.push(`    inter-arrival ${formatStats(st.interarrival)}`);
    if (st.gap_error.period_us !== null)
      lines.push(`    |gap-${st.gap_error.period_us}µs| ${formatStats(st.gap_error)}`);
    if (st.latency) lines.push(`    latency ${formatStats(st.latency)}  (${st.latency.clock})`);
  }
  lines.push(`  timestamps: ${s.timestamps}${s.log_file ? `; log ${s.log_file}: ${s.log_lines} lines` : ""}`);
  if (s.error) lines.push(`  stopped early: ${s.error}`);
  return lines.join("\n");
}
