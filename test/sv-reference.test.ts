/**
 * Every capture in ../shared/captures decodes with every field equal to its tshark reference decode
 * (<name>.ref.jsonl.gz): the `svtrace decode --json` keys, the header fields, and the byte offsets of every
 * field. The directory is listed at run time, so a capture added there is tested without editing this file.
 *
 * Where tshark 4.0 is known to be wrong: it cannot decode the savPdu `security` field [1] (BER error, and the
 * ASDUs after it are lost). A frame whose savPdu carries `security` is therefore checked against the correct
 * values instead: header fields equal to the reference, and as many ASDUs as noASDU says. No capture in the set
 * has such a frame today (the check is exercised by sv-codec.test.ts with encoded frames).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { readPackets } from "../src/capture/reader.js";
import { decodeFrame, peekSvKey } from "../src/sv/decode.js";
import { asduRecords, type RefAsduRecord } from "../src/sv/refjson.js";
import { capturesDir } from "./helpers.js";

type Ref = Record<string, unknown> & { frame: number; asdu_index: number | null };

const RECORD_KEYS: (keyof RefAsduRecord)[] = [
  "frame",
  "time_epoch",
  "src",
  "dst",
  "vlan_id",
  "vlan_pri",
  "appid",
  "length",
  "simulate",
  "noASDU",
  "asdu_index",
  "svID",
  "datSet",
  "smpCnt",
  "confRev",
  "refrTm",
  "smpSynch",
  "smpRate",
  "smpMod",
  "gmIdentity",
  "seqData_hex",
  "values",
  "qualities",
];

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

const captures = readdirSync(capturesDir)
  .filter((f) => /\.(pcap|pcapng|cap)$/.test(f))
  .sort();

function loadRefs(stem: string): Ref[] {
  const text = gunzipSync(readFileSync(join(capturesDir, `${stem}.ref.jsonl.gz`))).toString("utf8");
  return text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Ref);
}

describe("every shared capture decodes exactly like its tshark reference", () => {
  it("finds the captures", () => {
    assert.ok(
      captures.length >= 10,
      `expected the shared captures in ${capturesDir}, found ${captures.length}`,
    );
  });
  for (const file of captures) {
    it(file, () => {
      const stem = file.replace(/\.(pcap|pcapng|cap)$/, "");
      const refs = loadRefs(stem);
      const summary = JSON.parse(readFileSync(join(capturesDir, `${stem}.summary.json`), "utf8")) as {
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
      for (const pkt of readPackets(join(capturesDir, file))) {
        frames++;
        const want = byFrame.get(pkt.index) ?? [];
        if (pkt.linkType === "other") {
          assert.equal(want.length, 0, `frame ${pkt.index}: link type ${pkt.linkTypeCode} not decodable`);
          continue;
        }
        const r = decodeFrame(pkt.data, pkt.linkType, { offsets: true });
        if (r.kind === "not-sv") {
          assert.equal(want.length, 0, `frame ${pkt.index}: tshark saw SV, we saw EtherType ${r.etherType}`);
          continue;
        }
        assert.equal(
          r.kind,
          "sv",
          `frame ${pkt.index}: ${r.kind === "error" ? JSON.stringify(r.errors) : ""}`,
        );
        if (r.kind !== "sv") continue;
        svFrames++;
        assert.deepEqual(r.errors, [], `frame ${pkt.index}`);
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
          `frame ${pkt.index}: peekSvKey`,
        );
        const tsharkWrong = r.frame.pdu.security !== undefined; // see the file comment
        const mine = asduRecords(r.frame, pkt.index, pkt.tsNs);
        if (tsharkWrong) {
          assert.equal(mine.length, r.frame.pdu.noASDU, `frame ${pkt.index}: ASDUs after security`);
          assert.equal(want[0]?.appid, r.frame.pdu.appid);
          assert.equal(want[0]?.length, r.frame.pdu.length);
          records += want.length;
          continue;
        }
        assert.equal(mine.length, want.length, `frame ${pkt.index}: number of ASDUs`);
        records += mine.length;
        for (let i = 0; i < mine.length; i++) {
          const m = mine[i];
          const w = want[i];
          for (const k of RECORD_KEYS) {
            assert.deepEqual(m[k], w[k] ?? null, `frame ${pkt.index} ASDU ${i}: ${k}`);
          }
          // header fields and offsets that are not part of the printed record
          assert.equal(w.reserved1, r.frame.pdu.reserved1, `frame ${pkt.index}: reserved1`);
          assert.equal(w.reserved2, r.frame.pdu.reserved2, `frame ${pkt.index}: reserved2`);
          assert.equal(w.appid_offset, offsets.appid, `frame ${pkt.index}: appid_offset`);
          assert.equal(w.noASDU_offset, offsets.noASDU, `frame ${pkt.index}: noASDU_offset`);
          assert.equal(w.asdu_count_decoded, mine.length);
          assert.equal(w.cap_len, pkt.data.length);
          assert.equal(w.frame_len, pkt.origLen);
          assert.equal(w.link, pkt.linkType === "sll" ? "sll" : "eth");
          if (r.frame.vlan) assert.equal(w.vlan_dei, r.frame.vlan.dei ? 1 : 0);
          const ao = offsets.asdus[i] as unknown as Record<string, number | undefined>;
          const got: Record<string, number> = {};
          for (const [ours, theirs] of OFFSET_KEYS) {
            const v = ao[ours];
            if (v !== undefined) got[theirs] = v;
          }
          assert.deepEqual(got, w.offsets, `frame ${pkt.index} ASDU ${i}: offsets`);
          assert.equal(w.seqData_len, r.frame.pdu.asdus[i].seqData.length);
        }
      }
      assert.equal(frames, summary.frames_total, "frames in the file");
      assert.equal(svFrames, summary.sv_frames, "SV frames");
      assert.equal(records, summary.asdu_records, "ASDU records");
      assert.equal(records, refs.length, "reference lines");
    });
  }
});
