/**
 * Publisher -> subscriber on `lo` of a private namespace: exact counts, --skip-smpcnt gives exactly those gaps
 * (also across the wrap), VLAN tags survive (reinserted from PACKET_AUXDATA), refrTm latency with --t0,
 * sv_timestamp_logger lines, thread names svt-pub / svt-sub, stop by SIGTERM with the summary.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { assertRoot, runCli, runCliAsync } from "../helpers.js";
import {
  deleteNetns,
  makeNetns,
  parseSubscribe,
  publish,
  startSubscriber,
  stopStrays,
  threadNames,
  track,
} from "./pubsub-lab-support.js";

describe("publish -> subscribe on loopback", () => {
  let ns = "";
  const dir = mkdtempSync(join(tmpdir(), "svtrace-sub-"));
  before(() => {
    assertRoot("subscribe tests (AF_PACKET, network namespaces)");
    ns = makeNetns("sub");
  });
  after(() => {
    stopStrays();
    if (ns) deleteNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  });

  test("--skip-smpcnt gives exactly those gaps; counts equal; log lines parse", async () => {
    const log = join(dir, "ts.txt");
    const sub = await startSubscriber(["--iface", "lo", "--netns", ns, "--json", "--log", log]);
    let pubRes: ReturnType<typeof publish>;
    try {
      pubRes = publish([
        "--iface",
        "lo",
        "--netns",
        ns,
        "--streams",
        "8",
        "--count",
        "4010",
        "--skip-smpcnt",
        "5,100,3999",
      ]);
    } finally {
      await new Promise((r) => setTimeout(r, 300));
      sub.stop("SIGTERM");
    }
    const s = parseSubscribe(await sub.done);
    // skipped every second: 5, 100, 3999 in the first, 5 again among the 10 frames of the next
    assert.equal(pubRes.sent, 8 * (4010 - 4));
    assert.equal(pubRes.skipped, 32);
    assert.equal(s.received, pubRes.sent, "every sent frame received");
    assert.equal(s.missing, 32, "4 per stream");
    assert.equal(s.streams.length, 8, "8 distinct streams (each svID decoded right)");
    assert.equal(s.duplicates, 0);
    assert.equal(s.out_of_order, 0);
    assert.equal(s.stopped_by, "signal");
    for (const st of s.streams) {
      const sent = pubRes.streams.find((p) => p.svID === st.svID);
      assert.ok(sent, `stream ${st.svID} was published`);
      assert.equal(st.received, sent.sent);
      assert.equal(st.missing, 4);
      assert.equal(st.gaps, 4);
      assert.equal(st.wraps, 1);
      assert.equal(st.modulus, 4000);
      // timing statistics are computed (no thresholds: the machine is shared)
      assert.equal(st.interarrival.count, st.received - 1);
      assert.ok((st.interarrival.p50_us ?? 0) > 0);
      assert.ok(st.gap_error.count > 0 && st.gap_error.p99_us !== null);
      assert.equal(st.gap_error.period_us, 250);
      assert.equal(st.latency, null, "no refrTm without --t0");
    }
    // sv_timestamp_logger format iteration:svID:smpCnt:timestamp_us
    const lines = readFileSync(log, "utf8").trim().split("\n");
    assert.equal(lines.length, s.samples);
    assert.equal(s.log_lines, lines.length);
    const seen = new Map<string, number[]>();
    for (const l of lines) {
      const m = /^(\d+):(svID000[0-7]):(\d+):(\d{16})$/.exec(l);
      assert.ok(m, `log line ${l}`);
      const ts = Number(m[4]);
      assert.ok(Math.abs(ts / 1000 - Date.now()) < 60_000, "µs since the epoch, now");
      const cnt = Number(m[3]);
      const it = Number(m[1]);
      assert.equal(it, seen.get(m[2])?.includes(3998) && cnt < 3998 ? 1 : 0, `iteration of ${l}`);
      seen.set(m[2], [...(seen.get(m[2]) ?? []), cnt]);
    }
    assert.equal(seen.size, 8);
    for (const cnts of seen.values()) {
      assert.equal(cnts.length, 4006);
      for (const skipped of [5, 100, 3999]) assert.ok(!cnts.includes(skipped));
    }
  });

  test("VLAN tag, --t0 latency, --only-cnt0 log, thread names", async () => {
    const log = join(dir, "cnt0.txt");
    const sub = await startSubscriber([
      "--iface",
      "lo",
      "--netns",
      ns,
      "--json",
      "--log",
      log,
      "--only-cnt0",
      "--duration",
      "8",
    ]);
    const names = threadNames(sub.pid);
    assert.ok(names.includes("svt-sub"), `subscriber threads: ${names.join(",")}`);
    const pub = runCliAsync([
      "publish",
      "--iface",
      "lo",
      "--netns",
      ns,
      "--svids",
      "MU01,MU02,MU03",
      "--vlan",
      "7",
      "--prio",
      "5",
      "--t0",
      "--align",
      "--count",
      "8000",
      "--json",
    ]);
    track(pub.child);
    // watch the publisher's threads while it runs (node starts slowly on a loaded machine)
    let pubNames: string[] = [];
    let finished = false;
    pub.done.then(() => {
      finished = true;
    });
    while (!finished && !pubNames.includes("svt-pub")) {
      await new Promise((r) => setTimeout(r, 50));
      try {
        pubNames = threadNames(pub.child.pid ?? -1);
      } catch {
        // exited
      }
    }
    const pr = await pub.done;
    assert.equal(pr.code, 0, pr.stderr);
    assert.ok(pubNames.includes("svt-pub"), `publisher threads: ${pubNames.join(",")}`);
    const p = JSON.parse(pr.stdout);
    assert.equal(p.sent, 24000);
    assert.equal(p.t0_clock, "realtime");
    assert.equal(typeof p.tai_minus_realtime_ns, "number");
    assert.equal(p.aligned, true);
    const s = parseSubscribe(await sub.done);
    assert.equal(s.stopped_by, "duration");
    assert.equal(s.received, 24000);
    assert.equal(s.missing, 0);
    assert.deepEqual(
      s.streams.map((x) => x.svID),
      ["MU01", "MU02", "MU03"],
    );
    for (const st of s.streams) {
      assert.deepEqual(st.vlan, { vid: 7, pcp: 5 }, "tag reinserted from auxdata");
      assert.ok(st.latency, "latency from refrTm");
      assert.equal(st.latency.count, 8000);
      assert.match(st.latency.clock, /CLOCK_REALTIME/);
      assert.ok((st.latency.p50_us ?? -1) >= 0, "refrTm is taken before the kernel receives the frame");
      // --align: counters are aligned to the wall-clock second, so the first one is where the second was
      assert.equal(st.first_smpCnt, s.streams[0].first_smpCnt);
    }
    const lines = readFileSync(log, "utf8").trim().split("\n");
    assert.equal(lines.length, 3 * 2, "2 s aligned: smpCnt 0 twice per stream");
    for (const l of lines) assert.match(l, /^\d+:MU0[123]:0:\d{16}$/);
  });

  test("publish until SIGINT: stops cleanly with the summary; 256 samples/cycle, 8 ASDUs, 60 Hz", async () => {
    const sub = await startSubscriber(["--iface", "lo", "--netns", ns, "--json"]);
    const pub = runCliAsync([
      "publish",
      "--iface",
      "lo",
      "--netns",
      ns,
      "--freq",
      "60",
      "--spc",
      "256",
      "--asdu",
      "8",
      "--json",
    ]);
    track(pub.child);
    // let it run for about 1.5 s after the sender thread is up
    let up = false;
    let finished = false;
    pub.done.then(() => {
      finished = true;
    });
    while (!finished && !up) {
      await new Promise((r) => setTimeout(r, 50));
      try {
        up = threadNames(pub.child.pid ?? -1).includes("svt-pub");
      } catch {
        // exited
      }
    }
    await new Promise((r) => setTimeout(r, 1500));
    pub.child.kill("SIGINT");
    const pr = await pub.done;
    await new Promise((r) => setTimeout(r, 300));
    sub.stop();
    const s = parseSubscribe(await sub.done);
    assert.equal(pr.code, 0, pr.stderr);
    const p = JSON.parse(pr.stdout);
    assert.equal(p.stopped_by, "signal");
    assert.equal(p.frames_per_second_per_stream, 1920);
    assert.equal(p.asdu_per_frame, 8);
    assert.ok(p.sent > 1000, `sent ${p.sent}`);
    assert.equal(p.samples, p.sent * 8);
    assert.equal(s.received, p.sent, "every frame sent before SIGINT arrived");
    assert.equal(s.samples, p.samples);
    assert.equal(s.missing, 0);
    const st = s.streams[0];
    if (st.wraps > 0) assert.equal(st.modulus, 15360);
    assert.equal(st.gap_error.period_us === null || Math.abs(st.gap_error.period_us - 520.833) < 0.01, true);
  });

  test("--stagger sends stream s s/N of a period after stream 0; without it the streams go out together", async () => {
    // per smpCnt, the kernel receive time of each stream minus stream 0's, median over the run
    const offsets = async (extra: string[]): Promise<number[]> => {
      const log = join(dir, `stagger${extra.length}.txt`);
      const sub = await startSubscriber(["--iface", "lo", "--netns", ns, "--log", log, "--log-kernel-ts"]);
      try {
        const p = publish(["--iface", "lo", "--netns", ns, "--streams", "4", "--count", "2000", ...extra]);
        assert.equal(p.sent, 8000);
        if (extra.length > 0) assert.match(p.scheduling, /staggered/);
      } finally {
        await new Promise((r) => setTimeout(r, 300));
        sub.stop("SIGTERM");
      }
      assert.equal((await sub.done).code, 0);
      const at = new Map<string, number>(); // "svID smpCnt" -> µs
      for (const line of readFileSync(log, "utf8").trim().split("\n")) {
        const [, svID, smp, us] = line.split(":");
        at.set(`${svID} ${smp}`, Number(us));
      }
      assert.equal(at.size, 8000, "every frame logged once");
      return [1, 2, 3].map((s) => {
        const d: number[] = [];
        for (let smp = 0; smp < 2000; smp++) {
          const t0 = at.get(`svID0000 ${smp}`);
          const ts = at.get(`svID000${s} ${smp}`);
          if (t0 !== undefined && ts !== undefined) d.push(ts - t0);
        }
        d.sort((a, b) => a - b);
        return d[d.length >> 1];
      });
    };
    const staggered = await offsets(["--stagger"]);
    const together = await offsets([]);
    for (let s = 1; s <= 3; s++) {
      // the period is 250 µs: stream s at s x 62.5 µs (medians; half a slot either way)
      assert.ok(
        Math.abs(staggered[s - 1] - s * 62.5) < 31.25,
        `stagger: stream ${s} at +${staggered[s - 1]} µs`,
      );
      assert.ok(
        together[s - 1] >= 0 && together[s - 1] < 31.25,
        `burst: stream ${s} at +${together[s - 1]} µs`,
      );
    }
  });

  test("subscribe alone: unknown interface and bad options are one-line errors", () => {
    const bad: [string[], RegExp][] = [
      [["--iface", "nosuch0", "--netns", ns, "--duration", "1"], /unknown interface nosuch0/],
      [["--iface", "lo", "--netns", ns, "--duration", "x"], /--duration must be a number/],
      [["--iface", "lo", "--netns", ns, "--only-cnt0"], /--only-cnt0 needs --log/],
      [["--iface", "lo", "--netns", ns, "--log", "/nonexistent/dir/x.txt"], /cannot write --log/],
    ];
    for (const [args, re] of bad) {
      const r = runCli(["subscribe", ...args]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });
});
