/**
 * IEC 61850 UtcTime (8 bytes: 32-bit seconds since 1970, 24-bit binary fraction of a second, quality byte):
 * conversion to and from nanoseconds, reading and writing it, and tshark's text form of it.
 */
import type { UtcTime } from "./types.js";

const FRACTION_ONE = 0x1000000; // 2^24
const NS_PER_S = 1_000_000_000n;

/** Nanoseconds since 1970 -> UtcTime (fraction rounded to the nearest 2^-24 s, error <= 30 ns). */
export function utcTimeFromNs(ns: bigint, quality = 0): UtcTime {
  let seconds = ns / NS_PER_S;
  let rem = ns % NS_PER_S;
  if (rem < 0n) {
    rem += NS_PER_S;
    seconds -= 1n;
  }
  let fraction = Number((rem * BigInt(FRACTION_ONE) + NS_PER_S / 2n) / NS_PER_S);
  if (fraction >= FRACTION_ONE) {
    fraction -= FRACTION_ONE;
    seconds += 1n;
  }
  return { seconds: Number(BigInt.asUintN(32, seconds)), fraction, quality: quality & 0xff };
}

/** UtcTime -> nanoseconds since 1970 (fraction rounded to the nearest ns). */
export function utcTimeToNs(t: UtcTime): bigint {
  const fracNs = (BigInt(t.fraction) * NS_PER_S + BigInt(FRACTION_ONE / 2)) / BigInt(FRACTION_ONE);
  return BigInt(t.seconds) * NS_PER_S + fracNs;
}

/** Write the 8 UtcTime bytes at `offset`. */
export function writeUtcTime(buf: Uint8Array, offset: number, t: UtcTime): void {
  const s = t.seconds >>> 0;
  buf[offset] = s >>> 24;
  buf[offset + 1] = (s >>> 16) & 0xff;
  buf[offset + 2] = (s >>> 8) & 0xff;
  buf[offset + 3] = s & 0xff;
  const f = t.fraction & 0xffffff;
  buf[offset + 4] = f >>> 16;
  buf[offset + 5] = (f >>> 8) & 0xff;
  buf[offset + 6] = f & 0xff;
  buf[offset + 7] = t.quality & 0xff;
}

/** Read the 8 UtcTime bytes at `offset` (the caller checks bounds). */
export function readUtcTime(buf: Uint8Array, offset: number): UtcTime {
  return {
    seconds: ((buf[offset] << 24) | (buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3]) >>> 0,
    fraction: (buf[offset + 4] << 16) | (buf[offset + 5] << 8) | buf[offset + 6],
    quality: buf[offset + 7],
  };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Nanoseconds of the fraction the way Wireshark computes them for display (truncated, not rounded). */
export function utcTimeFractionNs(fraction: number): number {
  return Math.floor((fraction * 1e9) / FRACTION_ONE);
}

/** tshark's display of sv.refrTm, e.g. "Nov 26, 2026 11:08:00.807476937 UTC" (day space-padded to 2). */
export function formatUtcTimeTshark(t: UtcTime): string {
  const d = new Date(t.seconds * 1000);
  const p2 = (n: number) => String(n).padStart(2, "0");
  const day = String(d.getUTCDate()).padStart(2, " ");
  const ns = String(utcTimeFractionNs(t.fraction)).padStart(9, "0");
  return `${MONTHS[d.getUTCMonth()]} ${day}, ${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${ns} UTC`;
}
