/**
 * IEC 61850-9-2 Sampled Values: the decoded shape of one frame.
 *
 * This is the contract every other module builds on (capture, publisher, tracer, reports).
 * Field names follow the standard (and tshark's `sv.*` fields); numbers are unsigned unless noted.
 * See ../../../shared/reference/SV-PROTOCOL.md for offsets and real-world deviations.
 */

export const SV_ETHERTYPE = 0x88ba;
export const VLAN_TPID = 0x8100;

/** Link layers a capture may carry SV on (pcap LINKTYPE_ETHERNET = 1, LINKTYPE_LINUX_SLL = 113). */
export type LinkType = "ethernet" | "sll";

/** IEEE 802.1Q tag as it appears on the wire. VID 0 = priority-tagged only. */
export interface VlanTag {
  /** priority code point, 0..7 */
  pcp: number;
  /** drop eligible indicator */
  dei: boolean;
  /** VLAN id, 0..4095 */
  vid: number;
}

/** UtcTime (8 bytes): seconds since 1970, 24-bit binary fraction of a second, time-quality byte. */
export interface UtcTime {
  seconds: number;
  /** units of 2^-24 s, 0..0xFFFFFF */
  fraction: number;
  /** b7 leapSecondsKnown, b6 clockFailure, b5 clockNotSynchronized, b4..b0 timeAccuracy */
  quality: number;
}

/** One ASDU of seqASDU. Optional fields are `undefined` when absent from the frame. */
export interface Asdu {
  svID: string;
  datSet?: string;
  smpCnt: number;
  confRev: number;
  refrTm?: UtcTime;
  smpSynch?: number;
  smpRate?: number;
  /** the dataset, raw; its layout comes from SCL configuration (9-2LE: 8 x (INT32 value, quality)) */
  seqData: Uint8Array;
  smpMod?: number;
  /** PTP grandmaster clock identity, 8 bytes (Ed 2.1) */
  gmIdentity?: Uint8Array;
}

/** The SV header (APPID .. Reserved2) and the savPdu. */
export interface SvPdu {
  appid: number;
  /** the header Length field: bytes from APPID to the end of the APDU */
  length: number;
  /** Reserved1 raw value; bit 15 is the Simulate bit */
  reserved1: number;
  reserved2: number;
  /** noASDU as carried in the frame (may disagree with asdus.length: that is reported as an error) */
  noASDU: number;
  /** savPdu security field [1] raw content, when present */
  security?: Uint8Array;
  asdus: Asdu[];
}

/** One SV frame. `dst` is undefined for Linux cooked (SLL) captures, which carry only the source. */
export interface SvFrame {
  dst?: string;
  src: string;
  vlan?: VlanTag;
  pdu: SvPdu;
}

/** Convenience: the Simulate bit of Reserved1. */
export function isSimulated(pdu: Pick<SvPdu, "reserved1">): boolean {
  return (pdu.reserved1 & 0x8000) !== 0;
}
