/**
 * The part of a report's pass after the latencies are measured: each stream's and segment's histogram and
 * over-threshold counts (values in row order, so the sums are those of one pass), smpCnt continuity of every
 * stream (drops, duplicates, out-of-order, wraps, modulus; exact from each row's (iteration, smpCnt) with the
 * streams module's IteratedContinuity, whatever order the rows come in; out-of-order in the order the SVs
 * arrived at their first point) and the
 * per-second max/p99 series of every segment. The main pass hands each batch's stream indices, smpCnt values,
 * seconds and latencies over; for large inputs this runs in three worker threads (./side-worker.ts: histograms,
 * continuity, series) sharing each batch's arrays (SharedArrayBuffers), so reading, measuring and the rest
 * overlap on every core.
 */
import { Worker } from "node:worker_threads";
import { IteratedContinuity, type IteratedCounts } from "../streams/iterated-continuity.js";
import { LatencyHistogram } from "./histogram.js";
import { PerSecondSeries, type SeriesPoint } from "./per-second.js";

export type StreamContinuity = IteratedCounts;

/** One stream's latencies of one segment: the histogram and the counts over each threshold. */
export interface SegmentTally {
  hist: LatencyHistogram;
  over: Float64Array;
}

export interface SideResult {
  continuity: Record<string, StreamContinuity>;
  /** per segment index */
  series: SeriesPoint[][];
  /** by stream index, then segment index (undefined: a stream with no latency) */
  tallies: (SegmentTally[] | undefined)[];
}

export interface SideOptions {
  /** segments with their own latencies in SideBatch.lat */
  segments: number;
  modulus?: number;
  /** ascending thresholds, ns, for the over-threshold counts */
  thresholdsNs: number[];
}

/** Which parts of the side work a SideState does (a worker may do one part, another the other). */
export interface SideParts {
  /** smpCnt continuity */
  continuity: boolean;
  /** the per-second series */
  series: boolean;
  /** histograms and over-threshold counts per stream and segment */
  tallies: boolean;
}

/** One batch's share of the side work. `lat[j][r]` is NaN where segment j has no latency for row r. */
export interface SideBatch {
  /** the (growing) svID table, empty when unchanged since the last batch sent to a worker */
  names: string[];
  n: number;
  stream: Uint32Array;
  iteration: Uint32Array;
  smpCnt: Uint32Array;
  /** second of each row (NaN: no time) */
  sec: Float64Array;
  /** when each row's SV arrived: ns at its first point after t0 (NaN: unknown), for out-of-order */
  arrival: Float64Array;
  lat: Float64Array[];
  /** run continuity (inputs with SV identity) */
  identity: boolean;
}

export type SideMessage = { type: "batch"; batch: SideBatch } | { type: "end" };

/** The side work itself, shared by the inline variant and the worker. */
export class SideState {
  private readonly trackers = new Map<string, IteratedContinuity>();
  private byIndex: IteratedContinuity[] = [];
  private names: string[] = [];
  private readonly series: PerSecondSeries[];
  private readonly modulus?: number;
  private readonly segments: number;
  private readonly thresholdsNs: Float64Array;
  /** by segment, then stream index */
  private readonly tallies: SegmentTally[][];

  constructor(
    o: SideOptions,
    private readonly parts: SideParts = { continuity: true, series: true, tallies: true },
  ) {
    this.modulus = o.modulus;
    this.segments = o.segments;
    this.thresholdsNs = Float64Array.from(o.thresholdsNs);
    this.series = Array.from({ length: o.segments }, () => new PerSecondSeries());
    this.tallies = Array.from({ length: o.segments }, () => []);
  }

  add(b: SideBatch): void {
    if (this.parts.tallies) this.addTallies(b);
    if (this.parts.continuity) this.addContinuity(b);
    if (this.parts.series) this.addSeries(b);
  }

  /** Each segment's values into the histogram of their stream, in row order (NaN: no latency). */
  private addTallies(b: SideBatch): void {
    const n = b.n;
    const stream = b.stream;
    const th = this.thresholdsNs;
    const nT = th.length;
    const th0 = nT > 0 ? (th[0] as number) : Number.POSITIVE_INFINITY;
    for (let j = 0; j < this.segments; j++) {
      const lat = b.lat[j] as Float64Array;
      const accs = this.tallies[j] as SegmentTally[];
      for (let r = 0; r < n; r++) {
        const d = lat[r] as number;
        if (Number.isNaN(d)) continue;
        const s = stream[r] as number;
        let acc = accs[s];
        if (acc === undefined) {
          acc = { hist: new LatencyHistogram(), over: new Float64Array(nT) };
          accs[s] = acc;
        }
        acc.hist.record(d);
        if (d > th0) {
          const over = acc.over;
          for (let k = 0; k < nT && d > (th[k] as number); k++) over[k] = (over[k] as number) + 1;
        }
      }
    }
  }

  private addContinuity(b: SideBatch): void {
    const n = b.n;
    if (b.identity) {
      if (b.names.length > 0 && (b.names !== this.names || b.names.length !== this.byIndex.length)) {
        this.names = b.names;
        this.byIndex = b.names.map((s) => {
          let t = this.trackers.get(s);
          if (!t) {
            t = new IteratedContinuity(this.modulus);
            this.trackers.set(s, t);
          }
          return t;
        });
      }
      const by = this.byIndex;
      const stream = b.stream;
      const iteration = b.iteration;
      const smpCnt = b.smpCnt;
      const arrival = b.arrival;
      for (let r = 0; r < n; r++)
        (by[stream[r] as number] as IteratedContinuity).push(
          iteration[r] as number,
          smpCnt[r] as number,
          arrival[r] as number,
        );
    }
  }

  private addSeries(b: SideBatch): void {
    const n = b.n;
    // runs of rows in one second, each segment's values of a run in one go
    const sec = b.sec;
    const lat = b.lat;
    let a = 0;
    while (a < n) {
      const t = sec[a] as number;
      let e = a + 1;
      if (Number.isNaN(t)) {
        while (e < n && Number.isNaN(sec[e] as number)) e++;
      } else {
        while (e < n && sec[e] === t) e++;
        for (let j = 0; j < lat.length; j++)
          (this.series[j] as PerSecondSeries).addRun(t, lat[j] as Float64Array, a, e);
      }
      a = e;
    }
  }

  result(): SideResult {
    const continuity: Record<string, StreamContinuity> = {};
    for (const [s, t] of this.trackers) continuity[s] = t.counts();
    const tallies: (SegmentTally[] | undefined)[] = [];
    this.tallies.forEach((accs, j) => {
      accs.forEach((acc, s) => {
        if (!acc) return;
        let list = tallies[s];
        if (!list) {
          list = [];
          tallies[s] = list;
        }
        list[j] = acc;
      });
    });
    return { continuity, series: this.parts.series ? this.series.map((s) => s.finish()) : [], tallies };
  }
}

export interface SideWork {
  /**
   * add() may keep a batch's arrays until `buffers` more batches were added (1: not past the call), so a
   * sender can cycle through that many sets of arrays; `shared`: allocate them on SharedArrayBuffers.
   */
  readonly buffers: number;
  readonly shared: boolean;
  add(b: SideBatch): void;
  finish(): Promise<SideResult>;
  /** stop without a result (the pass failed): ends the workers so they do not keep the process alive */
  cancel(): void;
}

export function inlineSideWork(o: SideOptions): SideWork {
  const state = new SideState(o);
  return {
    buffers: 1,
    shared: false,
    add: (b) => state.add(b),
    finish: async () => state.result(),
    cancel: () => {},
  };
}

/**
 * Batches sent to the worker and not yet done, at most: the main pass waits (Atomics.wait on a shared counter
 * the worker bumps) rather than queue chunks without bound when the worker falls behind, which held hundreds
 * of MB on a busy machine.
 */
const MAX_IN_FLIGHT = 3;

/**
 * Three worker threads: continuity, the per-second series, the histograms; each batch (on SharedArrayBuffers)
 * goes to all of them. The main pass then only reads, measures and keeps the spikes.
 */
export function workerSideWork(o: SideOptions): SideWork {
  const roles: SideParts[] = [
    { continuity: true, series: false, tallies: false },
    { continuity: false, series: true, tallies: false },
    { continuity: false, series: false, tallies: true },
  ];
  const workers = roles.map((parts) => startWorker(o, parts));
  return {
    // add() returns once at most MAX_IN_FLIGHT - 1 earlier batches are unfinished, the one it sends included
    buffers: MAX_IN_FLIGHT + 1,
    shared: true,
    add(b: SideBatch): void {
      for (const w of workers) w.add(b);
    },
    cancel(): void {
      for (const w of workers) w.cancel();
    },
    async finish(): Promise<SideResult> {
      const [continuity, series, tallies] = await Promise.all(workers.map((w) => w.finish()));
      return {
        continuity: (continuity as SideResult).continuity,
        series: (series as SideResult).series,
        tallies: (tallies as SideResult).tallies.map((list) =>
          list?.map((t) => ({ hist: LatencyHistogram.fromClone(t.hist), over: t.over })),
        ),
      };
    },
  };
}

function startWorker(
  o: SideOptions,
  parts: SideParts,
): { add(b: SideBatch): void; finish(): Promise<SideResult>; cancel(): void } {
  // [batches done, 1 once the worker failed]
  const done_ = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(new URL("./side-worker.js", import.meta.url), {
    workerData: { options: o, parts, done: done_ },
  });
  let sent = 0;
  let failure: Error | null = null;
  const done = new Promise<SideResult>((resolve, reject) => {
    worker.once("message", (m: SideResult) => resolve(m));
    worker.once("error", (e) => {
      failure = e;
      reject(e);
    });
    worker.once("exit", (code) => {
      if (code !== 0) reject(new Error(`report side worker exited with ${code}`));
    });
  });
  done.catch(() => {});
  let sentNames = -1;
  return {
    add(b: SideBatch): void {
      if (failure) throw failure;
      const names = b.names.length !== sentNames ? [...b.names] : [];
      sentNames = b.names.length;
      const msg: SideMessage = { type: "batch", batch: { ...b, names } };
      for (;;) {
        const finished = Atomics.load(done_, 0);
        // a failed worker's error comes out of finish()
        if (sent - finished < MAX_IN_FLIGHT || Atomics.load(done_, 1) === 1) break;
        Atomics.wait(done_, 0, finished, 1000);
      }
      // the arrays are on SharedArrayBuffers: shared, not copied
      worker.postMessage(msg);
      sent++;
    },
    cancel(): void {
      void worker.terminate();
    },
    async finish(): Promise<SideResult> {
      worker.postMessage({ type: "end" } satisfies SideMessage);
      try {
        return await done;
      } finally {
        await worker.terminate();
      }
    },
  };
}
