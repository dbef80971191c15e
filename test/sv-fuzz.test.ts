/**
 * Decoder fuzzing: at least 100 000 mutated real frames per run (byte flips, truncation, header Length and BER
 * length bytes off by ±1..255, and combinations), taken from every shared capture, with a fixed-seed PRNG.
 * No exception may escape (nor be caught internally: code "internal"); every result is an SV decode, a
 * "not-sv", or typed errors with offsets inside the frame; decoded values never point outside the frame.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readPackets } from "../src/capture/reader.js";
import { type DecodeResult, decodeFrame, peekSvKey, type SvDecodeErrorCode } from "../src/sv/decode.js";
import type { LinkType } from "../src/sv/types.js";
import { mulberry32 as prng } from "../src/util/prng.js";
import { capturesDir } from "./helpers.js";

const MUTATIONS = 120_000;
const FRAMES_PER_CAPTURE = 150;
const CODES = new Set<SvDecodeErrorCode>([
  "truncated",
  "bad-length",
  "bad-tag",
  "bad-value",
  "missing-field",
  "noasdu-mismatch",
]);

interface Seed {
  data: Uint8Array;
  link: LinkType;
  /** offsets of bytes that hold a length: the header Length (2 bytes, first listed) and BER length octets */
  headerLength: number;
  berLengths: number[];
}

function loadSeeds(): Seed[] {
  const seeds: Seed[] = [];
  const files = readdirSync(capturesDir).filter((f) => /\.(pcap|pcapng|cap)$/.test(f));
  for (const file of files.sort()) {
    let n = 0;
    for (const pkt of readPackets(join(capturesDir, file))) {
      if (pkt.linkType === "other") continue;
      const data = pkt.data.slice();
      const r = decodeFrame(data, pkt.linkType, { offsets: true });
      if (r.kind !== "sv" || !r.offsets) continue;
      const o = r.offsets;
      const ber = [o.appid + 9, o.noASDU - 1, o.seqASDU + 1];
      for (const a of o.asdus) {
        ber.push(a.start + 1, a.svID - 1, a.smpCnt - 1, a.confRev - 1, a.seqData - 1);
        for (const v of [a.datSet, a.refrTm, a.smpSynch, a.smpRate, a.smpMod, a.gmIdentity])
          if (v !== undefined) ber.push(v - 1);
      }
      seeds.push({ data, link: pkt.linkType, headerLength: o.appid + 2, berLengths: ber });
      if (++n >= FRAMES_PER_CAPTURE) break;
    }
  }
  return seeds;
}

function mutate(rnd: () => number, s: Seed): Uint8Array {
  const int = (n: number) => Math.floor(rnd() * n);
  const delta = () => (1 + int(255)) * (rnd() < 0.5 ? -1 : 1);
  let d = s.data.slice();
  const steps = 1 + int(3);
  for (let k = 0; k < steps; k++) {
    switch (int(5)) {
      case 0: {
        // flip 1..4 bytes
        const flips = 1 + int(4);
        for (let i = 0; i < flips; i++) d[int(d.length)] = int(256);
        break;
      }
      case 1: // truncate
        d = d.slice(0, int(d.length + 1));
        break;
      case 2: {
        // header Length ± 1..255
        const p = s.headerLength;
        if (p + 1 < d.length) {
          const v = (((d[p] << 8) | d[p + 1]) + delta()) & 0xffff;
          d[p] = v >>> 8;
          d[p + 1] = v & 0xff;
        }
        break;
      }
      case 3: {
        // one BER length octet ± 1..255
        const p = s.berLengths[int(s.berLengths.length)];
        if (p < d.length) d[p] = (d[p] + delta()) & 0xff;
        break;
      }
      default: {
        // flip a byte inside the SV header or the first bytes of the savPdu
        const p = s.headerLength - 2 + int(24);
        if (p < d.length) d[p] ^= 1 << int(8);
      }
    }
  }
  return d;
}

function checkResult(r: DecodeResult, d: Uint8Array, what: string): void {
  if (r.kind === "not-sv") {
    assert.ok(Number.isInteger(r.etherType) && r.etherType >= 0 && r.etherType <= 0xffff, what);
    return;
  }
  for (const e of r.errors) {
    assert.ok(CODES.has(e.code), `${what}: error code ${e.code}: ${e.message}`);
    assert.ok(typeof e.message === "string" && e.message.length > 0, what);
    assert.ok(
      Number.isInteger(e.offset) && e.offset >= 0 && e.offset <= d.length,
      `${what}: offset ${e.offset}`,
    );
  }
  const asdus = r.kind === "sv" ? r.frame.pdu.asdus : (r.partial.pdu?.asdus ?? []);
  if (r.kind === "sv") {
    // decoded with problems: a noASDU mismatch, or a PDU cut short (SV Length, savPdu or seqASDU past the bytes
    // present, the ASDU cut short dropped), never anything else
    const cut = r.errors.filter((e) => e.code !== "noasdu-mismatch");
    for (const e of cut)
      assert.ok(
        (e.code === "truncated" || e.code === "bad-length") && / past the end /.test(e.message),
        `${what}: ${e.code}: ${e.message}`,
      );
    if (cut.length === 0) assert.equal(r.errors.length, r.frame.pdu.noASDU === asdus.length ? 0 : 1, what);
    else assert.ok(asdus.length > 0, `${what}: a PDU cut short with nothing kept must be an error`);
  } else {
    assert.ok(r.errors.length > 0, `${what}: an error result without errors`);
  }
  const pduEnd = r.offsets?.pduEnd ?? d.length;
  assert.ok(pduEnd <= d.length, what);
  for (const a of asdus) {
    assert.ok(Number.isInteger(a.smpCnt) && a.smpCnt >= 0, what);
    assert.ok(Number.isInteger(a.confRev) && a.confRev >= 0, what);
    assert.ok(typeof a.svID === "string", what);
    assert.equal(a.seqData.buffer, d.buffer, `${what}: seqData is a view into the frame`);
    assert.ok(
      a.seqData.byteOffset + a.seqData.length <= d.byteOffset + pduEnd,
      `${what}: seqData inside the PDU`,
    );
  }
}

describe("decoder fuzzing on mutated real frames", () => {
  it(`${MUTATIONS} mutations: no exception, only decodes or typed errors with in-range offsets`, () => {
    const seeds = loadSeeds();
    assert.ok(seeds.length >= 8 * 4, `seed frames from the shared captures (${seeds.length})`);
    const rnd = prng(20261126);
    const tally = { sv: 0, "not-sv": 0, error: 0 };
    const codes = new Map<string, number>();
    for (let i = 0; i < MUTATIONS; i++) {
      const s = seeds[i % seeds.length];
      const d = mutate(rnd, s);
      let r: DecodeResult;
      try {
        r = decodeFrame(d, s.link, { offsets: (i & 1) === 0 });
      } catch (e) {
        assert.fail(`mutation ${i} threw: ${(e as Error).stack}`);
      }
      const what = `mutation ${i} (${Buffer.from(d).toString("hex")})`;
      checkResult(r, d, what);
      // the fast path agrees with the full decoder whenever the full decoder succeeds
      const key = peekSvKey(d, s.link);
      if (r.kind === "sv" && r.frame.pdu.asdus.length > 0) {
        assert.ok(key, `${what}: peekSvKey found nothing`);
        assert.equal(key.svID, r.frame.pdu.asdus[0].svID, what);
        assert.equal(key.smpCnt, r.frame.pdu.asdus[0].smpCnt, what);
        assert.equal(key.appid, r.frame.pdu.appid, what);
      } else if (r.kind === "not-sv") assert.equal(key, undefined, what);
      tally[r.kind]++;
      if (r.kind !== "not-sv") for (const e of r.errors) codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
    }
    // the mutations must actually reach the error paths, not only produce clean frames
    assert.ok(tally.error > MUTATIONS / 4, `error results: ${JSON.stringify(tally)}`);
    assert.ok(tally.sv > MUTATIONS / 20, `clean results: ${JSON.stringify(tally)}`);
    for (const c of ["truncated", "bad-length", "bad-tag", "bad-value", "missing-field", "noasdu-mismatch"])
      assert.ok((codes.get(c) ?? 0) > 0, `error code ${c} reached (${JSON.stringify([...codes])})`);
  });
});
