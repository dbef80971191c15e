/**
 * Reference-compatible JSON: one object per ASDU with exactly the field names, order and value formats of the
 * tshark reference decodes in shared/captures/*.ref.jsonl.gz (plus `warning`, last), and the error record for
 * undecodable frames.
 */
import { decodeDataset } from "./dataset.js";
import type { SvDecodeError } from "./decode.js";
import type { SvFrame } from "./types.js";
import { formatUtcTimeTshark } from "./utc-time.js";

/** One ASDU as `svtrace decode --json` prints it (keys in this order). */
export interface RefAsduRecord {
  frame: number;
  /** seconds since 1970 with 9 decimals, as tshark's frame.time_epoch */
  time_epoch: string;
  src: string;
  /** null for Linux cooked (SLL) captures */
  dst: string | null;
  vlan_id: number | null;
  vlan_pri: number | null;
  appid: number;
  length: number;
  simulate: boolean;
  noASDU: number;
  asdu_index: number;
  svID: string;
  datSet: string | null;
  smpCnt: number;
  confRev: number;
  /** tshark's text, e.g. "Nov 26, 2026 11:08:00.807476937 UTC" */
  refrTm: string | null;
  smpSynch: number | null;
  smpRate: number | null;
  smpMod: number | null;
  /** "0x" + 16 hex digits (tshark shows sv.gmidentity as a 64-bit hex number) */
  gmIdentity: string | null;
  seqData_hex: string;
  /** INT32 values of the (value, quality) pairs; null unless seqData is 64 bytes or a larger multiple of 8 */
  values: number[] | null;
  qualities: number[] | null;
  /** what is wrong with the frame although its ASDUs decoded (e.g. a PDU cut short), or null (warningOf) */
  warning: string | null;
}

export interface RefErrorRecord {
  frame: number;
  error: string;
  offset: number;
}

const HEX2: string[] = [];
for (let i = 0; i < 256; i++) HEX2.push(i.toString(16).padStart(2, "0"));

/** Lower-case hex of the bytes, no separators. */
export function toHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX2[b[i]];
  return s;
}

/** Capture timestamp (ns since 1970) as tshark's frame.time_epoch: "1594858030.059560000". */
export function formatTimeEpoch(tsNs: bigint): string {
  const neg = tsNs < 0n;
  const a = neg ? -tsNs : tsNs;
  const s = a / 1_000_000_000n;
  const ns = a % 1_000_000_000n;
  return `${neg ? "-" : ""}${s}.${ns.toString().padStart(9, "0")}`;
}

/**
 * Whether the reference decodes seqData as (INT32, quality) pairs: exactly 64 bytes (9-2LE) or a larger
 * multiple of 8 (e.g. 96 = 12 channels). Shorter layouts such as libiec61850's 16-byte FLOAT32, FLOAT32,
 * Timestamp example are not pairs, and the references leave them undecoded.
 */
export function seqDataIsPairs(len: number): boolean {
  return len >= 64 && len % 8 === 0;
}

/**
 * The `warning` of a decoded frame's records: its errors (a PDU cut short, a noASDU mismatch) as
 * "code at offset K: message", joined by "; ", or null when there are none.
 */
export function warningOf(errors: readonly SvDecodeError[]): string | null {
  if (errors.length === 0) return null;
  let s = "";
  for (let i = 0; i < errors.length; i++) {
    const e = errors[i];
    s += `${i > 0 ? "; " : ""}${e.code} at offset ${e.offset}: ${e.message}`;
  }
  return s;
}

/** One reference-format record per ASDU of a decoded frame; `warning` as warningOf gives it. */
export function asduRecords(
  frame: SvFrame,
  frameNo: number,
  tsNs: bigint,
  warning: string | null = null,
): RefAsduRecord[] {
  const time_epoch = formatTimeEpoch(tsNs);
  const pdu = frame.pdu;
  const out: RefAsduRecord[] = [];
  for (let i = 0; i < pdu.asdus.length; i++) {
    const a = pdu.asdus[i];
    const pairs = seqDataIsPairs(a.seqData.length) ? decodeDataset(a.seqData) : undefined;
    out.push({
      frame: frameNo,
      time_epoch,
      src: frame.src,
      dst: frame.dst ?? null,
      vlan_id: frame.vlan ? frame.vlan.vid : null,
      vlan_pri: frame.vlan ? frame.vlan.pcp : null,
      appid: pdu.appid,
      length: pdu.length,
      simulate: (pdu.reserved1 & 0x8000) !== 0,
      noASDU: pdu.noASDU,
      asdu_index: i,
      svID: a.svID,
      datSet: a.datSet ?? null,
      smpCnt: a.smpCnt,
      confRev: a.confRev,
      refrTm: a.refrTm ? formatUtcTimeTshark(a.refrTm) : null,
      smpSynch: a.smpSynch ?? null,
      smpRate: a.smpRate ?? null,
      smpMod: a.smpMod ?? null,
      gmIdentity: a.gmIdentity ? `0x${toHex(a.gmIdentity)}` : null,
      seqData_hex: toHex(a.seqData),
      values: pairs ? pairs.values : null,
      qualities: pairs ? pairs.qualities : null,
      warning,
    });
  }
  return out;
}

/** `{"frame":N,"error":"...","offset":K}` for a frame that could not be decoded. */
export function errorRecord(frameNo: number, e: SvDecodeError): RefErrorRecord {
  return { frame: frameNo, error: `${e.code}: ${e.message}`, offset: e.offset };
}
