/**
 * Hybrid pacing on absolute CLOCK_MONOTONIC deadlines (DEPENDENCIES.md §7, 6.7 µs p99 measured here):
 * clock_nanosleep(TIMER_ABSTIME) until `spinNs` before the deadline, then spin. Meant for a worker thread;
 * it blocks. Times are CLOCK_MONOTONIC nanoseconds held in doubles (exact up to 2^53 ns = 104 days of
 * uptime, within a few ns after that).
 *
 * The spin allocates nothing: it reads the clock with clock_gettime into a fixed Buffer and compares the
 * seconds and nanoseconds as int32 words with the deadline's. Reading the clock as a double instead
 * (performance.now(), or the same call returning sec * 1e9 + nsec) allocates a heap number per read across
 * the call boundary, about 130 bytes per µs of spin: the sender's worker then ran a 0.2-0.3 ms scavenge every
 * 16 ms, 60 stalls a second, which was most of the 1 % of frame gaps that came out about a period wrong
 * (p99 |gap - 250 µs| of 220 µs). process.hrtime.bigint() allocates a BigInt per read, the same way.
 *
 * The spin margin adapts: a vCPU that halts while the thread sleeps can wake 100 µs or more after the timer
 * (seen on this project's idle 2-vCPU VM: p50 |gap - 250 µs| of 80 µs with a fixed 60 µs margin, while the same
 * code on a busy machine, whose vCPUs never halt, kept within 7 µs). When a sleep returns later than the margin
 * allows, the margin grows to 1.5 x that lateness (up to `maxSpinNs`), then decays slowly back to `spinNs`.
 */
import {
  CLOCK_MONOTONIC,
  clock_gettime_raw,
  clock_nanosleep,
  PR_SET_TIMERSLACK,
  prctl,
  TIMER_ABSTIME,
} from "../net/libc.js";

export class Pacer {
  private readonly req = { tv_sec: 0, tv_nsec: 0 };
  /** struct timespec filled by clock_gettime_raw; `words` sees tv_sec's low half at [0], tv_nsec's at [2] */
  private readonly ts = Buffer.alloc(16);
  private readonly words = new Int32Array(this.ts.buffer, this.ts.byteOffset, 4);

  /** current spin margin, ns: between spinNs and maxSpinNs */
  private margin: number;

  constructor(
    readonly spinNs = 60_000,
    readonly maxSpinNs = 200_000,
  ) {
    this.margin = spinNs;
    prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0); // 1 ns timer slack for this thread
  }

  /** CLOCK_MONOTONIC now, ns (double). Seconds since boot fit the int32 low word for 68 years. */
  now(): number {
    clock_gettime_raw(CLOCK_MONOTONIC, this.ts);
    return this.words[0] * 1e9 + this.words[2];
  }

  /** Block until the monotonic clock reaches `deadline` (ns); returns the time it returned at. */
  waitUntil(deadline: number): number {
    let now = this.now();
    const wake = deadline - this.margin;
    if (now < wake) {
      const sec = Math.floor(wake / 1e9);
      this.req.tv_sec = sec;
      this.req.tv_nsec = Math.floor(wake - sec * 1e9);
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, this.req, null);
      now = this.now();
      const oversleep = now - wake;
      if (oversleep > 0.8 * this.margin) this.margin = Math.min(this.maxSpinNs, 1.5 * oversleep + 10_000);
    }
    // decay towards the configured margin (halves the excess in about 14 000 waits: 3.5 s at 4000 frames/s)
    if (this.margin > this.spinNs) this.margin = Math.max(this.spinNs, this.margin * 0.99995);
    if (now >= deadline) return now;
    const sec = Math.floor(deadline / 1e9);
    return this.spin(sec | 0, Math.ceil(deadline - sec * 1e9) | 0);
  }

  /** Spin until CLOCK_MONOTONIC reaches sec:nsec (int32 words only inside the loop); returns that time, ns. */
  private spin(sec: number, nsec: number): number {
    const ts = this.ts;
    const w = this.words;
    for (;;) {
      clock_gettime_raw(CLOCK_MONOTONIC, ts);
      const s = w[0];
      const ns = w[2];
      if (s > sec || (s === sec && ns >= nsec)) return s * 1e9 + ns;
    }
  }

  /** the spin margin in use now, ns */
  get spinMarginNs(): number {
    return this.margin;
  }
}
