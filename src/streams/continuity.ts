/**
 * smpCnt continuity of one SV stream: wraps, gaps (missing samples), duplicates and late (out-of-order) samples,
 * plus the "iteration" (number of wraps so far) of every SV, as seapath's sv_timestamp_logger
 * `iteration:svID:smpCnt:timestamp_us` format uses it.
 *
 * Model. smpCnt counts samples modulo M (M = samples per second for a time-synchronised merging unit, 65536 for
 * libiec61850's default). The tracker keeps the newest sample seen (the "head") and a bounded window of the
 * REORDER_WINDOW most recent counter positions.
 * - A counter ahead of the head (modulo M) advances the head: `next` (+1), `gap` (+d, d-1 samples missing) or
 *   `wrap` (the counter passed M-1 -> 0; a wrap can also carry missing samples: 3999 -> 2 at M=4000 is a wrap with
 *   2 missing, counted once in `missing` and once in `gaps`).
 * - A counter at or behind the head by at most REORDER_WINDOW (and less than M/2) is late: `duplicate` when that
 *   position was already seen, otherwise `out-of-order`. An out-of-order sample fills a hole that a gap counted, so
 *   it reduces `missing` by one (it never goes below what was really lost). Samples older than the first one seen
 *   are out-of-order too but change nothing in `missing`.
 * - A counter behind the head by more than the window is taken as a forward jump modulo M (a gap through a wrap):
 *   a restarted publisher therefore shows as one wrap plus a gap, not as thousands of late samples.
 * - With no modulus given, it is inferred at the first wrap from the largest counter seen
 *   (`inferModulus(maxSeen)`: the smallest known modulus above it); until then the counter is treated as linear
 *   and any backward jump larger than the window is a wrap. A counter >= an inferred modulus re-infers it; a
 *   counter >= an explicit modulus is `invalid` (counted, otherwise ignored).
 *
 * Counting agrees with the reference summaries (`*.summary.json` of the shared captures) when there is no
 * reordering: `wraps` = smpCnt_wraps_count, `gaps` = smpCnt_gaps_count (gap events), `duplicates` =
 * smpCnt_repeats_count. `missing` is the number of samples lost (a gap 4 -> 12 is 1 gap, 7 missing).
 */

/**
 * smpCnt moduli in use (the counter runs 0..M-1).
 * 4000 / 4800: 9-2LE 80 samples per cycle at 50 / 60 Hz (4800 is also IEC 61869-9's 4800 Hz);
 * 12800 / 15360: 9-2LE 256 samples per cycle at 50 / 60 Hz; 14400: IEC 61869-9 14400 Hz;
 * 65536: libiec61850's default (the 16-bit counter wraps unless SVPublisher_ASDU_setSmpCntWrap is called).
 * 2400 is not a modulus: it is the frame rate of 14400 Hz with 6 ASDUs per frame.
 */
export const KNOWN_MODULI: readonly number[] = [4000, 4800, 12800, 14400, 15360, 65536];

/**
 * How far back (in samples) a counter may be and still count as late rather than as a jump forward:
 * 128 samples = 32 ms at 4000 samples/s, 10 ms at 12800. Kept small on purpose: after an outage the counter
 * jumps forward by (M - k) which looks like "k behind"; with a large window a 750 ms outage at 4000 samples/s
 * would read as a thousand duplicates instead of one gap. Reordering deeper than this is counted as a gap
 * (and a wrap) instead.
 */
export const REORDER_WINDOW = 128;

/** The smpCnt modulus of a time-synchronised stream sending `samplesPerSecond`; undefined if it is not a 16-bit rate. */
export function modulusForRate(samplesPerSecond: number): number | undefined {
  const r = Math.round(samplesPerSecond);
  return r >= 2 && r <= 65536 && Math.abs(r - samplesPerSecond) < 1e-9 ? r : undefined;
}

/** The smallest known modulus that can hold a counter value of `maxSeen` (65536 if none smaller fits). */
export function inferModulus(maxSeen: number): number {
  for (const m of KNOWN_MODULI) if (maxSeen < m) return m;
  return 65536;
}

/** What a modulus means in power-system terms, when it is one of the known ones. */
export interface NominalRate {
  samplesPerSecond: number;
  /** 50 or 60; undefined when the rate does not depend on the system frequency (IEC 61869-9, libiec61850) */
  frequencyHz?: 50 | 60;
  /** 80 or 256 samples per cycle (9-2LE) */
  samplesPerCycle?: number;
  /** short human label, e.g. "50 Hz x 80 (9-2LE)" */
  label: string;
}

export function nominalRateForModulus(modulus: number): NominalRate | undefined {
  switch (modulus) {
    case 4000:
      return { samplesPerSecond: 4000, frequencyHz: 50, samplesPerCycle: 80, label: "50 Hz x 80 (9-2LE)" };
    case 4800:
      return {
        samplesPerSecond: 4800,
        frequencyHz: 60,
        samplesPerCycle: 80,
        label: "60 Hz x 80 (9-2LE) / 4800 Hz (61869-9)",
      };
    case 12800:
      return { samplesPerSecond: 12800, frequencyHz: 50, samplesPerCycle: 256, label: "50 Hz x 256 (9-2LE)" };
    case 15360:
      return { samplesPerSecond: 15360, frequencyHz: 60, samplesPerCycle: 256, label: "60 Hz x 256 (9-2LE)" };
    case 14400:
      return { samplesPerSecond: 14400, label: "14400 Hz (61869-9)" };
    case 65536:
      return { samplesPerSecond: 0, label: "16-bit counter (libiec61850 default wrap)" };
    default:
      return undefined;
  }
}

export type SmpCntEventKind = "first" | "next" | "gap" | "wrap" | "duplicate" | "out-of-order" | "invalid";

export interface SmpCntEvent {
  kind: SmpCntEventKind;
  smpCnt: number;
  /** number of wraps before this sample (sv_timestamp_logger's iteration); a late sample keeps its own */
  iteration: number;
  /** samples newly counted as missing just before this one (gap / wrap), else 0 */
  missing: number;
  /** the head counter before this sample (undefined for the first) */
  previous?: number;
}

/** Cumulative counts of one stream. */
export interface ContinuityCounts {
  received: number;
  /** samples lost so far (reduced again by late samples that fill a hole) */
  missing: number;
  /** gap events (a forward jump of more than one, including one across a wrap) */
  gaps: number;
  duplicates: number;
  outOfOrder: number;
  wraps: number;
  invalid: number;
}

export class SmpCntTracker implements ContinuityCounts {
  received = 0;
  missing = 0;
  gaps = 0;
  duplicates = 0;
  outOfOrder = 0;
  wraps = 0;
  invalid = 0;
  /** largest counter value seen */
  maxSeen = -1;

  #modulus: number | undefined;
  #explicit: boolean;
  /** wraps so far = iteration of the head */
  #iteration = 0;
  /** counter value at the head; -1 before the first sample */
  #headCnt = -1;
  /** absolute position (iteration * M + counter) of the head and of the first sample */
  #headAbs = 0;
  #firstAbs = 0;
  /** which of the last REORDER_WINDOW absolute positions were seen (index = abs % REORDER_WINDOW) */
  readonly #seen = new Uint8Array(REORDER_WINDOW);

  constructor(modulus?: number) {
    if (modulus !== undefined && (!Number.isInteger(modulus) || modulus < 2 || modulus > 65536))
      throw new RangeError(`smpCnt modulus must be an integer 2..65536, got ${modulus}`);
    this.#modulus = modulus;
    this.#explicit = modulus !== undefined;
  }

  /** the modulus in use: given, or inferred at the first wrap; undefined while unknown */
  get modulus(): number | undefined {
    return this.#modulus;
  }
  /** true when the modulus was inferred rather than given */
  get modulusInferred(): boolean {
    return this.#modulus !== undefined && !this.#explicit;
  }
  /** the iteration (wraps so far) of the newest sample */
  get iteration(): number {
    return this.#iteration;
  }
  /** the newest counter value, or undefined before the first sample */
  get last(): number | undefined {
    return this.#headCnt < 0 ? undefined : this.#headCnt;
  }
  /** the best guess at the modulus: the known/inferred one, else the smallest known one above maxSeen */
  get likelyModulus(): number | undefined {
    return this.#modulus ?? (this.maxSeen >= 0 ? inferModulus(this.maxSeen) : undefined);
  }

  counts(): ContinuityCounts {
    const { received, missing, gaps, duplicates, outOfOrder, wraps, invalid } = this;
    return { received, missing, gaps, duplicates, outOfOrder, wraps, invalid };
  }

  push(smpCnt: number): SmpCntEvent {
    this.received++;
    let m = this.#modulus;
    if (!Number.isInteger(smpCnt) || smpCnt < 0 || smpCnt > 0xffff || (m !== undefined && smpCnt >= m)) {
      if (m !== undefined && !this.#explicit && Number.isInteger(smpCnt) && smpCnt >= m && smpCnt <= 0xffff) {
        m = this.#modulus = inferModulus(smpCnt); // the inferred modulus was too small
      } else {
        this.invalid++;
        return { kind: "invalid", smpCnt, iteration: this.#iteration, missing: 0, previous: this.last };
      }
    }
    if (smpCnt > this.maxSeen) this.maxSeen = smpCnt;

    const head = this.#headCnt;
    if (head < 0) {
      this.#headCnt = smpCnt;
      this.#headAbs = this.#firstAbs = smpCnt;
      this.#seen[smpCnt % REORDER_WINDOW] = 1;
      return { kind: "first", smpCnt, iteration: 0, missing: 0 };
    }

    // how far behind the head is this counter?
    let back: number;
    if (m !== undefined) back = (head - smpCnt + m) % m;
    else back = smpCnt <= head ? head - smpCnt : -1;
    const halfM = m === undefined ? Number.POSITIVE_INFINITY : m / 2;

    if (back >= 0 && back < REORDER_WINDOW && back < halfM) {
      const abs = this.#headAbs - back;
      const iteration = smpCnt > head ? this.#iteration - 1 : this.#iteration;
      if (back === 0 || (abs >= this.#firstAbs && this.#seen[abs % REORDER_WINDOW] === 1)) {
        this.duplicates++;
        return { kind: "duplicate", smpCnt, iteration, missing: 0, previous: head };
      }
      this.outOfOrder++;
      if (abs >= this.#firstAbs) {
        this.#seen[abs % REORDER_WINDOW] = 1;
        if (this.missing > 0) this.missing--;
      }
      return { kind: "out-of-order", smpCnt, iteration, missing: 0, previous: head };
    }

    // forward: a step, a gap, or a wrap (possibly with a gap)
    let wrapped = false;
    let step: number;
    if (smpCnt > head) {
      step = smpCnt - head;
    } else {
      wrapped = true;
      if (m === undefined) m = this.#modulus = inferModulus(this.maxSeen);
      step = m - head + smpCnt;
    }
    const missing = step - 1;
    // clear the window positions we jump over, then mark the new head
    const from = this.#headAbs + 1;
    const to = this.#headAbs + step;
    if (step >= REORDER_WINDOW) this.#seen.fill(0);
    else for (let a = from; a < to; a++) this.#seen[a % REORDER_WINDOW] = 0;
    this.#seen[to % REORDER_WINDOW] = 1;
    this.#headAbs = to;
    this.#headCnt = smpCnt;
    if (wrapped) {
      this.#iteration++;
      this.wraps++;
    }
    if (missing > 0) {
      this.missing += missing;
      this.gaps++;
    }
    const kind: SmpCntEventKind = wrapped ? "wrap" : missing > 0 ? "gap" : "next";
    return { kind, smpCnt, iteration: this.#iteration, missing, previous: head };
  }
}
