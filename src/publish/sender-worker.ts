/**
 * The publisher's sender thread (worker_thread named `svt-pub`): enters the network namespace, opens the
 * AF_PACKET socket, then sends one frame per stream per frame period on absolute deadlines with hybrid pacing.
 * Templates are built once per stream; smpCnt/seqData (and refrTm = T0 right before send() with --t0) are
 * patched in place. Stops after `count` periods or when the main thread sets the stop flag; posts a
 * PublishSummary (or {error}) and exits.
 */
import { parentPort, workerData } from "node:worker_threads";
import { LatencyHistogram } from "../analysis/histogram.js";
import { FrameFactory } from "../gen/frames.js";
import { buildPlan, frameOffsetNs } from "../gen/plan.js";
import { PacketSocket, PacketSocketError, SendBatch } from "../net/afpacket.js";
import {
  CLOCK_REALTIME,
  CLOCK_TAI,
  clock_gettime,
  clockNs,
  lastError,
  SCHED_FIFO,
  sched_setaffinity,
  sched_setscheduler,
  setThreadName,
} from "../net/libc.js";
import { writeUtcTime } from "../sv/utc-time.js";
import { timingStats } from "./gap-stats.js";
import { Pacer } from "./pacer.js";
import type { PublishConfig, PublishSummary } from "./types.js";

interface WorkerInput {
  config: PublishConfig;
  /** Int32Array over a SharedArrayBuffer: [0] = stop request */
  stop: SharedArrayBuffer;
}

/** Measure CLOCK_TAI - CLOCK_REALTIME (ns) with a min-width sandwich. */
function taiMinusRealtime(): number {
  let best = Number.POSITIVE_INFINITY;
  let off = 0;
  for (let i = 0; i < 20; i++) {
    const a = clockNs(CLOCK_REALTIME);
    const t = clockNs(CLOCK_TAI);
    const b = clockNs(CLOCK_REALTIME);
    const w = Number(b - a);
    if (w < best) {
      best = w;
      off = Number(t - (a + b) / 2n);
    }
  }
  return Math.round(off / 1000) * 1000; // µs resolution; the kernel offset is whole seconds
}

function run(input: WorkerInput): PublishSummary {
  const cfg = input.config;
  const stop = new Int32Array(input.stop);
  setThreadName("svt-pub");
  const plan = buildPlan(cfg.gen);
  const sched: string[] = [];
  if (cfg.priority !== undefined) {
    if (sched_setscheduler(0, SCHED_FIFO, { sched_priority: cfg.priority }) < 0)
      throw new PacketSocketError(
        `cannot set SCHED_FIFO priority ${cfg.priority}: ${lastError()}; run as root (CAP_SYS_NICE) or drop --priority`,
      );
    sched.push(`SCHED_FIFO ${cfg.priority}`);
  } else sched.push("SCHED_OTHER");
  if (cfg.cpu !== undefined) {
    const mask = Buffer.alloc(128);
    mask[cfg.cpu >> 3] |= 1 << (cfg.cpu & 7);
    if (sched_setaffinity(0, 128, mask) < 0)
      throw new PacketSocketError(`cannot pin the sender to CPU ${cfg.cpu}: ${lastError()}; check \`nproc\``);
    sched.push(`CPU ${cfg.cpu}`);
  }
  const sock = new PacketSocket({ iface: cfg.iface, netns: cfg.netns, sndbuf: 4 * 1024 * 1024 });
  const factory = new FrameFactory(plan, { withRefrTm: cfg.t0 !== undefined });
  const stagger = cfg.stagger === true && plan.streams.length > 1;
  if (stagger) sched.push("streams staggered over the period");
  // without --t0 or --stagger every burst goes out in one sendmmsg(); the templates move into the batch's buffers
  const batch =
    cfg.t0 === undefined && !stagger ? new SendBatch(factory.templates.map((t) => t.bytes)) : undefined;
  if (batch)
    factory.templates.forEach((t, i) => {
      t.bytes = batch.buffers[i];
    });
  const nStreams = plan.streams.length;
  const fps = plan.rate.framesPerSecond;
  const asdu = plan.rate.asdu;
  const modulus = plan.rate.sampleRate;
  const periodNs = plan.rate.framePeriodNs;
  const skip = new Uint8Array(modulus);
  for (const c of cfg.skipSmpCnt) if (c >= 0 && c < modulus) skip[c] = 1;
  const skipFrame = new Uint8Array(fps);
  for (let f = 0; f < fps; f++) for (let a = 0; a < asdu; a++) if (skip[f * asdu + a]) skipFrame[f] = 1;

  const sent = new Array<number>(nStreams).fill(0);
  const skipped = new Array<number>(nStreams).fill(0);
  const errors = new Array<number>(nStreams).fill(0);
  let lastError_ = "";
  const gap = new LatencyHistogram();
  const gapErr = new LatencyHistogram();
  const late = new LatencyHistogram();
  const burst = new LatencyHistogram();
  let missed = 0;
  let lateOver10 = 0;
  const taiOff = taiMinusRealtime();
  const t0Clock = cfg.t0 === "tai" ? CLOCK_TAI : CLOCK_REALTIME;
  const ts = { tv_sec: 0, tv_nsec: 0 };
  /** refrTm quality 0x0a: leap seconds unknown, clock OK and synchronised as far as we know, 10-bit accuracy */
  const t0Time = { seconds: 0, fraction: 0, quality: 0x0a };
  // spin margin: --spin-us, growing up to 90 % of a period when the machine wakes the thread late
  const pacer = new Pacer(cfg.spinNs ?? 60_000, Math.max(cfg.spinNs ?? 0, 0.9 * periodNs));

  // Warm up (JIT) the per-frame path without sending, so the first deadlines are not missed.
  for (let w = 0; w < 2000; w++) {
    factory.frame(w % nStreams, (w % fps) * asdu);
    if (cfg.t0 !== undefined) clock_gettime(t0Clock, ts);
    pacer.now();
    frameOffsetNs(plan.rate, w);
  }
  pacer.waitUntil(pacer.now() + 1_000_000);

  // Map the first deadline: aligned = the next frame boundary of a realtime second, >= 20 ms from now.
  const mono0 = pacer.now();
  const real0 = clockNs(CLOCK_REALTIME);
  const monoMinusReal = BigInt(Math.round(mono0)) - real0;
  let baseMono: number; // monotonic time (ns) of frame index 0 of the base second
  let firstFrame: number; // frame index within that second
  let baseReal: bigint;
  if (cfg.align) {
    const startReal = real0 + 20_000_000n;
    const sec = startReal / 1_000_000_000n;
    baseReal = sec * 1_000_000_000n;
    const within = Number(startReal - baseReal);
    firstFrame = Math.ceil((within * fps) / 1e9);
    baseMono = Number(baseReal + monoMinusReal);
  } else {
    baseMono = mono0 + 20_000_000;
    baseReal = real0 + 20_000_000n;
    firstFrame = 0;
  }
  const startedAt = new Date(Number((baseReal + BigInt(frameOffsetNs(plan.rate, firstFrame))) / 1_000_000n));

  const count = cfg.count ?? Number.POSITIVE_INFINITY;
  let prevStart = -1;
  let stoppedBy: PublishSummary["stopped_by"] = "count";
  /** set when a send says the interface went down or away: the loop ends there (every later send would fail) */
  let gone: string | undefined;
  let k = 0;
  for (; k < count && gone === undefined; k++) {
    if (Atomics.load(stop, 0) !== 0) {
      stoppedBy = "signal";
      break;
    }
    const g = firstFrame + k;
    const deadline = baseMono + frameOffsetNs(plan.rate, g);
    const at = pacer.waitUntil(deadline);
    const idx = g % fps;
    const smpCnt0 = idx * asdu;
    if (skipFrame[idx]) {
      for (let s = 0; s < nStreams; s++) skipped[s]++;
      prevStart = -1; // the next interval spans the hole: not a pacing sample
      continue;
    }
    const lateNs = at - deadline;
    late.record(lateNs);
    if (lateNs > periodNs) missed++;
    if (lateNs > 10_000) lateOver10++;
    if (prevStart >= 0) {
      const d = at - prevStart;
      gap.record(d);
      gapErr.record(Math.abs(d - periodNs));
    }
    prevStart = at;
    if (batch) {
      // no T0 to stamp: patch every stream's frame, then one sendmmsg() for the burst
      for (let s = 0; s < nStreams; s++) factory.frame(s, smpCnt0);
      const n = batch.send(sock);
      if (n === nStreams) for (let s = 0; s < nStreams; s++) sent[s]++;
      else {
        // rare: which frames failed is not reported by sendmmsg; charge the failures to the last streams
        for (let s = 0; s < nStreams; s++) {
          if (s < n) sent[s]++;
          else errors[s]++;
        }
        lastError_ = sock.lastSendError;
        gone = sock.sendGoneMessage();
      }
    } else {
      for (let s = 0; s < nStreams; s++) {
        // --stagger: stream s goes out s/N of a period after stream 0, one frame per deadline
        if (stagger && s > 0) pacer.waitUntil(deadline + (s * periodNs) / nStreams);
        const bytes = factory.frame(s, smpCnt0);
        if (cfg.t0 !== undefined) {
          // T0 = the send time, read right before send()
          clock_gettime(t0Clock, ts);
          let sec = ts.tv_sec;
          let frac = Math.round((ts.tv_nsec * 0x1000000) / 1e9);
          if (frac >= 0x1000000) {
            frac -= 0x1000000;
            sec += 1;
          }
          t0Time.seconds = sec;
          t0Time.fraction = frac;
          const offs = factory.templates[s].refrTm;
          for (let a = 0; a < offs.length; a++) writeUtcTime(bytes, offs[a], t0Time);
        }
        if (sock.send(bytes)) sent[s]++;
        else {
          errors[s]++;
          lastError_ = sock.lastSendError;
          gone = sock.sendGoneMessage();
          if (gone !== undefined) break;
        }
      }
    }
    burst.record(pacer.now() - at);
  }
  const endMono = pacer.now();
  if (gone !== undefined) stoppedBy = "error";
  sock.close();
  const totalSent = sent.reduce((a, b) => a + b, 0);
  const totalSkipped = skipped.reduce((a, b) => a + b, 0);
  const totalErrors = errors.reduce((a, b) => a + b, 0);
  return {
    iface: cfg.iface,
    netns: cfg.netns ?? null,
    sent: totalSent,
    samples: totalSent * asdu,
    skipped: totalSkipped,
    send_errors: totalErrors,
    streams: plan.streams.map((s, i) => ({
      svID: s.svID,
      appid: s.appid,
      sent: sent[i],
      skipped: skipped[i],
      send_errors: errors[i],
    })),
    frames_per_second_per_stream: fps,
    period_us: Math.round(periodNs) / 1000,
    asdu_per_frame: asdu,
    deadlines_missed: missed,
    late_over_10us: lateOver10,
    gap: timingStats(gap),
    gap_error: timingStats(gapErr),
    lateness: timingStats(late),
    burst: timingStats(burst),
    t0_clock: cfg.t0 ?? null,
    tai_minus_realtime_ns: taiOff,
    aligned: cfg.align,
    started_at: startedAt.toISOString(),
    duration_s: Math.max(0, (endMono - baseMono) / 1e9 - frameOffsetNs(plan.rate, firstFrame) / 1e9),
    stopped_by: stoppedBy,
    scheduling: sched.join(", "),
    ...(gone !== undefined
      ? { error: gone, interface_gone: true }
      : totalErrors > 0
        ? { error: `send failed ${totalErrors} times: ${lastError_}` }
        : {}),
  };
}

const port = parentPort;
if (port) {
  try {
    port.postMessage({ ok: true, summary: run(workerData as WorkerInput) });
  } catch (e) {
    port.postMessage({ ok: false, error: (e as Error).message, name: (e as Error).name });
  }
}
