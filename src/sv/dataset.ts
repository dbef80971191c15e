/**
 * The 9-2LE dataset inside seqData: per channel an INT32 value then a 32-bit quality word, big-endian
 * (8 channels = 64 bytes: IA IB IC IN UA UB UC UN; other multiples of 8, e.g. 12 channels = 96 bytes, occur).
 * Quality bit layout as decoded by Wireshark (bit 0 = LSB).
 */

/** validity, bits 0-1: 00 good, 01 invalid, 10 reserved, 11 questionable */
export const Q_VALIDITY_MASK = 0x0003;
export const Q_VALIDITY_GOOD = 0x0000;
export const Q_VALIDITY_INVALID = 0x0001;
export const Q_VALIDITY_RESERVED = 0x0002;
export const Q_VALIDITY_QUESTIONABLE = 0x0003;
export const Q_OVERFLOW = 0x0004;
export const Q_OUT_OF_RANGE = 0x0008;
export const Q_BAD_REFERENCE = 0x0010;
export const Q_OSCILLATORY = 0x0020;
export const Q_FAILURE = 0x0040;
export const Q_OLD_DATA = 0x0080;
export const Q_INCONSISTENT = 0x0100;
export const Q_INACCURATE = 0x0200;
/** source: 0 process, 1 substituted */
export const Q_SOURCE_SUBSTITUTED = 0x0400;
export const Q_TEST = 0x0800;
export const Q_OPERATOR_BLOCKED = 0x1000;
/** 9-2LE: set on IN/UN when computed from the phases */
export const Q_DERIVED = 0x2000;

/** 9-2LE scaling: current 1 mA per LSB, voltage 10 mV per LSB. */
export const LE_CURRENT_A_PER_LSB = 0.001;
export const LE_VOLTAGE_V_PER_LSB = 0.01;
/** Channel names of the 64-byte 9-2LE dataset, in order. */
export const LE_CHANNELS = ["IA", "IB", "IC", "IN", "UA", "UB", "UC", "UN"] as const;

/** values[i] (INT32) and qualities[i] (UINT32) -> seqData bytes; both arrays must have the same length. */
export function encodeDataset(values: readonly number[], qualities: readonly number[]): Uint8Array {
  if (values.length !== qualities.length)
    throw new RangeError(`encodeDataset: ${values.length} values but ${qualities.length} qualities`);
  const out = new Uint8Array(values.length * 8);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    dv.setInt32(8 * i, values[i] | 0);
    dv.setUint32(8 * i + 4, qualities[i] >>> 0);
  }
  return out;
}

/** seqData -> values/qualities when its length is a non-zero multiple of 8 bytes, else undefined. */
export function decodeDataset(seqData: Uint8Array): { values: number[]; qualities: number[] } | undefined {
  const n = seqData.length;
  if (n === 0 || n % 8 !== 0) return undefined;
  const values: number[] = new Array(n / 8);
  const qualities: number[] = new Array(n / 8);
  for (let i = 0, o = 0; o < n; i++, o += 8) {
    values[i] = (seqData[o] << 24) | (seqData[o + 1] << 16) | (seqData[o + 2] << 8) | seqData[o + 3];
    qualities[i] =
      ((seqData[o + 4] << 24) | (seqData[o + 5] << 16) | (seqData[o + 6] << 8) | seqData[o + 7]) >>> 0;
  }
  return { values, qualities };
}
