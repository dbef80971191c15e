/**
 * `svtrace decode` end to end (a child process, as a user runs it): --json equals the tshark reference records
 * on two captures; human lines; undecodable frames give an error record and decoding goes on; --all lists
 * non-SV packets; a closed pipe stops it; one-line errors and exit 1 for missing, empty and non-capture files.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PcapWriter } from "../src/capture/pcap-writer.js";
import { readPackets } from "../src/capture/reader.js";
import {
  capture,
  capturesDir,
  cliMain,
  DECODE_JSON_KEYS,
  loadReferenceRecords,
  REF_RECORD_KEYS,
  runCli,
} from "./helpers.js";

/** the reference records as decode --json prints them: the reference fields, then `warning: null` (clean frames) */
function refRecords(stem: string): Record<string, unknown>[] {
  return loadReferenceRecords(capturesDir, stem).map((r) => {
    const o: Record<string, unknown> = {};
    for (const k of REF_RECORD_KEYS) o[k] = r[k] ?? null;
    o.warning = null;
    return o;
  });
}

let tmp = "";
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "svtrace-h2-cli-decode-"));
});
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("svtrace decode --json equals the reference decode", () => {
  for (const file of [
    "local_libiec61850_le256_noASDU8_alloptional_vlan100.pcap",
    "robidev_docker_sll_refrTm_4frames.pcapng",
  ]) {
    test(file, () => {
      const r = runCli(["decode", "--json", capture(file)]);
      assert.equal(r.code, 0, r.stderr);
      const got = r.stdout
        .split("\n")
        .filter((l) => l)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const want = refRecords(file.replace(/\.pcap(ng)?$/, ""));
      assert.equal(got.length, want.length);
      for (let i = 0; i < want.length; i++) {
        assert.deepEqual(
          Object.keys(got[i]),
          [...DECODE_JSON_KEYS],
          "exactly the reference field names, in order, then warning",
        );
        assert.deepEqual(got[i], want[i], `record ${i + 1}`);
      }
      assert.match(r.stderr, /packets, \d+ SV frames, \d+ ASDUs/);
    });
  }
});

describe("svtrace decode, human output", () => {
  test("one line per ASDU with the fields", () => {
    const r = runCli(["decode", capture("local_libiec61850_le256_noASDU8_alloptional_vlan100.pcap")]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n").filter((l) => l);
    assert.equal(lines.length, 3200);
    assert.match(
      lines[0],
      /^#1 {2}2026-11-26T11:08:00\.807516000Z {2}00:00:00:00:00:00 > 01:0c:cd:04:00:01 {2}vlan 100 pcp 4/,
    );
    assert.match(
      lines[0],
      /appid 0x4001 {2}asdu 1\/8 {2}svID "MU01LE256" {2}datSet "MU01LD0\/LLN0\$PhsMeas1" {2}smpCnt 12720/,
    );
    assert.match(lines[7], /asdu 8\/8 .* smpCnt 12727 /);
    assert.match(lines[0], /smpRate 256 {2}smpMod 0 {2}values -1306,1121,184,0,/);
  });

  test("SLL capture: no destination, refrTm shown", () => {
    const r = runCli(["decode", "-q", capture("robidev_docker_sll_refrTm_4frames.pcapng")]);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /02:42:0a:00:00:04 > \(sll\)/);
    assert.match(r.stdout, /refrTm "Feb 21, 2024 20:45:55\.600999951 UTC"/);
  });
});

describe("svtrace decode: bad frames, non-SV frames, --all", () => {
  test("an undecodable frame gives an error record and decoding goes on; non-SV skipped unless --all", () => {
    const pkts: { ts: bigint; data: Uint8Array }[] = [];
    for (const p of readPackets(capture("guseynov_pcapQual_studenttool_quality.pcap"))) {
      pkts.push({ ts: p.tsNs, data: p.data.slice() });
      if (pkts.length === 3) break;
    }
    const bad = pkts[1].data.slice(0, 40); // cut inside the ASDU: header Length says more
    const arp = new Uint8Array(60);
    arp.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    const path = join(tmp, "mixed.pcap");
    const w = new PcapWriter(path);
    w.write(pkts[0].ts, pkts[0].data);
    w.write(pkts[1].ts, bad);
    w.write(pkts[1].ts + 1n, arp);
    w.write(pkts[2].ts, pkts[2].data);
    w.close();

    const r = runCli(["decode", "--json", path]);
    assert.equal(r.code, 0, r.stderr);
    const recs = r.stdout
      .split("\n")
      .filter((l) => l)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(recs.length, 3);
    assert.equal(recs[0].frame, 1);
    assert.deepEqual(Object.keys(recs[1]), ["frame", "error", "offset"]);
    assert.equal(recs[1].frame, 2);
    assert.equal(typeof recs[1].error, "string");
    assert.ok((recs[1].offset as number) > 0 && (recs[1].offset as number) <= 40);
    assert.equal(recs[2].frame, 4);
    assert.match(r.stderr, /1 undecodable, 1 non-SV skipped/);

    const all = runCli(["decode", "--json", "--all", path]);
    const allRecs = all.stdout
      .split("\n")
      .filter((l) => l)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(allRecs.length, 4);
    assert.equal(allRecs[2].frame, 3);
    assert.equal(allRecs[2].not_sv, "EtherType 0x0806");

    const human = runCli(["decode", "--all", path]);
    const lines = human.stdout.split("\n").filter((l) => l);
    assert.equal(lines.length, 4);
    assert.match(lines[1], /^#2 .* SV decode error at offset \d+: /);
    assert.match(lines[2], /^#3 .* not SV: EtherType 0x0806, 60 bytes$/);
  });

  test("a decodable frame with a problem (noASDU mismatch): its ASDU records, the problem in their warning", () => {
    let frame: Uint8Array | undefined;
    let ts = 0n;
    for (const p of readPackets(capture("guseynov_pcapQual_studenttool_quality.pcap"))) {
      frame = p.data.slice();
      ts = p.tsNs;
      break;
    }
    assert.ok(frame);
    assert.deepEqual([...frame.subarray(25, 28)], [0x80, 0x01, 0x01], "noASDU TLV of the student tool at 25");
    frame[27] = 2;
    const path = join(tmp, "mismatch.pcap");
    const w = new PcapWriter(path);
    w.write(ts, frame);
    w.close();
    const r = runCli(["decode", "--json", path]);
    assert.equal(r.code, 0, r.stderr);
    const recs = r.stdout
      .split("\n")
      .filter((l) => l)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(recs.length, 1);
    assert.equal(recs[0].noASDU, 2);
    assert.equal(recs[0].svID, "MU857SJ85Mod2MU103");
    assert.equal(recs[0].warning, "noasdu-mismatch at offset 27: noASDU is 2 but seqASDU holds 1 ASDU(s)");
    const human = runCli(["decode", path])
      .stdout.split("\n")
      .filter((l) => l);
    assert.equal(human.length, 1);
    assert.match(
      human[0],
      /asdu 1\/2 .*svID "MU857SJ85Mod2MU103" .* {2}warning "noasdu-mismatch at offset 27: noASDU is 2 but seqASDU holds 1 ASDU\(s\)"$/,
    );
  });

  test("a link type the codec does not decode is reported, not silently ignored", () => {
    const path = join(tmp, "raw-ip.pcap");
    const w = new PcapWriter(path, { linkType: 101 }); // LINKTYPE_RAW
    w.write(1n, new Uint8Array(40));
    w.close();
    const r = runCli(["decode", path]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /link type not decodable \(only Ethernet and Linux SLL\)/);
    const all = runCli(["decode", "--all", path]);
    assert.match(all.stdout, /not SV: link type 101/);
  });
});

describe("svtrace decode: output and errors", () => {
  test("a closed pipe stops the command quickly and quietly", async () => {
    // a 40k-frame file; the reader of stdout goes away after the first chunk
    const path = join(tmp, "long.pcap");
    const w = new PcapWriter(path);
    const frames: Uint8Array[] = [];
    for (const p of readPackets(capture("mgadelha_sv_normal_traffic_60hz_vlan.pcap")))
      frames.push(p.data.slice());
    for (let i = 0; i < 40_000; i++) w.write(BigInt(i) * 208_333n, frames[i % frames.length]);
    w.close();
    const child = spawn(process.execPath, [cliMain, "decode", "--json", path], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
    });
    const code = await new Promise<number | null>((resolve) => {
      child.stdout.once("data", () => child.stdout.destroy());
      child.on("close", (c) => resolve(c));
    });
    assert.equal(code, 0, `exit code after EPIPE; stderr: ${stderr}`);
    assert.doesNotMatch(stderr, /internal error|EPIPE/);
  });

  const bad: [string, () => string, RegExp][] = [
    [
      "missing file",
      () => join(tmp, "missing.pcap"),
      /^svtrace: .*missing\.pcap: no such file; check the path\n$/,
    ],
    [
      "empty file",
      () => {
        const p = join(tmp, "empty.pcap");
        writeFileSync(p, "");
        return p;
      },
      /^svtrace: .*empty\.pcap: the file is empty; it is not a pcap or pcapng capture\n$/,
    ],
    [
      "not a capture",
      () => {
        const p = join(tmp, "text.pcap");
        writeFileSync(p, "just some text, not a capture at all\n");
        return p;
      },
      /^svtrace: .*text\.pcap: not a pcap or pcapng capture \(starts with 0x6a757374\); give a \.pcap or \.pcapng file\n$/,
    ],
    ["a directory", () => tmp, /^svtrace: .*: is a directory; give a \.pcap or \.pcapng file\n$/],
  ];
  for (const [label, make, re] of bad) {
    test(`${label}: one line, exit 1`, () => {
      for (const args of [["decode"], ["decode", "--json"]]) {
        const r = runCli([...args, make()]);
        assert.equal(r.code, 1);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, re);
      }
    });
  }

  test("a capture cut short: the complete packets, and a warning on stderr", () => {
    const whole = readFileSync(capture("guseynov_pcapMissed_studenttool_gap.pcap"));
    const path = join(tmp, "cut.pcap");
    writeFileSync(path, whole.subarray(0, whole.length - 7));
    const r = runCli(["decode", "--json", path]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.split("\n").filter((l) => l).length, 72);
    assert.match(r.stderr, /^svtrace: warning: .*cut\.pcap: the file ends inside packet 73 /m);
  });

  test("--help has examples", () => {
    const r = runCli(["decode", "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Examples:\n {2}svtrace decode /);
    assert.match(r.stdout, /--json/);
    assert.match(r.stdout, /--all/);
  });
});
