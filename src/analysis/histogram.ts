/**
 * Log-linear latency histogram (HdrHistogram layout, 2^11 sub-buckets): records nanosecond values with a
 * relative error of at most 1/2048 (0.049 %) on percentiles, keeps count, sum, min, max exactly and the
 * mean/stddev from sums of (value - first value), which keeps precision without a division per value. Values below 2048 ns are exact. Negative values (a clock problem between
 * two hosts) are kept in a mirrored set of buckets so percentiles stay correct; `negatives` counts them.
 *
 * Bucket index: v < 2048 -> v; otherwise with k = floor(log2 v), shift = k - 10, m = v >> shift in
 * [1024, 2048): index = 2048 + (shift - 1) * 1024 + (m - 1024). A bucket covers [m << shift, (m+1) << shift).
 * Values up to 2^53 ns (104 days) are supported; larger ones are clamped (max stays exact).
 */

const SUB_BITS = 11;
const SUB_COUNT = 1 << SUB_BITS; // 2048
const HALF = SUB_COUNT >> 1; // 1024
const MAX_SHIFT = 53 - (SUB_BITS - 1); // values < 2^53
const BUCKETS = SUB_COUNT + MAX_SHIFT * HALF;
const TWO32 = 4294967296;
const MAX_VALUE = 2 ** 53 - 1;

/** Bucket index of a non-negative integer value. */
export function bucketIndex(v: number): number {
  if (v < SUB_COUNT) return v < 0 ? 0 : v | 0;
  if (v > MAX_VALUE) v = MAX_VALUE;
  let k: number;
  let m: number;
  if (v < TWO32) {
    k = 31 - Math.clz32(v);
    const shift = k - (SUB_BITS - 1);
    m = v >>> shift;
    return SUB_COUNT + (shift - 1) * HALF + (m - HALF);
  }
  const hi = Math.floor(v / TWO32);
  k = 63 - Math.clz32(hi);
  const shift = k - (SUB_BITS - 1);
  m = Math.floor(v / 2 ** shift);
  return SUB_COUNT + (shift - 1) * HALF + (m - HALF);
}

/** Lowest value of bucket `i`. */
export function bucketLow(i: number): number {
  if (i < SUB_COUNT) return i;
  const shift = Math.floor((i - SUB_COUNT) / HALF) + 1;
  const m = ((i - SUB_COUNT) % HALF) + HALF;
  return m * 2 ** shift;
}

/** One past the highest value of bucket `i`. */
export function bucketHigh(i: number): number {
  if (i < SUB_COUNT) return i + 1;
  const shift = Math.floor((i - SUB_COUNT) / HALF) + 1;
  return bucketLow(i) + 2 ** shift;
}

/** A drawable bucket: values in [lo, hi) occurred `count` times (lo/hi negative for negative latencies). */
export interface HistogramBucket {
  lo: number;
  hi: number;
  count: number;
}

/** JSON form of a histogram (sparse buckets as [index, count] pairs). */
export interface HistogramJSON {
  v: 1;
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
  pos: [number, number][];
  neg: [number, number][];
}

export class LatencyHistogram {
  private counts = new Float64Array(BUCKETS);
  private negCounts: Float64Array | null = null;
  /** lowest and highest bucket index in use (for cheap reset and scans) */
  private lo = BUCKETS;
  private hi = -1;
  private n = 0;
  private total = 0;
  private minV = Number.POSITIVE_INFINITY;
  private maxV = Number.NEGATIVE_INFINITY;
  /** mean and stddev: sums of d = value - shift (shift = the first value), no division per value */
  private shift = Number.NaN;
  private s1 = 0;
  private s2 = 0;
  private negN = 0;

  /** Record one latency in nanoseconds (integers; fractions are truncated for bucketing only). */
  record(ns: number): void {
    const n = ++this.n;
    this.total += ns;
    if (ns < this.minV) this.minV = ns;
    if (ns > this.maxV) this.maxV = ns;
    if (n === 1) this.shift = ns;
    const d = ns - this.shift;
    this.s1 += d;
    this.s2 += d * d;
    if (ns >= 0) {
      const i = ns < SUB_COUNT ? ns | 0 : bucketIndex(ns);
      this.counts[i]++;
      if (i < this.lo) this.lo = i;
      if (i > this.hi) this.hi = i;
    } else {
      this.negN++;
      if (!this.negCounts) this.negCounts = new Float64Array(BUCKETS);
      this.negCounts[bucketIndex(-ns)]++;
    }
  }

  /** Record every value of an array (or a slice of it). */
  recordMany(values: ArrayLike<number>, start = 0, end = values.length): void {
    for (let j = start; j < end; j++) this.record(values[j] as number);
  }

  get count(): number {
    return this.n;
  }
  get sum(): number {
    return this.total;
  }
  /** NaN when empty */
  get min(): number {
    return this.n ? this.minV : Number.NaN;
  }
  /** NaN when empty */
  get max(): number {
    return this.n ? this.maxV : Number.NaN;
  }
  /** NaN when empty */
  get mean(): number {
    return this.n ? this.shift + this.s1 / this.n : Number.NaN;
  }
  /** population standard deviation; NaN when empty */
  get stddev(): number {
    return this.n ? Math.sqrt(this.m2() / this.n) : Number.NaN;
  }
  /** sum of squared deviations from the mean */
  private m2(): number {
    return Math.max(0, this.s2 - (this.s1 * this.s1) / this.n);
  }

  /** how many recorded values were negative */
  get negatives(): number {
    return this.negN;
  }

  /**
   * The q-quantile, q in [0, 1], nearest-rank definition (the ceil(q*count)-th smallest value), within
   * 0.05 % of the exact value; min and max are exact. NaN when empty.
   */
  quantile(q: number): number {
    const n = this.n;
    if (n === 0) return Number.NaN;
    const rank = Math.min(n, Math.max(1, Math.ceil(q * n - 1e-9)));
    if (rank === n) return this.maxV;
    if (rank === 1) return this.minV;
    let seen = 0;
    let value = Number.NaN;
    if (this.negN > 0 && this.negCounts) {
      if (rank <= this.negN) {
        // negative values: the largest magnitudes are the smallest values
        for (let i = BUCKETS - 1; i >= 0; i--) {
          const c = this.negCounts[i] as number;
          if (c === 0) continue;
          seen += c;
          if (seen >= rank) {
            value = -representative(i);
            break;
          }
        }
        return clamp(value, this.minV, this.maxV);
      }
      seen = this.negN;
    }
    for (let i = this.lo; i <= this.hi; i++) {
      const c = this.counts[i] as number;
      if (c === 0) continue;
      seen += c;
      if (seen >= rank) {
        value = representative(i);
        break;
      }
    }
    return clamp(value, this.minV, this.maxV);
  }

  /** The p-th percentile, p in [0, 100] (`percentile(99.9)`). */
  percentile(p: number): number {
    return this.quantile(p / 100);
  }

  /**
   * How many values are above `ns`. Exact when `ns` is below 2048 or at a bucket boundary; otherwise the bucket
   * holding `ns` is split linearly (error at most that bucket's count). Use exact counters when it matters.
   */
  countAbove(ns: number): number {
    let above = 0;
    if (ns < 0) {
      if (this.negCounts) {
        const lim = -ns; // values v < 0 with v > ns  <=>  |v| < lim
        for (let i = 0; i < BUCKETS; i++) {
          const c = this.negCounts[i] as number;
          if (c === 0) continue;
          const lo = bucketLow(i);
          const hi = bucketHigh(i);
          if (hi <= lim) above += c;
          else if (lo < lim) above += (c * (lim - lo)) / (hi - lo);
        }
      }
      return Math.round(above) + (this.n - this.negN);
    }
    for (let i = this.hi; i >= this.lo; i--) {
      const c = this.counts[i] as number;
      if (c === 0) continue;
      const lo = bucketLow(i);
      if (lo > ns) {
        above += c;
        continue;
      }
      const hi = bucketHigh(i);
      if (hi - 1 > ns) above += (c * (hi - 1 - ns)) / (hi - lo);
      break;
    }
    return Math.round(above);
  }

  /** Add another histogram's values to this one. */
  merge(other: LatencyHistogram): this {
    if (other.n === 0) return this;
    for (let i = other.lo; i <= other.hi; i++) {
      const c = other.counts[i] as number;
      if (c !== 0) this.counts[i] = (this.counts[i] as number) + c;
    }
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
    if (other.negCounts) {
      if (!this.negCounts) this.negCounts = new Float64Array(BUCKETS);
      for (let i = 0; i < BUCKETS; i++)
        this.negCounts[i] = (this.negCounts[i] as number) + (other.negCounts[i] as number);
    }
    const n = this.n + other.n;
    // re-express the other's sums around this shift: d' = d + (other.shift - this.shift)
    if (this.n === 0) this.shift = other.shift;
    const delta = other.shift - this.shift;
    this.s2 += other.s2 + 2 * delta * other.s1 + other.n * delta * delta;
    this.s1 += other.s1 + other.n * delta;
    this.n = n;
    this.total += other.total;
    this.negN += other.negN;
    if (other.minV < this.minV) this.minV = other.minV;
    if (other.maxV > this.maxV) this.maxV = other.maxV;
    return this;
  }

  /** Forget every value (cheap: only the buckets in use are cleared). */
  reset(): void {
    if (this.hi >= this.lo) this.counts.fill(0, this.lo, this.hi + 1);
    this.negCounts = null;
    this.lo = BUCKETS;
    this.hi = -1;
    this.n = 0;
    this.total = 0;
    this.minV = Number.POSITIVE_INFINITY;
    this.maxV = Number.NEGATIVE_INFINITY;
    this.shift = Number.NaN;
    this.s1 = 0;
    this.s2 = 0;
    this.negN = 0;
  }

  /** Every non-empty bucket, lowest value first (negative buckets first, with negative bounds). */
  buckets(): HistogramBucket[] {
    const out: HistogramBucket[] = [];
    if (this.negCounts) {
      for (let i = BUCKETS - 1; i >= 0; i--) {
        const c = this.negCounts[i] as number;
        if (c !== 0) out.push({ lo: -bucketHigh(i) + 1, hi: -bucketLow(i) + 1, count: c });
      }
    }
    for (let i = this.lo; i <= this.hi; i++) {
      const c = this.counts[i] as number;
      if (c !== 0) out.push({ lo: bucketLow(i), hi: bucketHigh(i), count: c });
    }
    return out;
  }

  /**
   * The non-negative values re-binned for a log-x plot: `perDecade` bins per factor of ten, starting at the
   * decade holding the minimum. Bins keep their counts exactly (each fine bucket goes to the bin holding its low).
   */
  logBuckets(perDecade = 20): HistogramBucket[] {
    if (this.hi < this.lo) return [];
    const first = Math.max(1, bucketLow(this.lo));
    const base = 10 ** Math.floor(Math.log10(first));
    const step = 10 ** (1 / perDecade);
    const out: HistogramBucket[] = [];
    let cur: HistogramBucket | null = null;
    for (let i = this.lo; i <= this.hi; i++) {
      const c = this.counts[i] as number;
      if (c === 0) continue;
      const low = Math.max(bucketLow(i), 1);
      const bin = Math.floor(Math.log10(low / base) * perDecade + 1e-9);
      const lo = base * step ** bin;
      if (!cur || cur.lo !== lo) {
        cur = { lo, hi: base * step ** (bin + 1), count: 0 };
        out.push(cur);
      }
      cur.count += c;
    }
    return out;
  }

  toJSON(): HistogramJSON {
    const pos: [number, number][] = [];
    for (let i = this.lo; i <= this.hi; i++) {
      const c = this.counts[i] as number;
      if (c !== 0) pos.push([i, c]);
    }
    const neg: [number, number][] = [];
    if (this.negCounts) {
      for (let i = 0; i < BUCKETS; i++) {
        const c = this.negCounts[i] as number;
        if (c !== 0) neg.push([i, c]);
      }
    }
    return {
      v: 1,
      count: this.n,
      sum: this.total,
      min: this.n ? this.minV : 0,
      max: this.n ? this.maxV : 0,
      mean: this.n ? this.mean : 0,
      m2: this.n ? this.m2() : 0,
      pos,
      neg,
    };
  }

  /** A histogram back from a structured clone (postMessage from a worker): the same state, exactly. */
  static fromClone(o: unknown): LatencyHistogram {
    return Object.assign(new LatencyHistogram(), o as object);
  }

  static fromJSON(j: HistogramJSON): LatencyHistogram {
    if (j?.v !== 1 || !Array.isArray(j.pos) || !Array.isArray(j.neg))
      throw new Error("not a serialized LatencyHistogram (v 1)");
    const h = new LatencyHistogram();
    for (const [i, c] of j.pos) {
      if (!(i >= 0 && i < BUCKETS)) throw new Error(`histogram bucket index out of range: ${i}`);
      h.counts[i] = c;
      if (i < h.lo) h.lo = i;
      if (i > h.hi) h.hi = i;
    }
    if (j.neg.length > 0) {
      h.negCounts = new Float64Array(BUCKETS);
      for (const [i, c] of j.neg) {
        if (!(i >= 0 && i < BUCKETS)) throw new Error(`histogram bucket index out of range: ${i}`);
        h.negCounts[i] = c;
        h.negN += c;
      }
    }
    h.n = j.count;
    h.total = j.sum;
    if (j.count > 0) {
      h.minV = j.min;
      h.maxV = j.max;
    }
    // sums around the mean: s1 = 0, s2 = m2
    h.shift = j.count > 0 ? j.mean : Number.NaN;
    h.s1 = 0;
    h.s2 = j.m2;
    return h;
  }
}

/** The value reported for bucket i: its midpoint (integer), so the error is at most half a bucket. */
function representative(i: number): number {
  if (i < SUB_COUNT) return i;
  const lo = bucketLow(i);
  const hi = bucketHigh(i);
  return Math.floor((lo + hi - 1) / 2);
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v));
}
