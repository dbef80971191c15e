/**
 * decodeFrame has two paths: decodeCommon for frames of the common layout (straight through, fast) and the general
 * walk for everything else (asking for offsets always takes it). Whenever decodeCommon gives a result it must be
 * exactly the general walk's: checked on every frame of the captures and on many mutated copies of them.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readPackets } from "../src/capture/reader.js";
import { type DecodeResult, decodeCommon, decodeFrame } from "../src/sv/decode.js";
import type { LinkType } from "../src/sv/types.js";
import { mulberry32 } from "../src/util/prng.js";
import { capturesDir } from "./helpers.js";

/** the general walk's result (offsets requested, then dropped) */
function general(data: Uint8Array, linkType: LinkType): DecodeResult {
  const r = decodeFrame(data, linkType, { offsets: true });
  if (r.kind === "not-sv") return r;
  const { offsets: _, ...rest } = r;
  return rest as DecodeResult;
}

function capturedFrames(): { data: Uint8Array; linkType: LinkType; what: string }[] {
  const out: { data: Uint8Array; linkType: LinkType; what: string }[] = [];
  const files = readdirSync(capturesDir).filter((f) => /\.pcap(ng)?$/.test(f));
  for (const file of files)
    for (const p of readPackets(join(capturesDir, file)))
      if (p.linkType !== "other")
        out.push({ data: p.data.slice(), linkType: p.linkType, what: `${file} #${p.index}` });
  return out;
}

describe("decodeCommon (fast path) against the general walk", () => {
  const frames = capturedFrames();

  it("takes most captured frames, with the general walk's result, and decodeFrame returns it", () => {
    assert.ok(frames.length > 1000, `only ${frames.length} frames in ${capturesDir}`);
    let taken = 0;
    for (const f of frames) {
      const fast = decodeCommon(f.data, f.linkType);
      const slow = general(f.data, f.linkType);
      if (fast !== undefined) {
        taken++;
        assert.deepEqual(fast, slow, f.what);
      }
      assert.deepEqual(decodeFrame(f.data, f.linkType), slow, f.what);
    }
    // every capture's frames but the broken and unusual ones take the fast path
    assert.ok(taken > frames.length * 0.8, `fast path took only ${taken} of ${frames.length} frames`);
  });

  it("gives the general walk's result or none on 100 000 mutated frames", () => {
    const rnd = mulberry32(90210);
    const pick = (n: number) => Math.floor(rnd() * n);
    let taken = 0;
    let sv = 0;
    for (let i = 0; i < 100_000; i++) {
      const f = frames[pick(frames.length)];
      let d = f.data.slice();
      switch (i % 5) {
        case 0: // one byte anywhere
          d[pick(d.length)] = pick(256);
          break;
        case 1: // a byte of the SV part (header, BER tags and lengths, values)
          d[12 + pick(Math.max(1, d.length - 12))] ^= 1 << pick(8);
          break;
        case 2: // truncated
          d = d.slice(0, pick(d.length + 1));
          break;
        case 3: // a length-like byte off by a little
          {
            const at = 14 + pick(Math.max(1, d.length - 14));
            d[at] = (d[at] + (rnd() < 0.5 ? 1 : 255) * (1 + pick(3))) & 0xff;
          }
          break;
        default: // trailing bytes (padding, FCS)
          d = Uint8Array.from([...d, ...Array.from({ length: 1 + pick(8) }, () => pick(256))]);
      }
      const fast = decodeCommon(d, f.linkType);
      const slow = general(d, f.linkType);
      if (slow.kind === "sv") sv++;
      if (fast !== undefined) {
        taken++;
        assert.deepEqual(fast, slow, `${f.what}, mutation ${i}`);
      }
      assert.deepEqual(decodeFrame(d, f.linkType), slow, `${f.what}, mutation ${i}`);
    }
    assert.ok(taken > 10_000 && sv > taken, `fast path took ${taken}, general walk decoded ${sv} of 100 000`);
  });
});
