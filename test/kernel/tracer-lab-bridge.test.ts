/**
 * Issue 4 acceptance on the bridge lab, through the CLI as a user runs it: 8 streams x 4000 SV/s for 30 s
 * recorded at T1..T4 with `svtrace record --lab --format csv`: >= 99.9 % of the published SVs present at
 * every point, 0 lost events, per-stream counts equal to the subscriber's, every latency positive with each
 * SV's points in path order, and the report of the record agrees (complete, out of order as the subscriber saw
 * it); `svtrace live --lab --json` next to a record of the same run agrees with it; a SIGKILLed `record` leaves
 * an Arrow file readable up to its last batch, whose report (no --t0) counts complete SVs from the probes.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { LiveModel } from "../../src/live/model.js";
import { openRecordFile } from "../../src/record/open.js";
import type { PointMeta } from "../../src/record/schema.js";
import { assertRoot, runCli } from "../helpers.js";
import {
  checkCsvRecord,
  describePatterns,
  interrupt,
  kill,
  labDown,
  labDrops,
  labUp,
  lastSnapshot,
  NS,
  type PublishJson,
  type Running,
  type SubscribeJson,
  sleep,
  start,
  startFifo,
  waitFor,
  waitForRecording,
} from "./tracer-support.js";

const dir = mkdtempSync(join(tmpdir(), "svt-tracer-bridge-"));

interface ReportStream {
  svID: string;
  complete: number;
  outOfOrder: number;
  duplicates: number;
}

before(() => {
  assertRoot("the tracer acceptance tests (bpftrace, network namespaces)");
  labUp("bridge");
});
after(() => {
  labDown();
  rmSync(dir, { recursive: true, force: true });
});

/** Publish and wait; returns the publisher's JSON summary. */
async function publish(args: string[]): Promise<PublishJson> {
  const r = await start(["publish", "--iface", "pub0", "--netns", NS.pub, "--json", ...args]).done;
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as PublishJson;
}

test("8 streams x 4000 SV/s for 30 s at T1..T4: complete, 0 lost events, counts = subscriber's, path order", {
  timeout: 900_000,
}, async (t) => {
  const csv = join(dir, "run.csv");
  let rec: Running | undefined;
  let sub: Running | undefined;
  try {
    rec = start(["record", "--lab", "--format", "csv", "--out", csv, "--rate", "32000", "--json"]);
    await waitForRecording(rec);
    const t0 = Date.now();
    sub = startFifo(40, ["subscribe", "--iface", "vm0", "--netns", NS.vm, "--json"]);
    await waitFor(sub, "listening");
    const published = await publish(["--streams", "8", "--t0", "--duration", "30"]);
    t.diagnostic(`publisher done ${Date.now() - t0} ms after the record was ready`);
    assert.equal(published.streams.length, 8);
    await sleep(1500);
    const subR = await interrupt(sub);
    const recR = await interrupt(rec);
    assert.equal(subR.code, 0, subR.stderr);
    assert.equal(recR.code, 0, recR.stderr);
    const subscribed = JSON.parse(subR.stdout) as SubscribeJson;
    const snap = lastSnapshot(recR.stdout);
    assert.equal(snap.lost_events, 0, "0 lost events");
    assert.doesNotMatch(recR.stderr, /lost \d+ events/);
    const { header, streams } = await checkCsvRecord(csv);
    assert.equal(header, "svID,appid,iteration,smpCnt,t0_ns,t1_ns,t2_ns,t3_ns,t4_ns");
    let complete = 0;
    for (const ps of published.streams) {
      const s = streams.get(ps.svID);
      assert.ok(s, `${ps.svID} in the record`);
      complete += s.complete;
      assert.equal(s.outOfOrder, 0, `${ps.svID}: every latency positive, points in path order`);
      assert.equal(s.duplicateKeys, 0, `${ps.svID}: one row per SV (iteration, smpCnt)`);
      const subS = subscribed.streams.find((x) => x.svID === ps.svID);
      assert.ok(subS, `${ps.svID} at the subscriber`);
      assert.equal(s.withT4, subS.received, `${ps.svID}: SVs at T4 = the subscriber's count`);
    }
    // (the message asks the lab where it dropped frames, so it is built only on failure)
    if (complete < 0.999 * published.sent)
      assert.fail(
        `complete ${complete} of ${published.sent} published; rows by points present (t0..t4): ${describePatterns(streams)}; lab drops: ${labDrops()}`,
      );
    // record's own final snapshot matches its file
    for (const rs of snap.streams)
      assert.equal(rs.rows, streams.get(rs.svID)?.rows, `${rs.svID} rows in file`);
    // the report of that file: complete as counted here, and out of order as the subscriber saw it (none),
    // although rows are written in the order SVs reach T4, one CPU's queue after the other's
    const rep = runCli(["report", csv, "--json"]);
    assert.equal(rep.code, 0, rep.stderr);
    const reported = (JSON.parse(rep.stdout) as { streams: ReportStream[] }).streams;
    for (const ps of published.streams) {
      const r = reported.find((x) => x.svID === ps.svID);
      const subS = subscribed.streams.find((x) => x.svID === ps.svID);
      assert.ok(r && subS, `${ps.svID} in the report`);
      assert.equal(r.complete, streams.get(ps.svID)?.complete, `${ps.svID}: report's complete`);
      assert.equal(r.outOfOrder, subS.out_of_order, `${ps.svID}: report's out of order = the subscriber's`);
      assert.equal(r.duplicates, 0);
    }
  } finally {
    kill(rec);
    kill(sub);
  }
});

test("live --json snapshots agree with the record of the same run", { timeout: 600_000 }, async () => {
  const liveCsv = join(dir, "live.csv");
  const recCsv = join(dir, "agree.csv");
  let rec: Running | undefined;
  let live: Running | undefined;
  let sub: Running | undefined;
  try {
    // live records the run it shows (--out); an independent `record` traces the same traffic
    live = start(["live", "--lab", "--json", "--out", liveCsv, "--format", "csv"]);
    rec = start(["record", "--lab", "--format", "csv", "--out", recCsv, "--json"]);
    await waitFor(live, "tracing");
    await waitForRecording(rec);
    sub = startFifo(40, ["subscribe", "--iface", "vm0", "--netns", NS.vm]);
    await waitFor(sub, "listening");
    const pub = await publish(["--streams", "4", "--t0", "--duration", "5", "--skip-smpcnt", "1234"]);
    await sleep(1500);
    await interrupt(sub);
    const liveR = await interrupt(live);
    const recR = await interrupt(rec);
    assert.equal(liveR.code, 0, liveR.stderr);
    assert.equal(recR.code, 0, recR.stderr);
    const snaps = liveR.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as ReturnType<typeof lastSnapshot>);
    assert.ok(snaps.length >= 3, "a snapshot every second");
    for (let i = 1; i < snaps.length; i++) {
      const prev = snaps[i - 1].all.total?.count ?? 0;
      assert.ok((snaps[i].all.total?.count ?? 0) >= prev, "cumulative snapshots never go back");
    }
    const liveSnap = snaps[snaps.length - 1];
    const recSnap = lastSnapshot(recR.stdout);
    assert.equal(liveSnap.lost_events, 0);
    assert.equal(recSnap.lost_events, 0);
    assert.equal(liveSnap.streams.length, 4);
    // 1) the snapshot is exactly the statistics of the rows recorded in the same run
    const points: PointMeta[] = liveSnap.points.map((p) => ({ ...p, probe: "" }));
    const fromFile = new LiveModel({ points, thresholdUs: liveSnap.threshold_us });
    await checkCsvRecord(liveCsv, (row) => fromFile.addRows([row]));
    const file = fromFile.snapshot();
    for (const ls of liveSnap.streams) {
      const fs = file.streams.find((x) => x.svID === ls.svID);
      assert.ok(fs, `${ls.svID} in the file`);
      assert.equal(ls.rows, fs.rows, `${ls.svID}: rows`);
      assert.equal(ls.complete_rows, fs.complete_rows);
      assert.deepEqual(ls.segments, fs.segments, `${ls.svID}: every segment statistic`);
      const skipped = pub.streams.find((x) => x.svID === ls.svID)?.skipped;
      assert.ok(skipped !== undefined && skipped > 0);
      assert.equal(ls.dropped, skipped, `${ls.svID}: drops = the skipped counters`);
    }
    // 2) an independent tracer on the same traffic counts the same SVs
    for (const ls of liveSnap.streams) {
      const rc = recSnap.streams.find((x) => x.svID === ls.svID);
      assert.ok(rc, `${ls.svID} in the record`);
      for (const k of [
        "rows",
        "complete_rows",
        "received",
        "complete",
        "dropped",
        "duplicates",
        "missed",
      ] as const)
        assert.equal(ls[k], rc[k], `${ls.svID}: ${k}, live vs record`);
      for (const [name, seg] of Object.entries(rc.segments))
        assert.equal(ls.segments[name].count, seg.count, `${ls.svID} ${name}: count, live vs record`);
    }
    // (their latencies differ by the other tracer's in-kernel cost at each point: both probes run on every hit)
  } finally {
    kill(rec);
    kill(live);
    kill(sub);
  }
});

test("a SIGKILLed record leaves an Arrow file readable up to its last batch", {
  timeout: 300_000,
}, async () => {
  const arrow = join(dir, "killed.arrow");
  let rec: Running | undefined;
  let sub: Running | undefined;
  try {
    rec = start(["record", "--lab", "--out", arrow]);
    await waitForRecording(rec);
    sub = startFifo(40, ["subscribe", "--iface", "vm0", "--netns", NS.vm, "--duration", "15"]);
    await waitFor(sub, "listening");
    const { sent } = await publish(["--streams", "2", "--duration", "4"]);
    // batches reach the file at least every second: after 2.5 s every SV is in a complete batch
    await sleep(2500);
    rec.child.kill("SIGKILL");
    const r = await rec.done;
    assert.equal(r.code, 128, "killed");
    assert.ok(statSync(arrow).size > 0);
    const input = openRecordFile(arrow);
    let rows = 0;
    try {
      for (const b of input.batches()) rows += b.length;
    } finally {
      input.close();
    }
    assert.ok(rows >= 0.999 * sent, `rows of the complete batches: ${rows} of ${sent} sent`);
    assert.deepEqual(
      input.meta.points.map((p) => p.name),
      ["t0", "t1", "t2", "t3", "t4"],
    );
    const exp = runCli(["export", arrow, "--csv"]);
    assert.equal(exp.code, 0, exp.stderr);
    const lines = exp.stdout.trim().split("\n");
    assert.equal(lines[0], "svID,appid,iteration,smpCnt,t0_ns,t1_ns,t2_ns,t3_ns,t4_ns");
    assert.equal(lines.length - 1, rows);
    // published without --t0, so no row has t0: the report still counts the SVs every probe saw as complete
    const rep = runCli(["report", arrow, "--json"]);
    assert.equal(rep.code, 0, rep.stderr);
    const reported = (
      JSON.parse(rep.stdout) as { streams: (ReportStream & { rows: number; missed: number })[] }
    ).streams;
    assert.equal(reported.length, 2);
    for (const r of reported) {
      assert.ok(
        r.complete >= 0.999 * r.rows,
        `${r.svID}: complete ${r.complete} of ${r.rows} rows without t0`,
      );
      assert.equal(r.missed, 0, `${r.svID}: no probe skipped an SV a later one saw (t0 is not a probe)`);
    }
  } finally {
    kill(rec);
    kill(sub);
  }
});
