/**
 * Classic pcap writer (nanosecond magic by default, little-endian, like tcpdump --time-stamp-precision=nano).
 * Buffered and synchronous: `write()` copies the packet into a 1 MiB buffer; `close()` flushes.
 */
import type { LinkType } from "../sv/types.js";
import { FileSink } from "./file-sink.js";
import { PCAP_MAGIC_NS, PCAP_MAGIC_US, PCAP_RECORD_HEADER_BYTES } from "./pcap-reader.js";
import { linkTypeCode } from "./types.js";

export interface PcapWriterOptions {
  /** "ethernet" (default), "sll", or a raw LINKTYPE_* number */
  linkType?: LinkType | number;
  /** nanosecond timestamps (magic a1b23c4d); default true. false writes microseconds (a1b2c3d4) */
  nanosecond?: boolean;
  /** snapshot length in the header; default 262144. Longer packets are cut to it (origLen keeps the real size) */
  snaplen?: number;
}

export class PcapWriter {
  readonly nanosecond: boolean;
  readonly snaplen: number;
  packets = 0;
  readonly #sink: FileSink;

  constructor(
    readonly path: string,
    opts: PcapWriterOptions = {},
  ) {
    this.nanosecond = opts.nanosecond ?? true;
    this.snaplen = opts.snaplen ?? 262144;
    const code =
      typeof opts.linkType === "number" ? opts.linkType : linkTypeCode(opts.linkType ?? "ethernet");
    this.#sink = new FileSink(path);
    const s = this.#sink;
    s.reserve(24);
    const v = s.view;
    v.setUint32(0, this.nanosecond ? PCAP_MAGIC_NS : PCAP_MAGIC_US, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true);
    v.setUint32(12, 0, true);
    v.setUint32(16, this.snaplen, true);
    v.setUint32(20, code, true);
    s.pos = 24;
  }

  /** Append one packet with its timestamp in ns since the epoch. origLen defaults to data.length. */
  write(tsNs: bigint, data: Uint8Array, origLen = data.length): void {
    const inclLen = Math.min(data.length, this.snaplen);
    const s = this.#sink;
    s.reserve(PCAP_RECORD_HEADER_BYTES + inclLen);
    const sec = tsNs / 1_000_000_000n;
    const ns = Number(tsNs - sec * 1_000_000_000n);
    const v = s.view;
    const p = s.pos;
    v.setUint32(p, Number(sec), true);
    v.setUint32(p + 4, this.nanosecond ? ns : Math.floor(ns / 1000), true);
    v.setUint32(p + 8, inclLen, true);
    v.setUint32(p + 12, Math.max(origLen, inclLen), true);
    s.buf.set(inclLen === data.length ? data : data.subarray(0, inclLen), p + PCAP_RECORD_HEADER_BYTES);
    s.pos = p + PCAP_RECORD_HEADER_BYTES + inclLen;
    this.packets++;
  }

  /** Flush and close the file (idempotent). */
  close(): void {
    this.#sink.close();
  }
}
