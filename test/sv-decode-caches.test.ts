/**
 * The decoder's speed devices must not change a single result: the svID/datSet string cache (direct-mapped,
 * keyed by a hash of the last bytes), the MAC string cache, and the seqData views made from a capture reader's
 * remembered buffer (sv/byte-views.ts) instead of data.buffer/byteOffset.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readPackets } from "../src/capture/reader.js";
import { subView, viewOf } from "../src/sv/byte-views.js";
import { decodeFrame } from "../src/sv/decode.js";
import { encodeFrame } from "../src/sv/encode.js";
import { formatMac } from "../src/sv/mac.js";
import type { SvFrame } from "../src/sv/types.js";
import { mulberry32 } from "../src/util/prng.js";
import { capturesDir } from "./helpers.js";

function frame(svID: string, datSet: string | undefined, dst: string, src: string): SvFrame {
  return {
    dst,
    src,
    vlan: { pcp: 4, dei: false, vid: 100 },
    pdu: {
      appid: 0x4000,
      length: 0,
      reserved1: 0,
      reserved2: 0,
      noASDU: 1,
      asdus: [
        datSet === undefined
          ? { svID, smpCnt: 1, confRev: 1, seqData: new Uint8Array(64) }
          : { svID, datSet, smpCnt: 1, confRev: 1, seqData: new Uint8Array(64) },
      ],
    },
  };
}

const latin1 = (bytes: number[]) => String.fromCharCode(...bytes);

describe("decoder string caches", () => {
  it("svIDs and datSets that collide in the cache (same length, same last 4 bytes) decode exactly", () => {
    const rnd = mulberry32(61850);
    const byte = () => Math.floor(rnd() * 256);
    const names: string[] = [];
    // 300 names that differ only before their common last 4 bytes, so they share one cache slot
    for (let i = 0; i < 300; i++) names.push(latin1([byte(), byte(), byte(), 0x4d, 0x55, 0x30, 0x31]));
    // and names of every length around the cache's limits, with non-ASCII bytes
    for (let len = 1; len <= 140; len++) names.push(latin1(Array.from({ length: len }, byte)));
    const macs = Array.from({ length: 64 }, () => Uint8Array.from({ length: 6 }, byte));
    const frames = names.map((n, i) => {
      const d = names[(i * 7) % names.length];
      const m1 = macs[i % macs.length];
      const m2 = macs[(i * 5 + 1) % macs.length];
      return {
        bytes: encodeFrame(frame(n, i % 3 === 0 ? undefined : d, formatMac(m1), formatMac(m2))),
        svID: n,
        datSet: i % 3 === 0 ? undefined : d,
        dst: formatMac(m1),
        src: formatMac(m2),
      };
    });
    // decode in a shuffled order, several times, through ONE reused buffer (the cache must copy what it keeps)
    const buf = new Uint8Array(1024);
    for (let round = 0; round < 4; round++) {
      for (let k = 0; k < frames.length; k++) {
        const f = frames[Math.floor(rnd() * frames.length)];
        buf.set(f.bytes);
        const r = decodeFrame(buf.subarray(0, f.bytes.length), "ethernet");
        assert.equal(r.kind, "sv");
        if (r.kind !== "sv") return;
        const a = r.frame.pdu.asdus[0];
        assert.equal(a.svID, f.svID);
        assert.equal(a.datSet, f.datSet);
        assert.equal(r.frame.dst, f.dst);
        assert.equal(r.frame.src, f.src);
      }
    }
  });
});

describe("seqData views", () => {
  it("subView of a view made by viewOf, and of any other array, are the same view", () => {
    const ab = new ArrayBuffer(256);
    for (let i = 0; i < 256; i++) new Uint8Array(ab)[i] = i;
    const v = viewOf(ab, 40, 100);
    const other = new Uint8Array(ab, 40, 100);
    const other2 = Buffer.from(ab, 10, 200);
    for (const [data, base] of [
      [v, 40],
      [other, 40],
      [other2, 10],
    ] as const) {
      const s = subView(data, 7, 20);
      assert.equal(s.buffer, ab);
      assert.equal(s.byteOffset, base + 7);
      assert.equal(s.length, 20);
      assert.equal(Object.getPrototypeOf(s), Uint8Array.prototype);
      assert.equal(s[0], base + 7);
    }
  });

  it("seqData of every frame read from the captures is the view at its offset, as for a copied frame", () => {
    const files = readdirSync(capturesDir).filter((f) => /\.pcap(ng)?$/.test(f));
    assert.ok(files.length > 0, `no captures in ${capturesDir}`);
    let checked = 0;
    for (const file of files) {
      for (const p of readPackets(join(capturesDir, file))) {
        if (p.linkType === "other") continue;
        const r = decodeFrame(p.data, p.linkType, { offsets: true });
        if (r.kind !== "sv" || r.offsets === undefined) continue;
        const copy = decodeFrame(Uint8Array.from(p.data), p.linkType);
        assert.equal(copy.kind, "sv");
        if (copy.kind !== "sv") continue;
        r.frame.pdu.asdus.forEach((a, i) => {
          const at = r.offsets?.asdus[i].seqData ?? -1;
          assert.equal(a.seqData.buffer, p.data.buffer, `${file} #${p.index}`);
          assert.equal(a.seqData.byteOffset, p.data.byteOffset + at, `${file} #${p.index}`);
          assert.deepEqual(a.seqData, copy.frame.pdu.asdus[i].seqData, `${file} #${p.index}`);
          checked++;
        });
      }
    }
    assert.ok(checked > 1000, `only ${checked} ASDUs checked`);
  });
});
