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

let cachedSec: bigint | undefined;
let cachedPrefix = "";

/** "2020-07-16T00:07:10.059560000Z" (UTC, nanoseconds). The date part is cached per second. */
export function formatIsoNs(tsNs: bigint): string {
  let sec = tsNs / 1_000_000_000n;
  let ns = tsNs - sec * 1_000_000_000n;
  if (ns < 0n) {
    sec -= 1n;
    ns += 1_000_000_000n;
  }
  if (sec !== cachedSec) {
    cachedSec = sec;
    cachedPrefix = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
  }
  return `${cachedPrefix}.${ns.toString().padStart(9, "0")}Z`;
}
