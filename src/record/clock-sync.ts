/**
 * Two clocks, one record: the offset between a guest's CLOCK_MONOTONIC and the host's, estimated NTP-style from
 * round-trip exchanges (the host stamps send and receive on its monotonic clock, the guest answers with its own),
 * and the mapping of a guest record's times onto the host's clock. From each exchange round the fastest exchange
 * wins: its offset is host midpoint - guest stamp, and the true offset lies within half its round trip of that
 * (the guest stamped somewhere between send and receive). Two rounds (start and end of a run) give the drift;
 * the uncertainty stated is the larger half round trip of the two. Monotonic clocks are used on both sides, so a
 * step of the guest's CLOCK_REALTIME during the run (seen on TCG guests) does not move the mapping; it is
 * measured and reported.
 */
import type { CrossClockMeta } from "./schema.js";

/** One exchange: host monotonic ns at send and at receive, guest monotonic (and realtime) ns when it answered. */
export interface ClockSample {
  hostSendNs: bigint;
  hostRecvNs: bigint;
  guestMonoNs: bigint;
  guestRealNs: bigint;
}

/** One round of exchanges, and the host's realtime-monotonic offset measured beside it. */
export interface ClockRound {
  /** how the exchanges travelled, e.g. "virtio-serial agent channel" */
  method: string;
  samples: ClockSample[];
  /** host CLOCK_REALTIME - CLOCK_MONOTONIC (ns) when the round ran */
  hostRealMinusMonoNs: bigint;
  /** ISO time of the round */
  at: string;
}

export interface ClockEstimate {
  /** host monotonic - guest monotonic (ns) */
  offsetNs: bigint;
  /** round trip of the fastest exchange (ns); the offset is within ±rtt/2 */
  rttNs: bigint;
  /** guest monotonic ns of the fastest exchange */
  guestMonoNs: bigint;
  /** guest realtime - host realtime at the fastest exchange (ns): what the guest's wall clock is off by */
  realtimeOffsetNs: bigint;
  /** guest CLOCK_REALTIME - CLOCK_MONOTONIC at the fastest exchange */
  guestRealMinusMonoNs: bigint;
  samples: number;
  /** median round trip of the round (ns), to show how much faster the kept exchange was */
  medianRttNs: bigint;
}

/** The fastest exchange of a round (NTP's minimum-delay filter). */
export function estimateRound(round: ClockRound): ClockEstimate {
  const ok = round.samples.filter((s) => s.hostRecvNs >= s.hostSendNs);
  if (ok.length === 0) throw new Error("no clock exchange completed");
  const rtts = ok.map((s) => s.hostRecvNs - s.hostSendNs).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let best = ok[0] as ClockSample;
  for (const s of ok) if (s.hostRecvNs - s.hostSendNs < best.hostRecvNs - best.hostSendNs) best = s;
  const mid = (best.hostSendNs + best.hostRecvNs) / 2n;
  const offsetNs = mid - best.guestMonoNs;
  const guestRealMinusMonoNs = best.guestRealNs - best.guestMonoNs;
  return {
    offsetNs,
    rttNs: best.hostRecvNs - best.hostSendNs,
    guestMonoNs: best.guestMonoNs,
    realtimeOffsetNs: best.guestRealNs - (mid + round.hostRealMinusMonoNs),
    guestRealMinusMonoNs,
    samples: ok.length,
    medianRttNs: rtts[Math.floor(rtts.length / 2)] as bigint,
  };
}

/** Guest -> host mapping of monotonic clocks, from one round or more (the first and the last are used). */
export class ClockMapping {
  readonly start: ClockEstimate;
  readonly end: ClockEstimate | null;
  /** host ns per guest ns - 1 (0 with a single round) */
  readonly drift: number;
  readonly hostRealMinusMonoNs: bigint;
  readonly method: string;

  constructor(rounds: ClockRound[]) {
    if (rounds.length === 0) throw new Error("a clock mapping needs one exchange round or more");
    const first = rounds[0] as ClockRound;
    const last = rounds[rounds.length - 1] as ClockRound;
    this.method = first.method;
    this.start = estimateRound(first);
    this.end = rounds.length > 1 ? estimateRound(last) : null;
    this.hostRealMinusMonoNs = first.hostRealMinusMonoNs;
    const span = this.end ? Number(this.end.guestMonoNs - this.start.guestMonoNs) : 0;
    this.drift = this.end && span > 0 ? Number(this.end.offsetNs - this.start.offsetNs) / span : 0;
  }

  /** ± bound on a mapped time: half the slower of the two kept round trips */
  get uncertaintyNs(): bigint {
    const r = this.end && this.end.rttNs > this.start.rttNs ? this.end.rttNs : this.start.rttNs;
    return r / 2n;
  }

  /** host monotonic ns for a guest monotonic ns */
  hostMono(guestMonoNs: bigint): bigint {
    const d = Number(guestMonoNs - this.start.guestMonoNs) * this.drift;
    return guestMonoNs + this.start.offsetNs + BigInt(Math.round(d));
  }

  /** change of the guest's CLOCK_REALTIME against its monotonic clock between the rounds (a step), or null */
  get guestRealtimeStepNs(): bigint | null {
    return this.end ? this.end.guestRealMinusMonoNs - this.start.guestRealMinusMonoNs : null;
  }

  /** what a joined record stores about the mapping */
  meta(hostPoints: string[], guestPoints: string[]): CrossClockMeta {
    const step = this.guestRealtimeStepNs;
    return {
      method: this.method,
      hostPoints,
      guestPoints,
      offsetNs: String(this.start.offsetNs),
      uncertaintyNs: Number(this.uncertaintyNs),
      rttMinNs: [Number(this.start.rttNs), ...(this.end ? [Number(this.end.rttNs)] : [])],
      rttMedianNs: [Number(this.start.medianRttNs), ...(this.end ? [Number(this.end.medianRttNs)] : [])],
      samples: [this.start.samples, ...(this.end ? [this.end.samples] : [])],
      driftPpm: this.end ? Math.round(this.drift * 1e6 * 1000) / 1000 : null,
      driftOverRunNs: this.end ? Number(this.end.offsetNs - this.start.offsetNs) : null,
      guestRealtimeOffsetNs: String(this.start.realtimeOffsetNs),
      guestRealtimeStepNs: step === null ? null : Number(step),
    };
  }
}

/**
 * Maps guest record times (ns on the guest's realtime as recorded, i.e. its monotonic + `guestRecordOffsetNs`)
 * onto the host record's clock (host monotonic + `hostRecordOffsetNs`).
 */
export function guestToHostTime(
  m: ClockMapping,
  guestRecordOffsetNs: bigint,
  hostRecordOffsetNs: bigint,
): (t: bigint) => bigint {
  return (t) => m.hostMono(t - guestRecordOffsetNs) + hostRecordOffsetNs;
}
