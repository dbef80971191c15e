/**
 * Per-stream accumulation of decoded SV frames (from a capture or live traffic): a stream is one
 * (svID, APPID, source MAC, destination MAC, VLAN id). For each: frames and ASDUs, first/last time, frame and
 * sample rates, smpCnt continuity (wraps, gaps, missing, duplicates, out-of-order), the smpCnt modulus and the
 * nominal rate it implies, and inter-arrival statistics. Used by `svtrace streams`; usable by live tools.
 */
import type { SvFrame } from "../sv/types.js";
import {
  KNOWN_MODULI,
  type NominalRate,
  nominalRateForModulus,
  type SmpCntEvent,
  SmpCntTracker,
} from "./continuity.js";
import { InterArrival, type InterArrivalSummary } from "./interarrival.js";

export interface StreamKey {
  svID: string;
  appid: number;
  src: string;
  /** null for Linux cooked (SLL) captures */
  dst: string | null;
  /** null when untagged */
  vlanId: number | null;
}

/** Stable text key of a stream (the Map key). */
export function streamKeyString(k: StreamKey): string {
  return `${k.svID}\u0000${k.appid}\u0000${k.src}\u0000${k.dst ?? ""}\u0000${k.vlanId ?? ""}`;
}

/** "svID 4001 appid 0x4001 ca:fe:c0:ff:ee:69 > 01:0c:cd:04:00:02 vlan 1" */
export function describeStream(k: StreamKey): string {
  const vlan = k.vlanId === null ? "untagged" : `vlan ${k.vlanId}`;
  return `svID ${k.svID} appid 0x${k.appid.toString(16).padStart(4, "0")} ${k.src} > ${k.dst ?? "?"} ${vlan}`;
}

/** How the modulus was found: given by the caller, seen wrapping, matched to the measured rate, or guessed
 * from the largest counter seen (the smallest known modulus above it). */
export type ModulusSource = "given" | "wrap" | "rate" | "max";

export interface StreamStats extends StreamKey {
  /** VLAN priority of the first frame (null when untagged) */
  vlanPcp: number | null;
  frames: number;
  asdus: number;
  firstNs: bigint;
  lastNs: bigint;
  /** (frames - 1) / (last - first); null with fewer than two frames or zero duration */
  framesPerSecond: number | null;
  samplesPerSecond: number | null;
  modulus: number | null;
  modulusFrom: ModulusSource | null;
  /** what the modulus means (null when it is only guessed from the largest counter) */
  nominal: NominalRate | null;
  wraps: number;
  /** gap events */
  gaps: number;
  /** samples missing */
  missing: number;
  duplicates: number;
  outOfOrder: number;
  /** smpCnt values outside the modulus */
  invalid: number;
  interArrival: InterArrivalSummary | null;
}

interface Entry {
  key: StreamKey;
  vlanPcp: number | null;
  frames: number;
  asdus: number;
  firstNs: bigint;
  lastNs: bigint;
  /** frame number of the last frame counted for this stream (a frame counts once per stream) */
  lastFrameSeq: number;
  tracker: SmpCntTracker;
  gaps: InterArrival;
}

/** A measured rate within this fraction of a known modulus names that modulus. */
const RATE_MATCH = 0.03;

/** Up to this many streams, add() scans them all instead of looking the svID up. */
const FEW_STREAMS = 16;

export class StreamTable {
  /** streams by svID, each list scanned by APPID, MACs and VLAN: no text key is built per frame
   * (building one was 40 % of `svtrace streams` on a 1 M-frame capture) */
  readonly #bySvID = new Map<string, Entry[]>();
  /** every stream in first-seen order */
  readonly #streams: Entry[] = [];
  #frameSeq = 0;

  constructor(
    private readonly opts: {
      /** smpCnt modulus to assume for every stream (default: infer per stream) */
      modulus?: number;
      /** called for every ASDU with its continuity event (e.g. to print iteration:svID:smpCnt) */
      onAsdu?: (key: StreamKey, event: SmpCntEvent, tsNs: bigint) => void;
    } = {},
  ) {}

  get size(): number {
    return this.#streams.length;
  }

  /** Account one decoded frame received/captured at tsNs. */
  add(frame: SvFrame, tsNs: bigint): void {
    const seq = ++this.#frameSeq;
    const pdu = frame.pdu;
    const vlanId = frame.vlan ? frame.vlan.vid : null;
    const dst = frame.dst ?? null;
    const appid = pdu.appid;
    const src = frame.src;
    for (const a of pdu.asdus) {
      // few streams: a plain scan beats hashing the (fresh) svID string of every ASDU
      const few = this.#streams.length <= FEW_STREAMS;
      let list = few ? this.#streams : this.#bySvID.get(a.svID);
      if (!list) {
        list = [];
        this.#bySvID.set(a.svID, list);
      }
      let e: Entry | undefined;
      for (const c of list) {
        const ck = c.key;
        if (
          ck.appid === appid &&
          ck.svID === a.svID &&
          ck.src === src &&
          ck.dst === dst &&
          ck.vlanId === vlanId
        ) {
          e = c;
          break;
        }
      }
      if (!e) {
        e = {
          key: { svID: a.svID, appid, src, dst, vlanId },
          vlanPcp: frame.vlan ? frame.vlan.pcp : null,
          frames: 0,
          asdus: 0,
          firstNs: tsNs,
          lastNs: tsNs,
          lastFrameSeq: 0,
          tracker: new SmpCntTracker(this.opts.modulus),
          gaps: new InterArrival(),
        };
        const same = this.#bySvID.get(a.svID);
        if (same) same.push(e);
        else this.#bySvID.set(a.svID, [e]);
        this.#streams.push(e);
      }
      if (e.lastFrameSeq !== seq) {
        e.lastFrameSeq = seq;
        e.frames++;
        if (tsNs < e.firstNs) e.firstNs = tsNs;
        if (tsNs > e.lastNs) e.lastNs = tsNs;
        e.gaps.push(tsNs);
      }
      e.asdus++;
      const ev = e.tracker.push(a.smpCnt);
      this.opts.onAsdu?.(e.key, ev, tsNs);
    }
  }

  /** Every stream in first-seen order. */
  streams(): StreamStats[] {
    return this.#streams.map((e) => statsOf(e, this.opts.modulus !== undefined));
  }
}

function statsOf(e: Entry, given: boolean): StreamStats {
  const t = e.tracker;
  const durS = Number(e.lastNs - e.firstNs) / 1e9;
  const fps = e.frames >= 2 && durS > 0 ? (e.frames - 1) / durS : null;
  const sps = fps === null ? null : (fps * e.asdus) / e.frames;
  let modulus: number | null = null;
  let from: ModulusSource | null = null;
  if (t.modulus !== undefined) {
    modulus = t.modulus;
    from = given ? "given" : "wrap";
  } else {
    const byRate =
      sps === null
        ? undefined
        : KNOWN_MODULI.find((m) => m > t.maxSeen && Math.abs(sps - m) <= m * RATE_MATCH);
    if (byRate !== undefined) {
      modulus = byRate;
      from = "rate";
    } else if (t.likelyModulus !== undefined) {
      modulus = t.likelyModulus;
      from = "max";
    }
  }
  return {
    ...e.key,
    vlanPcp: e.vlanPcp,
    frames: e.frames,
    asdus: e.asdus,
    firstNs: e.firstNs,
    lastNs: e.lastNs,
    framesPerSecond: fps,
    samplesPerSecond: sps,
    modulus,
    modulusFrom: from,
    // a modulus guessed from the largest counter says nothing about the rate: no nominal rate for it
    nominal: modulus === null || from === "max" ? null : (nominalRateForModulus(modulus) ?? null),
    wraps: t.wraps,
    gaps: t.gaps,
    missing: t.missing,
    duplicates: t.duplicates,
    outOfOrder: t.outOfOrder,
    invalid: t.invalid,
    interArrival: e.gaps.summary() ?? null,
  };
}
