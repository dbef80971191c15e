/**
 * The top-N spikes of a record: the N SVs with the largest total latency, kept in a min-heap while the rows
 * stream by, each with its time, identity and every segment's value, so a spike can be placed in time and in
 * the path.
 */

export interface Spike {
  /** total latency, ns */
  value: number;
  /** first point's timestamp, ns since the epoch (as a decimal string: it does not fit a double) */
  t_ns: string | null;
  /** ISO time of t_ns */
  time: string | null;
  svID: string;
  iteration: number;
  smpCnt: number;
  /** every segment's latency in ns (null where a point is missing) */
  segments: Record<string, number | null>;
}

export class TopSpikes {
  private readonly heap: Spike[] = [];
  constructor(readonly n: number) {}

  /** values at or below this cannot enter (-Infinity until N spikes are kept) */
  get floor(): number {
    return this.n > 0 && this.heap.length >= this.n
      ? (this.heap[0] as Spike).value
      : Number.NEGATIVE_INFINITY;
  }

  /** cheap check before building a Spike */
  wants(value: number): boolean {
    return this.n > 0 && (this.heap.length < this.n || value > (this.heap[0] as Spike).value);
  }

  add(s: Spike): void {
    const h = this.heap;
    if (h.length < this.n) {
      h.push(s);
      let i = h.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if ((h[p] as Spike).value <= (h[i] as Spike).value) break;
        [h[p], h[i]] = [h[i] as Spike, h[p] as Spike];
        i = p;
      }
      return;
    }
    if (s.value <= (h[0] as Spike).value) return;
    h[0] = s;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && (h[l] as Spike).value < (h[m] as Spike).value) m = l;
      if (r < h.length && (h[r] as Spike).value < (h[m] as Spike).value) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i] as Spike, h[m] as Spike];
      i = m;
    }
  }

  /** largest first */
  sorted(): Spike[] {
    return [...this.heap].sort((a, b) => b.value - a.value);
  }
}
