/**
 * Inter-arrival times of one stream's frames: min, p50, p99, max in microseconds, from capture or receive
 * timestamps. The first 4096 gaps are kept exactly (small streams cost little: a capture may hold thousands of
 * them); beyond that they move into the log-linear histogram of ../analysis (bounded memory, p50/p99 within
 * 0.05 %, min/max exact). Percentiles are nearest-rank. Negative gaps (timestamps going backwards in a
 * capture) are kept and counted.
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

/** gaps kept exactly before switching to the histogram */
export const EXACT_GAPS = 4096;

export class InterArrival {
  #last: bigint | undefined;
  #exact: Float64Array | undefined = undefined;
  #n = 0;
  #hist: LatencyHistogram | undefined;

  /** Add the timestamp (ns) of the next frame. */
  push(tsNs: bigint): void {
    const last = this.#last;
    this.#last = tsNs;
    if (last === undefined) return;
    const gap = Number(tsNs - last);
    if (this.#hist) {
      this.#hist.record(gap);
      return;
    }
    if (!this.#exact) this.#exact = new Float64Array(16);
    if (this.#n === this.#exact.length) {
      if (this.#n >= EXACT_GAPS) {
        const h = new LatencyHistogram();
        h.recordMany(this.#exact, 0, this.#n);
        h.record(gap);
        this.#hist = h;
        this.#exact = undefined;
        return;
      }
      const bigger = new Float64Array(this.#n * 2);
      bigger.set(this.#exact);
      this.#exact = bigger;
    }
    this.#exact[this.#n++] = gap;
  }

  get count(): number {
    return this.#hist ? this.#hist.count : this.#n;
  }

  /** undefined with fewer than two frames */
  summary(): InterArrivalSummary | undefined {
    const h = this.#hist;
    if (h) {
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
    const n = this.#n;
    if (n === 0 || !this.#exact) return undefined;
    const sorted = this.#exact.slice(0, n).sort();
    const rank = (q: number) => sorted[Math.min(n, Math.max(1, Math.ceil(q * n - 1e-9))) - 1];
    let sum = 0;
    let negative = 0;
    for (let i = 0; i < n; i++) {
      sum += sorted[i];
      if (sorted[i] < 0) negative++;
    }
    return {
      count: n,
      minUs: sorted[0] / 1000,
      p50Us: rank(0.5) / 1000,
      p99Us: rank(0.99) / 1000,
      maxUs: sorted[n - 1] / 1000,
      meanUs: sum / n / 1000,
      negative,
    };
  }
}
