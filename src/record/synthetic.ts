/**
 * Synthetic svtrace records with realistic latencies, for tests, benchmarks and trying the report without a
 * lab: streams at a fixed rate, per segment ~N(mean, sd) plus 0.1 % spikes up to 150 µs and rare millisecond
 * spikes (as measured on real hosts), optionally bursts that delay every stream at once for a few ms on one
 * segment (a host stall: interrupts, a vCPU descheduled), deterministic from a seed. Timestamps are written through 32-bit halves
 * so 48M rows take seconds, not minutes.
 */

import { mulberry32 } from "../util/prng.js";
import type { RecordColumns } from "./columns.js";
import type { PointMeta, RecordFormat, RecordMeta } from "./schema.js";
import { openRecordWriter } from "./writer.js";

export interface SyntheticOptions {
  rows: number;
  /** svIDs (default one stream "svID0000") */
  streams?: string[];
  /** SVs per second per stream (default 4000) */
  rate?: number;
  /** point names (default t1, t2) */
  points?: string[];
  /** mean latency of each segment in ns (default 28 000 for each) */
  meanNs?: number[];
  /** standard deviation of each segment in ns (default 4 000) */
  sdNs?: number[];
  /** fraction of SVs with a 100-150 µs spike on one segment (default 0.001) */
  spikeFraction?: number;
  /** fraction of SVs with a 1-3 ms spike (default 0.00001) */
  msSpikeFraction?: number;
  /** host stalls per minute (default 0): every SV of every stream in the stall gets a decaying extra delay */
  burstsPerMinute?: number;
  /** how long a stall lasts, ms (default 3) */
  burstMs?: number;
  /** extra delay at the start of a stall, ns: drawn from [burstNs/4, burstNs] (default 400 000) */
  burstNs?: number;
  /** first timestamp, ms since the epoch (default 2026-11-26T00:00:00Z) */
  startMs?: number;
  seed?: number;
  /** rows per batch written (default: one second of SVs) */
  batchRows?: number;
}

export function syntheticMeta(points: string[]): RecordMeta {
  return {
    svtraceVersion: "synthetic",
    host: "synthetic",
    kernel: "none",
    bpftrace: "none",
    profile: "synthetic",
    points: points.map(
      (name): PointMeta => ({ name, label: `${name.toUpperCase()} synthetic`, probe: "generated" }),
    ),
    clock: "realtime",
    start: new Date(0).toISOString(),
  };
}

/** Generate the rows batch by batch (columnar), e.g. to feed a writer or an analysis directly. */
export function* syntheticBatches(o: SyntheticOptions): Generator<RecordColumns> {
  const streams = o.streams ?? ["svID0000"];
  const rate = o.rate ?? 4000;
  const points = o.points ?? ["t1", "t2"];
  const np = points.length;
  const mean = o.meanNs ?? new Array(np - 1).fill(28_000);
  const sd = o.sdNs ?? new Array(np - 1).fill(4_000);
  const spikeF = o.spikeFraction ?? 0.001;
  const msF = o.msSpikeFraction ?? 0.00001;
  const rnd = mulberry32(o.seed ?? 1);
  const burstGapNs = (o.burstsPerMinute ?? 0) > 0 ? 60e9 / (o.burstsPerMinute as number) : 0;
  const burstLen = (o.burstMs ?? 3) * 1e6;
  const burstMax = o.burstNs ?? 400_000;
  // stalls from their own generator so the other draws stay as without them
  const burstRnd = mulberry32((o.seed ?? 1) ^ 0x5eed);
  let burstStart = burstGapNs > 0 ? -Math.log(1 - burstRnd()) * burstGapNs : Number.POSITIVE_INFINITY;
  let burstAmp = 0;
  let burstSeg = 0;
  const batch = o.batchRows ?? rate * streams.length;
  const stepNs = 1e9 / (rate * streams.length);
  const startNs = (o.startMs ?? Date.UTC(2026, 10, 26)) * 1e6;
  // t = hi * 2^32 + lo, kept exact: startNs is a multiple of 1e6 and steps are integers
  const startHi = Math.floor(startNs / 4294967296);
  const startLo = startNs - startHi * 4294967296;
  let spare: number | null = null;
  const gauss = (): number => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = 1 - rnd();
    const v = rnd();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  for (let base = 0; base < o.rows; base += batch) {
    const n = Math.min(batch, o.rows - base);
    const buffers = points.map(() => new BigInt64Array(n));
    const hi = buffers.map((b) => new Int32Array(b.buffer));
    const lo = buffers.map((b) => new Uint32Array(b.buffer));
    const c: RecordColumns = {
      length: n,
      names: streams,
      stream: new Uint32Array(n),
      appid: new Uint16Array(n),
      iteration: new Uint32Array(n),
      smpCnt: new Uint32Array(n),
      t: buffers,
      valid: points.map(() => null),
    };
    for (let r = 0; r < n; r++) {
      const i = base + r;
      const s = i % streams.length;
      const sample = Math.floor(i / streams.length);
      c.stream[r] = s;
      c.appid[r] = 0x4000 + s;
      c.iteration[r] = Math.floor(sample / rate);
      c.smpCnt[r] = sample % rate;
      const rel = Math.round(i * stepNs);
      let stall = 0;
      if (rel >= burstStart) {
        if (burstAmp === 0) {
          burstAmp = burstMax * (0.25 + 0.75 * burstRnd());
          burstSeg = Math.floor(burstRnd() * (np - 1));
        }
        if (rel < burstStart + burstLen) stall = Math.round(burstAmp * (1 - (rel - burstStart) / burstLen));
        else {
          burstStart += burstLen - Math.log(1 - burstRnd()) * burstGapNs;
          burstAmp = 0;
        }
      }
      let l = startLo + rel;
      let h = startHi;
      const carry = Math.floor(l / 4294967296);
      h += carry;
      l -= carry * 4294967296;
      for (let p = 0; p < np; p++) {
        if (p > 0) {
          let d = Math.max(1000, Math.round((mean[p - 1] ?? 28_000) + (sd[p - 1] ?? 4_000) * gauss()));
          const u = rnd();
          if (u < msF) d += 1_000_000 + Math.floor(rnd() * 2_000_000);
          else if (u < spikeF) d = 100_000 + Math.floor(rnd() * 50_000);
          if (p - 1 === burstSeg) d += stall;
          l += d;
          if (l >= 4294967296) {
            l -= 4294967296;
            h++;
          }
        }
        (hi[p] as Int32Array)[2 * r + 1] = h;
        (lo[p] as Uint32Array)[2 * r] = l;
      }
    }
    yield c;
  }
}

/** Write a synthetic record file; returns the number of rows. */
export async function writeSyntheticRecord(
  path: string,
  format: RecordFormat,
  o: SyntheticOptions,
): Promise<number> {
  const points = o.points ?? ["t1", "t2"];
  const w = openRecordWriter(path, format, syntheticMeta(points), {
    maxBatchRows: o.batchRows ?? (o.rate ?? 4000) * (o.streams?.length ?? 1),
    flushIntervalMs: 3_600_000,
  });
  try {
    for (const c of syntheticBatches(o)) w.appendColumns(c);
  } finally {
    await w.close();
  }
  return w.rows;
}
