/**
 * `svtrace streams` end to end: --json counts against every capture's summary.json, the table, --modulus,
 * one-line errors and exit 1 for missing/empty/non-capture files, --help with examples.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { capture, capturesDir, runCli } from "./helpers.js";

interface JsonStream {
  svID: string;
  appid: number;
  src: string;
  dst: string | null;
  vlanId: number | null;
  frames: number;
  asdus: number;
  firstTime: string;
  lastTime: string;
  samplesPerSecond: number | null;
  modulus: number | null;
  modulusFrom: string | null;
  nominal: string | null;
  wraps: number;
  gaps: number;
  missing: number;
  duplicates: number;
  outOfOrder: number;
  interArrival: { count: number; minUs: number; p50Us: number; p99Us: number; maxUs: number } | null;
}
interface JsonOut {
  packets: number;
  svFrames: number;
  asdus: number;
  streams: JsonStream[];
}

let tmp = "";
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "svtrace-h2-cli-streams-"));
});
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("svtrace streams --json matches every summary.json", () => {
  for (const name of readdirSync(capturesDir).filter((n) => n.endsWith(".summary.json"))) {
    const s = JSON.parse(readFileSync(join(capturesDir, name), "utf8")) as {
      file: string;
      frames_total: number;
      asdu_records: number;
      streams: { svID: string; asdus: number; vlan_id: number | null; dst: string | null }[];
      smpCnt_wraps_count: number;
      smpCnt_gaps_count: number;
      smpCnt_repeats_count: number;
    };
    test(s.file, () => {
      const r = runCli(["streams", "--json", capture(s.file)]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as JsonOut;
      assert.equal(out.packets, s.frames_total);
      assert.equal(out.asdus, s.asdu_records);
      assert.equal(out.streams.length, s.streams.length);
      for (const want of s.streams) {
        const got = out.streams.find(
          (x) => x.svID === want.svID && x.vlanId === want.vlan_id && x.dst === want.dst,
        );
        assert.ok(got, `stream ${want.svID}`);
        assert.equal(got.asdus, want.asdus);
        assert.match(got.firstTime, /^\d+\.\d{9}$/);
      }
      const total = (k: "wraps" | "gaps" | "duplicates") => out.streams.reduce((a, x) => a + x[k], 0);
      assert.equal(total("wraps"), s.smpCnt_wraps_count);
      assert.equal(total("gaps"), s.smpCnt_gaps_count);
      assert.equal(total("duplicates"), s.smpCnt_repeats_count);
    });
  }
});

describe("svtrace streams, table and options", () => {
  test("table: header and one row per stream", () => {
    const r = runCli(["streams", capture("local_seapath_generator_4streams_untagged.pcap")]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n").filter((l) => l);
    assert.match(lines[0], /16400 packets, 16400 SV frames, 16400 ASDUs, 4 stream\(s\)$/);
    assert.match(
      lines[1],
      /^svID +APPID +src > dst +VLAN +frames +ASDUs .* inter-arrival min\/p50\/p99\/max µs$/,
    );
    assert.equal(lines.length, 6);
    assert.match(
      lines[2],
      /^svID0000 +0x4000 +c4:b5:12:00:00:01 > 01:0c:cd:01:00:01 +- +4100 +4100 .* 4000\.0 +4000 \(wrap\) +50 Hz x 80 \(9-2LE\) +1 +0\/0 +0 +0 +250\.0\/250\.0\/250\.0\/250\.0$/,
    );
  });

  test("gap capture: gaps/missing column", () => {
    const r = runCli(["streams", capture("guseynov_pcapMissed_studenttool_gap.pcap")]);
    assert.match(r.stdout, / 1\/7 /);
  });

  test("--modulus is used as given; a bad value is rejected", () => {
    const r = runCli([
      "streams",
      "--json",
      "--modulus",
      "4000",
      capture("guseynov_pcapMissed_studenttool_gap.pcap"),
    ]);
    const out = JSON.parse(r.stdout) as JsonOut;
    assert.equal(out.streams[0].modulus, 4000);
    assert.equal(out.streams[0].modulusFrom, "given");
    const bad = runCli(["streams", "--modulus", "1", capture("guseynov_pcapMissed_studenttool_gap.pcap")]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /give an integer 2\.\.65536/);
  });

  for (const [label, make, re] of [
    [
      "missing file",
      () => join(tmp, "none.pcapng"),
      /^svtrace: .*none\.pcapng: no such file; check the path\n$/,
    ],
    [
      "empty file",
      () => {
        const p = join(tmp, "empty.pcapng");
        writeFileSync(p, "");
        return p;
      },
      /^svtrace: .*empty\.pcapng: the file is empty; it is not a pcap or pcapng capture\n$/,
    ],
    [
      "not a capture",
      () => capture("SOURCES.md"),
      /^svtrace: .*SOURCES\.md: not a pcap or pcapng capture \(starts with 0x[0-9a-f]{8}\); give a \.pcap or \.pcapng file\n$/,
    ],
  ] as [string, () => string, RegExp][]) {
    test(`${label}: one line, exit 1`, () => {
      const r = runCli(["streams", make()]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, re);
    });
  }

  test("--help has examples", () => {
    const r = runCli(["streams", "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Examples:\n {2}svtrace streams /);
    assert.match(r.stdout, /--modulus/);
  });
});
