/**
 * SV decoder: one captured frame (Ethernet ± 802.1Q, or Linux cooked SLL v1) -> SvFrame, or "not SV", or
 * typed errors with byte offsets. Never throws. The PDU is bounded by the SV header Length (trailers, FCS and
 * padding are ignored); BER lengths may be short, long or non-minimal; unknown tags are skipped; whatever was
 * decoded before a problem is kept. A PDU cut short (SV Length, savPdu or seqASDU length past the bytes present:
 * snaplen-cut captures, merging units that count wrongly) with complete ASDUs is an "sv" result of those ASDUs
 * whose `errors` say what is wrong (the ASDU cut short is dropped), as tshark also decodes them. Allocation-light: seqData/security/gmIdentity are views into `data`,
 * svID and MAC strings come from small caches, and no closures are created per frame. Two paths give the same
 * result: decodeCommon takes frames of the common layout straight through; the general walk (decodeUnsafe) takes
 * every other frame, and every call that asks for offsets.
 *
 * Callers must know: (1) seqData, security and gmIdentity are VIEWS of `data`; a capture reader that reuses its
 * buffer overwrites them at the next packet, so copy what you keep (`Uint8Array.from(x)`; Buffer#slice does NOT copy). (2) `vlan` objects and the empty
 * `errors` list of a clean decode are shared and frozen: read them, do not modify them.
 * Duplicate elements (a field twice in one ASDU, two noASDU/seqASDU in a savPdu) are "bad-tag" errors.
 */
import { subView } from "./byte-views.js";
import { formatMac } from "./mac.js";
import type { Asdu, LinkType, SvFrame, SvPdu, VlanTag } from "./types.js";
import { SV_ETHERTYPE, VLAN_TPID } from "./types.js";

/** IEEE 802.1ad service tag (outer tag of Q-in-Q) */
const QINQ_TPID = 0x88a8;

import { readUtcTime } from "./utc-time.js";

export type SvDecodeErrorCode =
  /** the frame ends before a header or the PDU ends (header Length larger than the captured bytes), or an ASDU
   * is cut short by the end of a PDU that runs past the bytes present */
  | "truncated"
  /** a BER length is malformed (indefinite, > 4 octets) or runs past its container; or header Length < 8 */
  | "bad-length"
  /** a required tag is not where it must be (savPdu 0x60, ASDU 0x30) */
  | "bad-tag"
  /** a field has an impossible size (smpCnt of 0 or > 4 octets, refrTm not 8 octets, ...) */
  | "bad-value"
  /** a mandatory element is absent (noASDU, seqASDU, svID, smpCnt, confRev, seqData) */
  | "missing-field"
  /** noASDU differs from the number of ASDUs present */
  | "noasdu-mismatch"
  /** a bug in the decoder (caught so that it never throws); the fuzz test asserts this never happens */
  | "internal";

export interface SvDecodeError {
  code: SvDecodeErrorCode;
  message: string;
  /** byte offset in the frame (0 .. data.length) where the problem is */
  offset: number;
}

/** Byte offsets of one ASDU's field values (not tags), as tshark reports them. */
export interface AsduOffsets {
  /** the ASDU's 0x30 tag */
  start: number;
  svID: number;
  datSet?: number;
  smpCnt: number;
  confRev: number;
  refrTm?: number;
  smpSynch?: number;
  smpRate?: number;
  seqData: number;
  smpMod?: number;
  gmIdentity?: number;
}

export interface SvOffsets {
  /** APPID = start of the SV header */
  appid: number;
  /** noASDU value */
  noASDU: number;
  /** security value, when present */
  security?: number;
  /** seqASDU tag */
  seqASDU: number;
  /** offset just past the PDU (APPID + Length, clamped to the captured bytes) */
  pduEnd: number;
  asdus: AsduOffsets[];
}

/** What could be decoded of a frame that has errors. */
export interface PartialSvFrame {
  dst?: string;
  src?: string;
  vlan?: VlanTag;
  pdu?: Partial<Omit<SvPdu, "asdus">> & { asdus: Asdu[] };
}

/**
 * "sv": decoded; `errors` is empty, or says what is wrong with a frame whose ASDUs still decode: a noASDU mismatch,
 * or a PDU cut short ("truncated"/"bad-length" errors whose message says what runs past the end; the frame holds
 * every complete ASDU). "error": nothing usable; `partial` keeps what was decoded before the problem.
 */
export type DecodeResult =
  | { kind: "sv"; frame: SvFrame; errors: readonly SvDecodeError[]; offsets?: SvOffsets }
  | { kind: "not-sv"; etherType: number }
  | { kind: "error"; errors: readonly SvDecodeError[]; partial: PartialSvFrame; offsets?: SvOffsets };

export interface DecodeOptions {
  /** also return the byte offsets of every field (allocates a little more) */
  offsets?: boolean;
}

// ---------------------------------------------------------------------------------------------------
// caches (bounded) for the strings that repeat frame after frame

const MAC_SLOTS = 1024;
const macHi = new Int32Array(MAC_SLOTS).fill(-1);
const macLo = new Int32Array(MAC_SLOTS).fill(-1);
const macStr: string[] = new Array(MAC_SLOTS).fill("");

/** formatMac through a direct-mapped cache keyed by the two 24-bit halves of the address */
function macAt(data: Uint8Array, off: number): string {
  const hi = (data[off] << 16) | (data[off + 1] << 8) | data[off + 2];
  const lo = (data[off + 3] << 16) | (data[off + 4] << 8) | data[off + 5];
  const slot = (lo ^ (lo >>> 10) ^ (hi * 7)) & (MAC_SLOTS - 1);
  if (macHi[slot] === hi && macLo[slot] === lo) return macStr[slot];
  const s = formatMac(data, off);
  macHi[slot] = hi;
  macLo[slot] = lo;
  macStr[slot] = s;
  return s;
}

const STR_SLOTS = 256;
/** longest string the cache holds */
const STR_MAX = 128;
/** the cached strings' bytes, STR_MAX per slot, in one flat array (faster to compare than one array per slot) */
const strBytes = new Uint8Array(STR_SLOTS * STR_MAX);
const strLengths = new Int32Array(STR_SLOTS).fill(-1);
const strValues: string[] = new Array(STR_SLOTS).fill("");

/** Latin-1 string of data[off, off+len) through a direct-mapped cache (svID and datSet repeat). */
function stringAt(data: Uint8Array, off: number, len: number): string {
  if (len === 0) return "";
  if (len > STR_MAX) return latin1(data, off, len);
  // cheap hash over the length and the last 4 bytes (where stream names usually differ); equality is checked below
  const e = off + len - 1;
  let h = len * 31 + data[e];
  if (len > 1) h = h * 31 + data[e - 1];
  if (len > 2) h = h * 31 + data[e - 2];
  if (len > 3) h = h * 31 + data[e - 3];
  const slot = (h ^ (h >>> 8)) & (STR_SLOTS - 1);
  // strBytes[shift + i] is the cached byte for data[i]
  const shift = slot * STR_MAX - off;
  const stop = off + len;
  if (strLengths[slot] === len) {
    let i = off;
    while (i < stop && strBytes[shift + i] === data[i]) i++;
    if (i === stop) return strValues[slot];
  }
  const s = latin1(data, off, len);
  for (let i = off; i < stop; i++) strBytes[shift + i] = data[i];
  strLengths[slot] = len;
  strValues[slot] = s;
  return s;
}

function latin1(data: Uint8Array, off: number, len: number): string {
  let s = "";
  for (let i = 0; i < len; i++) s += String.fromCharCode(data[off + i]);
  return s;
}

// ---------------------------------------------------------------------------------------------------
// BER cursor: module-level out-parameters instead of per-call result objects

/** value start and length of the TLV read by readTlv */
let tlvValue = 0;
let tlvLen = 0;
let tlvTag = 0;

function err(errors: SvDecodeError[], code: SvDecodeErrorCode, offset: number, message: string): void {
  errors.push({ code, message, offset });
}

/**
 * Read tag + length at `pos` inside [pos, end). On success sets tlvTag/tlvValue/tlvLen and returns the end of
 * the TLV's value. A length running past `end` is reported and clamped to `end` (returns -end-1 to signal it,
 * so constructed TLVs can still be walked). Returns -1 on an unrecoverable problem (already reported).
 */
function readTlv(data: Uint8Array, pos: number, end: number, errors: SvDecodeError[], what: string): number {
  if (pos + 1 < end) {
    // fast path: one-byte tag, short-form length, value inside the container
    const t = data[pos];
    const l = data[pos + 1];
    if ((t & 0x1f) !== 0x1f && l < 0x80 && pos + 2 + l <= end) {
      tlvTag = t;
      tlvValue = pos + 2;
      tlvLen = l;
      return pos + 2 + l;
    }
  }
  return readTlvSlow(data, pos, end, errors, what);
}

function readTlvSlow(
  data: Uint8Array,
  pos: number,
  end: number,
  errors: SvDecodeError[],
  what: string,
): number {
  if (pos >= end) {
    err(errors, "truncated", pos, `${what}: no bytes left for the tag`);
    return -1;
  }
  let p = pos;
  let tag = data[p++];
  if ((tag & 0x1f) === 0x1f) {
    // multi-byte tag number (never used by SV; only to skip such TLVs)
    let n = 0;
    while (p < end && data[p] & 0x80 && n < 4) {
      p++;
      n++;
    }
    if (p >= end || n >= 4) {
      err(errors, "bad-tag", pos, `${what}: malformed multi-byte tag`);
      return -1;
    }
    p++;
    tag = 0x100;
  }
  if (p >= end) {
    err(errors, "truncated", p, `${what}: no bytes left for the length`);
    return -1;
  }
  const lenOff = p;
  const first = data[p++];
  let len = first;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0) {
      err(errors, "bad-length", lenOff, `${what}: indefinite BER length is not allowed in SV`);
      return -1;
    }
    if (n > 4) {
      err(errors, "bad-length", lenOff, `${what}: BER length of ${n} octets`);
      return -1;
    }
    if (p + n > end) {
      err(errors, "truncated", lenOff, `${what}: BER length runs past the end of its container`);
      return -1;
    }
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + data[p++];
  }
  tlvTag = tag;
  tlvValue = p;
  tlvLen = len;
  if (p + len > end) {
    err(
      errors,
      "bad-length",
      lenOff,
      `${what}: length ${len} runs ${p + len - end} byte(s) past the end of its container`,
    );
    tlvLen = end - p;
    return -end - 1;
  }
  return p + len;
}

/**
 * A savPdu or seqASDU length ran past its container (readTlv reported it last). Inside a PDU already known to be
 * cut short (`overrun`) that is the same missing bytes: the report is dropped. Otherwise it counts as an overrun,
 * its message naming the TLV and its container. Returns the new count of overrun errors.
 */
function noteOverrun(
  errors: SvDecodeError[],
  overrun: boolean,
  overrunErrors: number,
  what: string,
  container: string,
): number {
  if (overrun) {
    errors.pop();
    return overrunErrors;
  }
  const e = errors[errors.length - 1];
  e.message = e.message.replace(/^[^:]*:/, `${what}:`).replace("its container", container);
  return overrunErrors + 1;
}

/** data[off, off+len) as a view: without reading data.buffer/byteOffset when a capture reader made data */
function view(data: Uint8Array, off: number, len: number): Uint8Array {
  return subView(data, off, len);
}

function readUnsigned(data: Uint8Array, off: number, len: number): number {
  if (len === 2) return (data[off] << 8) | data[off + 1];
  if (len === 1) return data[off];
  if (len === 4)
    return ((data[off] << 24) | (data[off + 1] << 16) | (data[off + 2] << 8) | data[off + 3]) >>> 0;
  let v = 0;
  for (let i = 0; i < len; i++) v = v * 256 + data[off + i];
  return v;
}

const FIELD_NAMES = [
  "svID",
  "datSet",
  "smpCnt",
  "confRev",
  "refrTm",
  "smpSynch",
  "smpRate",
  "seqData",
  "smpMod",
  "gmIdentity",
];

/** Decode one ASDU whose value spans [pos, end). Returns the ASDU or undefined (errors reported). */
function decodeAsdu(
  data: Uint8Array,
  tagOff: number,
  pos: number,
  end: number,
  errors: SvDecodeError[],
  offs: AsduOffsets | undefined,
): Asdu | undefined {
  let svID: string | undefined;
  let datSet: string | undefined;
  let smpCnt = -1;
  let confRev = -1;
  let refrOff = -1;
  let smpSynch = -1;
  let smpRate = -1;
  let seqOff = -1;
  let seqLen = 0;
  let smpMod = -1;
  let gmOff = -1;
  let seen = 0;
  let p = pos;
  while (p < end) {
    const tagPos = p;
    const next = readTlv(data, p, end, errors, "ASDU field");
    if (next < 0) return undefined;
    const v = tlvValue;
    const n = tlvLen;
    const tag = tlvTag;
    if (tag >= 0x80 && tag <= 0x89) {
      const bit = 1 << (tag - 0x80);
      if (seen & bit) {
        err(errors, "bad-tag", tagPos, `${FIELD_NAMES[tag - 0x80]} appears twice in one ASDU`);
        return undefined;
      }
      seen |= bit;
      switch (tag) {
        case 0x80:
          svID = stringAt(data, v, n);
          if (offs) offs.svID = v;
          break;
        case 0x81:
          datSet = stringAt(data, v, n);
          if (offs) offs.datSet = v;
          break;
        case 0x87:
          seqOff = v;
          seqLen = n;
          if (offs) offs.seqData = v;
          break;
        case 0x84:
          if (n !== 8) {
            err(errors, "bad-value", tagPos, `refrTm must be 8 bytes, found ${n}`);
            return undefined;
          }
          refrOff = v;
          if (offs) offs.refrTm = v;
          break;
        case 0x89:
          if (n !== 8) {
            err(errors, "bad-value", tagPos, `gmIdentity must be 8 bytes, found ${n}`);
            return undefined;
          }
          gmOff = v;
          if (offs) offs.gmIdentity = v;
          break;
        default: {
          if (n < 1 || n > 4) {
            err(errors, "bad-value", tagPos, `${FIELD_NAMES[tag - 0x80]} must be 1..4 bytes, found ${n}`);
            return undefined;
          }
          const x = readUnsigned(data, v, n);
          if (tag === 0x82) {
            smpCnt = x;
            if (offs) offs.smpCnt = v;
          } else if (tag === 0x83) {
            confRev = x;
            if (offs) offs.confRev = v;
          } else if (tag === 0x85) {
            smpSynch = x;
            if (offs) offs.smpSynch = v;
          } else if (tag === 0x86) {
            smpRate = x;
            if (offs) offs.smpRate = v;
          } else {
            smpMod = x;
            if (offs) offs.smpMod = v;
          }
        }
      }
    }
    // any other tag: skipped
    p = next;
  }
  if (svID === undefined || smpCnt < 0 || confRev < 0 || seqOff < 0) {
    const missing = [
      svID === undefined ? "svID" : "",
      smpCnt < 0 ? "smpCnt" : "",
      confRev < 0 ? "confRev" : "",
      seqOff < 0 ? "seqData" : "",
    ]
      .filter((s) => s)
      .join(", ");
    err(errors, "missing-field", tagOff, `ASDU lacks ${missing}`);
    return undefined;
  }
  return makeAsdu(
    data,
    svID,
    datSet,
    smpCnt,
    confRev,
    refrOff,
    smpSynch,
    smpRate,
    seqOff,
    seqLen,
    smpMod,
    gmOff,
  );
}

/** The Asdu object from its decoded fields (-1: absent), built the same way by both decoding paths. */
function makeAsdu(
  data: Uint8Array,
  svID: string,
  datSet: string | undefined,
  smpCnt: number,
  confRev: number,
  refrOff: number,
  smpSynch: number,
  smpRate: number,
  seqOff: number,
  seqLen: number,
  smpMod: number,
  gmOff: number,
): Asdu {
  const seqData = view(data, seqOff, seqLen);
  // the common shapes as one literal each (no hidden-class transitions); other fields are added below
  const a: Asdu =
    smpSynch >= 0 ? { svID, smpCnt, confRev, smpSynch, seqData } : { svID, smpCnt, confRev, seqData };
  if (datSet !== undefined) a.datSet = datSet;
  if (refrOff >= 0) a.refrTm = readUtcTime(data, refrOff);
  if (smpRate >= 0) a.smpRate = smpRate;
  if (smpMod >= 0) a.smpMod = smpMod;
  if (gmOff >= 0) a.gmIdentity = view(data, gmOff, 8);
  return a;
}

// ---------------------------------------------------------------------------------------------------
// fast path: the common well-formed frame, straight through in one function. V8 compiles it far better than the
// general walk (decodeUnsafe: any order, unknown tags, any BER length, problems reported): ~100 ns less per frame.

/** the BER length read last by decodeCommon (short form inline, long forms by fastLongLength) */
let fastLen = 0;

/** BER length at data[p] (p < end) in 0x81/0x82 long form: sets fastLen, returns the octets it takes, or 0 */
function fastLongLength(data: Uint8Array, p: number, end: number): number {
  const l = data[p];
  if (l === 0x81 && p + 1 < end) {
    fastLen = data[p + 1];
    return 2;
  }
  if (l === 0x82 && p + 2 < end) {
    fastLen = (data[p + 1] << 8) | data[p + 2];
    return 3;
  }
  return 0;
}

/** Big-endian unsigned of n (1..4) bytes: readUnsigned's value, in fewer bytecodes. */
function beUint(data: Uint8Array, v: number, n: number): number {
  let x = data[v];
  for (let i = 1; i < n; i++) x = x * 256 + data[v + i];
  return x;
}

/**
 * decodeFrame's result for a frame of the common layout, or undefined for any other frame (which decodeUnsafe then
 * decodes, and reports what is unusual or wrong). The common layout: Ethernet or SLL with at most one 802.1Q tag;
 * SV Length within the captured bytes; a savPdu that fills the PDU and holds noASDU, optionally security, then
 * seqASDU, which holds only ASDUs; constructed TLVs with short or 0x81/0x82 lengths that fill their containers; in
 * each ASDU the fields in the standard's tag order (none twice, no unknown tags), svID, smpCnt, confRev and seqData
 * present, each a one-byte tag with a short-form length, sizes valid (1..4 bytes for numbers, 8 for refrTm and
 * gmIdentity); noASDU equal to the ASDUs present. For such a frame decodeUnsafe finds no problem and builds the
 * same objects (makeAsdu, svResult). Reports nothing. Exported for the test that holds it to the general walk;
 * callers use decodeFrame.
 */
export function decodeCommon(data: Uint8Array, linkType: LinkType): DecodeResult | undefined {
  const len = data.length;
  let off = linkType === "sll" ? 16 : 14;
  if (len < off) return undefined;
  let etherType = (data[off - 2] << 8) | data[off - 1];
  let vlan: VlanTag | undefined;
  if (etherType === VLAN_TPID) {
    if (len < off + 4) return undefined;
    vlan = vlanOf((data[off] << 8) | data[off + 1]);
    etherType = (data[off + 2] << 8) | data[off + 3];
    off += 4;
  }
  if (etherType !== SV_ETHERTYPE || len < off + 8) return undefined;
  const appid = (data[off] << 8) | data[off + 1];
  const length = (data[off + 2] << 8) | data[off + 3];
  const reserved1 = (data[off + 4] << 8) | data[off + 5];
  const reserved2 = (data[off + 6] << 8) | data[off + 7];
  const end = off + length;
  if (length < 8 || end > len) return undefined;
  let p = off + 8;
  // savPdu, filling the PDU
  if (p + 1 >= end || data[p] !== 0x60) return undefined;
  let l = data[p + 1];
  let h = 1;
  if (l >= 0x80) {
    h = fastLongLength(data, p + 1, end);
    l = fastLen;
  }
  if (h === 0 || p + 1 + h + l !== end) return undefined;
  p += 1 + h;
  // noASDU
  if (p + 2 > end || data[p] !== 0x80) return undefined;
  let n = data[p + 1];
  if (n < 1 || n > 4 || p + 2 + n > end) return undefined;
  const noASDU = n === 1 ? data[p + 2] : n === 2 ? (data[p + 2] << 8) | data[p + 3] : beUint(data, p + 2, n);
  p += 2 + n;
  // security (optional)
  let security: Uint8Array | undefined;
  if (p + 1 < end && data[p] === 0x81) {
    l = data[p + 1];
    h = 1;
    if (l >= 0x80) {
      h = fastLongLength(data, p + 1, end);
      l = fastLen;
    }
    if (h === 0 || p + 1 + h + l > end) return undefined;
    security = view(data, p + 1 + h, l);
    p += 1 + h + l;
  }
  // seqASDU, the last element
  if (p + 1 >= end || data[p] !== 0xa2) return undefined;
  l = data[p + 1];
  h = 1;
  if (l >= 0x80) {
    h = fastLongLength(data, p + 1, end);
    l = fastLen;
  }
  if (h === 0 || p + 1 + h + l !== end) return undefined;
  p += 1 + h;
  let asdus: Asdu[] | undefined;
  while (p < end) {
    if (p + 1 >= end || data[p] !== 0x30) return undefined;
    l = data[p + 1];
    h = 1;
    if (l >= 0x80) {
      h = fastLongLength(data, p + 1, end);
      l = fastLen;
    }
    if (h === 0) return undefined;
    p += 1 + h;
    const e = p + l;
    if (e > end) return undefined;
    // svID
    if (p + 2 > e || data[p] !== 0x80) return undefined;
    n = data[p + 1];
    if (n >= 0x80 || p + 2 + n > e) return undefined;
    const svID = stringAt(data, p + 2, n);
    p += 2 + n;
    let datSet: string | undefined;
    if (p + 2 <= e && data[p] === 0x81) {
      n = data[p + 1];
      if (n >= 0x80 || p + 2 + n > e) return undefined;
      datSet = stringAt(data, p + 2, n);
      p += 2 + n;
    }
    // smpCnt, confRev
    if (p + 2 > e || data[p] !== 0x82) return undefined;
    n = data[p + 1];
    if (n < 1 || n > 4 || p + 2 + n > e) return undefined;
    const smpCnt =
      n === 1 ? data[p + 2] : n === 2 ? (data[p + 2] << 8) | data[p + 3] : beUint(data, p + 2, n);
    p += 2 + n;
    if (p + 2 > e || data[p] !== 0x83) return undefined;
    n = data[p + 1];
    if (n < 1 || n > 4 || p + 2 + n > e) return undefined;
    const confRev =
      n === 1 ? data[p + 2] : n === 2 ? (data[p + 2] << 8) | data[p + 3] : beUint(data, p + 2, n);
    p += 2 + n;
    let refrOff = -1;
    if (p + 2 <= e && data[p] === 0x84) {
      if (data[p + 1] !== 8 || p + 10 > e) return undefined;
      refrOff = p + 2;
      p += 10;
    }
    let smpSynch = -1;
    if (p + 2 <= e && data[p] === 0x85) {
      n = data[p + 1];
      if (n < 1 || n > 4 || p + 2 + n > e) return undefined;
      smpSynch = n === 1 ? data[p + 2] : n === 2 ? (data[p + 2] << 8) | data[p + 3] : beUint(data, p + 2, n);
      p += 2 + n;
    }
    let smpRate = -1;
    if (p + 2 <= e && data[p] === 0x86) {
      n = data[p + 1];
      if (n < 1 || n > 4 || p + 2 + n > e) return undefined;
      smpRate = n === 1 ? data[p + 2] : n === 2 ? (data[p + 2] << 8) | data[p + 3] : beUint(data, p + 2, n);
      p += 2 + n;
    }
    // seqData
    if (p + 2 > e || data[p] !== 0x87) return undefined;
    const seqLen = data[p + 1];
    if (seqLen >= 0x80 || p + 2 + seqLen > e) return undefined;
    const seqOff = p + 2;
    p += 2 + seqLen;
    let smpMod = -1;
    if (p + 2 <= e && data[p] === 0x88) {
      n = data[p + 1];
      if (n < 1 || n > 4 || p + 2 + n > e) return undefined;
      smpMod = n === 1 ? data[p + 2] : n === 2 ? (data[p + 2] << 8) | data[p + 3] : beUint(data, p + 2, n);
      p += 2 + n;
    }
    let gmOff = -1;
    if (p + 2 <= e && data[p] === 0x89) {
      if (data[p + 1] !== 8 || p + 10 > e) return undefined;
      gmOff = p + 2;
      p += 10;
    }
    if (p !== e) return undefined;
    // makeAsdu's result, its two plain shapes written out here (V8 then builds them in place)
    const a: Asdu =
      datSet === undefined && refrOff < 0 && smpRate < 0 && smpMod < 0 && gmOff < 0
        ? smpSynch >= 0
          ? { svID, smpCnt, confRev, smpSynch, seqData: view(data, seqOff, seqLen) }
          : { svID, smpCnt, confRev, seqData: view(data, seqOff, seqLen) }
        : makeAsdu(
            data,
            svID,
            datSet,
            smpCnt,
            confRev,
            refrOff,
            smpSynch,
            smpRate,
            seqOff,
            seqLen,
            smpMod,
            gmOff,
          );
    if (asdus === undefined) asdus = [a];
    else asdus.push(a);
  }
  if (asdus === undefined || asdus.length !== noASDU) return undefined;
  const dst = linkType === "sll" ? undefined : macAt(data, 0);
  // svResult's objects, written out here (faster); no errors: decodeFrame calls this with none pending
  const src = macAt(data, 6);
  const pdu: SvPdu = { appid, length, reserved1, reserved2, noASDU, asdus };
  if (security) pdu.security = security;
  const frame: SvFrame =
    dst === undefined
      ? vlan
        ? { src, vlan, pdu }
        : { src, pdu }
      : vlan
        ? { dst, src, vlan, pdu }
        : { dst, src, pdu };
  return { kind: "sv", frame, errors: NO_ERRORS };
}

/** Decode one captured frame. Never throws. */
export function decodeFrame(data: Uint8Array, linkType: LinkType, opts?: DecodeOptions): DecodeResult {
  try {
    const wantOffsets = opts?.offsets === true;
    // decodeCommon reports nothing: it runs only with no errors pending (always so between decodes)
    if (!wantOffsets && scratchErrors.length === 0) {
      const common = decodeCommon(data, linkType);
      if (common !== undefined) return common;
    }
    return decodeUnsafe(data, linkType, wantOffsets);
  } catch (e) {
    // defensive: a bug must not escape as an exception
    scratchErrors.length = 0;
    const errors: SvDecodeError[] = [
      { code: "internal", message: `internal decoder error: ${(e as Error).message}`, offset: 0 },
    ];
    return { kind: "error", errors, partial: {} };
  }
}

/** errors of the frame being decoded (decodeFrame is synchronous, so one scratch list serves every call) */
const scratchErrors: SvDecodeError[] = [];
/** the `errors` of every clean decode: one shared, frozen, empty list (no allocation per frame) */
const NO_ERRORS: SvDecodeError[] = Object.freeze([]) as unknown as SvDecodeError[];

function takeErrors(): SvDecodeError[] {
  return scratchErrors.length === 0 ? NO_ERRORS : scratchErrors.splice(0);
}

/** 802.1Q tags are few: one frozen VlanTag per TCI value, made on first use */
const vlanCache: (VlanTag | undefined)[] = new Array(0x10000);

function vlanOf(tci: number): VlanTag {
  let v = vlanCache[tci];
  if (v === undefined) {
    v = Object.freeze({ pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0xfff });
    vlanCache[tci] = v;
  }
  return v;
}

function errorResult(
  src: string | undefined,
  dst: string | undefined,
  vlan: VlanTag | undefined,
  pdu: PartialSvFrame["pdu"],
  offsets: SvOffsets | undefined,
): DecodeResult {
  const partial: PartialSvFrame = {};
  if (dst !== undefined) partial.dst = dst;
  if (src !== undefined) partial.src = src;
  if (vlan) partial.vlan = vlan;
  if (pdu) partial.pdu = pdu;
  return offsets
    ? { kind: "error", errors: takeErrors(), partial, offsets }
    : { kind: "error", errors: takeErrors(), partial };
}

function decodeUnsafe(data: Uint8Array, linkType: LinkType, wantOffsets: boolean): DecodeResult {
  const len = data.length;
  const errors = scratchErrors;
  if (errors.length !== 0) errors.length = 0;
  let off: number;
  let etherType: number;
  if (linkType === "sll") {
    if (len < 16) {
      err(errors, "truncated", 0, `frame of ${len} bytes is shorter than the 16-byte Linux cooked header`);
      return errorResult(undefined, undefined, undefined, undefined, undefined);
    }
    etherType = (data[14] << 8) | data[15];
    off = 16;
  } else {
    if (len < 14) {
      err(errors, "truncated", 0, `frame of ${len} bytes is shorter than the 14-byte Ethernet header`);
      return errorResult(undefined, undefined, undefined, undefined, undefined);
    }
    etherType = (data[12] << 8) | data[13];
    off = 14;
  }
  let vlan: VlanTag | undefined;
  // one 802.1Q tag, or two (Q-in-Q, outer TPID 0x88a8 or 0x8100): `vlan` is the outer tag, as tshark's first
  // vlan layer
  for (
    let tags = 0;
    tags < 2 && (etherType === VLAN_TPID || (tags === 0 && etherType === QINQ_TPID));
    tags++
  ) {
    if (len < off + 4) {
      err(errors, "truncated", off, "frame ends inside the 802.1Q tag");
      return errorResult(undefined, undefined, undefined, undefined, undefined);
    }
    if (tags === 0) vlan = vlanOf((data[off] << 8) | data[off + 1]);
    etherType = (data[off + 2] << 8) | data[off + 3];
    off += 4;
  }
  if (etherType !== SV_ETHERTYPE) return { kind: "not-sv", etherType };
  const dst = linkType === "sll" ? undefined : macAt(data, 0);
  const src = macAt(data, 6);

  // SV header
  if (len < off + 8) {
    err(
      errors,
      "truncated",
      Math.min(off, len),
      `frame ends inside the 8-byte SV header (${len - off} bytes)`,
    );
    return errorResult(src, dst, vlan, undefined, undefined);
  }
  const appidOff = off;
  const appid = (data[off] << 8) | data[off + 1];
  const length = (data[off + 2] << 8) | data[off + 3];
  const reserved1 = (data[off + 4] << 8) | data[off + 5];
  const reserved2 = (data[off + 6] << 8) | data[off + 7];
  // made at the first ASDU as `[a]`: an array grown by push() from [] carries a 17-slot backing store (136 bytes)
  let asdus: Asdu[] | undefined;
  if (length < 8) {
    err(errors, "bad-length", off + 2, `SV Length ${length} is below the 8-byte header`);
    return errorResult(src, dst, vlan, { appid, length, reserved1, reserved2, asdus: [] }, undefined);
  }
  let end = off + length;
  // the PDU runs past the bytes present: SV Length past the capture (snaplen cut, or a Length counted wrong), or
  // below, a savPdu/seqASDU length past its container. Then the ASDUs that are complete are kept (an "sv" result
  // whose errors say what is wrong), the one cut short is dropped, and later overruns of the same end are not
  // reported again.
  let overrun = false;
  if (end > len) {
    err(
      errors,
      "truncated",
      off + 2,
      `SV Length ${length} runs ${end - len} byte(s) past the end of the captured frame`,
    );
    end = len;
    overrun = true;
  }
  /** errors that only say the PDU is cut short (see `overrun`); any other error keeps the frame an error */
  let overrunErrors = errors.length;
  const offsets: SvOffsets | undefined = wantOffsets
    ? { appid: appidOff, noASDU: -1, seqASDU: -1, pduEnd: end, asdus: [] }
    : undefined;

  // savPdu
  let p = off + 8;
  if (p >= end) {
    err(errors, "truncated", p, "no savPdu after the SV header");
    return errorResult(src, dst, vlan, { appid, length, reserved1, reserved2, asdus: [] }, offsets);
  }
  if (data[p] !== 0x60) {
    err(errors, "bad-tag", p, `expected savPdu tag 0x60, found 0x${data[p].toString(16).padStart(2, "0")}`);
    return errorResult(src, dst, vlan, { appid, length, reserved1, reserved2, asdus: [] }, offsets);
  }
  let savEnd = readTlv(data, p, end, errors, "savPdu");
  if (savEnd === -1)
    return errorResult(src, dst, vlan, { appid, length, reserved1, reserved2, asdus: [] }, offsets);
  if (savEnd < 0) {
    savEnd = -savEnd - 1;
    overrunErrors = noteOverrun(errors, overrun, overrunErrors, "savPdu", `the PDU (SV Length ${length})`);
    overrun = true;
  }
  p = tlvValue;

  let noASDU = -1;
  let noAsduOff = off + 8;
  let security: Uint8Array | undefined;
  let seqFound = false;
  let savSeen = 0;
  let fatal = false;
  /** an ASDU was cut short by the end of the PDU (overrun): the ones before it are kept */
  let asduCut = false;
  while (p < savEnd && !fatal) {
    const tagPos = p;
    let next = readTlv(data, p, savEnd, errors, "savPdu element");
    if (next === -1) {
      fatal = true;
      break;
    }
    const clamped = next < 0;
    if (clamped) next = -next - 1;
    const tag = tlvTag;
    const v = tlvValue;
    const n = tlvLen;
    if (tag === 0x80 || tag === 0x81 || tag === 0xa2) {
      const bit = tag === 0x80 ? 1 : tag === 0x81 ? 2 : 4;
      if (savSeen & bit) {
        err(
          errors,
          "bad-tag",
          tagPos,
          `${tag === 0x80 ? "noASDU" : tag === 0x81 ? "security" : "seqASDU"} appears twice in the savPdu`,
        );
        fatal = true;
        break;
      }
      savSeen |= bit;
    }
    if (tag === 0x80) {
      if (clamped) {
        fatal = true;
        break;
      }
      if (n < 1 || n > 4) {
        err(errors, "bad-value", tagPos, `noASDU must be 1..4 bytes, found ${n}`);
        fatal = true;
        break;
      }
      noASDU = readUnsigned(data, v, n);
      noAsduOff = v;
      if (offsets) offsets.noASDU = v;
    } else if (tag === 0x81) {
      if (clamped) {
        fatal = true;
        break;
      }
      security = view(data, v, n);
      if (offsets) offsets.security = v;
    } else if (tag === 0xa2) {
      seqFound = true;
      if (offsets) offsets.seqASDU = tagPos;
      if (clamped) {
        overrunErrors = noteOverrun(errors, overrun, overrunErrors, "seqASDU", "the savPdu");
        overrun = true;
      }
      const seqEnd = v + n;
      let q = v;
      while (q < seqEnd) {
        const asduPos = q;
        if (data[q] !== 0x30) {
          err(
            errors,
            "bad-tag",
            q,
            `expected ASDU tag 0x30, found 0x${data[q].toString(16).padStart(2, "0")}`,
          );
          fatal = true;
          break;
        }
        const before = errors.length;
        let asduEnd = readTlv(data, q, seqEnd, errors, "ASDU");
        if (clamped && (asduEnd < -1 || (asduEnd === -1 && errors[before].code === "truncated"))) {
          // the seqASDU runs past the bytes present, and this ASDU with it: report it once, keep the complete
          // ones before it (an ASDU running past a seqASDU that fits is a broken ASDU, as any other)
          errors.length = before;
          const k = asdus === undefined ? 0 : asdus.length;
          err(
            errors,
            "truncated",
            asduPos,
            `ASDU ${k + 1}${noASDU >= 0 ? ` of ${noASDU}` : ""} runs past the end of the PDU at offset ${seqEnd}${k > 0 ? `; the ${k} complete ASDU(s) before it are kept` : ""}`,
          );
          overrunErrors++;
          asduCut = true;
          fatal = true;
          break;
        }
        if (asduEnd === -1) {
          fatal = true;
          break;
        }
        const asduClamped = asduEnd < 0;
        if (asduClamped) asduEnd = -asduEnd - 1;
        const ao: AsduOffsets | undefined = offsets
          ? { start: asduPos, svID: -1, smpCnt: -1, confRev: -1, seqData: -1 }
          : undefined;
        const a = decodeAsdu(data, asduPos, tlvValue, asduEnd, errors, ao);
        if (a === undefined || asduClamped) {
          // a broken ASDU (or one cut short): keep the ones before it
          fatal = true;
          break;
        }
        if (asdus === undefined) asdus = [a];
        else asdus.push(a);
        if (offsets && ao) offsets.asdus.push(ao);
        q = asduEnd;
      }
      if (clamped) fatal = true;
    }
    // unknown savPdu elements are skipped
    p = next;
  }
  if (!fatal) {
    if (noASDU < 0) err(errors, "missing-field", off + 8, "savPdu lacks noASDU");
    if (!seqFound) err(errors, "missing-field", off + 8, "savPdu lacks seqASDU");
  }
  // a PDU cut short after complete ASDUs (and nothing else wrong): decoded, with the errors saying so
  const cutShort = errors.length > 0 && errors.length === overrunErrors && asdus !== undefined && noASDU >= 0;
  if (errors.length > 0 && !cutShort) {
    const pp: NonNullable<PartialSvFrame["pdu"]> = {
      appid,
      length,
      reserved1,
      reserved2,
      asdus: asdus ?? [],
    };
    if (noASDU >= 0) pp.noASDU = noASDU;
    if (security) pp.security = security;
    return errorResult(src, dst, vlan, pp, offsets);
  }
  if (asdus === undefined) asdus = [];
  if (noASDU !== asdus.length && !asduCut) {
    err(
      errors,
      "noasdu-mismatch",
      noAsduOff,
      `noASDU is ${noASDU} but seqASDU holds ${asdus.length} ASDU(s)`,
    );
  }
  return svResult(src, dst, vlan, appid, length, reserved1, reserved2, noASDU, asdus, security, offsets);
}

/** The "sv" result of a decoded frame (with the errors reported so far, e.g. a noASDU mismatch). */
function svResult(
  src: string,
  dst: string | undefined,
  vlan: VlanTag | undefined,
  appid: number,
  length: number,
  reserved1: number,
  reserved2: number,
  noASDU: number,
  asdus: Asdu[],
  security: Uint8Array | undefined,
  offsets: SvOffsets | undefined,
): DecodeResult {
  const pdu: SvPdu = { appid, length, reserved1, reserved2, noASDU, asdus };
  if (security) pdu.security = security;
  const frame: SvFrame =
    dst === undefined
      ? vlan
        ? { src, vlan, pdu }
        : { src, pdu }
      : vlan
        ? { dst, src, vlan, pdu }
        : { dst, src, pdu };
  return offsets
    ? { kind: "sv", frame, errors: takeErrors(), offsets }
    : { kind: "sv", frame, errors: takeErrors() };
}

/** The few fields a hot loop needs to key and order samples: from the first ASDU of a frame. */
export interface SvKey {
  appid: number;
  /** VLAN id, or -1 when untagged */
  vid: number;
  noASDU: number;
  svID: string;
  smpCnt: number;
}

/**
 * Fast path: APPID, VLAN id, noASDU, and the first ASDU's svID and smpCnt, without building the frame.
 * Returns undefined for a non-SV frame or one decodeFrame would report as broken before those fields
 * (use decodeFrame to learn why). Like decodeFrame, it reads a PDU cut short (SV Length, savPdu or seqASDU
 * running past the bytes present) as far as the first ASDU is complete. Never throws.
 */
export function peekSvKey(data: Uint8Array, linkType: LinkType): SvKey | undefined {
  const errors = scratchErrors;
  try {
    const len = data.length;
    let off = linkType === "sll" ? 16 : 14;
    if (len < off) return undefined;
    let etherType = (data[off - 2] << 8) | data[off - 1];
    let vid = -1;
    for (
      let tags = 0;
      tags < 2 && (etherType === VLAN_TPID || (tags === 0 && etherType === QINQ_TPID));
      tags++
    ) {
      if (len < off + 4) return undefined;
      if (tags === 0) vid = ((data[off] << 8) | data[off + 1]) & 0xfff;
      etherType = (data[off + 2] << 8) | data[off + 3];
      off += 4;
    }
    if (etherType !== SV_ETHERTYPE || len < off + 8) return undefined;
    const appid = (data[off] << 8) | data[off + 1];
    const length = (data[off + 2] << 8) | data[off + 3];
    const end = Math.min(off + length, len);
    if (length < 8 || off + 8 >= end || data[off + 8] !== 0x60) return undefined;
    let savEnd = readTlv(data, off + 8, end, errors, "savPdu");
    if (savEnd === -1) return undefined;
    if (savEnd < 0) savEnd = -savEnd - 1;
    let p = tlvValue;
    let noASDU = -1;
    let seqStart = -1;
    let seqEnd = -1;
    while (p < savEnd) {
      const next = readTlv(data, p, savEnd, errors, "savPdu element");
      const t: number = tlvTag;
      if (next < 0) {
        // only a seqASDU may run past the end (decodeFrame keeps its complete ASDUs)
        if (next === -1 || t !== 0xa2) return undefined;
        seqStart = tlvValue;
        seqEnd = -next - 1;
        break;
      }
      if (t === 0x80 && tlvLen >= 1 && tlvLen <= 4) noASDU = readUnsigned(data, tlvValue, tlvLen);
      else if (t === 0xa2) {
        seqStart = tlvValue;
        seqEnd = next;
      }
      p = next;
    }
    if (noASDU < 0 || seqStart < 0 || seqStart >= seqEnd || data[seqStart] !== 0x30) return undefined;
    const asduEnd = readTlv(data, seqStart, seqEnd, errors, "ASDU");
    if (asduEnd < 0) return undefined;
    let r = tlvValue;
    let svID: string | undefined;
    let smpCnt = -1;
    while (r < asduEnd) {
      const fieldEnd = readTlv(data, r, asduEnd, errors, "ASDU field");
      if (fieldEnd < 0) return undefined;
      const ft: number = tlvTag;
      if (ft === 0x80 && svID === undefined) svID = stringAt(data, tlvValue, tlvLen);
      else if (ft === 0x82 && smpCnt < 0) {
        if (tlvLen < 1 || tlvLen > 4) return undefined;
        smpCnt = readUnsigned(data, tlvValue, tlvLen);
      }
      if (svID !== undefined && smpCnt >= 0) return { appid, vid, noASDU, svID, smpCnt };
      r = fieldEnd;
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    if (errors.length !== 0) errors.length = 0;
  }
}
