/**
 * What the capture readers yield: one packet with its link type, nanosecond timestamp and bytes.
 * Shared by the pcap and pcapng readers and writers.
 */
import type { LinkType } from "../sv/types.js";

/** pcap / pcapng LINKTYPE_* numbers that SV can ride on. */
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_LINUX_SLL = 113;

/** "ethernet" | "sll" as the SV codec knows them, or "other" for any link type it cannot decode. */
export type CaptureLinkType = LinkType | "other";

export function linkTypeName(code: number): CaptureLinkType {
  if (code === LINKTYPE_ETHERNET) return "ethernet";
  if (code === LINKTYPE_LINUX_SLL) return "sll";
  return "other";
}

export function linkTypeCode(linkType: LinkType): number {
  return linkType === "sll" ? LINKTYPE_LINUX_SLL : LINKTYPE_ETHERNET;
}

export interface CapturedPacket {
  /** 1-based packet number in the file (tshark's frame number) */
  index: number;
  linkType: CaptureLinkType;
  /** the raw LINKTYPE_* number (useful when linkType is "other") */
  linkTypeCode: number;
  /** nanoseconds since the Unix epoch */
  tsNs: bigint;
  /**
   * The captured bytes. This is a VIEW into the reader's reusable buffer: it is valid only until the next
   * packet is requested. Copy it (`data.slice()`) to keep it.
   */
  data: Uint8Array;
  /** length of the packet on the wire (>= data.length when the capture was truncated by a snaplen) */
  origLen: number;
  /** interface number (pcapng interface id; 0 for classic pcap) */
  ifIndex: number;
}

export type CaptureFormat = "pcap" | "pcap-ns" | "pcapng";

export interface ReadOptions {
  /** called for recoverable problems (a truncated last packet, an unknown link type); default: ignored */
  onWarning?: (message: string) => void;
  /** bytes in the fixed read buffer (grown only for a single block larger than it); default 1 MiB */
  bufferSize?: number;
}
