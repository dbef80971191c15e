/**
 * Report statistics against a straightforward exact computation (BigInt differences, sorting) on random rows
 * with heavy tails, ties, missing points, drops, duplicates and negative latencies: per stream and segment
 * count/min/max exact, percentiles within 0.1 %, threshold counts exact, per-second max/p99 exact, top spikes.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { analyzeRecord } from "../src/analysis/analyze.js";
import { selectKth } from "../src/analysis/per-second.js";
import { findSegment, segmentSpecs } from "../src/analysis/segments.js";
import { PERCENTILES } from "../src/analysis/summary.js";
import { assertClose, exactQuantile, exactSegment, MemoryInput, makeRows, meta } from "./report-fixtures.js";

const POINTS = ["t1", "t2", "t3", "t4"];
const rows = makeRows({
  streams: ["svID0001", "svID0010", "svID0100"],
  perStream: 30_000,
  points: 4,
  seed: 42,
  nullFraction: 0.003,
  dropEvery: 997,
  duplicateEvery: 4000,
  negativeStream: 2,
});

test("segments: consecutive pairs with svtrace-ansible aliases, total first-to-last", () => {
  const specs = segmentSpecs(meta(["t0", "t1", "t2", "t3", "t4"]).points);
  assert.deepEqual(
    specs.map((s) => [s.name, s.alias]),
    [
      ["T0-T1", "Tnet"],
      ["T1-T2", "Thyp"],
      ["T2-T3", "Ttrans"],
      ["T3-T4", "Tsub"],
      ["total", "Ttot"],
    ],
  );
  assert.equal(findSegment(specs, "thyp")?.name, "T1-T2");
  assert.equal(findSegment(specs, "Ttot")?.name, "total");
  assert.equal(findSegment(specs, "T3-T4")?.name, "T3-T4");
  assert.equal(findSegment(specs, "Tfoo"), undefined);
  assert.equal(segmentSpecs(meta(["t1", "t4"]).points)[1]?.alias, "Tseapath");
});

test("every statistic per stream and segment matches the exact computation", async () => {
  const a = await analyzeRecord(new MemoryInput(meta(POINTS), rows, 777), {
    thresholdsUs: [100, 200, 250, 37.5],
    top: 25,
  });
  const s = a.summary;
  assert.deepEqual(s.thresholds_us, [37.5, 100, 200, 250]);
  assert.equal(s.rows, rows.length);
  assert.deepEqual(s.segmentNames, ["T1-T2", "T2-T3", "T3-T4", "total"]);
  const specs = segmentSpecs(meta(POINTS).points);
  assert.equal(s.streams.length, 3);
  for (const st of s.streams) {
    const mine = rows.filter((r) => r.svID === st.svID);
    assert.equal(st.rows, mine.length);
    assert.equal(st.complete, mine.filter((r) => r.t.every((x) => x !== null)).length);
    assert.equal(st.lostInPath, mine.filter((r) => r.t[3] === null).length);
    assert.equal(st.missed, mine.filter((r) => r.t[3] !== null && r.t.some((x) => x === null)).length);
    assert.equal(st.drops, Math.floor(30_000 / 997), `${st.svID} drops`);
    assert.equal(st.duplicates, 8, `${st.svID} duplicates (one every 4000, 30000 rows)`);
    assert.equal(st.modulus, 4000);
    for (const spec of specs) {
      const vals = mine
        .map((r) => exactSegment(r, spec.from, spec.to))
        .filter((v): v is number => v !== null);
      vals.sort((x, y) => x - y);
      const seg = st.segments[spec.name];
      assert.ok(seg, `${st.svID} ${spec.name}`);
      if (spec.alias) assert.equal(st.segments[spec.alias], seg, "alias key points at the same stats");
      const what = `${st.svID} ${spec.name}`;
      assert.equal(seg.count, vals.length, `${what} count`);
      assert.equal(seg.min, vals[0], `${what} min`);
      assert.equal(seg.max, vals[vals.length - 1], `${what} max`);
      const mean = vals.reduce((x, y) => x + y, 0) / vals.length;
      assertClose(seg.mean, mean, `${what} mean`);
      const sd = Math.sqrt(vals.reduce((x, v) => x + (v - mean) ** 2, 0) / vals.length);
      assertClose(seg.stddev, sd, `${what} stddev`);
      for (const [k, q] of PERCENTILES) assertClose(seg[k], exactQuantile(vals, q), `${what} ${k}`);
      for (const us of s.thresholds_us)
        assert.equal(
          seg.over_us[String(us)],
          vals.filter((v) => v > us * 1000).length,
          `${what} over ${us} us`,
        );
      assert.equal(seg.negative, vals.filter((v) => v < 0).length, `${what} negative`);
    }
  }
  // negative latencies only where injected, and flagged as a clock problem
  assert.ok((s.streams[2]?.segments["T1-T2"]?.negative ?? 0) > 0);
  assert.equal(s.streams[0]?.segments["T1-T2"]?.negative, 0);
  assert.ok(
    s.warnings.some((w) => /clock problem: \d+ negative latencies in T1-T2 of svID0100/.test(w)),
    s.warnings.join("\n"),
  );
  // all streams together
  const allTotal = rows.map((r) => exactSegment(r, -1, 3)).filter((v): v is number => v !== null);
  allTotal.sort((x, y) => x - y);
  const t = s.all.segments.total;
  assert.ok(t);
  assert.equal(t.count, allTotal.length);
  assert.equal(t.max, allTotal[allTotal.length - 1]);
  for (const [k, q] of PERCENTILES) assertClose(t[k], exactQuantile(allTotal, q), `all total ${k}`);
  assert.equal(t.over_us["200"], allTotal.filter((v) => v > 200_000).length);
  // top spikes: the 25 largest totals, largest first, with every segment
  const spikes = s.spikes;
  assert.equal(spikes.length, 25);
  assert.deepEqual(
    spikes.map((x) => x.value),
    allTotal.slice(-25).reverse(),
  );
  const top = spikes[0];
  assert.ok(top?.time && top.t_ns);
  const row = rows.find(
    (r) => r.svID === top.svID && r.smpCnt === top.smpCnt && r.iteration === top.iteration,
  );
  assert.ok(row);
  assert.equal(top.segments["T1-T2"], exactSegment(row, 0, 1));
  assert.equal(top.segments.total, exactSegment(row, -1, 3));
});

test("per-second series: exact max and nearest-rank p99 per second of the first point's time", async () => {
  const a = await analyzeRecord(new MemoryInput(meta(POINTS), rows, 500));
  const series = a.summary.series["T2-T3"];
  assert.ok(series);
  const bySec = new Map<number, number[]>();
  for (const r of rows) {
    const v = exactSegment(r, 1, 2);
    if (v === null) continue;
    const first = r.t.find((x) => x !== null) as bigint;
    const sec = Number(first / 1_000_000_000n);
    const list = bySec.get(sec) ?? [];
    list.push(v);
    bySec.set(sec, list);
  }
  assert.equal(series.length, bySec.size);
  for (const p of series) {
    const vals = (bySec.get(p.t) as number[]).sort((x, y) => x - y);
    assert.equal(p.count, vals.length, `second ${p.t} count`);
    assert.equal(p.max, vals[vals.length - 1], `second ${p.t} max`);
    assert.equal(p.p99, exactQuantile(vals, 0.99), `second ${p.t} p99`);
  }
  assert.ok(a.summary.duration_s !== null && a.summary.duration_s > 7 && a.summary.duration_s < 8);
});

test("two-point records: total is the single segment; without identity there is no continuity or time", async () => {
  const two = rows
    .slice(0, 5000)
    .map((r) => ({ ...r, t: [r.t[0] as bigint, (r.t[0] as bigint) + 10_000n + BigInt(r.smpCnt)] }));
  const a = await analyzeRecord(new MemoryInput(meta(["t1", "t2"]), two, 1000));
  const st = a.summary.streams[0];
  assert.ok(st);
  const { name: _n, from: _f, ...total } = st.segments.total as NonNullable<(typeof st.segments)["total"]>;
  const {
    name: _n2,
    from: _f2,
    ...pair
  } = st.segments["T1-T2"] as NonNullable<(typeof st.segments)["total"]>;
  assert.deepEqual(total, pair, "total has the same figures as T1-T2");
  assert.equal(st.segments.total?.name, "total");
  assert.equal(a.summary.series.total, a.summary.series["T1-T2"]);
  const b = await analyzeRecord(new MemoryInput(meta(["t1", "t2"]), two, 1000, false));
  assert.equal(b.summary.streams[0]?.drops, null);
  assert.equal(b.summary.start, null);
  assert.deepEqual(b.summary.series, {});
  assert.equal(b.summary.spikes[0]?.time, null);
  assert.equal(b.summary.all.segments["T1-T2"]?.max, a.summary.all.segments["T1-T2"]?.max);
});

test("selectKth agrees with sorting, with ties", () => {
  const vals = Float64Array.from({ length: 1001 }, (_, i) => (i * 7919) % 101);
  const sorted = [...vals].sort((x, y) => x - y);
  for (const k of [0, 1, 500, 989, 1000])
    assert.equal(selectKth(Float64Array.from(vals), vals.length, k), sorted[k]);
});

test("continuity, series and histograms done in worker threads give the same summary as inline", async () => {
  const inline = await analyzeRecord(new MemoryInput(meta(POINTS), rows, 1000), { worker: false });
  const worker = await analyzeRecord(new MemoryInput(meta(POINTS), rows, 1000), { worker: true });
  assert.deepEqual(worker.summary, inline.summary);
  // the histograms come back from a worker with their exact state (sums behind mean/stddev included)
  assert.deepEqual(Object.keys(worker.histograms), Object.keys(inline.histograms));
  for (const [name, h] of Object.entries(inline.histograms))
    assert.deepEqual(worker.histograms[name]?.toJSON(), h.toJSON(), name);
  assert.ok((inline.histograms.total?.count ?? 0) > 0);
  assert.ok((worker.summary.streams[0]?.drops ?? 0) > 0);
});

test("a pass that fails mid-input ends its worker threads: the error comes out and the process exits", async () => {
  // in a child process: a live worker would keep it running after the error (seen: `report` on a big CSV with
  // a bad line printed the error and never exited)
  const fixtures = new URL("./report-fixtures.js", import.meta.url).href;
  const analyze = new URL("../src/analysis/analyze.js", import.meta.url).href;
  const script = `
    import { analyzeRecord } from ${JSON.stringify(analyze)};
    import { MemoryInput, makeRows, meta } from ${JSON.stringify(fixtures)};
    class Failing extends MemoryInput {
      *batches() {
        let k = 0;
        for (const c of super.batches()) {
          if (k++ === 2) throw new Error("bad line in the middle");
          yield c;
        }
      }
    }
    const rows = makeRows({ streams: ["a", "b"], perStream: 3000, points: 4, seed: 5 });
    try {
      await analyzeRecord(new Failing(meta(["t1", "t2", "t3", "t4"]), rows, 1000), { worker: true });
      console.log("no error");
    } catch (e) {
      console.log("rejected: " + e.message);
    }
  `;
  // a script file: code given with -e exits at its end even with a worker alive
  const dir = mkdtempSync(join(tmpdir(), "svtrace-analyze-fail-"));
  const file = join(dir, "fail.mjs");
  writeFileSync(file, script);
  const res = await new Promise<{ code: number | null; killed: boolean; out: string }>((resolve) => {
    const child = execFile(process.execPath, [file], { timeout: 30_000 }, (err, stdout) => {
      resolve({
        code: child.exitCode,
        killed: Boolean(err && (err as { killed?: boolean }).killed),
        out: stdout,
      });
    });
  });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(res.out.trim(), "rejected: bad line in the middle");
  assert.equal(res.killed, false, "the process had to be killed: a worker kept it alive");
  assert.equal(res.code, 0);
});
