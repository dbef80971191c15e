/**
 * Capture timestamps (bigint ns since the epoch) as text: "1594858030.059560000", the way tshark prints
 * frame.time_epoch, and as ISO 8601 with nanoseconds for human output.
 */

/** "seconds.nanoseconds" with exactly 9 fractional digits (tshark's frame.time_epoch). */
export function formatEpochNs(tsNs: bigint): string {
  const neg = tsNs < 0n;
  const a = neg ? -tsNs : tsNs;
  const sec = a / 1_000_000_000n;
  const ns = a - sec * 1_000_000_000n;
  return `${neg ? "-" : ""}${sec}.${ns.toString().padStart(9, "0")}`;
}

/** "2020-07-16T00:07:10.059560000Z" (UTC, nanoseconds). */
export function formatIsoNs(tsNs: bigint): string {
  const ms = tsNs / 1_000_000n;
  const ns = tsNs - (tsNs / 1_000_000_000n) * 1_000_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // ...ss.mmmZ
  return `${iso.slice(0, 19)}.${(ns < 0n ? ns + 1_000_000_000n : ns).toString().padStart(9, "0")}Z`;
}
