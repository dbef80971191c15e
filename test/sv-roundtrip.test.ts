/**
 * Encode/decode round trips: randomized frames (VLAN or not, Ethernet or SLL, 1..8 ASDUs, every combination of
 * the optional ASDU fields, svIDs long enough to force long-form BER lengths, 64/96/16-byte datasets) come back
 * deep-equal; and every frame of the shared captures re-encodes from its decoded fields to identical bytes
 * (minimal BER, or the long-form lengths the producer used, plus its trailer).
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readPackets } from "../src/capture/reader.js";
import { decodeFrame } from "../src/sv/decode.js";
import { type EncodeOptions, encodeFrame, encodeFrameWithLayout } from "../src/sv/encode.js";
import { formatMac } from "../src/sv/mac.js";
import type { Asdu, SvFrame } from "../src/sv/types.js";
import { mulberry32 as prng } from "../src/util/prng.js";
import { capture, capturesDir } from "./helpers.js";

function randomFrame(rnd: () => number, optMask: number, sll: boolean): SvFrame {
  const int = (n: number) => Math.floor(rnd() * n);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const str = (n: number) => String.fromCharCode(...Array.from({ length: n }, () => 0x20 + int(95)));
  const nAsdu = 1 + int(8);
  const svIdLen = [1, 4, 10, 34, 39, 40, 47, 64, 70][int(9)];
  const seqLen = [64, 96, 16][int(3)];
  const asdus: Asdu[] = [];
  for (let i = 0; i < nAsdu; i++) {
    const a: Asdu = {
      svID: str(svIdLen),
      smpCnt: int(65536),
      confRev: int(2 ** 32),
      seqData: bytes(seqLen),
    };
    if (optMask & 1) a.datSet = str(1 + int(64));
    if (optMask & 2) a.refrTm = { seconds: int(2 ** 32), fraction: int(2 ** 24), quality: int(256) };
    if (optMask & 4) a.smpSynch = int(256);
    if (optMask & 8) a.smpRate = int(65536);
    if (optMask & 16) a.smpMod = int(65536);
    if (optMask & 32) a.gmIdentity = bytes(8);
    asdus.push(a);
  }
  const f: SvFrame = {
    src: formatMac(bytes(6)),
    pdu: {
      appid: int(65536),
      length: 0,
      reserved1: int(65536),
      reserved2: int(65536),
      noASDU: nAsdu,
      asdus,
    },
  };
  if (!sll) f.dst = formatMac(bytes(6));
  if (rnd() < 0.6) f.vlan = { pcp: int(8), dei: rnd() < 0.2, vid: rnd() < 0.3 ? 0 : int(4096) };
  if (rnd() < 0.1) f.pdu.security = bytes(int(40));
  return f;
}

describe("decode(encode(x)) deep-equals x", () => {
  it("over randomized frames and every optional-field combination", () => {
    const rnd = prng(0x5eed);
    let longForms = 0;
    for (let i = 0; i < 3000; i++) {
      const sll = i % 7 === 3;
      const x = randomFrame(rnd, i % 64, sll);
      const forced = i % 5 === 4;
      const opts: EncodeOptions = {
        linkType: sll ? "sll" : "ethernet",
        padTo60: i % 3 === 0,
        lengthOctets: forced ? { savPdu: 2, seqASDU: 1, asdu: 1, fields: 1 } : undefined,
      };
      const { bytes, appid, pduEnd } = encodeFrameWithLayout(x, opts);
      x.pdu.length = pduEnd - appid;
      if (bytes.includes(0x82) && x.pdu.length > 127) longForms++;
      const r = decodeFrame(bytes, opts.linkType ?? "ethernet");
      assert.equal(r.kind, "sv", `case ${i}`);
      if (r.kind !== "sv") continue;
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.frame, x, `case ${i}`);
    }
    assert.ok(longForms > 100, "the random frames exercise long-form lengths");
  });
  it("keeps a noASDU that disagrees with the ASDUs (and reports it)", () => {
    const x = randomFrame(prng(3), 0, false);
    x.pdu.noASDU = x.pdu.asdus.length + 1;
    const { bytes, appid, pduEnd } = encodeFrameWithLayout(x);
    x.pdu.length = pduEnd - appid;
    const r = decodeFrame(bytes, "ethernet");
    assert.equal(r.kind, "sv");
    if (r.kind !== "sv") return;
    assert.deepEqual(r.frame, x);
    assert.deepEqual(
      r.errors.map((e) => e.code),
      ["noasdu-mismatch"],
    );
  });
});

/**
 * Encoder options that reproduce each producer's BER choices. The student tool (guseynov_*) writes savPdu and
 * seqASDU lengths in non-minimal long form (60 81 6b, a2 81 65); everything else is minimal.
 */
function producerOptions(file: string): EncodeOptions {
  if (file.startsWith("guseynov_")) return { lengthOctets: { savPdu: 1, seqASDU: 1 } };
  return {};
}

describe("real frames re-encode to identical bytes", () => {
  it("frame 1 of mgadelha_sv_normal_traffic_60hz_vlan.pcap", () => {
    for (const pkt of readPackets(capture("mgadelha_sv_normal_traffic_60hz_vlan.pcap"))) {
      assert.equal(pkt.linkType, "ethernet");
      const r = decodeFrame(pkt.data, "ethernet");
      assert.equal(r.kind, "sv");
      if (r.kind !== "sv") return;
      assert.deepEqual(encodeFrame(r.frame), pkt.data);
      return;
    }
    assert.fail("no packet read");
  });
  const files = readdirSync(capturesDir)
    .filter((f) => /\.(pcap|pcapng|cap)$/.test(f))
    .sort();
  for (const file of files) {
    it(`every frame of ${file}`, () => {
      const base = producerOptions(file);
      let n = 0;
      for (const pkt of readPackets(join(capturesDir, file))) {
        if (pkt.linkType === "other") continue;
        const r = decodeFrame(pkt.data, pkt.linkType, { offsets: true });
        if (r.kind !== "sv") continue;
        const pduEnd = r.offsets?.pduEnd ?? 0;
        const opts: EncodeOptions = {
          ...base,
          linkType: pkt.linkType,
          sllPacketType: pkt.linkType === "sll" ? (pkt.data[0] << 8) | pkt.data[1] : undefined,
          trailer: pduEnd < pkt.data.length ? pkt.data.subarray(pduEnd) : undefined,
        };
        const again = encodeFrame(r.frame, opts);
        assert.deepEqual(again, pkt.data, `frame ${pkt.index}`);
        n++;
      }
      assert.ok(n > 0, "the capture holds SV frames");
    });
  }
});
