/**
 * The streams of a capture file: read every packet, decode SV, and accumulate per-stream statistics
 * (StreamTable). Also counts what was not SV or not decodable. Used by `svtrace streams`.
 */
import { emptyDecodeCounts } from "../capture/decode-capture.js";
import { readPackets } from "../capture/reader.js";
import type { ReadOptions } from "../capture/types.js";
import { decodeFrame } from "../sv/decode.js";
import { type StreamStats, StreamTable } from "./stream-table.js";

export interface CaptureStreams {
  file: string;
  packets: number;
  svFrames: number;
  asdus: number;
  /** SV frames that could not be decoded */
  errorFrames: number;
  /**
   * SV frames decoded with a warning (a PDU cut short, a noASDU mismatch): their complete ASDUs are counted in
   * the streams like any other (a snaplen-cut capture does not lose samples to it)
   */
  warnedFrames: number;
  notSv: number;
  /** packets with a link type the codec does not decode */
  otherLink: number;
  firstNs: bigint | null;
  lastNs: bigint | null;
  streams: StreamStats[];
}

export interface CaptureStreamsOptions extends ReadOptions {
  /** assume this smpCnt modulus for every stream instead of inferring it */
  modulus?: number;
  /** called every 16384 packets with the packets and (approximately) the file bytes read so far */
  onProgress?: (packets: number, bytes: number) => void;
}

export function captureStreams(file: string, opts: CaptureStreamsOptions = {}): CaptureStreams {
  const table = new StreamTable({ modulus: opts.modulus });
  const r: CaptureStreams = {
    file,
    ...emptyDecodeCounts(),
    firstNs: null,
    lastNs: null,
    streams: [],
  };
  let bytes = 24;
  for (const p of readPackets(file, opts)) {
    r.packets++;
    bytes += p.data.length + 16;
    if (opts.onProgress && (r.packets & 0x3fff) === 0) opts.onProgress(r.packets, bytes);
    if (r.firstNs === null || p.tsNs < r.firstNs) r.firstNs = p.tsNs;
    if (r.lastNs === null || p.tsNs > r.lastNs) r.lastNs = p.tsNs;
    if (p.linkType === "other") {
      r.otherLink++;
      continue;
    }
    const d = decodeFrame(p.data, p.linkType);
    if (d.kind === "not-sv") r.notSv++;
    else if (d.kind === "error") r.errorFrames++;
    else {
      r.svFrames++;
      r.asdus += d.frame.pdu.asdus.length;
      if (d.errors.length > 0) r.warnedFrames++;
      table.add(d.frame, p.tsNs);
    }
  }
  r.streams = table.streams();
  return r;
}
