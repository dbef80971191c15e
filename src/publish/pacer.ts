/**
 * Hybrid pacing on absolute CLOCK_MONOTONIC deadlines (DEPENDENCIES.md §7, 6.7 µs p99 measured here):
 * clock_nanosleep(TIMER_ABSTIME) until `spinNs` before the deadline, then spin on process.hrtime.bigint()
 * (also CLOCK_MONOTONIC). Meant for a worker thread; it blocks.
 */
import { CLOCK_MONOTONIC, clock_nanosleep, PR_SET_TIMERSLACK, prctl, TIMER_ABSTIME } from "../net/libc.js";

export class Pacer {
  private readonly req = { tv_sec: 0, tv_nsec: 0 };

  constructor(readonly spinNs = 60_000) {
    prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0); // 1 ns timer slack for this thread
  }

  /** Monotonic now, ns. */
  static now(): bigint {
    return process.hrtime.bigint();
  }

  /** Block until the monotonic clock reaches `deadline` (ns); returns the time it returned at. */
  waitUntil(deadline: bigint): bigint {
    let now = process.hrtime.bigint();
    const wake = deadline - BigInt(this.spinNs);
    if (now < wake) {
      this.req.tv_sec = Number(wake / 1_000_000_000n);
      this.req.tv_nsec = Number(wake % 1_000_000_000n);
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, this.req, null);
      now = process.hrtime.bigint();
    }
    while (now < deadline) now = process.hrtime.bigint();
    return now;
  }
}
