/**
 * smpCnt continuity of a stream whose SVs carry their iteration (the number of smpCnt wraps so far) next to
 * smpCnt, as svtrace records and sv_timestamp_logger files do. There (iteration, smpCnt) names one SV, so the
 * rows may come in any order — a record is written in the order SVs reach the last point, incomplete SVs
 * later — and the counts stay exact where SmpCntTracker (which sees only smpCnt) would have to guess a wrap:
 *
 *   missing      = SVs expected between the first and the last one seen, minus the distinct SVs seen
 *   duplicates   = an (iteration, smpCnt) seen again
 *   out-of-order = an SV that arrived after a newer one: in arrival order when each row gives its arrival
 *                  time (ArrivalOrder puts the rows back in that order), else in row order
 *
 * The modulus is given, or inferred at the end from the largest smpCnt (inferModulus). Memory stays bounded:
 * a bitmap of the smpCnts seen is kept for the newest KEEP_ITERATIONS iterations only; an SV that arrives for
 * an older iteration (more than two wraps late) is counted as distinct, since it can no longer be told from a
 * duplicate (and, without an arrival time, as out of order).
 */
import { ArrivalOrder } from "./arrival-order.js";
import { inferModulus } from "./continuity.js";

/** iterations whose smpCnt bitmap is kept (the newest ones) */
export const KEEP_ITERATIONS = 3;
const MAX_SMPCNT = 65536;

interface IterationState {
  /** one bit per smpCnt seen, while the iteration is recent */
  seen: Uint8Array | null;
  distinct: number;
  min: number;
  max: number;
}

export interface IteratedCounts {
  received: number;
  missing: number;
  duplicates: number;
  outOfOrder: number;
  wraps: number;
  modulus: number | null;
}

export class IteratedContinuity {
  private readonly iterations = new Map<number, IterationState>();
  private received = 0;
  private duplicates = 0;
  private outOfOrder = 0;
  private newestIteration = -1;
  private newestSmpCnt = -1;
  private maxSmpCnt = -1;
  private arrival: ArrivalOrder | null = null;
  /** iterations that still have a bitmap (at most KEEP_ITERATIONS + 1 or so) */
  private withBitmap: number[] = [];
  /** the iteration of the previous row and its state (rows of one iteration come together) */
  private lastIteration = -1;
  private lastState: IterationState | null = null;

  constructor(private readonly modulus?: number) {}

  /** One row: its SV, and when the SV arrived (ns, NaN if unknown: then its place in the rows is its arrival). */
  push(iteration: number, smpCnt: number, arrivalNs = Number.NaN): void {
    this.received++;
    if (smpCnt > this.maxSmpCnt) this.maxSmpCnt = smpCnt;
    let it = iteration === this.lastIteration ? this.lastState : this.iterations.get(iteration);
    if (!it) {
      const recent = iteration > this.newestIteration - KEEP_ITERATIONS;
      it = { seen: recent ? new Uint8Array(MAX_SMPCNT >> 3) : null, distinct: 0, min: smpCnt, max: smpCnt };
      this.iterations.set(iteration, it);
      if (recent) this.withBitmap.push(iteration);
    }
    this.lastIteration = iteration;
    this.lastState = it;
    const seen = it.seen;
    if (seen) {
      const byte = smpCnt >> 3;
      const bit = 1 << (smpCnt & 7);
      if ((seen[byte] as number) & bit) {
        this.duplicates++;
        return;
      }
      seen[byte] = (seen[byte] as number) | bit;
    }
    it.distinct++;
    if (smpCnt < it.min) it.min = smpCnt;
    if (smpCnt > it.max) it.max = smpCnt;
    const newer =
      iteration > this.newestIteration || (iteration === this.newestIteration && smpCnt > this.newestSmpCnt);
    if (newer) {
      if (iteration > this.newestIteration) this.forgetBitmapsBefore(iteration - KEEP_ITERATIONS + 1);
      this.newestIteration = iteration;
      this.newestSmpCnt = smpCnt;
    }
    if (!Number.isNaN(arrivalNs)) {
      this.arrival ??= new ArrivalOrder();
      this.arrival.push(arrivalNs, iteration * 65536 + smpCnt);
    } else if (!newer) this.outOfOrder++;
  }

  private forgetBitmapsBefore(iteration: number): void {
    const keep: number[] = [];
    for (const k of this.withBitmap) {
      if (k < iteration) (this.iterations.get(k) as IterationState).seen = null;
      else keep.push(k);
    }
    this.withBitmap = keep;
  }

  counts(): IteratedCounts {
    if (this.iterations.size === 0)
      return {
        received: 0,
        missing: 0,
        duplicates: 0,
        outOfOrder: 0,
        wraps: 0,
        modulus: this.modulus ?? null,
      };
    const modulus = Math.max(this.modulus ?? inferModulus(this.maxSmpCnt), this.maxSmpCnt + 1);
    const keys = [...this.iterations.keys()].sort((a, b) => a - b);
    const first = keys[0] as number;
    const last = keys[keys.length - 1] as number;
    const f = this.iterations.get(first) as IterationState;
    const l = this.iterations.get(last) as IterationState;
    let expected: number;
    if (first === last) expected = f.max - f.min + 1;
    else expected = modulus - f.min + (last - first - 1) * modulus + l.max + 1;
    let distinct = 0;
    for (const st of this.iterations.values()) distinct += st.distinct;
    return {
      received: this.received,
      missing: Math.max(0, expected - distinct),
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder + (this.arrival?.finish() ?? 0),
      wraps: last - first,
      modulus,
    };
  }
}
