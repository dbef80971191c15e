/**
 * Hybrid pacing on absolute CLOCK_MONOTONIC deadlines (DEPENDENCIES.md §7, 6.7 µs p99 measured here):
 * clock_nanosleep(TIMER_ABSTIME) until `spinNs` before the deadline, then spin. Meant for a worker thread;
 * it blocks. Times are CLOCK_MONOTONIC nanoseconds held in doubles (exact up to 2^53 ns = 104 days of
 * uptime, within a few ns after that): the spin reads performance.now(), which allocates
 * nothing, where process.hrtime.bigint() would allocate a BigInt per iteration and trigger GC pauses of
 * hundreds of µs (seen as a p99 of about one period before this change).
 */
import { CLOCK_MONOTONIC, clock_nanosleep, PR_SET_TIMERSLACK, prctl, TIMER_ABSTIME } from "../net/libc.js";

export class Pacer {
  private readonly req = { tv_sec: 0, tv_nsec: 0 };
  /** CLOCK_MONOTONIC ns minus performance.now() in ns (both come from the same monotonic clock) */
  private readonly monoOffset: number;

  constructor(readonly spinNs = 60_000) {
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
    const wake = deadline - this.spinNs;
    if (now < wake) {
      const sec = Math.floor(wake / 1e9);
      this.req.tv_sec = sec;
      this.req.tv_nsec = Math.floor(wake - sec * 1e9);
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, this.req, null);
      now = this.now();
    }
    while (now < deadline) now = this.now();
    return now;
  }
}
