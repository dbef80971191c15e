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
const DUPLICATE_NS = 5_000_000;

export class StreamState {
  readonly counters: StreamCounters;
  private maxSeen = 0;

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
    let mask = 0;
    for (let j = 0; j < times.length; j++) if (times[j] !== 0n) mask |= 1 << j;
    const last = BigInt.asUintN(64, times[times.length - 1] ?? 0n);
    return this.rowSeen(
      smp,
      appid,
      mask,
      times.length,
      complete,
      kernelIteration,
      Number(last & 0xffffffffn),
      Number(last >> 32n),
    );
  }

  /**
   * row() on plain numbers (the libbpf backend's hot path): bit j of `seen` set when point j saw the SV (of
   * `n` points), the last point's raw time as words (lastLo, lastHi).
   */
  rowSeen(
    smp: number,
    appid: number,
    seen: number,
    n: number,
    complete: boolean,
    kernelIteration: number,
    lastLo: number,
    lastHi: number,
  ): number | undefined {
    this.see(smp);
    if (this.counters.appid === undefined || this.counters.appid === 0) this.counters.appid = appid;
    const lastBit = 1 << (n - 1);
    const lastSeen = (seen & lastBit) !== 0;
    if (complete && lastSeen) {
      // only the last point saw it, and the same smpCnt reached the last point less than DUPLICATE_NS ago
      const onlyLast = n > 1 && seen === lastBit;
      if (onlyLast && this.isRecent(smp, lastLo, lastHi)) {
        this.counters.duplicates += 1;
        return undefined;
      }
      this.setDone(smp, lastLo, lastHi);
    }
    this.counters.received += 1;
    const all = n >= 31 ? -1 : (1 << n) - 1;
    if ((seen & all) === all) this.counters.complete += 1;
    else {
      // "missed": a point before the last one that saw it did not (the original tool's missed); with no
      // point seen, every point but the last counts
      const li = seen === 0 ? n - 1 : 31 - Math.clz32(seen);
      const before = (1 << li) - 1;
      if ((seen & before) !== before) this.counters.missed += 1;
      if ((seen & 1) !== 0 && !lastSeen) this.counters.lostInPath += 1;
    }
    return Math.max(0, kernelIteration - 2);
  }

  /** last-point time words of the latest row of each smpCnt that reached the last point (has: 1 = set) */
  private doneLo = new Uint32Array(0);
  private doneHi = new Uint32Array(0);
  private doneHas = new Uint8Array(0);

  private isRecent(smp: number, lo: number, hi: number): boolean {
    if (smp >= this.doneHas.length || this.doneHas[smp] === 0) return false;
    // unsigned 64-bit times, as the BigInts they stand for: exact where it matters (near DUPLICATE_NS)
    const d = (hi - (this.doneHi[smp] as number)) * 4294967296 + (lo - (this.doneLo[smp] as number));
    return d < DUPLICATE_NS;
  }

  private setDone(smp: number, lo: number, hi: number): void {
    if (smp >= this.doneHas.length) {
      let cap = Math.max(1024, this.doneHas.length);
      while (cap <= smp) cap *= 2;
      const grow = <T extends Uint32Array | Uint8Array>(a: T, b: T): T => {
        b.set(a);
        return b;
      };
      this.doneLo = grow(this.doneLo, new Uint32Array(cap));
      this.doneHi = grow(this.doneHi, new Uint32Array(cap));
      this.doneHas = grow(this.doneHas, new Uint8Array(cap));
    }
    this.doneLo[smp] = lo;
    this.doneHi[smp] = hi;
    this.doneHas[smp] = 1;
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
