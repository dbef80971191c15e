/**
 * Write a pcap of SV traffic for a stream plan: `count` frames per stream, interleaved in time order, every frame
 * stamped at the real time of its first sample. Sample times are aligned to the second like a synchronised
 * merging unit (smpCnt 0 at the top of each second), starting at the first sample at or after `startNs`.
 * Same plan + count + start = same bytes.
 */
import { PcapWriter } from "../capture/pcap-writer.js";
import { FrameFactory } from "./frames.js";
import { frameOffsetNs, type Plan } from "./plan.js";

/** Default start time: a fixed date so that output is deterministic (and never 1970). */
export const DEFAULT_START_NS = BigInt(Date.UTC(2026, 0, 1, 0, 0, 0)) * 1_000_000n;

export interface GenerateOptions {
  /** frames per stream */
  count: number;
  /** ns since 1970 */
  startNs?: bigint;
  /** called every `progressEvery` frames with frames written so far */
  onProgress?: (written: number, total: number) => void;
  progressEvery?: number;
}

export interface GenerateResult {
  frames: number;
  streams: number;
  firstNs: bigint;
  lastNs: bigint;
  bytes: number;
}

/** Parse an ISO time (or "now") into ns since 1970; undefined for unparseable text. */
export function parseStartTime(text: string): bigint | undefined {
  if (text === "now") return BigInt(Date.now()) * 1_000_000n;
  const m = /^(.*?)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?$/.exec(text.trim());
  if (!m) return undefined;
  let base = Date.parse(`${m[1]}${m[3] ?? "Z"}`);
  if (!Number.isFinite(base) && !m[2] && !m[3]) base = Date.parse(m[1]); // date only: UTC midnight
  if (!Number.isFinite(base)) return undefined;
  const frac = m[2] ? BigInt(m[2].padEnd(9, "0")) : 0n;
  return BigInt(base) * 1_000_000n + frac;
}

export async function generatePcap(plan: Plan, out: string, opts: GenerateOptions): Promise<GenerateResult> {
  const factory = new FrameFactory(plan);
  const fps = plan.rate.framesPerSecond;
  const startNs = opts.startNs ?? DEFAULT_START_NS;
  const sec = startNs / 1_000_000_000n;
  const within = Number(startNs - sec * 1_000_000_000n);
  const firstFrame = Math.ceil((within * fps) / 1e9 - 1e-9);
  const secBase = sec * 1_000_000_000n;
  const writer = new PcapWriter(out, { linkType: "ethernet", nanosecond: true });
  const nStreams = plan.streams.length;
  const total = opts.count * nStreams;
  const every = opts.progressEvery ?? 100_000;
  let written = 0;
  let bytes = 0;
  let firstNs = 0n;
  let lastNs = 0n;
  try {
    for (let k = 0; k < opts.count; k++) {
      const g = firstFrame + k;
      const ts = secBase + BigInt(frameOffsetNs(plan.rate, g));
      const smpCnt0 = (g % fps) * plan.rate.asdu;
      if (k === 0) firstNs = ts;
      lastNs = ts;
      for (let s = 0; s < nStreams; s++) {
        const f = factory.frame(s, smpCnt0, ts);
        writer.write(ts, f);
        bytes += f.length;
        written++;
        if (opts.onProgress && written % every === 0) opts.onProgress(written, total);
      }
    }
  } finally {
    writer.close();
  }
  opts.onProgress?.(written, total);
  return { frames: written, streams: nStreams, firstNs, lastNs, bytes };
}
