/**
 * Upper bounds (le) of the Prometheus latency histogram buckets, fine between 10 and 500 µs where SV latency
 * thresholds live (100, 200, 250 µs), coarse outside. Counted exactly per sample by the live model.
 */
export const LATENCY_BUCKETS_US: readonly number[] = [
  1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100, 120, 150, 175, 200, 250, 300, 400, 500, 750, 1000,
  2000, 5000, 10000, 100000,
];

export const LATENCY_BUCKETS_NS: readonly number[] = LATENCY_BUCKETS_US.map((us) => us * 1000);

/** Index of the first bucket whose bound is >= ns (LATENCY_BUCKETS_NS.length for +Inf). */
export function bucketFor(ns: number): number {
  const b = LATENCY_BUCKETS_NS;
  let lo = 0;
  let hi = b.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (b[mid] >= ns) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
