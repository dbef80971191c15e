/**
 * Per-stream bookkeeping in user space for a trace: counters (received, complete, missed, lost in path,
 * dropped, duplicates), the smpCnt modulus inferred from the counters seen, and the drop count from the
 * kernel's discontinuity lines, counted once across the wrap. Iterations come from the kernel (per-point
 * wrap counting in the generated program).
 */
import type { StreamCounters } from "./session-types.js";

/** smpCnt moduli in use (SV-PROTOCOL.md §4): samples per second of 9-2LE / 61869-9, and libiec61850's 65536. */
export const SMPCNT_MODULI = [2400, 4000, 4800, 12800, 14400, 15360, 65536] as const;

/** The smallest known modulus above the largest smpCnt seen. */
export function inferModulus(maxSeen: number): number {
  for (const m of SMPCNT_MODULI) if (maxSeen < m) return m;
  return 65536;
}

/**
 * A second read of the same SV at the last point within this many ns of the first is a duplicate (two readers
 * of one frame). Kept short: a reader draining a backlog reads the same smpCnt of the next period at least
 * tens of ms later, and that is a late SV, not a duplicate.
 */
const DUPLICATE_NS = 5_000_000n;

export class StreamState {
  readonly counters: StreamCounters;
  private maxSeen = 0;
  /** smpCnt -> raw last-point time of the latest row that reached the last point */
  private readonly lastDone = new Map<number, bigint>();

  constructor(svID: string, appid?: number) {
    this.counters = {
      svID,
      appid,
      received: 0,
      complete: 0,
      missed: 0,
      lostInPath: 0,
      dropped: 0,
      duplicates: 0,
    };
  }

  get modulus(): number {
    return inferModulus(this.maxSeen);
  }

  private see(smp: number): void {
    if (smp > this.maxSeen) this.maxSeen = smp;
  }

  /**
   * Account one row. `times` are the raw per-point kernel times (0n = not seen); `kernelIteration` is the
   * kernel's count (2 = the first period the first point saw). Returns the 0-based iteration, or undefined when the row is a duplicate
   * at the last point (already counted, not a new SV).
   */
  row(
    smp: number,
    appid: number,
    times: bigint[],
    complete: boolean,
    kernelIteration: number,
  ): number | undefined {
    this.see(smp);
    if (this.counters.appid === undefined || this.counters.appid === 0) this.counters.appid = appid;
    const n = times.length;
    const last = times[n - 1];
    const onlyLast = n > 1 && last !== 0n && times.slice(0, n - 1).every((t) => t === 0n);
    if (complete && last !== 0n) {
      const prev = this.lastDone.get(smp);
      if (onlyLast && prev !== undefined && last - prev < DUPLICATE_NS) {
        this.counters.duplicates += 1;
        return undefined;
      }
      this.lastDone.set(smp, last);
    }
    this.counters.received += 1;
    const seen = times.map((t) => t !== 0n);
    if (seen.every(Boolean)) this.counters.complete += 1;
    else {
      // "missed": a point before the last one that saw it did not (the original tool's missed)
      if (seen.slice(0, seen.lastIndexOf(true)).includes(false)) this.counters.missed += 1;
      if (seen[0] && !seen[n - 1]) this.counters.lostInPath += 1;
    }
    return Math.max(0, kernelIteration - 2);
  }

  /** A leftover entry at exit (never reached the last point): counted like an incomplete row. */
  pending(smp: number, times: bigint[], kernelIteration: number): number {
    this.see(smp);
    this.counters.received += 1;
    const seen = times.map((t) => t !== 0n);
    if (seen.slice(0, seen.lastIndexOf(true)).includes(false)) this.counters.missed += 1;
    if (seen[0]) this.counters.lostInPath += 1;
    return Math.max(0, kernelIteration - 2);
  }

  /** The kernel saw `got` where it expected `expected` at the first point: count the missing SVs once. */
  gap(expected: number, got: number): void {
    this.see(Math.max(0, expected - 1));
    this.see(got);
    const m = this.modulus;
    let d: number;
    if (got > expected) d = got - expected;
    else d = m - expected + got; // across the wrap (expected may equal m: a normal wrap, d = got)
    if (d > 0 && d < m / 2) this.counters.dropped += d;
  }

  duplicate(): void {
    this.counters.duplicates += 1;
  }
}
