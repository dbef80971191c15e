/**
 * Per-stream receive statistics for the subscriber: continuity (h2's SmpCntTracker, per ASDU), inter-arrival
 * of frames from kernel timestamps, |gap - nominal period| once the smpCnt modulus is known (gaps seen before
 * that are kept and replayed), and end-to-end latency from refrTm.
 */
import { LatencyHistogram } from "../analysis/histogram.js";
import { timingStats } from "../publish/gap-stats.js";
import { type SmpCntEvent, SmpCntTracker } from "../streams/continuity.js";
import type { Asdu, SvFrame } from "../sv/types.js";
import { utcTimeToNs } from "../sv/utc-time.js";
import type { StreamReceived } from "./types.js";

const PENDING_MAX = 65536;

export class StreamStats {
  readonly tracker: SmpCntTracker;
  received = 0;
  samples = 0;
  firstCnt: number | null = null;
  private lastTs = -1n;
  private lastCnt = -1;
  private readonly inter = new LatencyHistogram();
  private readonly gapErr = new LatencyHistogram();
  private latency: LatencyHistogram | null = null;
  /** consecutive-frame intervals seen before the modulus is known */
  private pending: number[] = [];
  private periodNs: number | null = null;

  constructor(
    readonly svID: string,
    private readonly first: SvFrame,
    modulus?: number,
  ) {
    this.tracker = new SmpCntTracker(modulus);
  }

  /** Account one ASDU of this stream; returns the continuity event (for the log's iteration). */
  pushAsdu(asdu: Asdu): SmpCntEvent {
    this.samples++;
    if (this.firstCnt === null) this.firstCnt = asdu.smpCnt;
    return this.tracker.push(asdu.smpCnt);
  }

  /** Account a frame whose first ASDU is this stream's (after its ASDUs were pushed). */
  pushFrame(first: Asdu, nAsdu: number, tsNs: bigint, latencyOffsetNs: bigint): void {
    this.received++;
    if (this.lastTs >= 0n && tsNs > 0n) {
      const d = Number(tsNs - this.lastTs);
      this.inter.record(d);
      const m = this.tracker.modulus;
      const consecutive =
        m !== undefined ? (this.lastCnt + nAsdu) % m === first.smpCnt : this.lastCnt + nAsdu === first.smpCnt;
      if (consecutive) {
        if (this.periodNs === null && m !== undefined) this.setPeriod((nAsdu * 1e9) / m);
        if (this.periodNs !== null) this.gapErr.record(Math.abs(d - this.periodNs));
        else if (this.pending.length < PENDING_MAX) this.pending.push(d);
      }
    }
    this.lastTs = tsNs;
    this.lastCnt = first.smpCnt;
    if (first.refrTm && tsNs > 0n) {
      if (!this.latency) this.latency = new LatencyHistogram();
      this.latency.record(Number(tsNs - (utcTimeToNs(first.refrTm) - latencyOffsetNs)));
    }
  }

  private setPeriod(p: number): void {
    this.periodNs = p;
    for (const d of this.pending) this.gapErr.record(Math.abs(d - p));
    this.pending = [];
  }

  summary(latencyClock: string): StreamReceived {
    const t = this.tracker;
    const m = t.modulus ?? t.likelyModulus;
    if (this.periodNs === null && m !== undefined && this.pending.length > 0) {
      const nAsdu = this.first.pdu.asdus.length || 1;
      this.setPeriod((nAsdu * 1e9) / m);
    }
    const f = this.first;
    return {
      svID: this.svID,
      appid: f.pdu.appid,
      src: f.src,
      dst: f.dst ?? null,
      vlan: f.vlan ? { vid: f.vlan.vid, pcp: f.vlan.pcp } : null,
      received: this.received,
      samples: this.samples,
      missing: t.missing,
      gaps: t.gaps,
      duplicates: t.duplicates,
      out_of_order: t.outOfOrder,
      wraps: t.wraps,
      modulus: m ?? null,
      first_smpCnt: this.firstCnt,
      last_smpCnt: t.last ?? null,
      interarrival: timingStats(this.inter),
      gap_error: {
        ...timingStats(this.gapErr),
        period_us: this.periodNs === null ? null : Math.round(this.periodNs) / 1000,
      },
      latency: this.latency ? { ...timingStats(this.latency), clock: latencyClock } : null,
    };
  }
}
