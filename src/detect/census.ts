/**
 * A census of the SV streams in a sequence of frames (live or from a capture): per stream (svID, APPID,
 * source and destination MAC, VLAN) the frames and samples seen, the measured sample rate, the smpCnt modulus
 * (inferred from the wrap, or from the largest counter seen), and continuity (missing, duplicates).
 * Used by `svtrace detect`; frames are decoded with the codec in ../sv/.
 */
import { inferModulus, nominalRateForModulus, SmpCntTracker } from "../streams/continuity.js";
import { decodeFrame } from "../sv/decode.js";
import type { LinkType, SvFrame } from "../sv/types.js";

export interface DetectedStream {
  svID: string;
  appid: number;
  src: string;
  dst: string | null;
  vlan: { id: number; pcp: number } | null;
  frames: number;
  /** ASDUs (samples) seen */
  samples: number;
  /** measured samples per second (null with fewer than two samples) */
  rate: number | null;
  /** smpCnt modulus: from a wrap seen, else the smallest known modulus above the largest counter */
  modulus: number | null;
  /** how the modulus was found: "wrap" (seen), "max" (a guess from the largest counter) */
  modulusFrom: "wrap" | "max" | null;
  /** nominal rate of that modulus, e.g. "50 Hz x 80 (9-2LE)" */
  nominal: string | null;
  missing: number;
  duplicates: number;
  /** first and last receive time, ns */
  firstNs: bigint;
  lastNs: bigint;
}

interface Entry {
  stream: DetectedStream;
  tracker: SmpCntTracker;
}

export class StreamCensus {
  private readonly entries = new Map<string, Entry>();
  /** frames that were SV but could not be decoded */
  undecodable = 0;
  svFrames = 0;

  /** Add one raw frame; returns true if it was an SV frame. */
  addRaw(data: Uint8Array, linkType: LinkType, tsNs: bigint): boolean {
    const r = decodeFrame(data, linkType);
    if (r.kind === "not-sv") return false;
    if (r.kind === "error") {
      this.undecodable++;
      return true;
    }
    // a frame decoded with a warning (noASDU mismatch, PDU cut short) counts with its complete ASDUs
    this.addFrame(r.frame, tsNs);
    return true;
  }

  addFrame(frame: SvFrame, tsNs: bigint): void {
    this.svFrames++;
    const seen = new Set<Entry>();
    for (const asdu of frame.pdu.asdus) {
      const vid = frame.vlan ? frame.vlan.vid : -1;
      const key = `${asdu.svID}\u0000${frame.pdu.appid}\u0000${frame.src}\u0000${frame.dst ?? ""}\u0000${vid}`;
      let e = this.entries.get(key);
      if (!e) {
        e = {
          tracker: new SmpCntTracker(),
          stream: {
            svID: asdu.svID,
            appid: frame.pdu.appid,
            src: frame.src,
            dst: frame.dst ?? null,
            vlan: frame.vlan ? { id: frame.vlan.vid, pcp: frame.vlan.pcp } : null,
            frames: 0,
            samples: 0,
            rate: null,
            modulus: null,
            modulusFrom: null,
            nominal: null,
            missing: 0,
            duplicates: 0,
            firstNs: tsNs,
            lastNs: tsNs,
          },
        };
        this.entries.set(key, e);
      }
      if (!seen.has(e)) {
        e.stream.frames++;
        seen.add(e);
      }
      e.stream.samples++;
      e.stream.lastNs = tsNs;
      e.tracker.push(asdu.smpCnt);
    }
  }

  /** The streams so far, sorted by svID then APPID. */
  streams(): DetectedStream[] {
    const out: DetectedStream[] = [];
    for (const { stream, tracker } of this.entries.values()) {
      const s = { ...stream };
      const span = Number(s.lastNs - s.firstNs) / 1e9;
      s.rate = s.samples > 1 && span > 0 ? Math.round(((s.samples - 1) / span) * 10) / 10 : null;
      if (tracker.modulus !== undefined && tracker.wraps > 0) {
        s.modulus = tracker.modulus;
        s.modulusFrom = "wrap";
      } else if (tracker.maxSeen >= 0) {
        s.modulus = inferModulus(tracker.maxSeen);
        s.modulusFrom = "max";
      }
      s.nominal = s.modulus !== null ? (nominalRateForModulus(s.modulus)?.label ?? null) : null;
      s.missing = tracker.missing;
      s.duplicates = tracker.duplicates;
      out.push(s);
    }
    return out.sort((a, b) => (a.svID < b.svID ? -1 : a.svID > b.svID ? 1 : a.appid - b.appid));
  }
}
