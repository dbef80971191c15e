/**
 * Every capture in ../shared/captures (and our own edge-case capture in test/fixtures/sv) decodes with every
 * field equal to its tshark reference decode (<name>.ref.jsonl.gz): the `svtrace decode --json` keys, the header
 * fields, and the byte offsets of every field. The directories are listed at run time, so a capture added there
 * is tested without editing this file.
 *
 * Malformed frames: where our decoder reports errors, the ASDUs it kept must equal tshark's, and tshark must have
 * flagged the frame too, except for the codes by which we are stricter (STRICTER_THAN_TSHARK). A PDU cut short
 * (SV Length, savPdu or seqASDU past the bytes present) with complete ASDUs decodes, with a warning: its ASDUs
 * must be tshark's first ones, and any further ASDU tshark shows must be one cut short (no seqData).
 *
 * Where tshark 4.0 is wrong, we test the correct value instead:
 * - it cannot decode the savPdu `security` element [1] (BER error, the ASDUs after it are lost): we require
 *   as many ASDUs as noASDU says and equal header fields (edge_cases.pcap frame 10; sv-tshark.test.ts);
 * - after an unknown tag inside an ASDU it drops the following fields (see tsharkLostFields; frame 6);
 * - an empty seqData has no raw bytes in its JSON (null where we print ""; frame 11).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readPackets } from "../src/capture/reader.js";
import { decodeFrame, peekSvKey, type SvDecodeErrorCode, type SvOffsets } from "../src/sv/decode.js";
import { asduRecords, type RefAsduRecord, warningOf } from "../src/sv/refjson.js";
import type { SvFrame } from "../src/sv/types.js";
import { capturesDir, loadReferenceRecords, REF_RECORD_KEYS, repoRoot } from "./helpers.js";

type Ref = Record<string, unknown> & { frame: number; asdu_index: number | null; expert: unknown };

const RECORD_KEYS: readonly (keyof RefAsduRecord)[] = REF_RECORD_KEYS;

/** our AsduOffsets key -> the tshark field name used in the reference `offsets` object */
const OFFSET_KEYS: [string, string][] = [
  ["svID", "svID"],
  ["datSet", "datSet"],
  ["smpCnt", "smpCnt"],
  ["confRev", "confRev"],
  ["refrTm", "refrTm"],
  ["smpSynch", "smpSynch"],
  ["smpRate", "smpRate"],
  ["seqData", "seqData"],
  ["smpMod", "smpMod"],
  ["gmIdentity", "gmidData"],
];

/** the keys of one ASDU (the frame-level ones may be unknown in a malformed frame) */
const ASDU_KEYS: (keyof RefAsduRecord)[] = RECORD_KEYS.slice(RECORD_KEYS.indexOf("asdu_index"));
const HEADER_KEYS = ["src", "dst", "vlan_id", "vlan_pri", "appid", "length", "simulate", "noASDU"] as const;

/**
 * Error codes by which we are stricter than tshark, which decodes such frames without complaint:
 * "truncated" = the header Length runs past the captured bytes (tshark only checks the savPdu TLV),
 * "bad-value" = an integer field wider than 4 bytes or a UtcTime/gmIdentity of the wrong size.
 */
const STRICTER_THAN_TSHARK = new Set<SvDecodeErrorCode>(["truncated", "bad-value"]);

function headerOf(f: SvFrame): Record<(typeof HEADER_KEYS)[number], unknown> {
  return {
    src: f.src,
    dst: f.dst ?? null,
    vlan_id: f.vlan ? f.vlan.vid : null,
    vlan_pri: f.vlan ? f.vlan.pcp : null,
    appid: f.pdu.appid,
    length: f.pdu.length,
    simulate: (f.pdu.reserved1 & 0x8000) !== 0,
    noASDU: f.pdu.noASDU,
  };
}

/** our records (and field offsets) against tshark's, ASDU by ASDU */
function compareAsdus(
  what: string,
  mine: RefAsduRecord[],
  want: Ref[],
  offsets: SvOffsets | undefined,
  keys: readonly (keyof RefAsduRecord)[],
): void {
  for (let i = 0; i < mine.length; i++) {
    const m = mine[i];
    const w = want[i];
    const lost = tsharkLostFields(w);
    for (const k of keys) {
      // tshark lost this field (see tsharkLostFields): we must have decoded it, and nothing is compared
      if (lost && (w[k] ?? null) === null && m[k] !== null) continue;
      // an empty seqData has no raw bytes in tshark's JSON (null); we print the empty string
      if (k === "seqData_hex" && m[k] === "" && (w[k] ?? null) === null) continue;
      assert.deepEqual(m[k], w[k] ?? null, `${what} ASDU ${i}: ${k}`);
    }
    if ((!lost || w.seqData_len != null) && m.seqData_hex !== "")
      assert.equal(w.seqData_len, m.seqData_hex.length / 2, `${what} ASDU ${i}: seqData_len`);
    const ao = offsets?.asdus[i] as unknown as Record<string, number | undefined> | undefined;
    assert.ok(ao, `${what} ASDU ${i}: offsets`);
    const got: Record<string, number> = {};
    for (const [ours, theirs] of OFFSET_KEYS) {
      const v = ao[ours];
      if (v !== undefined) got[theirs] = v;
    }
    if (m.seqData_hex === "" && !("seqData" in (w.offsets as object))) delete got.seqData; // as above
    if (lost) {
      for (const [k, v] of Object.entries(w.offsets as Record<string, number>))
        assert.equal(got[k], v, `${what} ASDU ${i}: offset of ${k}`);
    } else assert.deepEqual(got, w.offsets, `${what} ASDU ${i}: offsets`);
  }
}

/**
 * tshark 4.0 is also wrong after an unknown or out-of-order tag inside an ASDU: its BER SEQUENCE walker reports
 * "Wrong field in SEQUENCE" / "lies beyond the end of the known sequence" and drops the fields that follow
 * (seqData included), although they are well-formed. For such records we require every field tshark did decode
 * to be equal, and accept the fields it lost (we decode them; sv-codec.test.ts checks that unknown tags are
 * skipped and the following fields read correctly).
 */
function tsharkLostFields(w: Ref): boolean {
  return JSON.stringify(w.expert ?? null).includes("BER Error: Wrong field in SEQUENCE");
}

/** our own edge-case capture (made by fixtures/sv/make-edge-cases.ts, reference by tshark via make_refs.py) */
const fixturesDir = join(repoRoot, "test/fixtures/sv");

function capturesIn(dir: string): { dir: string; file: string }[] {
  return readdirSync(dir)
    .filter((f) => /\.(pcap|pcapng|cap)$/.test(f))
    .sort()
    .map((file) => ({ dir, file }));
}

const captures = [...capturesIn(capturesDir), ...capturesIn(fixturesDir)];

function loadRefs(dir: string, stem: string): Ref[] {
  return loadReferenceRecords(dir, stem) as Ref[];
}

describe("every shared capture decodes exactly like its tshark reference", () => {
  it("finds the captures", () => {
    assert.ok(
      captures.length >= 10,
      `expected the shared captures in ${capturesDir}, found ${captures.length}`,
    );
  });
  for (const { dir, file } of captures) {
    it(file, () => {
      const stem = file.replace(/\.(pcap|pcapng|cap)$/, "");
      const refs = loadRefs(dir, stem);
      const summary = JSON.parse(readFileSync(join(dir, `${stem}.summary.json`), "utf8")) as {
        frames_total: number;
        sv_frames: number;
        asdu_records: number;
      };
      const byFrame = new Map<number, Ref[]>();
      for (const r of refs) {
        const l = byFrame.get(r.frame);
        if (l) l.push(r);
        else byFrame.set(r.frame, [r]);
      }
      let frames = 0;
      let svFrames = 0;
      let records = 0;
      for (const pkt of readPackets(join(dir, file))) {
        frames++;
        const want = byFrame.get(pkt.index) ?? [];
        if (pkt.linkType === "other") {
          assert.equal(want.length, 0, `frame ${pkt.index}: link type ${pkt.linkTypeCode} not decodable`);
          continue;
        }
        const r = decodeFrame(pkt.data, pkt.linkType, { offsets: true });
        const what = `${file} frame ${pkt.index}`;
        if (r.kind === "not-sv") {
          assert.equal(want.length, 0, `${what}: tshark saw SV, we saw EtherType ${r.etherType}`);
          continue;
        }
        records += want.length;
        if (r.kind === "error") {
          // Malformed frame: what we kept must equal what tshark decoded; see the file comment for when we
          // are stricter than tshark.
          if (want.length === 0) {
            assert.equal(
              r.errors[0].code,
              "truncated",
              `${what}: tshark saw no SV: ${JSON.stringify(r.errors)}`,
            );
            continue;
          }
          svFrames++;
          if (want[0].expert === null)
            assert.ok(
              STRICTER_THAN_TSHARK.has(r.errors[0].code),
              `${what}: tshark decoded it without complaint, we report ${JSON.stringify(r.errors)}`,
            );
          const pdu = r.partial.pdu;
          const kept = pdu?.asdus ?? [];
          const tsharkAsdus = want.filter((w) => w.asdu_index !== null);
          assert.ok(kept.length <= tsharkAsdus.length, `${what}: we kept more ASDUs than tshark decoded`);
          if (kept.length > 0 && pdu && r.partial.src !== undefined) {
            const f: SvFrame = {
              src: r.partial.src,
              pdu: {
                ...pdu,
                noASDU: pdu.noASDU ?? -1,
                asdus: kept,
                appid: pdu.appid ?? -1,
                length: pdu.length ?? -1,
                reserved1: pdu.reserved1 ?? 0,
                reserved2: pdu.reserved2 ?? 0,
              },
            };
            if (r.partial.dst !== undefined) f.dst = r.partial.dst;
            if (r.partial.vlan) f.vlan = r.partial.vlan;
            compareAsdus(what, asduRecords(f, pkt.index, pkt.tsNs), tsharkAsdus, r.offsets, ASDU_KEYS);
          }
          continue;
        }
        svFrames++;
        // a PDU cut short that still decodes: truncated/bad-length errors that say so (see the file comment)
        const cut = r.errors.some((e) => e.code === "truncated" || e.code === "bad-length");
        assert.ok(
          r.errors.every((e) => e.code === "noasdu-mismatch" || (cut && / past the end /.test(e.message))),
          `${what}: ${JSON.stringify(r.errors)}`,
        );
        const offsets = r.offsets;
        assert.ok(offsets);
        const first = r.frame.pdu.asdus[0];
        assert.deepEqual(
          peekSvKey(pkt.data, pkt.linkType),
          first && {
            appid: r.frame.pdu.appid,
            vid: r.frame.vlan ? r.frame.vlan.vid : -1,
            noASDU: r.frame.pdu.noASDU,
            svID: first.svID,
            smpCnt: first.smpCnt,
          },
          `${what}: peekSvKey`,
        );
        const mine = asduRecords(r.frame, pkt.index, pkt.tsNs, warningOf(r.errors));
        // decode --json's warning: null on a clean frame, else what is wrong (a PDU cut short, a noASDU mismatch)
        for (const m of mine)
          if (r.errors.length === 0) assert.equal(m.warning, null, what);
          else
            assert.match(
              m.warning ?? "",
              new RegExp(`^${r.errors[0].code} at offset ${r.errors[0].offset}: `),
              what,
            );
        if (r.frame.pdu.security !== undefined) {
          // tshark 4.0 is wrong here (see the file comment): check the correct values instead
          assert.equal(mine.length, r.frame.pdu.noASDU, `${what}: ASDUs after security`);
          assert.equal(want[0]?.appid, r.frame.pdu.appid);
          assert.equal(want[0]?.length, r.frame.pdu.length);
          continue;
        }
        if (mine.length === 0) {
          // noASDU = 0 and an empty seqASDU: tshark writes one record without an ASDU
          assert.equal(want.length, 1, `${what}: one reference line for a frame without ASDUs`);
          assert.equal(want[0].asdu_index, null, what);
          for (const k of HEADER_KEYS) assert.deepEqual(want[0][k], headerOf(r.frame)[k], `${what}: ${k}`);
          continue;
        }
        if (cut) {
          assert.ok(mine.length > 0 && mine.length <= want.length, `${what}: number of ASDUs`);
          for (const w of want.slice(mine.length))
            assert.equal(w.seqData_hex ?? null, null, `${what}: tshark's ASDU ${w.asdu_index} is complete`);
        } else assert.equal(mine.length, want.length, `${what}: number of ASDUs`);
        compareAsdus(what, mine, want.slice(0, mine.length), offsets, RECORD_KEYS);
        for (const w of want) {
          // header fields and offsets that are not part of the printed record
          assert.equal(w.reserved1, r.frame.pdu.reserved1, `${what}: reserved1`);
          assert.equal(w.reserved2, r.frame.pdu.reserved2, `${what}: reserved2`);
          assert.equal(w.appid_offset, offsets.appid, `${what}: appid_offset`);
          assert.equal(w.noASDU_offset, offsets.noASDU, `${what}: noASDU_offset`);
          if (!cut) assert.equal(w.asdu_count_decoded, mine.length, what);
          assert.equal(w.cap_len, pkt.data.length, what);
          assert.equal(w.frame_len, pkt.origLen, what);
          assert.equal(w.link, pkt.linkType === "sll" ? "sll" : "eth", what);
          if (r.frame.vlan) assert.equal(w.vlan_dei, r.frame.vlan.dei ? 1 : 0, what);
        }
      }
      assert.equal(frames, summary.frames_total, "frames in the file");
      assert.equal(svFrames, summary.sv_frames, "SV frames");
      assert.equal(records, summary.asdu_records, "ASDU records");
      assert.equal(records, refs.length, "reference lines");
    });
  }
});
