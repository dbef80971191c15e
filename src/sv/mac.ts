/**
 * MAC addresses: parse "01:0c:cd:04:00:01" (or with '-') into 6 bytes and format 6 bytes back to the
 * lower-case colon form tshark prints.
 */

/** A MAC address string that is not six hex octets separated by ':' or '-'. */
export class MacParseError extends Error {
  constructor(readonly input: string) {
    super(`not a MAC address: "${input}" (expected six hex octets like 01:0c:cd:04:00:01)`);
    this.name = "MacParseError";
  }
}

const MAC_RE =
  /^([0-9a-fA-F]{2})([:-])([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})$/;

/** "01:0c:cd:04:00:01" -> 6 bytes; throws MacParseError on anything else. */
export function parseMac(s: string): Uint8Array {
  const m = MAC_RE.exec(s.trim());
  if (!m) throw new MacParseError(s);
  const out = new Uint8Array(6);
  const groups = [m[1], m[3], m[4], m[5], m[6], m[7]];
  for (let i = 0; i < 6; i++) out[i] = Number.parseInt(groups[i], 16);
  return out;
}

const HEX2: string[] = [];
for (let i = 0; i < 256; i++) HEX2.push(i.toString(16).padStart(2, "0"));

/** Six bytes at `off` as "aa:bb:cc:dd:ee:ff" (lower case). */
export function formatMac(bytes: Uint8Array, off = 0): string {
  return `${HEX2[bytes[off]]}:${HEX2[bytes[off + 1]]}:${HEX2[bytes[off + 2]]}:${HEX2[bytes[off + 3]]}:${HEX2[bytes[off + 4]]}:${HEX2[bytes[off + 5]]}`;
}

/** Write a MAC string into `buf` at `off` (throws MacParseError). */
export function writeMac(buf: Uint8Array, off: number, mac: string): void {
  buf.set(parseMac(mac), off);
}
