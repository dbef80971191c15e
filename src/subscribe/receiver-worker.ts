/**
 * The subscriber's receive thread (worker_thread named exactly `svt-sub`: the tracer's lab profile finds T4 by
 * this thread name). Enters the namespace, binds an AF_PACKET socket for EtherType 0x88BA, posts "listening",
 * then decodes every frame (h1's decodeFrame) with its kernel receive timestamp, keeps per-stream statistics
 * and optionally writes sv_timestamp_logger lines. Stops at the duration or when the stop flag is set, drains
 * what is already queued, and posts the SubscribeSummary.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { ETH_P_ALL, InterfaceGoneError, PacketSocket, type ReceivedFrame } from "../net/afpacket.js";
import { CLOCK_REALTIME, CLOCK_TAI, clockNs, setThreadName } from "../net/libc.js";
import { decodeFrame } from "../sv/decode.js";
import { StreamStats } from "./stream-stats.js";
import type { SubscribeConfig, SubscribeSummary } from "./types.js";

interface WorkerInput {
  config: SubscribeConfig;
  stop: SharedArrayBuffer;
}

const LOG_FLUSH_BYTES = 256 * 1024;

function taiMinusRealtime(): bigint {
  const a = clockNs(CLOCK_REALTIME);
  const t = clockNs(CLOCK_TAI);
  const b = clockNs(CLOCK_REALTIME);
  // the kernel's TAI offset is whole seconds: round away the read jitter
  const off = Number(t - (a + b) / 2n);
  return BigInt(Math.round(off / 1e9)) * 1_000_000_000n;
}

function run(input: WorkerInput, port: NonNullable<typeof parentPort>): SubscribeSummary {
  const cfg = input.config;
  const stop = new Int32Array(input.stop);
  setThreadName("svt-sub");
  // ETH_P_ALL + an SV filter: a socket bound to 0x88BA would lose a stripped VLAN tag (see afpacket.ts)
  const sock = new PacketSocket({
    iface: cfg.iface,
    netns: cfg.netns,
    protocol: ETH_P_ALL,
    svFilter: true,
    allMulticast: true, // SVs are multicast: a real NIC or virtio-net drops them otherwise
    recvTimeoutMs: 50,
    // ~1 KiB of buffer per queued frame: 128 MiB holds several seconds at 32k frames/s if this thread is starved
    rcvbuf: 128 * 1024 * 1024,
  });
  const logFd = cfg.logFile ? openSync(cfg.logFile, "w") : -1;
  let logBuf = "";
  let logLines = 0;
  const latencyOffset = cfg.t0Clock === "tai" ? taiMinusRealtime() : 0n;
  const latencyClock =
    cfg.t0Clock === "tai"
      ? `kernel rx (CLOCK_REALTIME) - refrTm (CLOCK_TAI, TAI-REALTIME ${Number(latencyOffset) / 1e9} s)`
      : "kernel rx (CLOCK_REALTIME) - refrTm (CLOCK_REALTIME)";
  const streams = new Map<string, StreamStats>();
  let notSv = 0;
  let decodeErrors = 0;
  let ignored = 0;

  const startMono = process.hrtime.bigint();
  const startReal = clockNs(CLOCK_REALTIME);
  const endMono = cfg.durationS === undefined ? -1n : startMono + BigInt(Math.round(cfg.durationS * 1e9));
  port.postMessage({ listening: true });

  const handle = (rx: ReceivedFrame): void => {
    const r = decodeFrame(rx.data, "ethernet");
    if (r.kind === "not-sv") {
      notSv++;
      return;
    }
    if (r.kind === "error") {
      decodeErrors++;
      return;
    }
    const frame = r.frame;
    const asdus = frame.pdu.asdus;
    if (asdus.length === 0) {
      decodeErrors++;
      return;
    }
    // decoded with a warning (noASDU mismatch, PDU cut short): counted, and its complete ASDUs are used
    if (r.errors.length > 0) decodeErrors++;
    let userUs = -1;
    for (let i = 0; i < asdus.length; i++) {
      const a = asdus[i];
      if (cfg.svID !== undefined && a.svID !== cfg.svID) {
        if (i === 0) ignored++;
        continue;
      }
      let st = streams.get(a.svID);
      if (!st) {
        st = new StreamStats(a.svID, frame);
        streams.set(a.svID, st);
      }
      const ev = st.pushAsdu(a);
      if (logFd >= 0 && (!cfg.onlyCnt0 || a.smpCnt === 0)) {
        let tsUs: number | bigint;
        if (cfg.logTimestamps === "kernel") tsUs = Number(rx.tsNs / 1000n);
        else if (cfg.logTimestamps === "kernel-ns") tsUs = rx.tsNs;
        else {
          if (userUs < 0) userUs = Number(clockNs(CLOCK_REALTIME) / 1000n);
          tsUs = userUs;
        }
        logBuf += `${ev.iteration}:${a.svID}:${a.smpCnt}:${tsUs}\n`;
        logLines++;
        if (logBuf.length >= LOG_FLUSH_BYTES) {
          writeSync(logFd, logBuf);
          logBuf = "";
        }
      }
    }
    const a0 = asdus[0];
    const s0 = streams.get(a0.svID);
    if (s0) s0.pushFrame(a0, asdus.length, rx.tsNs, latencyOffset);
  };

  let stoppedBy: SubscribeSummary["stopped_by"] = "signal";
  /** set when the interface went down or away: stop there, keeping what was received */
  let gone: string | undefined;
  /** recv(), except that an interface that went away ends the run (gone) instead of throwing */
  const recv = (nonBlocking: boolean): ReceivedFrame | undefined => {
    try {
      return sock.recv(nonBlocking);
    } catch (e) {
      if (!(e instanceof InterfaceGoneError)) throw e;
      gone = e.message;
      stoppedBy = "error";
      return undefined;
    }
  };
  while (gone === undefined) {
    if (Atomics.load(stop, 0) !== 0) break;
    if (endMono >= 0n && process.hrtime.bigint() >= endMono) {
      stoppedBy = "duration";
      break;
    }
    const rx = recv(false);
    if (rx) handle(rx);
  }
  // frames already queued when we stopped were received: count them too
  // (after ENETDOWN too: the kernel reports the error first and keeps the queue)
  for (let i = 0; i < 1_000_000; i++) {
    const rx = recv(true);
    if (!rx) break;
    handle(rx);
  }
  const duration = Number(process.hrtime.bigint() - startMono) / 1e9;
  sock.close();
  if (logFd >= 0) {
    if (logBuf) writeSync(logFd, logBuf);
    closeSync(logFd);
  }
  const list = [...streams.values()].map((s) => s.summary(latencyClock));
  list.sort((a, b) => (a.svID < b.svID ? -1 : a.svID > b.svID ? 1 : 0));
  const sum = (f: (s: (typeof list)[number]) => number) => list.reduce((acc, s) => acc + f(s), 0);
  return {
    iface: cfg.iface,
    netns: cfg.netns ?? null,
    received: sum((s) => s.received),
    samples: sum((s) => s.samples),
    missing: sum((s) => s.missing),
    duplicates: sum((s) => s.duplicates),
    out_of_order: sum((s) => s.out_of_order),
    streams: list,
    not_sv: notSv,
    decode_errors: decodeErrors,
    ignored,
    timestamps: "kernel receive time (SO_TIMESTAMPNS, CLOCK_REALTIME)",
    duration_s: Math.round(duration * 1000) / 1000,
    started_at: new Date(Number(startReal / 1_000_000n)).toISOString(),
    stopped_by: stoppedBy,
    log_file: cfg.logFile ?? null,
    log_lines: logLines,
    ...(gone !== undefined ? { error: gone, interface_gone: true } : {}),
  };
}

const port = parentPort;
if (port) {
  try {
    port.postMessage({ ok: true, summary: run(workerData as WorkerInput, port) });
  } catch (e) {
    port.postMessage({ ok: false, error: (e as Error).message, name: (e as Error).name });
  }
}
