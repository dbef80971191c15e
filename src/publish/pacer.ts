/**
 * Hybrid pacing on absolute CLOCK_MONOTONIC deadlines (DEPENDENCIES.md §7, 6.7 µs p99 measured here):
 * clock_nanosleep(TIMER_ABSTIME) until `spinNs` before the deadline, then spin. Meant for a worker thread;
 * it blocks. Times are CLOCK_MONOTONIC nanoseconds held in doubles (exact up to 2^53 ns = 104 days of
 * uptime, within a few ns after that): the spin reads performance.now(), which allocates
 * nothing, where process.hrtime.bigint() would allocate a BigInt per iteration and trigger GC pauses of
 * hundreds of µs (seen as a p99 of about one period before this change).
 *
 * The spin margin adapts: a vCPU that halts while the thread sleeps can wake 100 µs or more after the timer
 * (seen on this project's idle 2-vCPU VM: p50 |gap - 250 µs| of 80 µs with a fixed 60 µs margin, while the same
 * code on a busy machine, whose vCPUs never halt, kept within 7 µs). When a sleep returns later than the margin
 * allows, the margin grows to 1.5 x that lateness (up to `maxSpinNs`), then decays slowly back to `spinNs`.
 */
import { CLOCK_MONOTONIC, clock_nanosleep, PR_SET_TIMERSLACK, prctl, TIMER_ABSTIME } from "../net/libc.js";

export class Pacer {
  private readonly req = { tv_sec: 0, tv_nsec: 0 };
  /** CLOCK_MONOTONIC ns minus performance.now() in ns (both come from the same monotonic clock) */
  private readonly monoOffset: number;

  /** current spin margin, ns: between spinNs and maxSpinNs */
  private margin: number;

  constructor(
    readonly spinNs = 60_000,
    readonly maxSpinNs = 200_000,
  ) {
    this.margin = spinNs;
    prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0); // 1 ns timer slack for this thread
    const before = performance.now();
    const mono = Number(process.hrtime.bigint());
    const after = performance.now();
    this.monoOffset = mono - ((before + after) / 2) * 1e6;
  }

  /** CLOCK_MONOTONIC now, ns (double), without allocating. */
  now(): number {
    return performance.now() * 1e6 + this.monoOffset;
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
    while (now < deadline) now = this.now();
    return now;
  }

  /** the spin margin in use now, ns */
  get spinMarginNs(): number {
    return this.margin;
  }
}
