/**
 * SV codec unit tests that need no capture file: UtcTime, MAC, 9-2LE dataset, the encoder's layout and BER
 * options, and the decoder's typed errors on hand-made malformed frames.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeDataset,
  encodeDataset,
  Q_DERIVED,
  Q_VALIDITY_INVALID,
  Q_VALIDITY_MASK,
} from "../src/sv/dataset.js";
import { decodeFrame, peekSvKey } from "../src/sv/decode.js";
import { encodeFrame, encodeFrameWithLayout, utcTimeFromNs, utcTimeToNs } from "../src/sv/encode.js";
import { formatMac, MacParseError, parseMac } from "../src/sv/mac.js";
import { asduRecords, errorRecord, formatTimeEpoch } from "../src/sv/refjson.js";
import type { SvFrame } from "../src/sv/types.js";
import { formatUtcTimeTshark, readUtcTime, writeUtcTime } from "../src/sv/utc-time.js";
import { DECODE_JSON_KEYS } from "./helpers.js";

function leFrame(over: Partial<SvFrame> = {}): SvFrame {
  return {
    dst: "01:0c:cd:04:00:01",
    src: "02:00:00:00:00:01",
    vlan: { pcp: 4, dei: false, vid: 0 },
    pdu: {
      appid: 0x4000,
      length: 0,
      reserved1: 0,
      reserved2: 0,
      noASDU: 1,
      asdus: [
        {
          svID: "MU01",
          smpCnt: 123,
          confRev: 1,
          smpSynch: 2,
          seqData: encodeDataset([1, -2, 3, 2, 100, -200, 100, 0], [0, 0, 0, Q_DERIVED, 0, 0, 0, Q_DERIVED]),
        },
      ],
    },
    ...over,
  };
}

/** encode, then decode; the decoded Length is whatever the encoder wrote */
function decodeOk(bytes: Uint8Array, link: "ethernet" | "sll" = "ethernet") {
  const r = decodeFrame(bytes, link, { offsets: true });
  assert.equal(r.kind, "sv", JSON.stringify(r.kind === "not-sv" ? r : r.errors));
  if (r.kind !== "sv") throw new Error("unreachable");
  return r;
}

describe("UtcTime", () => {
  it("round-trips nanoseconds within 60 ns over many values", () => {
    let seed = 7n;
    for (let i = 0; i < 20000; i++) {
      seed = (seed * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
      const ns = (seed >> 8n) % (4_000_000_000n * 1_000_000_000n);
      const back = utcTimeToNs(utcTimeFromNs(ns));
      const d = back > ns ? back - ns : ns - back;
      assert.ok(d <= 60n, `ns ${ns} came back as ${back}`);
    }
  });
  it("rounds a fraction just below the next second up to it", () => {
    const t = utcTimeFromNs(1_999_999_999n);
    assert.deepEqual(t, { seconds: 2, fraction: 0, quality: 0 });
  });
  it("writes and reads the 8 bytes of the robidev example", () => {
    const b = Uint8Array.from(Buffer.from("65d6610399db220a", "hex"));
    const t = readUtcTime(b, 0);
    assert.deepEqual(t, { seconds: 0x65d66103, fraction: 0x99db22, quality: 0x0a });
    const out = new Uint8Array(8);
    writeUtcTime(out, 0, t);
    assert.deepEqual(out, b);
    assert.equal(formatUtcTimeTshark(t), "Feb 21, 2024 20:45:55.600999951 UTC");
  });
  it("formats single-digit days space-padded like tshark", () => {
    assert.equal(
      formatUtcTimeTshark({ seconds: 1706745600, fraction: 0x123456, quality: 0 }),
      "Feb  1, 2024 00:00:00.071111083 UTC",
    );
  });
});

describe("MAC", () => {
  it("parses and formats", () => {
    assert.deepEqual(parseMac("01:0C:cd:04:00:FF"), Uint8Array.from([1, 0x0c, 0xcd, 4, 0, 0xff]));
    assert.deepEqual(parseMac("01-0c-cd-04-00-01"), Uint8Array.from([1, 0x0c, 0xcd, 4, 0, 1]));
    assert.equal(formatMac(Uint8Array.from([0, 1, 0xca, 0xfe, 0xc0, 0xff, 0xee]), 1), "01:ca:fe:c0:ff:ee");
  });
  for (const bad of [
    "",
    "01:0c:cd:04:00",
    "01:0c:cd:04:00:01:02",
    "01:0c-cd:04:00:01",
    "zz:0c:cd:04:00:01",
  ]) {
    it(`rejects ${JSON.stringify(bad)} with MacParseError`, () => {
      assert.throws(() => parseMac(bad), MacParseError);
    });
  }
});

describe("dataset", () => {
  it("encodes and decodes INT32 + quality pairs, any multiple of 8", () => {
    const values = [-2147483648, 2147483647, 0, -1, 5, 6, 7, 8, 9, 10, 11, 12];
    const qualities = [0xffffffff, Q_DERIVED, Q_VALIDITY_INVALID, 3, 0, 0, 0, 0, 0, 0, 0, 0];
    const bytes = encodeDataset(values, qualities);
    assert.equal(bytes.length, 96);
    assert.deepEqual(decodeDataset(bytes), { values, qualities });
    assert.equal(decodeDataset(bytes.subarray(0, 12)), undefined);
    assert.equal(decodeDataset(new Uint8Array(0)), undefined);
    assert.equal(qualities[2] & Q_VALIDITY_MASK, Q_VALIDITY_INVALID);
  });
});

describe("encoder", () => {
  it("produces the 9-2LE layout of SV-PROTOCOL.md section 6 (tagged, L=4)", () => {
    const { bytes, asdus, appid, pduEnd } = encodeFrameWithLayout(leFrame());
    assert.equal(bytes.length, 116 + 4);
    assert.equal(appid, 18);
    assert.equal(pduEnd, 120);
    assert.deepEqual(asdus, [{ svID: 37, smpCnt: 43, seqData: 56 }]);
    assert.equal((bytes[20] << 8) | bytes[21], 98 + 4);
  });
  it("patching smpCnt and refrTm at the layout offsets changes only those fields", () => {
    const f = leFrame();
    f.pdu.asdus[0].refrTm = { seconds: 1000, fraction: 5, quality: 0 };
    const { bytes, asdus } = encodeFrameWithLayout(f);
    const refr = asdus[0].refrTm;
    assert.ok(refr !== undefined);
    bytes[asdus[0].smpCnt] = 0x9c;
    bytes[asdus[0].smpCnt + 1] = 0x40;
    writeUtcTime(bytes, refr, { seconds: 2000, fraction: 7, quality: 1 });
    const r = decodeOk(bytes);
    assert.equal(r.frame.pdu.asdus[0].smpCnt, 40000);
    assert.deepEqual(r.frame.pdu.asdus[0].refrTm, { seconds: 2000, fraction: 7, quality: 1 });
    assert.equal(r.frame.pdu.asdus[0].svID, "MU01");
  });
  it("forces long-form lengths when asked and the decoder reads them", () => {
    const f = leFrame();
    const min = encodeFrame(f);
    const long = encodeFrame(f, { lengthOctets: { savPdu: 1, seqASDU: 2, asdu: 1, fields: 1 } });
    assert.ok(long.length > min.length);
    const r = decodeOk(long);
    assert.equal(r.frame.pdu.asdus[0].svID, "MU01");
    assert.equal(r.frame.pdu.length, long.length - 18);
  });
  it("pads to 60 bytes and appends a trailer that the decoder ignores", () => {
    const f = leFrame({ vlan: undefined });
    f.pdu.asdus[0].seqData = new Uint8Array(0);
    f.pdu.asdus[0].svID = "a";
    const b = encodeFrame(f, { padTo60: true, trailer: Uint8Array.from([1, 2, 3, 4]) });
    assert.equal(b.length, 64);
    const r = decodeOk(b);
    assert.equal(r.offsets?.pduEnd, 14 + r.frame.pdu.length);
    assert.ok((r.offsets?.pduEnd ?? 99) < 60);
  });
  it("writes Linux cooked (SLL) frames without a destination", () => {
    const f = leFrame({ dst: undefined });
    const b = encodeFrame(f, { linkType: "sll", sllPacketType: 4 });
    const r = decodeOk(b, "sll");
    assert.equal(r.frame.dst, undefined);
    assert.equal(r.frame.src, f.src);
    assert.deepEqual(r.frame.vlan, f.vlan);
    assert.equal(r.offsets?.appid, 20);
  });
  it("refuses an Ethernet frame without a destination MAC", () => {
    assert.throws(() => encodeFrame(leFrame({ dst: undefined })), TypeError);
  });
});

describe("decoder", () => {
  it("reports a non-SV EtherType", () => {
    const b = encodeFrame(leFrame({ vlan: undefined }));
    b[12] = 0x08;
    b[13] = 0x00;
    assert.deepEqual(decodeFrame(b, "ethernet"), { kind: "not-sv", etherType: 0x0800 });
  });
  it("exposes the simulate bit, Reserved2 and the security field", () => {
    const f = leFrame();
    f.pdu.reserved1 = 0x8001;
    f.pdu.reserved2 = 0x1234;
    f.pdu.security = Uint8Array.from([9, 8, 7]);
    const r = decodeOk(encodeFrame(f));
    assert.equal(r.frame.pdu.reserved1, 0x8001);
    assert.equal(r.frame.pdu.reserved2, 0x1234);
    assert.deepEqual(r.frame.pdu.security, Uint8Array.from([9, 8, 7]));
    const rec = asduRecords(r.frame, 1, 1_000_000_123n)[0];
    assert.equal(rec.simulate, true);
    assert.equal(rec.time_epoch, "1.000000123");
  });
  it("reads smpCnt and confRev as unsigned", () => {
    const f = leFrame();
    f.pdu.asdus[0].smpCnt = 0xffff;
    f.pdu.asdus[0].confRev = 0xffffffff;
    const r = decodeOk(encodeFrame(f));
    assert.equal(r.frame.pdu.asdus[0].smpCnt, 65535);
    assert.equal(r.frame.pdu.asdus[0].confRev, 4294967295);
  });
  it("reports noASDU different from the ASDUs present but keeps the frame", () => {
    const f = leFrame();
    f.pdu.noASDU = 3;
    const r = decodeFrame(encodeFrame(f), "ethernet");
    assert.equal(r.kind, "sv");
    if (r.kind !== "sv") return;
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].code, "noasdu-mismatch");
    assert.equal(r.errors[0].offset, 30);
    assert.equal(r.frame.pdu.asdus.length, 1);
  });
  it("decodes noASDU = 0 with an empty seqASDU", () => {
    const f = leFrame();
    f.pdu.noASDU = 0;
    f.pdu.asdus = [];
    const r = decodeOk(encodeFrame(f));
    assert.equal(r.errors.length, 0);
    assert.deepEqual(r.frame.pdu.asdus, []);
  });
  it("skips unknown tags inside an ASDU and inside the savPdu", () => {
    const f = leFrame({ vlan: undefined });
    const { bytes, asdus } = encodeFrameWithLayout(f);
    // rewrite smpSynch (85 01 02, 3 bytes before seqData's tag) as an unknown context tag 0x8a
    const smpSynchTag = asdus[0].seqData - 2 - 3;
    assert.equal(bytes[smpSynchTag], 0x85);
    bytes[smpSynchTag] = 0x8a;
    const r = decodeOk(bytes);
    assert.equal(r.frame.pdu.asdus[0].smpSynch, undefined);
    assert.equal(r.frame.pdu.asdus[0].smpCnt, 123);
    // noASDU tag (offset 24) rewritten to an unknown tag: skipped, then noASDU is missing
    bytes[24] = 0x85;
    const r2 = decodeFrame(bytes, "ethernet");
    assert.equal(r2.kind, "error");
    if (r2.kind === "error") assert.equal(r2.errors[0].code, "missing-field");
  });
  it("flags Length beyond the captured bytes as truncated with the Length offset", () => {
    const b = encodeFrame(leFrame());
    const r = decodeFrame(b.subarray(0, b.length - 10), "ethernet");
    assert.equal(r.kind, "error");
    if (r.kind !== "error") return;
    assert.equal(r.errors[0].code, "truncated");
    assert.equal(r.errors[0].offset, 20);
    assert.equal(r.partial.pdu?.appid, 0x4000);
  });
  it("flags Length below 8 as bad-length", () => {
    const b = encodeFrame(leFrame(), { headerLength: 7 });
    const r = decodeFrame(b, "ethernet");
    assert.equal(r.kind, "error");
    if (r.kind === "error") assert.deepEqual([r.errors[0].code, r.errors[0].offset], ["bad-length", 20]);
  });
  it("keeps the ASDUs before a broken one", () => {
    const f = leFrame();
    const a0 = f.pdu.asdus[0];
    f.pdu.asdus = [a0, { ...a0, svID: "MU02", smpCnt: 124 }, { ...a0, svID: "MU03", smpCnt: 125 }];
    f.pdu.noASDU = 3;
    const { bytes, asdus } = encodeFrameWithLayout(f);
    // break ASDU 1: its smpCnt length 2 -> 5 (impossible size)
    bytes[asdus[1].smpCnt - 1] = 5;
    const r = decodeFrame(bytes, "ethernet");
    assert.equal(r.kind, "error");
    if (r.kind !== "error") return;
    assert.equal(r.partial.pdu?.asdus.length, 1);
    assert.equal(r.partial.pdu?.asdus[0].svID, "MU01");
    assert.ok(r.errors[0].offset >= asdus[1].svID && r.errors[0].offset < asdus[1].seqData);
  });
  it("rejects an indefinite BER length with its offset", () => {
    const b = encodeFrame(leFrame());
    b[27] = 0x80; // savPdu length byte
    const r = decodeFrame(b, "ethernet");
    assert.equal(r.kind, "error");
    if (r.kind === "error") assert.deepEqual([r.errors[0].code, r.errors[0].offset], ["bad-length", 27]);
  });
  it("reports a wrong savPdu tag as bad-tag", () => {
    const b = encodeFrame(leFrame());
    b[26] = 0x61;
    const r = decodeFrame(b, "ethernet");
    assert.equal(r.kind, "error");
    if (r.kind === "error") {
      assert.deepEqual([r.errors[0].code, r.errors[0].offset], ["bad-tag", 26]);
      const rec = errorRecord(7, r.errors[0]);
      assert.deepEqual(Object.keys(rec), ["frame", "error", "offset"]);
      assert.equal(rec.frame, 7);
      assert.equal(rec.offset, 26);
      assert.match(rec.error, /savPdu/);
    }
  });
  it("rejects a field that appears twice in one ASDU", () => {
    const f = leFrame({ vlan: undefined });
    const { bytes, asdus } = encodeFrameWithLayout(f);
    const smpSynchTag = asdus[0].seqData - 2 - 3;
    bytes[smpSynchTag] = 0x82; // a second smpCnt (1 byte long)
    const r = decodeFrame(bytes, "ethernet");
    assert.equal(r.kind, "error");
    if (r.kind === "error")
      assert.deepEqual([r.errors[0].code, r.errors[0].offset], ["bad-tag", smpSynchTag]);
  });
  it("peekSvKey gives APPID, VID, noASDU and the first ASDU's svID and smpCnt", () => {
    const f = leFrame({ vlan: { pcp: 4, dei: false, vid: 77 } });
    f.pdu.asdus.push({ ...f.pdu.asdus[0], svID: "second", smpCnt: 9 });
    f.pdu.noASDU = 2;
    const b = encodeFrame(f);
    assert.deepEqual(peekSvKey(b, "ethernet"), {
      appid: 0x4000,
      vid: 77,
      noASDU: 2,
      svID: "MU01",
      smpCnt: 123,
    });
    assert.deepEqual(peekSvKey(encodeFrame({ ...f, vlan: undefined }), "ethernet")?.vid, -1);
    const notSv = b.slice();
    notSv[16] = 0x08;
    assert.equal(peekSvKey(notSv, "ethernet"), undefined);
    assert.equal(peekSvKey(b.subarray(0, 40), "ethernet"), undefined);
  });
  it("accepts Buffer input and a reused receive buffer (the svID cache keeps its own copy)", () => {
    const rx = Buffer.alloc(256);
    // equal length and equal last bytes: the same cache slot, so a stale cached view would return the wrong name
    const names = ["A_STREAM01", "B_STREAM01", "A_STREAM02", "B_STREAM02"];
    for (let round = 0; round < 3; round++) {
      for (const svID of names) {
        const f = leFrame();
        f.pdu.asdus[0].svID = svID;
        const b = encodeFrame(f);
        rx.fill(0);
        rx.set(b, 0);
        const r = decodeFrame(rx.subarray(0, b.length), "ethernet");
        assert.equal(r.kind, "sv");
        if (r.kind === "sv") assert.equal(r.frame.pdu.asdus[0].svID, svID);
        assert.equal(peekSvKey(rx.subarray(0, b.length), "ethernet")?.svID, svID);
      }
    }
  });
  it("reads Q-in-Q (two tags) with the outer tag as vlan", () => {
    const f = leFrame({ vlan: { pcp: 4, dei: false, vid: 10 } });
    const inner = encodeFrame(f);
    for (const outerTpid of [0x88a8, 0x8100]) {
      // insert an outer tag (VID 300, PCP 6) before the 802.1Q tag
      const b = new Uint8Array(inner.length + 4);
      b.set(inner.subarray(0, 12), 0);
      b.set([outerTpid >> 8, outerTpid & 0xff, 0xc1, 0x2c], 12);
      b.set(inner.subarray(12), 16);
      const r = decodeFrame(b, "ethernet", { offsets: true });
      assert.equal(r.kind, "sv");
      if (r.kind !== "sv") return;
      assert.deepEqual(r.frame.vlan, { pcp: 6, dei: false, vid: 300 });
      assert.equal(r.offsets?.appid, 22);
      assert.deepEqual(r.frame.pdu.asdus, f.pdu.asdus);
      assert.equal(peekSvKey(b, "ethernet")?.vid, 300);
    }
  });
  it("never throws on short frames of every length", () => {
    const b = encodeFrame(leFrame());
    for (let n = 0; n <= b.length; n++) {
      for (const link of ["ethernet", "sll"] as const) {
        const r = decodeFrame(b.subarray(0, n), link);
        if (r.kind === "error") for (const e of r.errors) assert.ok(e.offset >= 0 && e.offset <= n);
      }
    }
  });
});

describe("reference JSON", () => {
  it("has exactly the reference keys in order (then warning), null where absent, no pairs for a 16-byte dataset", () => {
    const f = leFrame({ vlan: undefined });
    f.pdu.asdus[0].seqData = new Uint8Array(16);
    const r = decodeOk(encodeFrame(f));
    const rec = asduRecords(r.frame, 3, 1594858030059560000n)[0];
    assert.deepEqual(Object.keys(rec), DECODE_JSON_KEYS);
    assert.equal(rec.warning, null);
    assert.equal(rec.time_epoch, "1594858030.059560000");
    assert.equal(rec.vlan_id, null);
    assert.equal(rec.values, null);
    assert.equal(rec.datSet, null);
    assert.equal(formatTimeEpoch(0n), "0.000000000");
  });
  it("prints gmIdentity as tshark does (0x + 16 hex digits)", () => {
    const f = leFrame();
    f.pdu.asdus[0].gmIdentity = Uint8Array.from([0xaa, 0xbb, 0xcc, 0xff, 0xfe, 1, 2, 3]);
    const rec = asduRecords(decodeOk(encodeFrame(f)).frame, 1, 0n)[0];
    assert.equal(rec.gmIdentity, "0xaabbccfffe010203");
  });
});
