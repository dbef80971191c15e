/**
 * The live view's model: what `svtrace live` (screen and --json), `svtrace record`'s summary and the Prometheus
 * endpoint show. Fed with the trace session's SvRow batches and its ~1 s TraceStats; keeps per stream and per
 * segment a log-linear latency histogram (cumulative since the start), the count over the threshold and a
 * log2 µs histogram for drawing. `snapshot()` gives the JSON shape documented in `svtrace live --help`.
 */
import { LatencyHistogram } from "../analysis/histogram.js";
import { bucketFor, LATENCY_BUCKETS_NS } from "../metrics/buckets.js";
import type { RecordColumns } from "../record/columns.js";
import { diffWords } from "../record/ns64.js";
import { firstProbe, type PointMeta, type SvRow } from "../record/schema.js";
import type { StreamCounters, TraceStats } from "../trace/session-types.js";
import { type SegmentDef, segmentLatency, segmentsFor } from "./segments.js";

/** log2 µs bins of the drawn histogram: [0,1) µs, [1,2), [2,4), ... [2^(N-2), +inf) */
export const LOG2_BINS = 18;

export class SegmentStats {
  readonly hist = new LatencyHistogram();
  /** SVs whose latency is strictly above the threshold (exact) */
  over = 0;
  /** latencies <= 0 (a point out of path order: a clock or matching problem) */
  nonPositive = 0;
  readonly log2 = new Float64Array(LOG2_BINS);
  /** exact (non-cumulative) counts per Prometheus bucket of ../metrics/buckets.ts, last = above every bound */
  readonly promBuckets = new Float64Array(LATENCY_BUCKETS_NS.length + 1);

  constructor(readonly thresholdNs: number) {}

  record(ns: number): void {
    this.hist.record(ns);
    this.promBuckets[bucketFor(ns)]++;
    if (ns > this.thresholdNs) this.over++;
    if (ns <= 0) this.nonPositive++;
    this.log2[log2Bin(ns)]++;
  }
}

export function log2Bin(ns: number): number {
  const us = ns / 1000;
  if (us < 1) return 0;
  const b = 1 + Math.floor(Math.log2(us));
  return b >= LOG2_BINS ? LOG2_BINS - 1 : b;
}

/** Bin i covers [lo, hi) µs; hi is Infinity for the last bin. */
export function log2BinRange(i: number): { lo: number; hi: number } {
  if (i === 0) return { lo: 0, hi: 1 };
  return { lo: 2 ** (i - 1), hi: i === LOG2_BINS - 1 ? Number.POSITIVE_INFINITY : 2 ** i };
}

export class StreamModel {
  /** rows (SVs) delivered by the session for this stream */
  rows = 0;
  /** rows seen by every probe (t0, the publisher's refrTm, is not one) */
  completeRows = 0;
  appid: number | undefined;
  counters: StreamCounters | undefined;
  readonly segments: SegmentStats[];

  constructor(
    readonly svID: string,
    defs: SegmentDef[],
    thresholdNs: number,
  ) {
    this.segments = defs.map(() => new SegmentStats(thresholdNs));
  }
}

export interface SegmentSnapshot {
  alias?: string;
  count: number;
  /** nanoseconds; null when count is 0 */
  min: number | null;
  mean: number | null;
  p50: number | null;
  p99: number | null;
  "p99.9": number | null;
  max: number | null;
  over_threshold: number;
  non_positive: number;
}

export interface StreamSnapshot {
  svID: string;
  appid: number | null;
  /** SVs delivered by the tracer for this stream (one row each in a record of the same run) */
  rows: number;
  /** rows with every point present */
  complete_rows: number;
  /** tracer counters (cumulative), see TraceStats; 0 before the first stats */
  received: number;
  complete: number;
  missed: number;
  lost_in_path: number;
  dropped: number;
  duplicates: number;
  segments: Record<string, SegmentSnapshot>;
}

export interface LiveSnapshot {
  /** ISO time of the snapshot */
  time: string;
  /** seconds since the trace was ready */
  elapsed_s: number;
  profile: string;
  clock: string;
  points: { name: string; label: string }[];
  threshold_us: number;
  lost_events: number;
  map: { entries: number; capacity: number; fill: number };
  /** rows per second over the last interval, all streams */
  rate: number;
  streams: StreamSnapshot[];
  /** every stream together, per segment */
  all: Record<string, SegmentSnapshot>;
  /** the last few tracer warnings (lost events, map nearly full, bpftrace messages), oldest first */
  warnings: string[];
  /** log2 µs histogram of `total` (or the only segment) over every stream: [lo_us, hi_us|null, count] */
  histogram: { segment: string; bins: [number, number | null, number][] };
}

export interface LiveModelOptions {
  points: PointMeta[];
  thresholdUs: number;
  profile?: string;
  clock?: string;
}

export class LiveModel {
  readonly defs: SegmentDef[];
  readonly streams = new Map<string, StreamModel>();
  readonly thresholdNs: number;
  lostEvents = 0;
  mapEntries = 0;
  mapCapacity = 0;
  private readonly start = Date.now();
  private lastRows = 0;
  private lastAt = Date.now();
  totalRows = 0;
  private readonly warnings: string[] = [];
  /** index of the first probe point (firstProbe) */
  private readonly probe0: number;

  constructor(readonly opts: LiveModelOptions) {
    this.defs = segmentsFor(opts.points);
    this.probe0 = firstProbe(opts.points);
    this.thresholdNs = opts.thresholdUs * 1000;
  }

  private stream(svID: string): StreamModel {
    let s = this.streams.get(svID);
    if (!s) {
      s = new StreamModel(svID, this.defs, this.thresholdNs);
      this.streams.set(svID, s);
    }
    return s;
  }

  addRows(rows: readonly SvRow[]): void {
    const defs = this.defs;
    for (const row of rows) {
      const s = this.stream(row.svID);
      s.rows++;
      s.appid = row.appid;
      let complete = true;
      for (let p = this.probe0; p < row.t.length; p++) if (row.t[p] === null) complete = false;
      if (complete) s.completeRows++;
      for (let i = 0; i < defs.length; i++) {
        const ns = segmentLatency(defs[i], row.t);
        if (ns !== undefined) s.segments[i].record(ns);
      }
    }
    this.totalRows += rows.length;
  }

  /** addRows() for a columnar batch (the trace session's form): the same counts, no object per row. */
  addColumns(c: RecordColumns): void {
    const defs = this.defs;
    const models = c.names.map((id) => this.stream(id));
    const np = c.t.length;
    const words = c.t.map((a) => new Uint32Array(a.buffer, a.byteOffset, 2 * c.length));
    const valid = c.valid;
    const has = (p: number, r: number): boolean => {
      const v = valid[p];
      return v?.[r] !== 0;
    };
    for (let r = 0; r < c.length; r++) {
      const s = models[c.stream[r] as number] as StreamModel;
      s.rows++;
      s.appid = c.appid[r] as number;
      let complete = true;
      for (let p = this.probe0; p < np; p++) if (!has(p, r)) complete = false;
      if (complete) s.completeRows++;
      for (let i = 0; i < defs.length; i++) {
        const d = defs[i] as SegmentDef;
        if (d.to >= np || !has(d.to, r)) continue;
        let from = d.from;
        if (from < 0) {
          from = 0;
          while (from < d.to && !has(from, r)) from++;
          if (from === d.to) continue;
        } else if (from >= np || !has(from, r)) continue;
        const e = words[d.to] as Uint32Array;
        const b = words[from] as Uint32Array;
        (s.segments[i] as SegmentStats).record(
          diffWords(e[2 * r] as number, e[2 * r + 1] as number, b[2 * r] as number, b[2 * r + 1] as number),
        );
      }
    }
    this.totalRows += c.length;
  }

  /** Remember a tracer warning for the screen and the snapshots (the last 3 are kept). */
  noteWarning(message: string): void {
    this.warnings.push(message);
    if (this.warnings.length > 3) this.warnings.shift();
  }

  setStats(stats: TraceStats): void {
    this.lostEvents = stats.lostEvents;
    this.mapEntries = stats.mapEntries;
    this.mapCapacity = stats.mapCapacity;
    for (const c of stats.streams) {
      const s = this.stream(c.svID);
      s.counters = c;
      if (c.appid !== undefined && s.appid === undefined) s.appid = c.appid;
    }
  }

  /** Streams sorted by svID. */
  sortedStreams(): StreamModel[] {
    return [...this.streams.values()].sort((a, b) => (a.svID < b.svID ? -1 : a.svID > b.svID ? 1 : 0));
  }

  snapshot(now = Date.now()): LiveSnapshot {
    const dt = (now - this.lastAt) / 1000;
    const rate = dt > 0 ? (this.totalRows - this.lastRows) / dt : 0;
    this.lastAt = now;
    this.lastRows = this.totalRows;
    const streams = this.sortedStreams();
    const all = this.defs.map(() => new SegmentStats(this.thresholdNs));
    for (const s of streams) {
      s.segments.forEach((seg, i) => {
        all[i].hist.merge(seg.hist);
        all[i].over += seg.over;
        all[i].nonPositive += seg.nonPositive;
        for (let b = 0; b < LOG2_BINS; b++) all[i].log2[b] += seg.log2[b];
        for (let b = 0; b < seg.promBuckets.length; b++) all[i].promBuckets[b] += seg.promBuckets[b];
      });
    }
    const drawn = this.defs.length - 1;
    const bins: [number, number | null, number][] = [];
    if (drawn >= 0) {
      const log2 = all[drawn].log2;
      for (let b = 0; b < LOG2_BINS; b++) {
        const { lo, hi } = log2BinRange(b);
        bins.push([lo, Number.isFinite(hi) ? hi : null, log2[b]]);
      }
    }
    return {
      time: new Date(now).toISOString(),
      elapsed_s: Math.round((now - this.start) / 100) / 10,
      profile: this.opts.profile ?? "",
      clock: this.opts.clock ?? "",
      points: this.opts.points.map((p) => ({ name: p.name, label: p.label })),
      threshold_us: this.opts.thresholdUs,
      lost_events: this.lostEvents,
      map: {
        entries: this.mapEntries,
        capacity: this.mapCapacity,
        fill: this.mapCapacity > 0 ? this.mapEntries / this.mapCapacity : 0,
      },
      rate: Math.round(rate),
      streams: streams.map((s) => ({
        svID: s.svID,
        appid: s.appid ?? null,
        rows: s.rows,
        complete_rows: s.completeRows,
        received: s.counters?.received ?? 0,
        complete: s.counters?.complete ?? 0,
        missed: s.counters?.missed ?? 0,
        lost_in_path: s.counters?.lostInPath ?? 0,
        dropped: s.counters?.dropped ?? 0,
        duplicates: s.counters?.duplicates ?? 0,
        segments: this.segmentsSnapshot(s.segments),
      })),
      all: this.segmentsSnapshot(all),
      warnings: [...this.warnings],
      histogram: { segment: drawn >= 0 ? this.defs[drawn].name : "", bins },
    };
  }

  private segmentsSnapshot(stats: SegmentStats[]): Record<string, SegmentSnapshot> {
    const out: Record<string, SegmentSnapshot> = {};
    this.defs.forEach((d, i) => {
      out[d.name] = segmentSnapshot(stats[i], d.alias);
    });
    return out;
  }
}

function num(v: number): number | null {
  return Number.isFinite(v) ? Math.round(v) : null;
}

export function segmentSnapshot(s: SegmentStats, alias?: string): SegmentSnapshot {
  const h = s.hist;
  const snap: SegmentSnapshot = {
    count: h.count,
    min: num(h.min),
    mean: num(h.mean),
    p50: num(h.percentile(50)),
    p99: num(h.percentile(99)),
    "p99.9": num(h.percentile(99.9)),
    max: num(h.max),
    over_threshold: s.over,
    non_positive: s.nonPositive,
  };
  if (alias) return { alias, ...snap };
  return snap;
}
