/**
 * Nanosecond timestamps as two 32-bit words (lo, hi; hi signed, as in an Int64 column's little-endian memory),
 * so hot paths (the libbpf ring reader, the live model) handle 64-bit times without a BigInt per value.
 * Every function gives exactly what the BigInt arithmetic it replaces gives (test/record-ns64.test.ts).
 */

const TWO32 = 4294967296;

/** Store a non-negative integer below 2^53 plus `hi0` * 2^32 as words at out[at] (lo), out[at+1] (hi). */
function put(x: number, hi0: number, out: Uint32Array, at: number): void {
  const hi = Math.floor(x / TWO32);
  out[at] = x - hi * TWO32;
  out[at + 1] = hi + hi0;
}

/**
 * A raw time plus a clock offset (int64 wrap-around, as BigInt64Array stores raw + offset): words of `raw`
 * (rawLo, rawHi) plus words of the offset (offLo, offHi), into out[at], out[at+1].
 */
export function addWords(
  rawLo: number,
  rawHi: number,
  offLo: number,
  offHi: number,
  out: Uint32Array,
  at: number,
): void {
  const lo = rawLo + offLo;
  const carry = lo >= TWO32 ? 1 : 0;
  out[at] = lo - carry * TWO32;
  out[at + 1] = rawHi + offHi + carry;
}

/** The words (lo, hi) of a BigInt, two's complement 64 bits. */
export function wordsOf(v: bigint): { lo: number; hi: number } {
  const u = BigInt.asUintN(64, v);
  return { lo: Number(u & 0xffffffffn), hi: Number(u >> 32n) };
}

/**
 * refrTm (IEC 61850 UtcTime: seconds << 24 | 24-bit fraction) in words -> ns since the epoch in words, as
 * ../bpftrace/output.ts refrTmToNs does: seconds * 1e9 + round(fraction * 1e9 / 2^24). Returns false for a
 * zero refrTm (null: not stamped).
 */
export function refrTmWords(lo: number, hi: number, out: Uint32Array, at: number): boolean {
  if (lo === 0 && hi === 0) return false;
  const fraction = lo & 0xffffff;
  // fraction * 1e9 / 2^24 = fraction * 1953125 / 2^15, exact in doubles (< 2^45)
  const fracNs = Math.floor((fraction * 1953125 + 16384) / 32768);
  // seconds = hi * 2^8 + lo >>> 24 (< 2^40): seconds * 1e9 = a * 1e9 * 2^20 + b * 1e9 with a, b < 2^20
  const seconds = hi * 256 + (lo >>> 24);
  const a = Math.floor(seconds / 1048576);
  const b = seconds - a * 1048576;
  const ya = a * 1e9; // < 2^50
  const yaHi = Math.floor(ya / 4096); // (ya * 2^20) >> 32
  const yaLo = (ya - yaHi * 4096) * 1048576; // ((ya * 2^20) mod 2^32)
  const sum = b * 1e9 + fracNs + yaLo; // < 2^51
  put(sum, yaHi, out, at);
  return true;
}

/** (end - start) in ns as a Number (the nearest double, as Number(end - start) on BigInts), from words. */
export function diffWords(endLo: number, endHi: number, startLo: number, startHi: number): number {
  return ((endHi | 0) - (startHi | 0)) * TWO32 + (endLo - startLo);
}
