/**
 * pcapng writer: one Section Header Block, one Interface Description Block per interface (if_tsresol = 9,
 * nanoseconds) and one Enhanced Packet Block per packet, little-endian. Buffered and synchronous.
 */
import type { LinkType } from "../sv/types.js";
import { FileSink } from "./file-sink.js";
import {
  OPT_IF_TSRESOL,
  PCAPNG_BYTE_ORDER_MAGIC,
  PCAPNG_EPB,
  PCAPNG_IDB,
  PCAPNG_SHB,
} from "./pcapng-reader.js";
import { linkTypeCode } from "./types.js";

const OPT_IF_NAME = 2;

export interface PcapngInterface {
  /** "ethernet" (default), "sll", or a raw LINKTYPE_* number */
  linkType?: LinkType | number;
  /** if_name option, e.g. "eth0" */
  name?: string;
  /** default 262144 */
  snaplen?: number;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

export class PcapngWriter {
  packets = 0;
  readonly #sink: FileSink;
  readonly #snaplens: number[] = [];

  /** Creates the file with its SHB and an IDB for each of `interfaces` (default: one Ethernet interface). */
  constructor(
    readonly path: string,
    opts: { interfaces?: PcapngInterface[] } = {},
  ) {
    this.#sink = new FileSink(path);
    const s = this.#sink;
    s.reserve(28);
    const v = s.view;
    v.setUint32(0, PCAPNG_SHB, true);
    v.setUint32(4, 28, true);
    v.setUint32(8, PCAPNG_BYTE_ORDER_MAGIC, true);
    v.setUint16(12, 1, true);
    v.setUint16(14, 0, true);
    v.setBigInt64(16, -1n, true); // section length unknown
    v.setUint32(24, 28, true);
    s.pos = 28;
    for (const itf of opts.interfaces ?? [{}]) this.addInterface(itf);
  }

  /** Add an interface (IDB); returns its index for write(). */
  addInterface(itf: PcapngInterface = {}): number {
    const code = typeof itf.linkType === "number" ? itf.linkType : linkTypeCode(itf.linkType ?? "ethernet");
    const snaplen = itf.snaplen ?? 262144;
    const name = itf.name ? Buffer.from(itf.name, "utf8") : undefined;
    const optBytes = 8 + (name ? 4 + pad4(name.length) : 0) + 4; // tsresol + name + end
    const total = 8 + 8 + optBytes + 4;
    const s = this.#sink;
    s.reserve(total);
    const v = s.view;
    let p = s.pos;
    v.setUint32(p, PCAPNG_IDB, true);
    v.setUint32(p + 4, total, true);
    v.setUint16(p + 8, code, true);
    v.setUint16(p + 10, 0, true);
    v.setUint32(p + 12, snaplen, true);
    p += 16;
    v.setUint16(p, OPT_IF_TSRESOL, true);
    v.setUint16(p + 2, 1, true);
    v.setUint32(p + 4, 9, true); // value 9 then 3 padding zero bytes
    p += 8;
    if (name) {
      v.setUint16(p, OPT_IF_NAME, true);
      v.setUint16(p + 2, name.length, true);
      s.buf.fill(0, p + 4, p + 4 + pad4(name.length));
      s.buf.set(name, p + 4);
      p += 4 + pad4(name.length);
    }
    v.setUint32(p, 0, true); // opt_endofopt
    v.setUint32(p + 4, total, true);
    s.pos = p + 8;
    this.#snaplens.push(snaplen);
    return this.#snaplens.length - 1;
  }

  /** Append one packet (timestamp in ns since the epoch) on interface ifIndex (default 0). */
  write(tsNs: bigint, data: Uint8Array, origLen = data.length, ifIndex = 0): void {
    const snaplen = this.#snaplens[ifIndex];
    if (snaplen === undefined) throw new RangeError(`pcapng: no interface ${ifIndex}`);
    const capLen = Math.min(data.length, snaplen);
    const total = 28 + pad4(capLen) + 4;
    const s = this.#sink;
    s.reserve(total);
    const v = s.view;
    const p = s.pos;
    v.setUint32(p, PCAPNG_EPB, true);
    v.setUint32(p + 4, total, true);
    v.setUint32(p + 8, ifIndex, true);
    v.setUint32(p + 12, Number(tsNs >> 32n), true);
    v.setUint32(p + 16, Number(tsNs & 0xffffffffn), true);
    v.setUint32(p + 20, capLen, true);
    v.setUint32(p + 24, Math.max(origLen, capLen), true);
    s.buf.set(capLen === data.length ? data : data.subarray(0, capLen), p + 28);
    const padded = p + 28 + pad4(capLen);
    s.buf.fill(0, p + 28 + capLen, padded);
    v.setUint32(padded, total, true);
    s.pos = padded + 4;
    this.packets++;
  }

  close(): void {
    this.#sink.close();
  }
}
