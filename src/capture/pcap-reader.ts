/**
 * Classic pcap (libpcap) reader: microsecond and nanosecond magics, both byte orders.
 * Streams through a ByteSource; yields packets whose data are views into the source's buffer.
 *
 * The iterator is a small class rather than a generator function: resuming a generator costs ~15 ns per packet,
 * and a class's next() inlines into the caller's for-of loop. It behaves as the generator did: the global header
 * is read at the first next(), errors are thrown from next(), and the source is closed when the iteration ends
 * (end of file, an error, `break`/`return()` or `throw()`).
 */
import type { ByteSource } from "./byte-source.js";
import { CaptureError } from "./errors.js";
import { type CapturedPacket, type CaptureLinkType, linkTypeName, type ReadOptions } from "./types.js";

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_GLOBAL_HEADER_BYTES = 24;
export const PCAP_RECORD_HEADER_BYTES = 16;

/** Read the 24-byte global header at the start of `src`, then every record; closes `src` at the end. */
export function readPcapPackets(src: ByteSource, opts: ReadOptions = {}): Generator<CapturedPacket> {
  return new PcapPacketIterator(src, opts);
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

const NOT_STARTED = 0;
const READING = 1;
const FINISHED = 2;

class PcapPacketIterator implements Generator<CapturedPacket> {
  private state = NOT_STARTED;
  private le = true;
  private nano = false;
  private linkType: CaptureLinkType = "other";
  private linkTypeCode = 0;
  private index = 0;
  /** the seconds change once per second of capture: their BigInt is made once, then only the fraction's */
  private lastSec = -1;
  private lastSecNs = 0n;

  constructor(
    private readonly src: ByteSource,
    private readonly opts: ReadOptions,
  ) {}

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<CapturedPacket> {
    let packet: CapturedPacket | undefined;
    if (this.state !== FINISHED) {
      try {
        if (this.state === NOT_STARTED) {
          this.state = READING;
          this.readGlobalHeader();
        }
        packet = this.readRecord();
      } catch (err) {
        this.finish();
        throw err;
      }
      if (packet === undefined) this.finish();
    }
    // one result literal for every path: inlined into the caller's for-of, V8 then need not allocate it
    return { value: packet, done: packet === undefined } as IteratorResult<CapturedPacket>;
  }

  return(): IteratorResult<CapturedPacket> {
    this.finish();
    return DONE;
  }

  throw(err: unknown): IteratorResult<CapturedPacket> {
    this.finish();
    throw err;
  }

  private finish(): void {
    this.state = FINISHED;
    this.src.close();
  }

  private readGlobalHeader(): void {
    const src = this.src;
    if (!src.need(PCAP_GLOBAL_HEADER_BYTES))
      throw new CaptureError(src.path, "truncated pcap global header: not a complete capture file");
    const v = src.view;
    const magicBE = v.getUint32(0, false);
    const magicLE = v.getUint32(0, true);
    const le = magicLE === PCAP_MAGIC_US || magicLE === PCAP_MAGIC_NS;
    const magic = le ? magicLE : magicBE;
    if (magic !== PCAP_MAGIC_US && magic !== PCAP_MAGIC_NS)
      throw new CaptureError(src.path, `not a pcap file (magic 0x${magicBE.toString(16).padStart(8, "0")})`);
    this.le = le;
    this.nano = magic === PCAP_MAGIC_NS;
    const code = v.getUint32(20, le) & 0x03ffffff;
    this.linkTypeCode = code;
    this.linkType = linkTypeName(code);
    if (this.linkType === "other")
      this.opts.onWarning?.(`link type ${code} is neither Ethernet (1) nor Linux SLL (113)`);
    src.pos += PCAP_GLOBAL_HEADER_BYTES;
  }

  /** The next record, or undefined at the end of the file (a truncated last record is warned about). */
  private readRecord(): CapturedPacket | undefined {
    const src = this.src;
    if (!src.need(PCAP_RECORD_HEADER_BYTES)) {
      if (src.available > 0)
        this.opts.onWarning?.(
          `the file ends inside the header of packet ${this.index + 1}; ignored the last ${src.available} bytes`,
        );
      return undefined;
    }
    const le = this.le;
    const v = src.view;
    let p = src.pos;
    const sec = v.getUint32(p, le);
    const frac = v.getUint32(p + 4, le);
    const inclLen = v.getUint32(p + 8, le);
    const origLen = v.getUint32(p + 12, le);
    if (!src.need(PCAP_RECORD_HEADER_BYTES + inclLen)) {
      this.opts.onWarning?.(
        `the file ends inside packet ${this.index + 1} (${src.available - PCAP_RECORD_HEADER_BYTES} of ${inclLen} bytes); ignored it`,
      );
      return undefined;
    }
    p = src.pos; // need() may have moved the bytes
    if (sec !== this.lastSec) {
      this.lastSec = sec;
      this.lastSecNs = BigInt(sec) * 1_000_000_000n;
    }
    // BigInt(frac) then BigInt arithmetic: ~35 ns less than BigInt(frac * 1000), whose argument is a double
    const tsNs = this.nano ? this.lastSecNs + BigInt(frac) : this.lastSecNs + BigInt(frac) * 1000n;
    const data = src.bytes(p + PCAP_RECORD_HEADER_BYTES, inclLen);
    src.pos = p + PCAP_RECORD_HEADER_BYTES + inclLen;
    const index = ++this.index;
    return {
      index,
      linkType: this.linkType,
      linkTypeCode: this.linkTypeCode,
      tsNs,
      data,
      origLen,
      ifIndex: 0,
    };
  }
}
