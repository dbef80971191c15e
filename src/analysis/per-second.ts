/**
 * Per-second time series of a latency: for every second of the record, the count, the exact maximum and the
 * exact p99 (nearest rank) of the values whose SV was seen in that second. Rows arrive roughly in time order;
 * a few seconds stay open for late rows, older seconds are closed and summarised, so memory stays small.
 */

export interface SeriesPoint {
  /** second since the epoch */
  t: number;
  count: number;
  /** ns */
  max: number;
  /** ns */
  p99: number;
}

const OPEN_SECONDS = 4;

interface OpenSecond {
  t: number;
  n: number;
  max: number;
  values: Float64Array;
}

/** Quickselect: the k-th smallest (0-based) of a[0..n). Reorders a. */
export function selectKth(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const x = a[i] as number;
        a[i] = a[j] as number;
        a[j] = x;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k] as number;
  }
  return a[k] as number;
}

export class PerSecondSeries {
  readonly points: SeriesPoint[] = [];
  /** rows that arrived after their second was closed (counted into max only) */
  late = 0;
  private open: OpenSecond[] = [];
  private pool: Float64Array[] = [];
  private closedUpTo = Number.NEGATIVE_INFINITY;

  add(sec: number, v: number): void {
    const c = this.cur;
    if (c !== null && c.t === sec && c.n < c.values.length) {
      c.values[c.n++] = v;
      if (v > c.max) c.max = v;
      return;
    }
    this.addSlow(sec, v);
  }

  private cur: OpenSecond | null = null;

  /**
   * Values v[a..b) all seen in second `sec` (NaN values are skipped): the same as add(sec, v[r]) for each,
   * in one tight loop.
   */
  addRun(sec: number, v: Float64Array, a: number, b: number): void {
    let r = a;
    while (r < b) {
      const c = this.cur;
      if (c === null || c.t !== sec || c.n >= c.values.length) {
        const x = v[r++] as number;
        if (!Number.isNaN(x)) this.addSlow(sec, x);
        continue;
      }
      const values = c.values;
      const end = Math.min(b, r + (values.length - c.n));
      let n = c.n;
      let max = c.max;
      for (; r < end; r++) {
        const x = v[r] as number;
        if (!Number.isNaN(x)) {
          values[n++] = x;
          if (x > max) max = x;
        }
      }
      c.n = n;
      c.max = max;
    }
  }

  private addSlow(sec: number, v: number): void {
    let o: OpenSecond | undefined;
    const open = this.open;
    // newest second is the usual case
    for (let i = open.length - 1; i >= 0; i--) {
      if ((open[i] as OpenSecond).t === sec) {
        o = open[i];
        break;
      }
    }
    if (!o) {
      if (sec <= this.closedUpTo) {
        this.late++;
        const p = this.find(sec);
        if (p && v > p.max) p.max = v;
        return;
      }
      o = { t: sec, n: 0, max: Number.NEGATIVE_INFINITY, values: this.pool.pop() ?? new Float64Array(8192) };
      open.push(o);
      if (open.length > 1 && (open[open.length - 2] as OpenSecond).t > sec) open.sort((a, b) => a.t - b.t);
      while (open.length > OPEN_SECONDS) {
        const closed = open.shift() as OpenSecond;
        if (closed === this.cur) this.cur = null;
        this.close(closed);
      }
    }
    if (o.n === o.values.length) {
      const bigger = new Float64Array(o.n * 2);
      bigger.set(o.values);
      o.values = bigger;
    }
    o.values[o.n++] = v;
    if (v > o.max) o.max = v;
    this.cur = o;
  }

  /** Close every open second; call once at the end. */
  finish(): SeriesPoint[] {
    for (const o of this.open) this.close(o);
    this.open = [];
    this.cur = null;
    this.points.sort((a, b) => a.t - b.t);
    return this.points;
  }

  private close(o: OpenSecond): void {
    const rank = Math.max(1, Math.ceil(0.99 * o.n - 1e-9));
    const p99 = selectKth(o.values, o.n, rank - 1);
    this.points.push({ t: o.t, count: o.n, max: o.max, p99 });
    if (o.t > this.closedUpTo) this.closedUpTo = o.t;
    if (this.pool.length < OPEN_SECONDS + 1) this.pool.push(o.values);
  }

  private find(sec: number): SeriesPoint | undefined {
    for (let i = this.points.length - 1; i >= 0 && i >= this.points.length - 64; i--)
      if ((this.points[i] as SeriesPoint).t === sec) return this.points[i];
    return undefined;
  }
}
