/**
 * `svtrace decode` as a library: every packet of a capture through the SV codec, as output lines.
 * Human form: one line per ASDU. JSON form: one reference-format object per ASDU (../sv/refjson.ts),
 * `{"frame":N,"error":"...","offset":K}` for a frame with nothing decodable, and (with `all`) one object per
 * non-SV packet. A frame whose ASDUs decode despite a problem (a PDU cut short: SV Length, savPdu or seqASDU
 * past the bytes present; a noASDU mismatch) gives its complete ASDUs, each with the problem in `warning`
 * (JSON) or a `warning "..."` field (text). Lines come out of a generator so the caller can stream them.
 */
import { decodeDataset } from "../sv/dataset.js";
import { type DecodeResult, decodeFrame } from "../sv/decode.js";
import {
  asduRecords,
  errorRecord,
  type RefAsduRecord,
  seqDataIsPairs,
  toHex,
  warningOf,
} from "../sv/refjson.js";
import type { Asdu, SvFrame } from "../sv/types.js";
import { formatUtcTimeTshark } from "../sv/utc-time.js";
import { readPackets } from "./reader.js";
import { formatEpochNs, formatIsoNs } from "./time.js";
import type { CapturedPacket, ReadOptions } from "./types.js";

export interface DecodeCaptureOptions extends ReadOptions {
  json?: boolean;
  /** also report packets that are not SV (and link types the codec cannot decode) */
  all?: boolean;
}

export interface DecodeCounts {
  packets: number;
  svFrames: number;
  asdus: number;
  errorFrames: number;
  /** SV frames decoded with a warning (their ASDUs are in `asdus`) */
  warnedFrames: number;
  notSv: number;
  otherLink: number;
}

/** Counts at zero, before the first packet. */
export function emptyDecodeCounts(): DecodeCounts {
  return { packets: 0, svFrames: 0, asdus: 0, errorFrames: 0, warnedFrames: 0, notSv: 0, otherLink: 0 };
}

/** Decode each packet; the result is undefined for a link type the codec does not handle. */
export function* decodePackets(
  path: string,
  opts: ReadOptions = {},
): Generator<{ packet: CapturedPacket; result: DecodeResult | undefined }> {
  for (const packet of readPackets(path, opts)) {
    const result = packet.linkType === "other" ? undefined : decodeFrame(packet.data, packet.linkType);
    yield { packet, result };
  }
}

/** JSON text of a string (JSON.stringify is fast for short strings and does the escaping) or null. */
function js(v: string | null): string {
  return v === null ? "null" : JSON.stringify(v);
}
function jn(v: number | null): string {
  return v === null ? "null" : String(v);
}
function ja(v: number[] | null): string {
  return v === null ? "null" : `[${v.join(",")}]`;
}

/**
 * JSON.stringify(record), written out by hand: about 3x faster for these flat records (decode --json prints
 * one per ASDU). Same keys, same order, same text as JSON.stringify (tested against the reference decodes).
 */
export function refRecordJson(r: RefAsduRecord): string {
  return (
    `{"frame":${r.frame},"time_epoch":"${r.time_epoch}","src":${js(r.src)},"dst":${js(r.dst)},` +
    `"vlan_id":${jn(r.vlan_id)},"vlan_pri":${jn(r.vlan_pri)},"appid":${r.appid},"length":${r.length},` +
    `"simulate":${r.simulate},"noASDU":${r.noASDU},"asdu_index":${r.asdu_index},"svID":${js(r.svID)},` +
    `"datSet":${js(r.datSet)},"smpCnt":${r.smpCnt},"confRev":${r.confRev},"refrTm":${js(r.refrTm)},` +
    `"smpSynch":${jn(r.smpSynch)},"smpRate":${jn(r.smpRate)},"smpMod":${jn(r.smpMod)},` +
    `"gmIdentity":${js(r.gmIdentity)},"seqData_hex":"${r.seqData_hex}","values":${ja(r.values)},` +
    `"qualities":${ja(r.qualities)},"warning":${js(r.warning)}}`
  );
}

function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, "0")}`;
}

/** One human-readable line for ASDU i of a frame; `warning` (warningOf) goes last when there is one. */
export function formatAsduLine(
  frameNo: number,
  tsNs: bigint,
  frame: SvFrame,
  i: number,
  warning: string | null = null,
): string {
  const pdu = frame.pdu;
  const a: Asdu = pdu.asdus[i];
  const parts: string[] = [
    `#${frameNo}`,
    formatIsoNs(tsNs),
    `${frame.src} > ${frame.dst ?? "(sll)"}`,
    frame.vlan ? `vlan ${frame.vlan.vid} pcp ${frame.vlan.pcp}` : "untagged",
    `appid ${hex4(pdu.appid)}`,
  ];
  if (pdu.reserved1 & 0x8000) parts.push("SIMULATED");
  if (pdu.asdus.length > 1 || pdu.noASDU !== 1) parts.push(`asdu ${i + 1}/${pdu.noASDU}`);
  parts.push(`svID ${JSON.stringify(a.svID)}`);
  if (a.datSet !== undefined) parts.push(`datSet ${JSON.stringify(a.datSet)}`);
  parts.push(`smpCnt ${a.smpCnt}`, `confRev ${a.confRev}`);
  if (a.smpSynch !== undefined) parts.push(`smpSynch ${a.smpSynch}`);
  if (a.refrTm) parts.push(`refrTm "${formatUtcTimeTshark(a.refrTm)}"`);
  if (a.smpRate !== undefined) parts.push(`smpRate ${a.smpRate}`);
  if (a.smpMod !== undefined) parts.push(`smpMod ${a.smpMod}`);
  if (a.gmIdentity) parts.push(`gmIdentity ${toHex(a.gmIdentity)}`);
  const pairs = seqDataIsPairs(a.seqData.length) ? decodeDataset(a.seqData) : undefined;
  if (pairs) {
    parts.push(`values ${pairs.values.join(",")}`);
    if (pairs.qualities.some((q) => q !== 0))
      parts.push(`q ${pairs.qualities.map((q) => q.toString(16).padStart(4, "0")).join(",")}`);
  } else {
    parts.push(`seqData ${toHex(a.seqData)}`);
  }
  if (warning !== null) parts.push(`warning ${JSON.stringify(warning)}`);
  return parts.join("  ");
}

/**
 * The output lines (without newline) for a capture, in packet order. `counts` is filled in as it goes.
 */
export function* decodeCaptureLines(
  path: string,
  opts: DecodeCaptureOptions = {},
  counts: DecodeCounts = emptyDecodeCounts(),
): Generator<string> {
  const json = opts.json === true;
  for (const { packet, result } of decodePackets(path, opts)) {
    counts.packets++;
    const n = packet.index;
    if (result === undefined) {
      counts.otherLink++;
      if (opts.all)
        yield json
          ? JSON.stringify({
              frame: n,
              time_epoch: formatEpochNs(packet.tsNs),
              not_sv: `link type ${packet.linkTypeCode}`,
            })
          : `#${n}  ${formatIsoNs(packet.tsNs)}  not SV: link type ${packet.linkTypeCode} (only Ethernet and Linux SLL are decoded)`;
      continue;
    }
    if (result.kind === "not-sv") {
      counts.notSv++;
      if (opts.all)
        yield json
          ? JSON.stringify({
              frame: n,
              time_epoch: formatEpochNs(packet.tsNs),
              not_sv: `EtherType ${hex4(result.etherType)}`,
            })
          : `#${n}  ${formatIsoNs(packet.tsNs)}  not SV: EtherType ${hex4(result.etherType)}, ${packet.data.length} bytes`;
      continue;
    }
    const asdus = result.kind === "sv" ? result.frame.pdu.asdus.length : 0;
    if (result.kind === "error" || (asdus === 0 && result.errors.length > 0)) {
      // nothing decodable (a frame without ASDUs, noASDU saying otherwise, is counted as decoded, as before)
      if (result.kind === "error") counts.errorFrames++;
      else counts.svFrames++;
      const e = result.errors[0];
      yield json
        ? JSON.stringify(errorRecord(n, e))
        : `#${n}  ${formatIsoNs(packet.tsNs)}  SV decode error at offset ${e.offset}: ${e.code}: ${e.message}`;
      continue;
    }
    counts.svFrames++;
    counts.asdus += asdus;
    const warning = result.errors.length === 0 ? null : warningOf(result.errors);
    if (warning !== null) counts.warnedFrames++;
    if (json) {
      for (const r of asduRecords(result.frame, n, packet.tsNs, warning)) yield refRecordJson(r);
    } else {
      for (let i = 0; i < asdus; i++) yield formatAsduLine(n, packet.tsNs, result.frame, i, warning);
    }
  }
}
