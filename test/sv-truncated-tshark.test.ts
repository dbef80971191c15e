/**
 * Frames whose PDU runs past the captured bytes (issue 11, section 4), made for the test with the encoder and the
 * pcap writer: SV Length larger than the bytes present; savPdu length past the end; seqASDU length past the end;
 * a snaplen cut inside the last of 3 ASDUs; a snaplen cut inside the only ASDU of 1 (nothing decodable); and
 * normal frames around them. `svtrace decode --json` (a child process, as a user runs it) must give exactly the
 * ASDUs tshark decodes completely (svID, smpCnt, confRev, the 8 values), each with a warning naming the problem,
 * warning null on the normal frames, and an error object for the frame with nothing decodable. tshark runs on
 * the same file (execFile, no shell). Where tshark shows a further ASDU, it must be the one cut short (fewer than
 * 8 values): svtrace does not print a partial ASDU. smpSynch 200 is compared through its INT8 reading, the
 * deliberate difference (tshark shows -56). `svtrace streams` counts the same ASDUs and the warned frames.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PcapWriter } from "../src/capture/pcap-writer.js";
import { encodeDataset } from "../src/sv/dataset.js";
import { encodeFrameWithLayout } from "../src/sv/encode.js";
import type { SvFrame } from "../src/sv/types.js";
import { runCli } from "./helpers.js";

interface Case {
  name: string;
  /** the captured bytes */
  data: Uint8Array;
  /** the frame's length on the wire (> data.length for a snaplen cut) */
  origLen: number;
  /** what the warning must say (null: a clean frame; "error": nothing decodable, an error object) */
  warning: RegExp | null | "error";
}

function frame(n: number, tag: number): SvFrame {
  return {
    dst: "01:0c:cd:04:00:01",
    src: "02:00:00:00:00:0b",
    vlan: { pcp: 4, dei: false, vid: 11 },
    pdu: {
      appid: 0x4000,
      length: 0,
      reserved1: 0,
      reserved2: 0,
      noASDU: n,
      asdus: Array.from({ length: n }, (_, i) => ({
        svID: `CUT${tag}_${i}`,
        smpCnt: 100 * tag + i,
        confRev: 1,
        smpSynch: 200,
        seqData: encodeDataset(
          [tag, -i, 1000 + i, -1000, 7, 8, 9, 10 * tag],
          [0, 0, 0, 0x2000, 0, 1, 0, 0x2000],
        ),
      })),
    },
  };
}

/** add `delta` to the 2-byte value at `at` (a header Length or the last 2 octets of a 0x82 BER length) */
function bump(b: Uint8Array, at: number, delta: number): void {
  const v = ((b[at] << 8) | b[at + 1]) + delta;
  b[at] = v >>> 8;
  b[at + 1] = v & 0xff;
}

// tagged Ethernet: SV header Length at 20, savPdu 0x60 at 26; with 2-octet long-form lengths forced for savPdu
// and seqASDU (60 82 LL LL 80 01 n a2 82 LL LL), the savPdu length sits at 28 and the seqASDU length at 35
const LONG = { lengthOctets: { savPdu: 2, seqASDU: 2 } };

function cases(): Case[] {
  const out: Case[] = [];
  const whole = (name: string, data: Uint8Array, warning: Case["warning"]) =>
    out.push({ name, data, origLen: data.length, warning });
  whole("normal, 2 ASDUs", encodeFrameWithLayout(frame(2, 1)).bytes, null);
  {
    const b = encodeFrameWithLayout(frame(2, 2)).bytes;
    bump(b, 20, 10);
    whole(
      "SV Length 10 bytes past the frame",
      b,
      /^truncated at offset 20: SV Length \d+ runs 10 byte\(s\) past the end of the captured frame$/,
    );
  }
  {
    const b = encodeFrameWithLayout(frame(2, 3), LONG).bytes;
    assert.deepEqual([b[26], b[27], b[30], b[33], b[34]], [0x60, 0x82, 0x80, 0xa2, 0x82]);
    bump(b, 28, 6);
    whole(
      "savPdu length 6 bytes past the end",
      b,
      /^bad-length at offset 27: savPdu: length \d+ runs 6 byte\(s\) past the end of the PDU \(SV Length \d+\)$/,
    );
  }
  {
    const b = encodeFrameWithLayout(frame(2, 4), LONG).bytes;
    bump(b, 35, 9);
    whole(
      "seqASDU length 9 bytes past the end",
      b,
      /^bad-length at offset 34: seqASDU: length \d+ runs 9 byte\(s\) past the end of the savPdu$/,
    );
  }
  {
    // a merging unit that counts its ASDUs too long everywhere: Length, savPdu and seqASDU all 6 bytes too large
    const b = encodeFrameWithLayout(frame(2, 5), LONG).bytes;
    bump(b, 20, 6);
    bump(b, 28, 6);
    bump(b, 35, 6);
    whole(
      "Length, savPdu and seqASDU all 6 bytes too large",
      b,
      /^truncated at offset 20: SV Length \d+ runs 6 byte\(s\) past the end of the captured frame$/,
    );
  }
  {
    const { bytes, asdus } = encodeFrameWithLayout(frame(3, 6));
    const cut = asdus[2].seqData + 20; // inside the last ASDU's seqData
    out.push({
      name: "snaplen cut inside the last of 3 ASDUs",
      data: bytes.slice(0, cut),
      origLen: bytes.length,
      warning: new RegExp(
        `^truncated at offset 20: SV Length \\d+ runs ${bytes.length - cut} byte\\(s\\) past the end of the captured frame; ` +
          `truncated at offset ${asdus[2].svID - 4}: ASDU 3 of 3 runs past the end of the PDU at offset ${cut}; the 2 complete ASDU\\(s\\) before it are kept$`,
      ),
    });
  }
  whole("normal, 1 ASDU", encodeFrameWithLayout(frame(1, 7)).bytes, null);
  {
    const { bytes, asdus } = encodeFrameWithLayout(frame(1, 8));
    out.push({
      name: "snaplen cut inside the only ASDU (nothing decodable)",
      data: bytes.slice(0, asdus[0].seqData + 12),
      origLen: bytes.length,
      warning: "error",
    });
  }
  return out;
}

/** tshark's ASDUs of one frame: svID, smpCnt, confRev, smpSynch and the values it shows */
interface TsharkAsdu {
  svID: string;
  smpCnt: number;
  confRev: number;
  smpSynch: number;
  values: number[];
}

function asList<T>(x: T | T[] | undefined): T[] {
  return x === undefined ? [] : Array.isArray(x) ? x : [x];
}

function tsharkAsdus(path: string): TsharkAsdu[][] {
  const out = execFileSync(
    "tshark",
    ["-r", path, "-o", "sv.decode_data_as_phsmeas:TRUE", "-T", "json", "--no-duplicate-keys"],
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "ignore"] },
  );
  type Layers = { sv?: Record<string, Record<string, Record<string, unknown>>> };
  const packets = JSON.parse(out) as { _source: { layers: Layers } }[];
  return packets.map((p) => {
    const tree = p._source.layers.sv?.["sv.savPdu_element"]?.["sv.seqASDU_tree"];
    const elems = asList(tree?.["sv.ASDU_element"] as Record<string, unknown> | Record<string, unknown>[]);
    return elems.map((a) => {
      const phs = asList(a.PhsMeas1 as Record<string, unknown> | Record<string, unknown>[]);
      return {
        svID: a["sv.svID"] as string,
        smpCnt: Number(a["sv.smpCnt"]),
        confRev: Number(a["sv.confRev"]),
        smpSynch: Number(a["sv.smpSynch"]),
        values: phs.flatMap((m) => asList(m["sv.meas_value"] as string | string[]).map(Number)),
      };
    });
  });
}

let dir = "";
let path = "";
const made = cases();
before(() => {
  dir = mkdtempSync(join(tmpdir(), "svtrace-truncated-"));
  path = join(dir, "cut.pcap");
  const w = new PcapWriter(path);
  let t = 1_764_000_000_000_000_000n;
  for (const c of made) {
    w.write(t, c.data, c.origLen);
    t += 250_000n;
  }
  w.close();
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Rec = Record<string, unknown>;

function decodeJson(): Map<number, Rec[]> {
  const r = runCli(["decode", "--json", path]);
  assert.equal(r.code, 0, r.stderr);
  const byFrame = new Map<number, Rec[]>();
  for (const l of r.stdout.split("\n").filter((x) => x)) {
    const o = JSON.parse(l) as Rec;
    const f = o.frame as number;
    byFrame.set(f, [...(byFrame.get(f) ?? []), o]);
  }
  const warned = made.filter((c) => c.warning instanceof RegExp).length;
  assert.match(r.stderr, new RegExp(`, ${warned} with a warning, 1 undecodable\\n$`));
  return byFrame;
}

describe("frames whose PDU runs past the captured bytes, against tshark", () => {
  test("svtrace decode --json gives tshark's complete ASDUs, with a warning naming the problem", () => {
    const theirs = tsharkAsdus(path);
    assert.equal(theirs.length, made.length, "tshark reads every frame");
    const ours = decodeJson();
    for (let k = 0; k < made.length; k++) {
      const c = made[k];
      const mine = ours.get(k + 1) ?? [];
      const t = theirs[k];
      // tshark's complete ASDUs (all 8 values shown) come first; a further one is the ASDU cut short
      const complete = t.filter((a) => a.values.length === 8);
      assert.deepEqual(
        t.slice(0, complete.length),
        complete,
        `${c.name}: tshark's complete ASDUs come first`,
      );
      assert.ok(t.length - complete.length <= 1, `${c.name}: at most the last ASDU is partial in tshark`);
      if (c.warning === "error") {
        assert.equal(complete.length, 0, `${c.name}: tshark has no complete ASDU either`);
        assert.equal(t.length, 1, `${c.name}: tshark shows the start of the ASDU`);
        assert.equal(mine.length, 1, c.name);
        assert.deepEqual(Object.keys(mine[0]), ["frame", "error", "offset"], c.name);
        assert.match(mine[0].error as string, /^truncated: SV Length \d+ runs \d+ byte\(s\) past the end/);
        continue;
      }
      assert.ok(complete.length > 0, `${c.name}: tshark decodes ASDUs`);
      assert.equal(mine.length, complete.length, `${c.name}: number of ASDUs (tshark: ${JSON.stringify(t)})`);
      for (let i = 0; i < mine.length; i++) {
        const m = mine[i];
        const w = complete[i];
        const what = `${c.name}, ASDU ${i}`;
        assert.equal(m.asdu_index, i, what);
        assert.equal(m.svID, w.svID, what);
        assert.equal(m.smpCnt, w.smpCnt, what);
        assert.equal(m.confRev, w.confRev, what);
        assert.deepEqual(m.values, w.values, what);
        // the deliberate difference: smpSynch is INT8U (200), tshark reads it as INT8 (-56)
        assert.equal(m.smpSynch, 200, what);
        assert.equal(w.smpSynch, -56, what);
        if (c.warning === null) assert.equal(m.warning, null, what);
        else assert.match(m.warning as string, c.warning, what);
      }
    }
  });

  test("the text output ends the ASDU lines of a warned frame with the warning", () => {
    const r = runCli(["decode", "-q", path]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n").filter((l) => l);
    const of = (n: number) => lines.filter((l) => l.startsWith(`#${n}  `));
    for (let k = 0; k < made.length; k++) {
      const c = made[k];
      const ls = of(k + 1);
      assert.ok(ls.length > 0, c.name);
      for (const l of ls) {
        if (c.warning === null) assert.doesNotMatch(l, /warning/, c.name);
        else if (c.warning === "error") assert.match(l, / SV decode error at offset 20: truncated: /, c.name);
        else {
          const m = / {2}warning ("[^"]*")$/.exec(l);
          assert.ok(m, `${c.name}: ${l}`);
          assert.match(JSON.parse(m[1]) as string, c.warning, c.name);
        }
      }
    }
  });

  test("svtrace streams counts the complete ASDUs of the warned frames", () => {
    const r = runCli(["streams", "--json", path]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as {
      svFrames: number;
      asdus: number;
      errorFrames: number;
      warnedFrames: number;
    };
    const ours = decodeJson();
    let asdus = 0;
    for (const recs of ours.values()) asdus += recs.filter((x) => "svID" in x).length;
    assert.equal(s.asdus, asdus);
    assert.equal(s.svFrames, made.length - 1);
    assert.equal(s.errorFrames, 1);
    assert.equal(s.warnedFrames, made.filter((c) => c.warning instanceof RegExp).length);
  });
});
