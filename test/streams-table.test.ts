/**
 * Stream table and capture streams: every shared capture decoded with the codec gives the streams of its
 * summary.json (keys and ASDU counts) and the same wraps, gaps and repeats; rates, modulus and inter-arrival
 * on captures whose rate is known; frames with several ASDUs and several streams; the iteration callback.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { captureStreams } from "../src/streams/capture-streams.js";
import { EXACT_GAPS, InterArrival } from "../src/streams/interarrival.js";
import { describeStream, type StreamKey, StreamTable } from "../src/streams/stream-table.js";
import type { SvFrame } from "../src/sv/types.js";
import { capture, capturesDir } from "./helpers.js";

interface Summary {
  file: string;
  frames_total: number;
  sv_frames: number;
  asdu_records: number;
  streams: {
    src: string;
    dst: string | null;
    vlan_id: number | null;
    appid: string;
    svID: string;
    asdus: number;
  }[];
  smpCnt_wraps_count: number;
  smpCnt_gaps_count: number;
  smpCnt_repeats_count: number;
}

describe("captureStreams matches every capture's summary.json", () => {
  const names = readdirSync(capturesDir).filter((n) => n.endsWith(".summary.json"));
  test("captures present", () => assert.ok(names.length >= 10));
  for (const name of names) {
    const summary = JSON.parse(readFileSync(join(capturesDir, name), "utf8")) as Summary;
    test(summary.file, () => {
      const r = captureStreams(capture(summary.file));
      assert.equal(r.packets, summary.frames_total);
      assert.equal(r.svFrames, summary.sv_frames);
      assert.equal(r.asdus, summary.asdu_records);
      assert.equal(r.errorFrames, 0);
      const got = r.streams
        .map((s) => ({
          src: s.src,
          dst: s.dst,
          vlan_id: s.vlanId,
          appid: `0x${s.appid.toString(16).padStart(4, "0")}`,
          svID: s.svID,
          asdus: s.asdus,
        }))
        .sort((a, b) => a.svID.localeCompare(b.svID));
      const want = [...summary.streams].sort((a, b) => a.svID.localeCompare(b.svID));
      assert.deepEqual(got, want);
      const sum = (f: (s: (typeof r.streams)[number]) => number) => r.streams.reduce((a, s) => a + f(s), 0);
      assert.equal(
        sum((s) => s.wraps),
        summary.smpCnt_wraps_count,
        "wraps",
      );
      assert.equal(
        sum((s) => s.gaps),
        summary.smpCnt_gaps_count,
        "gaps",
      );
      assert.equal(
        sum((s) => s.duplicates),
        summary.smpCnt_repeats_count,
        "repeats",
      );
      assert.equal(
        sum((s) => s.outOfOrder),
        0,
      );
    });
  }
});

describe("rates, modulus, nominal rate and inter-arrival on real captures", () => {
  test("60 Hz merging unit: 4800 samples/s, modulus 4800 seen wrapping, ~208 µs spacing", () => {
    const [s] = captureStreams(capture("mgadelha_sv_normal_traffic_60hz_vlan.pcap")).streams;
    assert.equal(s.modulus, 4800);
    assert.equal(s.modulusFrom, "wrap");
    assert.equal(s.nominal?.frequencyHz, 60);
    assert.equal(s.nominal?.samplesPerCycle, 80);
    assert.ok(Math.abs((s.samplesPerSecond ?? 0) - 4800) < 5, `samples/s ${s.samplesPerSecond}`);
    assert.equal(s.framesPerSecond, s.samplesPerSecond);
    const ia = s.interArrival!;
    assert.equal(ia.count, 10160);
    assert.ok(ia.minUs <= ia.p50Us && ia.p50Us <= ia.p99Us && ia.p99Us <= ia.maxUs);
    assert.ok(Math.abs(ia.p50Us - 208.3) < 1, `p50 ${ia.p50Us}`);
    assert.equal(s.missing, 0);
    assert.equal(s.vlanId, 1);
    assert.equal(s.vlanPcp, 4);
  });

  test("9-2LE 256 samples per cycle: 8 ASDUs per frame, modulus 12800, samples/s = 8 x frames/s", () => {
    const [s] = captureStreams(capture("local_libiec61850_le256_noASDU8_alloptional_vlan100.pcap")).streams;
    assert.equal(s.frames, 400);
    assert.equal(s.asdus, 3200);
    assert.equal(s.modulus, 12800);
    assert.equal(s.nominal?.samplesPerCycle, 256);
    assert.ok(Math.abs((s.samplesPerSecond ?? 0) - 8 * (s.framesPerSecond ?? 0)) < 1e-6);
    assert.equal(s.interArrival?.count, 399);
  });

  test("seapath generator: 4 streams that differ only by svID, identical timestamps, 250 µs exactly", () => {
    const r = captureStreams(capture("local_seapath_generator_4streams_untagged.pcap"));
    assert.deepEqual(
      r.streams.map((s) => s.svID),
      ["svID0000", "svID0001", "svID0002", "svID0003"],
    );
    for (const s of r.streams) {
      assert.equal(s.frames, 4100);
      assert.equal(s.samplesPerSecond, 4000);
      assert.equal(s.modulus, 4000);
      assert.equal(s.interArrival?.minUs, 250);
      assert.equal(s.interArrival?.maxUs, 250);
    }
  });

  test("two svIDs in one frame: each stream counts the frame once", () => {
    const r = captureStreams(capture("local_libiec61850_example_noASDU2_svpub1_svpub2.pcap"));
    assert.equal(r.streams.length, 2);
    for (const s of r.streams) {
      assert.equal(s.frames, 60);
      assert.equal(s.asdus, 60);
      // 20 frames/s, counter 1..60: no known modulus fits that rate; guessed from the largest counter only
      assert.equal(s.modulusFrom, "max");
      assert.equal(s.nominal, null);
    }
  });

  test("SLL capture seen twice per frame: 3 duplicates, no destination MAC", () => {
    const [s] = captureStreams(capture("robidev_docker_sll_refrTm_4frames.pcapng")).streams;
    assert.equal(s.dst, null);
    assert.equal(s.duplicates, 3);
    assert.equal(s.missing, 0);
    assert.equal(s.interArrival?.negative, 1, "frame 4 is timestamped before frame 3");
  });

  test("student tool gap 4 -> 12: one gap, 7 missing", () => {
    const [s] = captureStreams(capture("guseynov_pcapMissed_studenttool_gap.pcap")).streams;
    assert.equal(s.gaps, 1);
    assert.equal(s.missing, 7);
  });

  test("an explicit modulus is used as given", () => {
    const [s] = captureStreams(capture("guseynov_pcapMissed_studenttool_gap.pcap"), { modulus: 80 }).streams;
    assert.equal(s.modulus, 80);
    assert.equal(s.modulusFrom, "given");
  });
});

describe("StreamTable with built frames", () => {
  const frame = (svID: string, cnts: number[], vlan?: number): SvFrame => ({
    src: "02:00:00:00:00:01",
    dst: "01:0c:cd:04:00:01",
    vlan: vlan === undefined ? undefined : { pcp: 4, dei: false, vid: vlan },
    pdu: {
      appid: 0x4000,
      length: 0,
      reserved1: 0,
      reserved2: 0,
      noASDU: cnts.length,
      asdus: cnts.map((c) => ({ svID, smpCnt: c, confRev: 1, seqData: new Uint8Array(64) })),
    },
  });

  test("the same svID on another VLAN is another stream; onAsdu gives the iteration", () => {
    const seen: string[] = [];
    const t = new StreamTable({
      modulus: 4000,
      onAsdu: (k: StreamKey, e, ts) => seen.push(`${e.iteration}:${k.svID}:${e.smpCnt}:${ts}`),
    });
    t.add(frame("A", [3998, 3999]), 1000n);
    t.add(frame("A", [0, 1]), 2000n);
    t.add(frame("A", [7]), 3000n);
    t.add(frame("A", [5], 10), 3000n);
    assert.equal(t.size, 2);
    const [a, b] = t.streams();
    assert.equal(a.frames, 3);
    assert.equal(a.asdus, 5);
    assert.equal(a.wraps, 1);
    assert.equal(a.missing, 5);
    assert.equal(b.vlanId, 10);
    assert.equal(b.frames, 1);
    assert.equal(b.interArrival, null);
    assert.deepEqual(seen, [
      "0:A:3998:1000",
      "0:A:3999:1000",
      "1:A:0:2000",
      "1:A:1:2000",
      "1:A:7:3000",
      "0:A:5:3000",
    ]);
    assert.match(describeStream(a), /^svID A appid 0x4000 02:00:00:00:00:01 > 01:0c:cd:04:00:01 untagged$/);
  });

  test("InterArrival summary: exact for small streams, histogram beyond EXACT_GAPS", () => {
    const ia = new InterArrival();
    assert.equal(ia.summary(), undefined);
    for (const t of [0n, 250_000n, 500_000n, 1_000_000n, 900_000n]) ia.push(t);
    const s = ia.summary()!;
    assert.equal(s.count, 4);
    assert.equal(s.minUs, -100);
    assert.equal(s.maxUs, 500);
    assert.equal(s.p50Us, 250, "nearest rank: 2nd of -100, 250, 250, 500");
    assert.equal(s.p99Us, 500);
    assert.equal(s.negative, 1);
    assert.equal(s.meanUs, 225);

    // beyond the exact window: 1..N µs spacing, percentiles within the histogram's 0.05 %
    const big = new InterArrival();
    let t = 0n;
    big.push(t);
    const N = EXACT_GAPS * 3;
    for (let i = 1; i <= N; i++) {
      t += BigInt(i) * 1000n;
      big.push(t);
    }
    const b = big.summary()!;
    assert.equal(b.count, N);
    assert.equal(b.minUs, 1);
    assert.equal(b.maxUs, N);
    const p50 = Math.ceil(0.5 * N);
    const p99 = Math.ceil(0.99 * N);
    assert.ok(Math.abs(b.p50Us - p50) <= p50 * 0.0005, `p50 ${b.p50Us} vs ${p50}`);
    assert.ok(Math.abs(b.p99Us - p99) <= p99 * 0.0005, `p99 ${b.p99Us} vs ${p99}`);
  });
});
