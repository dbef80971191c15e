/**
 * SV encoder: builds the bytes of an IEC 61850-9-2 frame (Ethernet ± 802.1Q, or Linux cooked SLL v1) from an
 * SvFrame. Minimal BER lengths by default; options force long-form lengths so that real frames with
 * non-minimal encodings re-encode byte for byte. `encodeFrameWithLayout` also returns where each ASDU's
 * smpCnt / refrTm / seqData / svID values sit, so a publisher can patch a template in place per sample.
 */
import { parseMac } from "./mac.js";
import type { Asdu, LinkType, SvFrame } from "./types.js";
import { SV_ETHERTYPE, VLAN_TPID } from "./types.js";
import { writeUtcTime } from "./utc-time.js";

export { utcTimeFromNs, utcTimeToNs, writeUtcTime } from "./utc-time.js";

/** Long-form length octet counts per TLV level (0 or absent = minimal BER: short form below 128). */
export interface LengthOctets {
  /** savPdu (0x60) */
  savPdu?: number;
  /** seqASDU (0xA2) */
  seqASDU?: number;
  /** each ASDU (0x30) */
  asdu?: number;
  /** every primitive field (noASDU, security, svID, ..., gmIdentity) */
  fields?: number;
}

export interface EncodeOptions {
  /** pad with zeros to the Ethernet minimum of 60 bytes (without FCS); default false */
  padTo60?: boolean;
  /** link layer to emit; default "ethernet". "sll" = Linux cooked v1 (16-byte header, source MAC only) */
  linkType?: LinkType;
  /** SLL packet type (0 to us, 2 multicast, 4 outgoing); default 0 */
  sllPacketType?: number;
  /** force long-form BER lengths: n octets after 0x80|n (more if the length needs more) */
  lengthOctets?: LengthOctets;
  /** write this value into the header Length field instead of the real PDU size (for malformed test frames) */
  headerLength?: number;
  /** bytes appended after the PDU (and padding), e.g. an Ethernet FCS or a capture trailer */
  trailer?: Uint8Array;
}

/** Byte offsets (from the start of the frame) of one ASDU's values. */
export interface AsduLayout {
  svID: number;
  smpCnt: number;
  refrTm?: number;
  seqData: number;
}

export interface FrameLayout {
  bytes: Uint8Array;
  /** offset of APPID (the SV header start) */
  appid: number;
  /** offset just past the PDU (APPID + Length); padding/trailer follow */
  pduEnd: number;
  asdus: AsduLayout[];
}

/** Octets a BER length takes (tag excluded). */
function lengthSize(len: number, forced: number | undefined): number {
  const need = len < 0x80 ? 0 : len < 0x100 ? 1 : len < 0x10000 ? 2 : len < 0x1000000 ? 3 : 4;
  const f = forced ?? 0;
  if (f <= 0) return need === 0 ? 1 : 1 + need;
  return 1 + Math.max(f, need);
}

function writeLength(buf: Uint8Array, off: number, len: number, forced: number | undefined): number {
  const size = lengthSize(len, forced);
  if (size === 1) {
    buf[off] = len;
    return off + 1;
  }
  const n = size - 1;
  buf[off] = 0x80 | n;
  for (let i = n; i >= 1; i--) {
    buf[off + i] = len & 0xff;
    len = Math.floor(len / 256);
  }
  return off + size;
}

/** Bytes of a VisibleString (ISO 646 / Latin-1 code units; the caller keeps it ASCII). */
function stringBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

interface AsduPlan {
  asdu: Asdu;
  svID: Uint8Array;
  datSet?: Uint8Array;
  contentLen: number;
}

function tlvSize(contentLen: number, forced: number | undefined): number {
  return 1 + lengthSize(contentLen, forced) + contentLen;
}

function planAsdu(asdu: Asdu, f: number | undefined): AsduPlan {
  const svID = stringBytes(asdu.svID);
  const datSet = asdu.datSet === undefined ? undefined : stringBytes(asdu.datSet);
  let n = tlvSize(svID.length, f);
  if (datSet) n += tlvSize(datSet.length, f);
  n += tlvSize(2, f) + tlvSize(4, f);
  if (asdu.refrTm) n += tlvSize(8, f);
  if (asdu.smpSynch !== undefined) n += tlvSize(1, f);
  if (asdu.smpRate !== undefined) n += tlvSize(2, f);
  n += tlvSize(asdu.seqData.length, f);
  if (asdu.smpMod !== undefined) n += tlvSize(2, f);
  if (asdu.gmIdentity) n += tlvSize(asdu.gmIdentity.length, f);
  return { asdu, svID, datSet, contentLen: n };
}

function writeU16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 8) & 0xff;
  buf[off + 1] = v & 0xff;
}

function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 24) & 0xff;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}

/** Minimal unsigned BER INTEGER content for noASDU (a leading 0 keeps values >= 0x80 positive). */
function noAsduBytes(n: number): Uint8Array {
  const bytes: number[] = [];
  let v = n >>> 0;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0] & 0x80) bytes.unshift(0);
  return Uint8Array.from(bytes);
}

/** Encode a frame and report where the per-sample fields of each ASDU are. */
export function encodeFrameWithLayout(frame: SvFrame, opts: EncodeOptions = {}): FrameLayout {
  const lo = opts.lengthOctets ?? {};
  const f = lo.fields;
  const pdu = frame.pdu;
  const plans = pdu.asdus.map((a) => planAsdu(a, f));
  let seqLen = 0;
  for (const p of plans) seqLen += tlvSize(p.contentLen, lo.asdu);
  const noAsdu = noAsduBytes(pdu.noASDU);
  let savLen = tlvSize(noAsdu.length, f) + tlvSize(seqLen, lo.seqASDU);
  if (pdu.security) savLen += tlvSize(pdu.security.length, f);
  const apduLen = tlvSize(savLen, lo.savPdu);
  const pduLen = 8 + apduLen;

  const linkType = opts.linkType ?? "ethernet";
  const linkLen = (linkType === "sll" ? 16 : 14) + (frame.vlan ? 4 : 0);
  const unpadded = linkLen + pduLen;
  const padded = opts.padTo60 && unpadded < 60 ? 60 : unpadded;
  const trailer = opts.trailer;
  const buf = new Uint8Array(padded + (trailer ? trailer.length : 0));

  let o = 0;
  if (linkType === "sll") {
    writeU16(buf, 0, opts.sllPacketType ?? 0);
    writeU16(buf, 2, 1); // ARPHRD_ETHER
    writeU16(buf, 4, 6);
    buf.set(parseMac(frame.src), 6);
    o = 14;
  } else {
    if (frame.dst === undefined)
      throw new TypeError("encodeFrame: an Ethernet frame needs a destination MAC");
    buf.set(parseMac(frame.dst), 0);
    buf.set(parseMac(frame.src), 6);
    o = 12;
  }
  if (frame.vlan) {
    const v = frame.vlan;
    writeU16(buf, o, VLAN_TPID);
    writeU16(buf, o + 2, ((v.pcp & 7) << 13) | (v.dei ? 0x1000 : 0) | (v.vid & 0xfff));
    o += 4;
  }
  writeU16(buf, o, SV_ETHERTYPE);
  o += 2;
  const appidOff = o;
  writeU16(buf, o, pdu.appid);
  writeU16(buf, o + 2, opts.headerLength ?? pduLen);
  writeU16(buf, o + 4, pdu.reserved1);
  writeU16(buf, o + 6, pdu.reserved2);
  o += 8;

  buf[o++] = 0x60;
  o = writeLength(buf, o, savLen, lo.savPdu);
  buf[o++] = 0x80;
  o = writeLength(buf, o, noAsdu.length, f);
  buf.set(noAsdu, o);
  o += noAsdu.length;
  if (pdu.security) {
    buf[o++] = 0x81;
    o = writeLength(buf, o, pdu.security.length, f);
    buf.set(pdu.security, o);
    o += pdu.security.length;
  }
  buf[o++] = 0xa2;
  o = writeLength(buf, o, seqLen, lo.seqASDU);

  const layouts: AsduLayout[] = [];
  for (const p of plans) {
    const a = p.asdu;
    buf[o++] = 0x30;
    o = writeLength(buf, o, p.contentLen, lo.asdu);
    buf[o++] = 0x80;
    o = writeLength(buf, o, p.svID.length, f);
    const svIDOff = o;
    buf.set(p.svID, o);
    o += p.svID.length;
    if (p.datSet) {
      buf[o++] = 0x81;
      o = writeLength(buf, o, p.datSet.length, f);
      buf.set(p.datSet, o);
      o += p.datSet.length;
    }
    buf[o++] = 0x82;
    o = writeLength(buf, o, 2, f);
    const smpCntOff = o;
    writeU16(buf, o, a.smpCnt);
    o += 2;
    buf[o++] = 0x83;
    o = writeLength(buf, o, 4, f);
    writeU32(buf, o, a.confRev);
    o += 4;
    let refrTmOff: number | undefined;
    if (a.refrTm) {
      buf[o++] = 0x84;
      o = writeLength(buf, o, 8, f);
      refrTmOff = o;
      writeUtcTime(buf, o, a.refrTm);
      o += 8;
    }
    if (a.smpSynch !== undefined) {
      buf[o++] = 0x85;
      o = writeLength(buf, o, 1, f);
      buf[o++] = a.smpSynch & 0xff;
    }
    if (a.smpRate !== undefined) {
      buf[o++] = 0x86;
      o = writeLength(buf, o, 2, f);
      writeU16(buf, o, a.smpRate);
      o += 2;
    }
    buf[o++] = 0x87;
    o = writeLength(buf, o, a.seqData.length, f);
    const seqDataOff = o;
    buf.set(a.seqData, o);
    o += a.seqData.length;
    if (a.smpMod !== undefined) {
      buf[o++] = 0x88;
      o = writeLength(buf, o, 2, f);
      writeU16(buf, o, a.smpMod);
      o += 2;
    }
    if (a.gmIdentity) {
      buf[o++] = 0x89;
      o = writeLength(buf, o, a.gmIdentity.length, f);
      buf.set(a.gmIdentity, o);
      o += a.gmIdentity.length;
    }
    const l: AsduLayout = { svID: svIDOff, smpCnt: smpCntOff, seqData: seqDataOff };
    if (refrTmOff !== undefined) l.refrTm = refrTmOff;
    layouts.push(l);
  }
  if (o !== unpadded) throw new Error(`encodeFrame: internal size mismatch (${o} != ${unpadded})`);
  if (trailer) buf.set(trailer, padded);
  return { bytes: buf, appid: appidOff, pduEnd: unpadded, asdus: layouts };
}

/** Encode a frame (minimal BER unless options say otherwise). */
export function encodeFrame(frame: SvFrame, opts?: EncodeOptions): Uint8Array {
  return encodeFrameWithLayout(frame, opts).bytes;
}

/** Patch smpCnt (2 bytes, big-endian) in an encoded frame at a layout offset. */
export function patchSmpCnt(bytes: Uint8Array, smpCntOffset: number, smpCnt: number): void {
  writeU16(bytes, smpCntOffset, smpCnt);
}
