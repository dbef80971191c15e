/**
 * Open a capture file and iterate its packets: detects classic pcap (µs or ns, either byte order) or pcapng
 * from the first bytes and streams through a fixed-size buffer, so memory does not grow with file size.
 *
 *   for (const pkt of readPackets("x.pcap")) { ... pkt.data is valid until the next iteration ... }
 *
 * Errors (missing, unreadable, empty, not a capture, corrupt) are CaptureErrors: one line, shown by the CLI.
 */
import { ByteSource } from "./byte-source.js";
import { CaptureError } from "./errors.js";
import { PCAP_MAGIC_NS, PCAP_MAGIC_US, readPcapPackets } from "./pcap-reader.js";
import { PCAPNG_SHB, readPcapngPackets } from "./pcapng-reader.js";
import type { CapturedPacket, CaptureFormat, ReadOptions } from "./types.js";

export type { CapturedPacket, CaptureFormat, ReadOptions } from "./types.js";

const DEFAULT_BUFFER = 1 << 20;

/** Which format the first 4 bytes announce, or a CaptureError explaining why it is not a capture. */
export function detectFormat(path: string, head: Uint8Array): CaptureFormat {
  if (head.length === 0)
    throw new CaptureError(path, "the file is empty; it is not a pcap or pcapng capture");
  if (head.length < 4) throw new CaptureError(path, "too short to be a pcap or pcapng capture");
  const v = new DataView(head.buffer, head.byteOffset, 4);
  const be = v.getUint32(0, false);
  const le = v.getUint32(0, true);
  if (be === PCAPNG_SHB) return "pcapng";
  if (be === PCAP_MAGIC_US || le === PCAP_MAGIC_US) return "pcap";
  if (be === PCAP_MAGIC_NS || le === PCAP_MAGIC_NS) return "pcap-ns";
  if (head[0] === 0x1f && head[1] === 0x8b)
    throw new CaptureError(path, "is gzip-compressed; decompress it first (gunzip)");
  if (le === 0xa1b2cd34 || be === 0xa1b2cd34)
    throw new CaptureError(path, "is a 'modified' (Kuznetzov) pcap; convert it with `editcap -F pcap`");
  throw new CaptureError(
    path,
    `not a pcap or pcapng capture (starts with 0x${be.toString(16).padStart(8, "0")}); give a .pcap or .pcapng file`,
  );
}

/**
 * Every packet of a pcap or pcapng file, in file order, as a sync generator. The file is opened and its format
 * checked right away (errors throw here, not at the first iteration); it is closed when the iteration ends,
 * also by `break` or `.return()`. Iterate what you get: an untouched generator keeps the file open.
 * `data` of each packet is a view into a reused buffer: copy it to keep it.
 */
export function readPackets(path: string, opts: ReadOptions = {}): Generator<CapturedPacket> {
  const src = new ByteSource(path, opts.bufferSize ?? DEFAULT_BUFFER);
  let format: CaptureFormat;
  try {
    src.need(4);
    format = detectFormat(path, src.buf.subarray(0, Math.min(4, src.end)));
  } catch (err) {
    src.close();
    throw err;
  }
  // no yield* wrapper: delegation costs ~50 ns per packet; the readers close `src` themselves
  return format === "pcapng" ? readPcapngPackets(src, opts) : readPcapPackets(src, opts);
}

/** The format of a capture file (reads only its first bytes). */
export function captureFormat(path: string): CaptureFormat {
  const src = new ByteSource(path, 4096);
  try {
    src.need(4);
    return detectFormat(path, src.buf.subarray(0, Math.min(4, src.end)));
  } finally {
    src.close();
  }
}
