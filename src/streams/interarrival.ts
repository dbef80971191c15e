/**
 * Inter-arrival times of one stream's frames: min, p50, p99, max in microseconds, from capture or receive
 * timestamps. Backed by the log-linear histogram of ../analysis (bounded memory, p50/p99 within 0.05 %,
 * min/max exact). Negative gaps (timestamps going backwards in a capture) are kept and counted.
 */
import { LatencyHistogram } from "../analysis/histogram.js";

export interface InterArrivalSummary {
  /** number of gaps measured (frames - 1) */
  count: number;
  minUs: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  meanUs: number;
  /** gaps where the timestamp went backwards */
  negative: number;
}

export class InterArrival {
  #last: bigint | undefined;
  #hist: LatencyHistogram | undefined;

  /** Add the timestamp (ns) of the next frame. */
  push(tsNs: bigint): void {
    const last = this.#last;
    this.#last = tsNs;
    if (last === undefined) return;
    if (!this.#hist) this.#hist = new LatencyHistogram();
    this.#hist.record(Number(tsNs - last));
  }

  get count(): number {
    return this.#hist?.count ?? 0;
  }

  /** undefined with fewer than two frames */
  summary(): InterArrivalSummary | undefined {
    const h = this.#hist;
    if (!h || h.count === 0) return undefined;
    return {
      count: h.count,
      minUs: h.min / 1000,
      p50Us: h.quantile(0.5) / 1000,
      p99Us: h.quantile(0.99) / 1000,
      maxUs: h.max / 1000,
      meanUs: h.mean / 1000,
      negative: h.negatives,
    };
  }
}
