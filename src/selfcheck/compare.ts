/**
 * The selfcheck's arithmetic, pure: pair svtrace's timestamps at a point with an independent timestamp of
 * the same frame, the distribution of the differences, per-SV segment sums, and the p50 of a segment.
 *
 * Pairing: ftrace events carry no svID, so each svtrace time at a point is paired with the ftrace event of
 * that point's instance (its filter is the point's device/thread) that precedes it: svtrace's program runs
 * after ftrace's callbacks on the same event. The selfcheck sends one stream at 4000 SV/s, so frames at a
 * point are 250 µs apart; an event can be taken once only. SO_TIMESTAMPNS lines carry (svID, smpCnt): those are paired
 * by key, and by the nearest time among the same key's lines (smpCnt repeats every second).
 */

export interface Distribution {
  /** svtrace times at the point */
  count: number;
  matched: number;
  /** svtrace - independent, ns */
  p50Ns: number;
  p1Ns: number;
  p99Ns: number;
  p999Ns: number;
  maxAbsNs: number;
  /** share of matched SVs within `withinNs` */
  withinShare: number;
  withinNs: number;
}

export function quantile(sorted: Float64Array | number[], q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const i = Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
  return sorted[i] as number;
}

export function distribution(diffs: number[], count: number, withinNs: number): Distribution {
  const s = Float64Array.from(diffs).sort();
  let within = 0;
  let maxAbs = 0;
  for (const d of s) {
    if (Math.abs(d) <= withinNs) within++;
    maxAbs = Math.max(maxAbs, Math.abs(d));
  }
  return {
    count,
    matched: s.length,
    p50Ns: quantile(s, 0.5),
    p1Ns: quantile(s, 0.01),
    p99Ns: quantile(s, 0.99),
    p999Ns: quantile(s, 0.999),
    maxAbsNs: maxAbs,
    withinShare: s.length > 0 ? within / s.length : 0,
    withinNs,
  };
}

/**
 * Pair each time in `ours` (sorted) with the latest unused time in `theirs` (sorted) at or before it (plus
 * `slackNs` for clock noise) and at most `windowNs` earlier. For a later callback of the same tracepoint event
 * (svtrace's program runs after ftrace's, ftrace's b after a): the pair is the same frame however long an
 * interrupt held the CPU between the two, up to the gap between frames (nearest-time pairing would take the
 * next frame's event once the delay passed half that gap).
 */
export function pairPreceding(ours: bigint[], theirs: bigint[], slackNs: bigint, windowNs: bigint): number[] {
  return pairPrecedingAt(ours, theirs, slackNs, windowNs).diffs;
}

/** pairPreceding, with the index in `ours` and in `theirs` of each pair. */
export function pairPrecedingAt(
  ours: bigint[],
  theirs: bigint[],
  slackNs: bigint,
  windowNs: bigint,
): { diffs: number[]; ourIdx: number[]; theirIdx: number[] } {
  const diffs: number[] = [];
  const ourIdx: number[] = [];
  const theirIdx: number[] = [];
  const used = new Uint8Array(theirs.length);
  let j = -1;
  ours.forEach((t, i) => {
    while (j + 1 < theirs.length && (theirs[j + 1] as bigint) <= t + slackNs) j++;
    let k = j;
    while (k >= 0 && used[k]) k--;
    if (k < 0) return;
    const d = t - (theirs[k] as bigint);
    if (d <= windowNs) {
      used[k] = 1;
      diffs.push(Number(d));
      ourIdx.push(i);
      theirIdx.push(k);
    }
  });
  return { diffs, ourIdx, theirIdx };
}

/**
 * Did an interrupt enter on `cpu` between `from` and `to` (ns, inclusive)? `irq` is the interrupt instance's
 * events in time order. Two stamps of one tracepoint event are taken on one CPU with preemption off, so only an
 * interrupt (or, in a VM, the host taking the vCPU, which leaves no event) can come between them.
 */
export function interruptedBetween(
  irq: { times: bigint[]; cpus: number[] },
  cpu: number,
  from: bigint,
  to: bigint,
): boolean {
  let lo = 0;
  let hi = irq.times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((irq.times[mid] as bigint) < from) lo = mid + 1;
    else hi = mid;
  }
  for (let k = lo; k < irq.times.length && (irq.times[k] as bigint) <= to; k++)
    if (irq.cpus[k] === cpu) return true;
  return false;
}

/** Pair by key (svID:smpCnt), nearest time among the key's entries within ±windowNs. */
export function pairByKey(
  ours: { key: string; t: bigint }[],
  theirs: Map<string, bigint[]>,
  windowNs: bigint,
): number[] {
  const diffs: number[] = [];
  for (const o of ours) {
    const cands = theirs.get(o.key);
    if (!cands) continue;
    let best: bigint | undefined;
    for (const c of cands) {
      const d = o.t - c;
      if ((d < 0n ? -d : d) <= windowNs && (best === undefined || abs(d) < abs(o.t - best))) best = c;
    }
    if (best !== undefined) diffs.push(Number(o.t - best));
  }
  return diffs;
}

function abs(v: bigint): bigint {
  return v < 0n ? -v : v;
}

/**
 * Per SV seen at every probe: do the consecutive segments add up to last - first exactly? All the probe times
 * are one clock (the kernel's monotonic clock plus one offset), so they must, to the nanosecond.
 */
export function segmentSums(
  rows: { t: (bigint | null)[] }[],
  first: number,
): { rows: number; exact: number } {
  let n = 0;
  let exact = 0;
  for (const r of rows) {
    const t = r.t.slice(first);
    if (t.length < 2 || t.some((x) => x === null)) continue;
    n++;
    let sum = 0n;
    for (let i = 1; i < t.length; i++) sum += (t[i] as bigint) - (t[i - 1] as bigint);
    if (sum === (t[t.length - 1] as bigint) - (t[0] as bigint)) exact++;
  }
  return { rows: n, exact };
}

/** p50 of t[b] - t[a] over the rows that have both, in ns. */
export function segmentP50(rows: { t: (bigint | null)[] }[], a: number, b: number): number {
  const d: number[] = [];
  for (const r of rows) {
    const x = r.t[a];
    const y = r.t[b];
    if (x !== null && x !== undefined && y !== null && y !== undefined) d.push(Number(y - x));
  }
  return quantile(Float64Array.from(d).sort(), 0.5);
}
