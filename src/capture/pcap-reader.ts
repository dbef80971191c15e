/**
 * Classic pcap (libpcap) reader: microsecond and nanosecond magics, both byte orders.
 * Streams through a ByteSource; yields packets whose data are views into the source's buffer.
 */
import type { ByteSource } from "./byte-source.js";
import { CaptureError } from "./errors.js";
import { type CapturedPacket, linkTypeName, type ReadOptions } from "./types.js";

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_GLOBAL_HEADER_BYTES = 24;
export const PCAP_RECORD_HEADER_BYTES = 16;

/** Read the 24-byte global header at the start of `src`, then every record; closes `src` at the end. */
export function* readPcapPackets(src: ByteSource, opts: ReadOptions = {}): Generator<CapturedPacket> {
  try {
    if (!src.need(PCAP_GLOBAL_HEADER_BYTES))
      throw new CaptureError(src.path, "truncated pcap global header: not a complete capture file");
    let v = src.view;
    const magicBE = v.getUint32(0, false);
    const magicLE = v.getUint32(0, true);
    const le = magicLE === PCAP_MAGIC_US || magicLE === PCAP_MAGIC_NS;
    const magic = le ? magicLE : magicBE;
    if (magic !== PCAP_MAGIC_US && magic !== PCAP_MAGIC_NS)
      throw new CaptureError(src.path, `not a pcap file (magic 0x${magicBE.toString(16).padStart(8, "0")})`);
    const nano = magic === PCAP_MAGIC_NS;
    const code = v.getUint32(20, le) & 0x03ffffff;
    const linkType = linkTypeName(code);
    if (linkType === "other")
      opts.onWarning?.(`link type ${code} is neither Ethernet (1) nor Linux SLL (113)`);
    src.pos += PCAP_GLOBAL_HEADER_BYTES;

    let index = 0;
    for (;;) {
      if (!src.need(PCAP_RECORD_HEADER_BYTES)) {
        if (src.available > 0)
          opts.onWarning?.(
            `the file ends inside the header of packet ${index + 1}; ignored the last ${src.available} bytes`,
          );
        return;
      }
      v = src.view;
      let p = src.pos;
      const sec = v.getUint32(p, le);
      const frac = v.getUint32(p + 4, le);
      const inclLen = v.getUint32(p + 8, le);
      const origLen = v.getUint32(p + 12, le);
      if (!src.need(PCAP_RECORD_HEADER_BYTES + inclLen)) {
        opts.onWarning?.(
          `the file ends inside packet ${index + 1} (${src.available - PCAP_RECORD_HEADER_BYTES} of ${inclLen} bytes); ignored it`,
        );
        return;
      }
      p = src.pos; // need() may have moved the bytes
      const tsNs = nano
        ? BigInt(sec) * 1_000_000_000n + BigInt(frac)
        : BigInt(sec * 1_000_000 + frac) * 1000n;
      const data = new Uint8Array(src.buf.buffer, src.buf.byteOffset + p + PCAP_RECORD_HEADER_BYTES, inclLen);
      src.pos = p + PCAP_RECORD_HEADER_BYTES + inclLen;
      index++;
      yield { index, linkType, linkTypeCode: code, tsNs, data, origLen, ifIndex: 0 };
    }
  } finally {
    src.close();
  }
}
