/**
 * The part of a report's pass that does not need the latencies themselves: smpCnt continuity of every
 * stream (drops, duplicates, out-of-order, wraps, modulus; exact from each row's (iteration, smpCnt) with the
 * streams module's IteratedContinuity, whatever order the rows come in; out-of-order in the order the SVs
 * arrived at their first point) and the
 * per-second max/p99 series of every segment. The main pass hands each batch's stream indices, smpCnt values,
 * seconds and latencies over; for large inputs this runs in a worker thread (./side-worker.ts) so it overlaps
 * with reading and measuring on the other core.
 */
import { Worker } from "node:worker_threads";
import { IteratedContinuity, type IteratedCounts } from "../streams/iterated-continuity.js";
import { PerSecondSeries, type SeriesPoint } from "./per-second.js";

export type StreamContinuity = IteratedCounts;

export interface SideResult {
  continuity: Record<string, StreamContinuity>;
  /** per segment index */
  series: SeriesPoint[][];
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

  constructor(
    segments: number,
    private readonly modulus?: number,
  ) {
    this.series = Array.from({ length: segments }, () => new PerSecondSeries());
  }

  add(b: SideBatch): void {
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
    return { continuity, series: this.series.map((s) => s.finish()) };
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
}

export function inlineSideWork(segments: number, modulus?: number): SideWork {
  const state = new SideState(segments, modulus);
  return { buffers: 1, shared: false, add: (b) => state.add(b), finish: async () => state.result() };
}

/**
 * Batches sent to the worker and not yet done, at most: the main pass waits (Atomics.wait on a shared counter
 * the worker bumps) rather than queue chunks without bound when the worker falls behind, which held hundreds
 * of MB on a busy machine.
 */
const MAX_IN_FLIGHT = 3;

export function workerSideWork(segments: number, modulus?: number): SideWork {
  // [batches done, 1 once the worker failed]
  const done_ = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(new URL("./side-worker.js", import.meta.url), {
    workerData: { segments, modulus, done: done_ },
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
    // add() returns once at most MAX_IN_FLIGHT - 1 earlier batches are unfinished, the one it sends included
    buffers: MAX_IN_FLIGHT + 1,
    shared: true,
    add(b: SideBatch): void {
      if (failure) throw failure;
      const names = b.names.length !== sentNames ? [...b.names] : [];
      sentNames = b.names.length;
      const msg: SideMessage = { type: "batch", batch: { ...b, names } };
      // arrays on SharedArrayBuffers are shared, others moved
      const transfer = [
        b.stream.buffer,
        b.iteration.buffer,
        b.smpCnt.buffer,
        b.sec.buffer,
        b.arrival.buffer,
        ...b.lat.map((l) => l.buffer),
      ].filter((x) => !(x instanceof SharedArrayBuffer));
      for (;;) {
        const finished = Atomics.load(done_, 0);
        // a failed worker's error comes out of finish()
        if (sent - finished < MAX_IN_FLIGHT || Atomics.load(done_, 1) === 1) break;
        Atomics.wait(done_, 0, finished, 1000);
      }
      worker.postMessage(msg, transfer as ArrayBuffer[]);
      sent++;
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
