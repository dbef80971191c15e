/**
 * Clock conversion: bpftrace's `nsecs` is CLOCK_MONOTONIC; svtrace timestamps leave as ns since the epoch on
 * a stated clock (realtime or TAI). The offset is measured once at start with a clock_gettime sandwich
 * (MONOTONIC, target, MONOTONIC), keeping the sample with the smallest round trip. TAI-REALTIME is measured
 * the same way, never assumed (it is 0 on an unsynchronised host, 37 s under ptp4l/phc2sys).
 */

import { CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI, clockNs } from "../net/libc.js";
import type { ClockName } from "../record/schema.js";

export interface ClockOffset {
  clock: ClockName;
  /** add to a CLOCK_MONOTONIC ns value to get ns on `clock` */
  offsetNs: bigint;
  /** round trip of the best sample: the uncertainty of the offset */
  rttNs: bigint;
  /** CLOCK_TAI - CLOCK_REALTIME, measured */
  taiMinusRealtimeNs: bigint;
}

function sandwich(target: number, samples: number): { offset: bigint; rtt: bigint } {
  let best: { offset: bigint; rtt: bigint } | undefined;
  for (let i = 0; i < samples; i++) {
    const a = clockNs(CLOCK_MONOTONIC);
    const t = clockNs(target);
    const b = clockNs(CLOCK_MONOTONIC);
    const rtt = b - a;
    if (!best || rtt < best.rtt) best = { offset: t - (a + b) / 2n, rtt };
  }
  if (!best) throw new Error("no clock samples");
  return best;
}

/** Measure the MONOTONIC -> `clock` offset (min round trip of `samples` sandwiches). */
export function measureClockOffset(clock: ClockName, samples = 25): ClockOffset {
  const real = sandwich(CLOCK_REALTIME, samples);
  const tai = sandwich(CLOCK_TAI, samples);
  const chosen = clock === "tai" ? tai : real;
  return {
    clock,
    offsetNs: chosen.offset,
    rttNs: chosen.rtt,
    taiMinusRealtimeNs: tai.offset - real.offset,
  };
}

/** Converts raw bpftrace times to the stated clock. */
export class ClockConverter {
  constructor(
    readonly clock: ClockName,
    /** added to every raw time (0 when bpftrace already printed the target clock, e.g. nsecs(tai)) */
    readonly offsetNs: bigint,
  ) {}

  /** raw kernel time (0n = not seen) -> ns on the clock, or null */
  convert(raw: bigint): bigint | null {
    return raw === 0n ? null : raw + this.offsetNs;
  }
}
