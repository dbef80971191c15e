/**
 * Computes a report summary from a record input in one streaming pass: per stream and per segment the exact
 * count/min/max/sum, mean and stddev, percentiles from the log-linear histogram (within 0.05 %), exact counts
 * over each threshold, negative latencies, smpCnt continuity (drops, duplicates, out-of-order, wraps), the
 * per-second max/p99 series and the top-N spikes. Timestamps are read as 32-bit halves so no BigInt
 * arithmetic runs per row.
 */
import type { RecordColumns } from "../record/columns.js";
import type { RecordInput } from "../record/input.js";
import type { JoinedRecords } from "../record/join.js";
import { firstProbe } from "../record/schema.js";
import { AttributionAccumulator } from "./attribution.js";
import { LatencyHistogram } from "./histogram.js";
import type { SeriesPoint } from "./per-second.js";
import { type SegmentSpec, segmentSpecs } from "./segments.js";
import { inlineSideWork, type SideResult, type SideWork, workerSideWork } from "./side-work.js";
import { type Spike, TopSpikes } from "./spikes.js";
import { PERCENTILES, type ReportSummary, type SegmentStats, type StreamSummary } from "./summary.js";

export const DEFAULT_THRESHOLDS_US = [100, 200, 250];
const TWO32 = 4294967296;

export interface AnalyzeOptions {
  /** thresholds in µs for the over-threshold counts (default 100, 200, 250) */
  thresholdsUs?: number[];
  /** how many spikes to keep (default 10) */
  top?: number;
  /** smpCnt modulus when known (otherwise inferred per stream) */
  modulus?: number;
  /** called after each batch */
  onProgress?: (bytesRead: number, size: number, rows: number) => void;
  svtraceVersion?: string;
  /** histograms, continuity and series in worker threads (default: for inputs over 32 MiB) */
  worker?: boolean;
}

/** The summary plus the histograms behind it (for plots and comparisons). */
export interface Analysis {
  summary: ReportSummary;
  /** every stream together, by segment name */
  histograms: Record<string, LatencyHistogram>;
}

/** One chunk's side-work arrays (reused once the side work is done with them). */
interface ChunkSet {
  cap: number;
  sec: Float64Array;
  arrival: Float64Array;
  lat: Float64Array[];
  stream: Uint32Array;
  iteration: Uint32Array;
  smpCnt: Uint32Array;
}

interface SegAcc {
  hist: LatencyHistogram;
  over: Float64Array;
}

interface StreamAcc {
  svID: string;
  appid: number;
  rows: number;
  complete: number;
  missed: number;
  lostInPath: number;
  segs: SegAcc[];
}

export function thresholdKey(us: number): string {
  return String(us);
}

function newSegs(specs: SegmentSpec[], nThresholds: number, shareTotal: boolean): SegAcc[] {
  const segs: SegAcc[] = [];
  for (let j = 0; j < specs.length; j++) {
    if (shareTotal && specs[j]?.name === "total") segs.push(segs[0] as SegAcc);
    else segs.push({ hist: new LatencyHistogram(), over: new Float64Array(nThresholds) });
  }
  return segs;
}

function segStats(
  spec: SegmentSpec,
  pointNames: string[],
  acc: SegAcc,
  thresholdsUs: number[],
): SegmentStats {
  const h = acc.hist;
  const empty = h.count === 0;
  const r = (v: number): number | null => (empty ? null : Math.round(v));
  const s: SegmentStats = {
    name: spec.name,
    alias: spec.alias ?? null,
    from: spec.from < 0 ? "first" : (pointNames[spec.from] as string),
    to: pointNames[spec.to] as string,
    count: h.count,
    min: r(h.min),
    mean: empty ? null : Math.round(h.mean * 10) / 10,
    stddev: empty ? null : Math.round(h.stddev * 10) / 10,
    p50: null,
    p90: null,
    p99: null,
    "p99.9": null,
    "p99.99": null,
    "p99.999": null,
    max: r(h.max),
    over_us: {},
    negative: h.negatives,
  };
  for (const [k, q] of PERCENTILES) s[k] = r(h.quantile(q));
  thresholdsUs.forEach((us, i) => {
    s.over_us[thresholdKey(us)] = acc.over[i] as number;
  });
  return s;
}

function keyed(list: SegmentStats[]): Record<string, SegmentStats> {
  const out: Record<string, SegmentStats> = {};
  for (const s of list) {
    out[s.name] = s;
    if (s.alias && !(s.alias in out)) out[s.alias] = s;
  }
  return out;
}

function isoOfNs(ns: number): string {
  return new Date(Math.floor(ns / 1e6)).toISOString();
}

export async function analyzeRecord(input: RecordInput, opts: AnalyzeOptions = {}): Promise<Analysis> {
  const points = input.meta.points;
  const np = points.length;
  if (np < 2)
    throw new Error(`${input.path}: a record needs two points or more to measure a latency (it has ${np})`);
  const thresholdsUs = [...new Set(opts.thresholdsUs ?? DEFAULT_THRESHOLDS_US)].sort((a, b) => a - b);
  const thNs = Float64Array.from(thresholdsUs, (us) => us * 1000);
  const nT = thNs.length;
  const specs = segmentSpecs(points);
  const nSeg = specs.length;
  const shareTotal = np === 2;
  const totalIdx = nSeg - 1;
  const identity = input.identity;
  /**
   * the first probe (t0 is the publisher's send time from refrTm, not a probe): completeness and "missed" are
   * read from the probes, and arrival order (smpCnt continuity's out-of-order) at the first probe that saw the SV
   */
  const probe0 = firstProbe(points);
  const streams: StreamAcc[] = [];
  /** segments with their own series (with two points, total is T1-T2's) */
  const nSide = shareTotal ? nSeg - 1 : nSeg;
  // the histograms are filled by the side work from the latencies it is sent (in row order)
  const sideOpts = { segments: nSide, modulus: opts.modulus, thresholdsNs: [...thNs] };
  const side: SideWork =
    (opts.worker ?? input.size > 32 << 20) ? workerSideWork(sideOpts) : inlineSideWork(sideOpts);
  // side work goes out in chunks of up to SIDE_CHUNK rows (few messages when a worker does it)
  const SIDE_CHUNK = 65536;
  let cap = 0;
  let used = 0;
  let chunkSec: Float64Array = new Float64Array(0);
  let chunkArrival: Float64Array = new Float64Array(0);
  let chunkLat: Float64Array[] = [];
  let chunkStream: Uint32Array = new Uint32Array(0);
  let chunkIter: Uint32Array = new Uint32Array(0);
  let chunkCnt: Uint32Array = new Uint32Array(0);
  let chunkNames: string[] = [];
  const pool: ChunkSet[] = [];
  let poolNext = 0;
  let secArr = chunkSec;
  let arrivalArr = chunkArrival;
  let latArr: Float64Array[] = [];
  const flushSide = (): void => {
    if (used === 0) return;
    side.add({
      names: chunkNames,
      n: used,
      stream: chunkStream,
      iteration: chunkIter,
      smpCnt: chunkCnt,
      sec: chunkSec,
      arrival: chunkArrival,
      lat: chunkLat,
      identity,
    });
    cap = 0;
    used = 0;
  };
  /** views for the next n rows of side data */
  const sideArrays = (n: number): void => {
    if (used + n > cap) {
      flushSide();
      cap = Math.max(SIDE_CHUNK, n);
      // chunk sets are reused once the side work is done with them (see SideWork.buffers)
      let set = pool[poolNext];
      if (!set || set.cap < cap) {
        const f64 = () =>
          new Float64Array(side.shared ? new SharedArrayBuffer(cap * 8) : new ArrayBuffer(cap * 8));
        const u32 = () =>
          new Uint32Array(side.shared ? new SharedArrayBuffer(cap * 4) : new ArrayBuffer(cap * 4));
        set = {
          cap,
          sec: f64(),
          arrival: f64(),
          lat: Array.from({ length: nSide }, f64),
          stream: u32(),
          iteration: u32(),
          smpCnt: u32(),
        };
        pool[poolNext] = set;
      }
      poolNext = (poolNext + 1) % side.buffers;
      chunkSec = set.sec;
      chunkArrival = set.arrival;
      chunkLat = set.lat;
      chunkStream = set.stream;
      chunkIter = set.iteration;
      chunkCnt = set.smpCnt;
    }
    secArr = chunkSec.subarray(used, used + n);
    arrivalArr = chunkArrival.subarray(used, used + n);
    latArr = chunkLat.map((a) => a.subarray(used, used + n));
  };
  const sideBatch = (c: RecordColumns): void => {
    chunkStream.set(c.stream.subarray(0, c.length), used);
    chunkIter.set(c.iteration.subarray(0, c.length), used);
    chunkCnt.set(c.smpCnt.subarray(0, c.length), used);
    chunkNames = c.names;
    used += c.length;
  };
  const spikes = new TopSpikes(opts.top ?? 10);
  const attribution = new AttributionAccumulator(points, input.meta.context?.thresholdUs ?? 200);
  const present = new Uint8Array(np);
  const lat = new Float64Array(nSeg);
  const has = new Uint8Array(nSeg);
  let rows = 0;
  let firstNs = Number.POSITIVE_INFINITY;
  let lastNs = Number.NEGATIVE_INFINITY;

  const newStream = (c: RecordColumns, s: number, r: number): StreamAcc => {
    const acc: StreamAcc = {
      svID: c.names[s] as string,
      appid: c.appid[r] as number,
      rows: 0,
      complete: 0,
      missed: 0,
      lostInPath: 0,
      segs: newSegs(specs, nT, shareTotal),
    };
    streams[s] = acc;
    return acc;
  };

  /** the stream accumulators by stream index (for the column-wise dense pass) */
  const byStream: StreamAcc[] = [];
  let scratch = new Float64Array(0);

  /**
   * The common case: every point saw every SV of the batch. Column by column: times, then each segment's
   * latencies into the side-work arrays, then each segment's histograms (values reach each histogram in row
   * order, so sums and results are those of a row-by-row pass), then spikes in row order.
   */
  const denseBatch = (c: RecordColumns): void => {
    const n = c.length;
    const hi = c.t.map((a) => new Int32Array(a.buffer, a.byteOffset, a.length * 2));
    const lo = c.t.map((a) => new Uint32Array(a.buffer, a.byteOffset, a.length * 2));
    const stream = c.stream;
    const nPairs = np - 1;
    sideArrays(n);
    // rows per stream (streams first seen here get their accumulators)
    for (let r = 0; r < n; r++) {
      const s = stream[r] as number;
      let acc = byStream[s];
      if (acc === undefined) {
        acc = streams[s] ?? newStream(c, s, r);
        byStream[s] = acc;
      }
      acc.rows++;
      acc.complete++;
    }
    {
      const hi0 = hi[0] as Int32Array;
      const lo0 = lo[0] as Uint32Array;
      const hiA = hi[probe0] as Int32Array;
      const loA = lo[probe0] as Uint32Array;
      const sec_ = secArr;
      const arrival_ = arrivalArr;
      let curSec = 0;
      let secStart = Number.POSITIVE_INFINITY;
      let secEnd = Number.NEGATIVE_INFINITY;
      let first = firstNs;
      let last = lastNs;
      for (let r = 0; r < n; r++) {
        const r2 = r * 2;
        const tNs = (hi0[r2 + 1] as number) * TWO32 + (lo0[r2] as number);
        // the second changes rarely: divide only when tNs leaves the current one
        if (tNs >= secEnd || tNs < secStart) {
          curSec = Math.floor(tNs / 1e9);
          secStart = curSec * 1e9;
          secEnd = secStart + 1e9;
        }
        sec_[r] = curSec;
        arrival_[r] = (hiA[r2 + 1] as number) * TWO32 + (loA[r2] as number);
        if (tNs < first) first = tNs;
        if (tNs > last) last = tNs;
      }
      if (identity) {
        firstNs = first;
        lastNs = last;
      } else sec_.fill(Number.NaN);
    }
    // latencies of each segment (pairs, then total from the first to the last point)
    if (scratch.length < n) scratch = new Float64Array(n);
    const cols: Float64Array[] = [];
    for (let j = 0; j < nSeg; j++) {
      if (shareTotal && j === totalIdx) {
        cols.push(cols[0] as Float64Array);
        break;
      }
      const from = j < nPairs ? j : 0;
      const to = j < nPairs ? j + 1 : np - 1;
      const ha = hi[from] as Int32Array;
      const la = lo[from] as Uint32Array;
      const hb = hi[to] as Int32Array;
      const lb = lo[to] as Uint32Array;
      const out = j < nSide ? (latArr[j] as Float64Array) : scratch;
      for (let r = 0; r < n; r++) {
        const r2 = r * 2;
        out[r] =
          ((hb[r2 + 1] as number) - (ha[r2 + 1] as number)) * TWO32 +
          ((lb[r2] as number) - (la[r2] as number));
      }
      cols.push(out);
    }
    // spikes, in row order
    const total = cols[totalIdx] as Float64Array;
    let spikeFloor = spikes.floor;
    for (let r = 0; r < n; r++) {
      const v = total[r] as number;
      if (v > spikeFloor && spikes.wants(v)) {
        has.fill(1);
        for (let j = 0; j < nSeg; j++) lat[j] = (cols[j] as Float64Array)[r] as number;
        spikes.add(makeSpike(c, r, identity ? 0 : null));
        spikeFloor = spikes.floor;
      }
    }
    rows += n;
  };

  const batch = (c: RecordColumns): void => {
    const n = c.length;
    sideArrays(n);
    const sec_ = secArr;
    const arrival_ = arrivalArr;
    const lat_ = latArr;
    for (const l of lat_) l.fill(Number.NaN);
    sec_.fill(Number.NaN);
    arrival_.fill(Number.NaN);
    const hi = c.t.map((a) => new Int32Array(a.buffer, a.byteOffset, a.length * 2));
    const lo = c.t.map((a) => new Uint32Array(a.buffer, a.byteOffset, a.length * 2));
    const valid = c.valid;
    for (let r = 0; r < n; r++) {
      const s = c.stream[r] as number;
      const acc = streams[s] ?? newStream(c, s, r);
      acc.rows++;
      // which points saw this SV
      let first = -1;
      let arrive = -1;
      let seenAll = true;
      let gapBeforeSeen = false;
      let hole = false;
      for (let p = 0; p < np; p++) {
        const v = valid[p];
        const ok = v?.[r] === 0 ? 0 : 1;
        present[p] = ok;
        if (ok) {
          if (first < 0) first = p;
          if (p < probe0) continue;
          if (arrive < 0) arrive = p;
          if (hole) gapBeforeSeen = true;
        } else if (p >= probe0) {
          seenAll = false;
          hole = true;
        }
      }
      if (seenAll) acc.complete++;
      else {
        if (gapBeforeSeen) acc.missed++;
        if (!present[np - 1]) acc.lostInPath++;
      }
      const r2 = r * 2;
      // consecutive segments
      for (let j = 0; j < nSeg; j++) has[j] = 0;
      for (let j = 0; j < np - 1; j++) {
        if (present[j] && present[j + 1]) {
          const d =
            ((hi[j + 1] as Int32Array)[r2 + 1]! - (hi[j] as Int32Array)[r2 + 1]!) * TWO32 +
            ((lo[j + 1] as Uint32Array)[r2]! - (lo[j] as Uint32Array)[r2]!);
          lat[j] = d;
          has[j] = 1;
        }
      }
      if (!shareTotal && first >= 0 && first < np - 1 && present[np - 1]) {
        const d =
          ((hi[np - 1] as Int32Array)[r2 + 1]! - (hi[first] as Int32Array)[r2 + 1]!) * TWO32 +
          ((lo[np - 1] as Uint32Array)[r2]! - (lo[first] as Uint32Array)[r2]!);
        lat[totalIdx] = d;
        has[totalIdx] = 1;
      } else if (shareTotal && has[0]) {
        lat[totalIdx] = lat[0] as number;
        has[totalIdx] = 1;
      }
      // the latencies go to the side work (histograms; series where the row has a time)
      for (let j = 0; j < nSide; j++) if (has[j]) (lat_[j] as Float64Array)[r] = lat[j] as number;
      if (!identity || first < 0) {
        if (has[totalIdx] && spikes.wants(lat[totalIdx] as number)) spikes.add(makeSpike(c, r, null));
        continue;
      }
      const tNs = (hi[first] as Int32Array)[r2 + 1]! * TWO32 + (lo[first] as Uint32Array)[r2]!;
      if (tNs < firstNs) firstNs = tNs;
      if (tNs > lastNs) lastNs = tNs;
      sec_[r] = Math.floor(tNs / 1e9);
      if (arrive < 0) arrive = first;
      arrival_[r] = (hi[arrive] as Int32Array)[r2 + 1]! * TWO32 + (lo[arrive] as Uint32Array)[r2]!;
      if (has[totalIdx] && spikes.wants(lat[totalIdx] as number)) spikes.add(makeSpike(c, r, first));
    }
    rows += n;
  };

  const makeSpike = (c: RecordColumns, r: number, first: number | null): Spike => {
    const segs: Record<string, number | null> = {};
    specs.forEach((sp, j) => {
      segs[sp.name] = has[j] ? (lat[j] as number) : null;
    });
    const t = first === null ? null : (c.t[first] as BigInt64Array)[r];
    return {
      value: lat[totalIdx] as number,
      t_ns: t === null || t === undefined ? null : t.toString(),
      time: t === null || t === undefined ? null : isoOfNs(Number(t)),
      svID: c.names[c.stream[r] as number] as string,
      iteration: c.iteration[r] as number,
      smpCnt: c.smpCnt[r] as number,
      segments: segs,
    };
  };

  try {
    for (const c of input.batches()) {
      if (c.valid.every((v) => v === null)) denseBatch(c);
      else batch(c);
      if (c.extra) attribution.add(c);
      sideBatch(c);
      opts.onProgress?.(input.bytesRead, input.size, rows);
    }
    flushSide();
  } catch (e) {
    side.cancel();
    throw e;
  }
  const sideResult: SideResult = await side.finish();
  const counts = sideResult.continuity;
  // each stream's histograms, from the side work (with two points, total shares T1-T2's accumulator)
  streams.forEach((acc, s) => {
    const t = sideResult.tallies[s];
    if (!acc || !t) return;
    for (let j = 0; j < nSide; j++) {
      const got = t[j];
      const seg = acc.segs[j] as SegAcc;
      if (got) {
        seg.hist = got.hist;
        seg.over = got.over;
      }
    }
  });

  // summaries
  const pointNames = points.map((p) => p.name);
  const streamList = streams.filter((s): s is StreamAcc => s !== undefined);
  const allSegs = newSegs(specs, nT, shareTotal);
  for (const s of streamList) {
    s.segs.forEach((seg, j) => {
      if (shareTotal && j === totalIdx) return;
      const into = allSegs[j] as SegAcc;
      into.hist.merge(seg.hist);
      for (let k = 0; k < nT; k++) into.over[k] = (into.over[k] as number) + (seg.over[k] as number);
    });
  }
  const warnings = [...input.warnings];
  const streamSummaries: StreamSummary[] = streamList.map((s) => {
    const t = counts[s.svID];
    const segList = specs.map((sp, j) => segStats(sp, pointNames, s.segs[j] as SegAcc, thresholdsUs));
    const cc = input.meta.crossClock;
    for (const sg of segList)
      if (sg.negative > 0 && sg.name !== "total")
        warnings.push(
          cc && cc.hostPoints.includes(sg.from) !== cc.hostPoints.includes(sg.to)
            ? `${sg.negative} negative latencies in ${sg.name} of ${s.svID} (min ${sg.min} ns): ${sg.from} is on the host's clock and ${sg.to} on the guest's, mapped onto it with ± ${cc.uncertaintyNs} ns${(sg.min ?? 0) < -cc.uncertaintyNs ? ": beyond that uncertainty (the guest clock moved between the exchange rounds?)" : ": within that uncertainty"}`
            : `clock problem: ${sg.negative} negative latencies in ${sg.name} of ${s.svID} (min ${sg.min} ns): the clocks at ${sg.from} and ${sg.to} disagree (check PTP, TAI vs UTC)`,
        );
    return {
      svID: s.svID,
      appid: s.appid,
      rows: s.rows,
      complete: s.complete,
      missed: s.missed,
      lostInPath: s.lostInPath,
      drops: t ? t.missing : null,
      duplicates: t ? t.duplicates : null,
      outOfOrder: t ? t.outOfOrder : null,
      wraps: t ? t.wraps : null,
      modulus: t ? t.modulus : null,
      segments: keyed(segList),
    };
  });
  const join = input as Partial<JoinedRecords>;
  if (input.kind === "join" && join.stats)
    for (const st of join.stats)
      if (st.duplicates > 0 || st.missing > 0)
        warnings.push(
          `${st.path}: ${st.missing} SVs other inputs have are missing here, ${st.duplicates} duplicated`,
        );
  const histograms: Record<string, LatencyHistogram> = {};
  specs.forEach((sp, j) => {
    histograms[sp.name] = (allSegs[j] as SegAcc).hist;
  });
  const seriesOut: Record<string, SeriesPoint[]> = {};
  if (identity)
    specs.forEach((sp, j) => {
      if (j < nSide) seriesOut[sp.name] = sideResult.series[j] as SeriesPoint[];
    });
  if (identity && shareTotal) seriesOut.total = seriesOut[specs[0]?.name as string] ?? [];
  const hasTime = identity && Number.isFinite(firstNs);
  const summary: ReportSummary = {
    tool: "svtrace report",
    svtraceVersion: opts.svtraceVersion ?? "unknown",
    inputs: inputInfo(input),
    meta: input.meta,
    points,
    segmentNames: specs.map((s) => s.name),
    thresholds_us: thresholdsUs,
    rows,
    start: hasTime ? isoOfNs(firstNs) : null,
    end: hasTime ? isoOfNs(lastNs) : null,
    duration_s: hasTime ? Math.round((lastNs - firstNs) / 1e6) / 1e3 : null,
    streams: streamSummaries,
    all: {
      segments: keyed(specs.map((sp, j) => segStats(sp, pointNames, allSegs[j] as SegAcc, thresholdsUs))),
    },
    series: seriesOut,
    spikes: spikes.sorted(),
    warnings,
    attribution: [],
    attribution_threshold_us: attribution.thresholdUs,
    attribution_note: null,
  };
  const attributed = attribution.result(input.meta);
  summary.attribution = attributed.entries;
  summary.attribution_note = attributed.note;
  return { summary, histograms };
}

function inputInfo(input: RecordInput): { path: string; kind: string; rows: number }[] {
  const parts = (input as { inputs?: RecordInput[] }).inputs;
  if (parts && Array.isArray(parts)) {
    const join = input as Partial<JoinedRecords>;
    return parts.map((p, i) => ({ path: p.path, kind: p.kind, rows: join.stats?.[i]?.rows ?? p.rows }));
  }
  return [{ path: input.path, kind: input.kind, rows: input.rows }];
}
