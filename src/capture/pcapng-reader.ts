/**
 * pcapng reader: Section Header (both byte orders, several sections), Interface Description (if_tsresol,
 * if_tsoffset, per-interface link type), Enhanced Packet, Simple Packet (no timestamp: the previous packet's is
 * used, 0 before any) and the obsolete Packet block. Other blocks are skipped.
 */
import type { ByteSource } from "./byte-source.js";
import { CaptureError } from "./errors.js";
import { type CapturedPacket, type CaptureLinkType, linkTypeName, type ReadOptions } from "./types.js";

export const PCAPNG_SHB = 0x0a0d0d0a;
export const PCAPNG_IDB = 0x00000001;
export const PCAPNG_PB = 0x00000002;
export const PCAPNG_SPB = 0x00000003;
export const PCAPNG_EPB = 0x00000006;
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const OPT_ENDOFOPT = 0;
export const OPT_IF_TSRESOL = 9;
export const OPT_IF_TSOFFSET = 14;

/** smallest body (bytes between the length fields) of the blocks this reader interprets */
const MIN_BODY: Record<number, number> = {
  [PCAPNG_SHB]: 16,
  [PCAPNG_IDB]: 8,
  [PCAPNG_EPB]: 20,
  [PCAPNG_PB]: 20,
  [PCAPNG_SPB]: 4,
};

interface Iface {
  code: number;
  linkType: CaptureLinkType;
  snaplen: number;
  /** timestamp units -> ns: either multiply by mul, or (binary resolutions) multiply by 1e9 and shift right */
  mul: bigint;
  div: bigint;
  shift: bigint;
  offsetNs: bigint;
}

/** Convert an if_tsresol byte into a units->ns conversion. */
function resolution(tsresol: number): Pick<Iface, "mul" | "div" | "shift"> {
  const n = tsresol & 0x7f;
  if (tsresol & 0x80) return { mul: 1_000_000_000n, div: 1n, shift: BigInt(n) };
  if (n <= 9) return { mul: 10n ** BigInt(9 - n), div: 1n, shift: 0n };
  return { mul: 1n, div: 10n ** BigInt(n - 9), shift: 0n };
}

export function* readPcapngPackets(src: ByteSource, opts: ReadOptions = {}): Generator<CapturedPacket> {
  try {
    let le = true;
    let ifaces: Iface[] = [];
    let index = 0;
    let lastTs = 0n;
    let lastHi = -1;
    let lastHiBig = 0n;
    let sawSection = false;
    for (;;) {
      if (!src.need(12)) {
        if (src.available > 0)
          opts.onWarning?.(
            `the file ends inside a block header at offset ${src.offset}; ignored the last bytes`,
          );
        return;
      }
      let v = src.view;
      let p = src.pos;
      const type = v.getUint32(p, le);
      if (type === PCAPNG_SHB || v.getUint32(p, !le) === PCAPNG_SHB) {
        const bom = v.getUint32(p + 8, true);
        if (bom === PCAPNG_BYTE_ORDER_MAGIC) le = true;
        else if (v.getUint32(p + 8, false) === PCAPNG_BYTE_ORDER_MAGIC) le = false;
        else
          throw new CaptureError(
            src.path,
            `bad pcapng byte-order magic at offset ${src.offset}: the file is corrupt`,
          );
        ifaces = [];
        sawSection = true;
      } else if (!sawSection) {
        throw new CaptureError(src.path, "not a pcapng file (no Section Header Block)");
      }
      const total = v.getUint32(p + 4, le);
      if (total < 12 || total % 4 !== 0)
        throw new CaptureError(
          src.path,
          `bad pcapng block length ${total} at offset ${src.offset}: the file is corrupt`,
        );
      if (!src.need(total)) {
        opts.onWarning?.(`the file ends inside a block at offset ${src.offset} (${total} bytes); ignored it`);
        return;
      }
      v = src.view;
      p = src.pos;
      const blockType =
        type === PCAPNG_SHB || v.getUint32(p, !le) === PCAPNG_SHB ? PCAPNG_SHB : v.getUint32(p, le);
      const bodyStart = p + 8;
      const bodyEnd = p + total - 4;
      src.pos = p + total;
      const minBody = MIN_BODY[blockType];
      if (minBody !== undefined && bodyEnd - bodyStart < minBody)
        throw new CaptureError(
          src.path,
          `pcapng block of type ${blockType} at offset ${src.offset - total} is too short (${total} bytes): the file is corrupt`,
        );

      switch (blockType) {
        case PCAPNG_IDB: {
          const code = v.getUint16(bodyStart, le);
          const snaplen = v.getUint32(bodyStart + 4, le);
          let tsresol = 6;
          let offsetNs = 0n;
          let o = bodyStart + 8;
          while (o + 4 <= bodyEnd) {
            const oc = v.getUint16(o, le);
            const ol = v.getUint16(o + 2, le);
            if (oc === OPT_ENDOFOPT || o + 4 + ol > bodyEnd) break; // end, or a malformed option: stop
            if (oc === OPT_IF_TSRESOL && ol >= 1) tsresol = v.getUint8(o + 4);
            if (oc === OPT_IF_TSOFFSET && ol >= 8) offsetNs = v.getBigInt64(o + 4, le) * 1_000_000_000n;
            o += 4 + ((ol + 3) & ~3);
          }
          const linkType = linkTypeName(code);
          if (linkType === "other")
            opts.onWarning?.(
              `interface ${ifaces.length}: link type ${code} is neither Ethernet (1) nor Linux SLL (113)`,
            );
          ifaces.push({ code, linkType, snaplen, offsetNs, ...resolution(tsresol) });
          break;
        }
        case PCAPNG_EPB:
        case PCAPNG_PB: {
          const epb = blockType === PCAPNG_EPB;
          const ifIndex = epb ? v.getUint32(bodyStart, le) : v.getUint16(bodyStart, le);
          const iface = ifaces[ifIndex];
          if (!iface)
            throw new CaptureError(
              src.path,
              `packet block refers to undefined interface ${ifIndex}: the file is corrupt`,
            );
          const hi = v.getUint32(bodyStart + 4, le);
          const lo = v.getUint32(bodyStart + 8, le);
          const capLen = v.getUint32(bodyStart + 12, le);
          const origLen = v.getUint32(bodyStart + 16, le);
          const dataStart = bodyStart + 20;
          if (dataStart + capLen > bodyEnd)
            throw new CaptureError(
              src.path,
              `packet ${index + 1}: captured length ${capLen} exceeds its block`,
            );
          if (hi !== lastHi) {
            lastHi = hi;
            lastHiBig = BigInt(hi) << 32n; // the high word changes rarely (every 4.3 s at ns resolution)
          }
          const units = lastHiBig + BigInt(lo);
          let ns: bigint;
          if (iface.shift > 0n) ns = (units * iface.mul) >> iface.shift;
          else if (iface.mul === 1n) ns = iface.div === 1n ? units : units / iface.div;
          else ns = units * iface.mul;
          lastTs = iface.offsetNs === 0n ? ns : ns + iface.offsetNs;
          index++;
          yield {
            index,
            linkType: iface.linkType,
            linkTypeCode: iface.code,
            tsNs: lastTs,
            data: src.bytes(dataStart, capLen),
            origLen,
            ifIndex,
          };
          break;
        }
        case PCAPNG_SPB: {
          const iface = ifaces[0];
          if (!iface)
            throw new CaptureError(src.path, "simple packet block before any interface: the file is corrupt");
          const origLen = v.getUint32(bodyStart, le);
          const room = bodyEnd - (bodyStart + 4);
          let capLen = Math.min(origLen, room);
          if (iface.snaplen > 0) capLen = Math.min(capLen, iface.snaplen);
          index++;
          yield {
            index,
            linkType: iface.linkType,
            linkTypeCode: iface.code,
            tsNs: lastTs,
            data: src.bytes(bodyStart + 4, capLen),
            origLen,
            ifIndex: 0,
          };
          break;
        }
        default:
          break; // SHB handled above; NRB, ISB, DSB, custom blocks: skipped
      }
    }
  } finally {
    src.close();
  }
}
