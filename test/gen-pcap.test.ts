/**
 * `svtrace pcap generate`: the written file decodes in tshark with exactly the requested svIDs, smpCnt
 * sequence and wrap, VLAN, APPID, noASDU, values and timestamps; same options give the same bytes;
 * bad input gives a one-line error and writes nothing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { sampleValues } from "../src/gen/waveform.js";
import { runCli } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "svtrace-gen-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** tshark -T fields, one array of strings per frame (multi-valued fields stay comma-separated). */
function tsharkFields(file: string, fields: string[], extra: string[] = []): string[][] {
  const args = ["-r", file, "-T", "fields", "-E", "separator=\t", ...extra];
  for (const f of fields) args.push("-e", f);
  const r = spawnSync("tshark", args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  assert.equal(r.status, 0, `tshark failed: ${r.stderr}`);
  return r.stdout
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => l.split("\t"));
}

describe("pcap generate decoded by tshark", () => {
  test("4 streams, VLAN, APPID, svIDs, smpCnt sequence with the wrap, values and quality", () => {
    const f = join(dir, "four.pcap");
    const r = runCli([
      "pcap",
      "generate",
      f,
      "--streams",
      "4",
      "--count",
      "4010",
      "--svid-prefix",
      "MU",
      "--svid-digits",
      "3",
      "--start-id",
      "7",
      "--appid",
      "4001",
      "--appid-step",
      "1",
      "--vlan",
      "100",
      "--prio",
      "5",
      "--src",
      "02:00:00:00:00:aa",
      "--dst",
      "01:0c:cd:04:00:10",
      "--i-rms",
      "100",
      "--v-rms",
      "63.5",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rows = tsharkFields(
      f,
      [
        "frame.time_epoch",
        "eth.src",
        "eth.dst",
        "vlan.id",
        "vlan.priority",
        "sv.appid",
        "sv.noASDU",
        "sv.svID",
        "sv.smpCnt",
        "sv.confRev",
        "sv.smpSynch",
        "sv.meas_value",
        "sv.meas_quality",
      ],
      ["-o", "sv.decode_data_as_phsmeas:TRUE"],
    );
    assert.equal(rows.length, 4 * 4010);
    const svids = ["MU007", "MU008", "MU009", "MU010"];
    const expectedCnt = (k: number) => k % 4000;
    for (let i = 0; i < rows.length; i++) {
      const [time, src, dst, vid, pri, appid, noAsdu, svID, smpCnt, confRev, smpSynch, values, quals] =
        rows[i];
      const k = Math.floor(i / 4);
      const s = i % 4;
      assert.equal(svID, svids[s], `frame ${i + 1} svID`);
      assert.equal(Number(smpCnt), expectedCnt(k), `frame ${i + 1} smpCnt`);
      assert.equal(Number(appid), 0x4001 + s);
      assert.equal(src, "02:00:00:00:00:aa");
      assert.equal(dst, "01:0c:cd:04:00:10");
      assert.equal(vid, "100");
      assert.equal(pri, "5");
      assert.equal(noAsdu, "1");
      assert.equal(confRev, "1");
      assert.equal(smpSynch, "2");
      // real sample times from the default start 2026-01-01T00:00:00Z, 250 µs apart
      const expectNs = 1767225600n * 1_000_000_000n + BigInt(k) * 250_000n;
      assert.equal(time.replace(".", ""), expectNs.toString(), `frame ${i + 1} time`);
      if (i < 400 || i % 997 === 0) {
        const want = sampleValues({ spc: 80, iRms: 100, vRms: 63.5 }, expectedCnt(k) % 80);
        assert.deepEqual(values.split(",").map(Number), want, `frame ${i + 1} values`);
        assert.equal(
          quals,
          "0x00000000,0x00000000,0x00000000,0x00002000,0x00000000,0x00000000,0x00000000,0x00002000",
        );
      }
    }
    // the sines have the requested RMS (1 mA and 10 mV per LSB) and IN/UN are the sums
    const cycle = Array.from({ length: 80 }, (_, n) => sampleValues({ spc: 80, iRms: 100, vRms: 63.5 }, n));
    const rms = (ch: number) => Math.sqrt(cycle.reduce((a, v) => a + v[ch] ** 2, 0) / 80);
    assert.ok(Math.abs(rms(0) / 1000 - 100) < 0.01, `IA rms ${rms(0) / 1000}`);
    assert.ok(Math.abs(rms(5) / 100 - 63.5) < 0.01, `UB rms ${rms(5) / 100}`);
    for (const v of cycle) {
      assert.equal(v[3], v[0] + v[1] + v[2]);
      assert.equal(v[7], v[4] + v[5] + v[6]);
    }
  });

  test("256 samples per cycle, 8 ASDUs per frame, 60 Hz, optional fields, simulate bit, no VLAN", () => {
    const f = join(dir, "le256.pcap");
    const r = runCli([
      "pcap",
      "generate",
      f,
      "--freq",
      "60",
      "--spc",
      "256",
      "--asdu",
      "8",
      "--count",
      "1925",
      "--simulate",
      "--smpsynch",
      "1",
      "--datset",
      "MU01LD0/LLN0$PhsMeas1",
      "--refrtm",
      "--smprate",
      "--smpmod",
      "0",
      "--start",
      "2026-03-01T12:00:00.5Z",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rows = tsharkFields(f, [
      "frame.time_epoch",
      "vlan.id",
      "sv.noASDU",
      "sv.smpCnt",
      "sv.reserve1.s_bit",
      "sv.datSet",
      "sv.smpRate",
      "sv.smpMod",
      "sv.smpSynch",
      "sv.refrTm",
    ]);
    assert.equal(rows.length, 1925);
    // 15360 samples/s, 1920 frames/s; start at .5 s -> first frame carries smpCnt 7680..7687
    for (let k = 0; k < rows.length; k++) {
      const [time, vid, noAsdu, cnts, sbit, datSet, smpRate, smpMod, smpSynch, refrTm] = rows[k];
      const g = 960 + k;
      const want = Array.from({ length: 8 }, (_, a) => ((g % 1920) * 8 + a) % 15360);
      assert.deepEqual(cnts.split(",").map(Number), want, `frame ${k + 1}`);
      assert.equal(vid, "");
      assert.equal(noAsdu, "8");
      assert.equal(sbit, "1");
      assert.equal(datSet.split(",")[0], "MU01LD0/LLN0$PhsMeas1");
      assert.equal(smpRate.split(",")[7], "256");
      assert.equal(smpMod.split(",")[0], "0");
      assert.equal(smpSynch.split(",")[0], "1");
      assert.match(refrTm, /2026/);
      const sec = 1772366400 + Math.floor(g / 1920);
      const ns = Math.round(((g % 1920) * 1e9) / 1920);
      assert.equal(time, `${sec}.${String(ns).padStart(9, "0")}`, `frame ${k + 1} time`);
    }
    assert.equal(rows[959][3].split(",")[7], "15359");
    assert.equal(rows[960][3].split(",")[0], "0", "wraps at 15360");
  });

  test("--no-smpsynch omits the field; --smpsynch sets it", () => {
    const a = join(dir, "nosync.pcap");
    const b = join(dir, "sync0.pcap");
    assert.equal(runCli(["pcap", "generate", a, "--count", "3", "--no-smpsynch"]).code, 0);
    assert.equal(runCli(["pcap", "generate", b, "--count", "3", "--smpsynch", "0"]).code, 0);
    assert.deepEqual(tsharkFields(a, ["sv.smpSynch", "sv.smpCnt"]), [
      ["", "0"],
      ["", "1"],
      ["", "2"],
    ]);
    assert.deepEqual(tsharkFields(b, ["sv.smpSynch", "sv.smpCnt"]), [
      ["0", "0"],
      ["0", "1"],
      ["0", "2"],
    ]);
  });

  test("same options give the same bytes; other options differ", () => {
    const a = join(dir, "a.pcap");
    const b = join(dir, "b.pcap");
    const c = join(dir, "c.pcap");
    const args = ["--streams", "3", "--count", "500", "--vlan", "0"];
    assert.equal(runCli(["pcap", "generate", a, ...args]).code, 0);
    assert.equal(runCli(["pcap", "generate", b, ...args]).code, 0);
    assert.equal(runCli(["pcap", "generate", c, ...args, "--i-rms", "2"]).code, 0);
    const ba = readFileSync(a);
    assert.ok(ba.length > 3 * 500 * 100);
    assert.ok(ba.equals(readFileSync(b)), "deterministic output");
    assert.ok(!ba.equals(readFileSync(c)));
  });

  test("large files are fast enough and complete (200k frames)", () => {
    const f = join(dir, "big.pcap");
    const r = runCli(["pcap", "generate", f, "--streams", "8", "--count", "25000"]);
    assert.equal(r.code, 0, r.stderr);
    const capinfos = spawnSync("capinfos", ["-c", "-M", f], { encoding: "utf8" });
    assert.match(capinfos.stdout, /Number of packets:\s+200000/);
  });
});

describe("pcap generate rejects bad input with one line and writes nothing", () => {
  const cases: [string, string[], RegExp][] = [
    ["0 streams", ["--streams", "0"], /--streams must be between 1 and 64/],
    ["100000 streams", ["--streams", "100000"], /--streams must be between 1 and 64/],
    ["svID over 34 bytes", ["--svid-prefix", "x".repeat(31)], /at most 34/],
    ["non-ASCII svID", ["--svid-prefix", "Mü"], /not printable ASCII/],
    ["bad MAC", ["--dst", "01:0c:cd:04:00"], /--dst: not a MAC address/],
    ["bad VLAN", ["--vlan", "4096"], /--vlan must be between 0 and 4095/],
    ["bad freq", ["--freq", "55"], /--freq must be 50 or 60/],
    ["bad spc", ["--spc", "100"], /--spc must be 80 or 256/],
    ["bad appid", ["--appid", "zz"], /--appid must be a hex number/],
    ["bad start", ["--start", "yesterday"], /--start must be an ISO 8601 time/],
    ["asdu not dividing the rate", ["--asdu", "3"], /does not divide/],
    ["prio without vlan", ["--prio", "4"], /--prio needs --vlan/],
  ];
  for (const [name, args, re] of cases) {
    test(name, () => {
      const f = join(dir, `bad-${name.replace(/\W+/g, "_")}.pcap`);
      const r = runCli(["pcap", "generate", f, ...args]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
      assert.match(r.stderr, /^svtrace: /);
      assert.equal(existsSync(f), false, "nothing written");
    });
  }
});
