/**
 * The live model (per stream and segment statistics from SvRows and TraceStats), its JSON snapshot, and the
 * screen/plain renderings, checked against a straightforward exact computation on generated rows.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { LiveModel, log2Bin } from "../src/live/model.js";
import { fmtUs, renderPlainLines, renderScreen } from "../src/live/screen.js";
import { segmentsFor } from "../src/live/segments.js";
import type { PointMeta, SvRow } from "../src/record/schema.js";
import { mulberry32 as rng } from "../src/util/prng.js";

const points: PointMeta[] = [1, 2, 3, 4].map((i) => ({
  name: `t${i}`,
  label: `T${i} p${i}`,
  probe: `tp${i}`,
}));

function makeRows(n: number, seed: number): SvRow[] {
  const r = rng(seed);
  const rows: SvRow[] = [];
  const base = 1_795_000_000_000_000_000n;
  for (let i = 0; i < n; i++) {
    const svID = `svID000${i % 3}`;
    const t1 = base + BigInt(i) * 250_000n;
    const d1 = BigInt(500 + Math.floor(r() * 3000));
    // heavy tail on T3-T4
    const d3 = BigInt(r() < 0.01 ? 150_000 + Math.floor(r() * 400_000) : 5_000 + Math.floor(r() * 20_000));
    const t: (bigint | null)[] = [t1, t1 + d1, t1 + d1 + 1100n, t1 + d1 + 1100n + d3];
    if (i % 97 === 5) t[1] = null; // T2 missed
    rows.push({
      svID,
      appid: 0x4000 + (i % 3),
      iteration: Math.floor(i / 12000),
      smpCnt: Math.floor(i / 3) % 4000,
      t,
    });
  }
  return rows;
}

function exact(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length, Math.max(1, Math.ceil(q * s.length))) - 1];
}

test("segments: consecutive pairs with their aliases, then total", () => {
  const defs = segmentsFor(points);
  assert.deepEqual(
    defs.map((d) => [d.name, d.alias]),
    [
      ["T1-T2", "Thyp"],
      ["T2-T3", "Ttrans"],
      ["T3-T4", "Tsub"],
      ["total", "Tseapath"],
    ],
  );
  assert.deepEqual(
    segmentsFor([{ name: "t0" }, { name: "t1" }]).map((d) => d.name),
    ["T0-T1"],
  );
});

test("snapshot statistics equal an exact computation per stream and segment", () => {
  const rows = makeRows(30_000, 7);
  const model = new LiveModel({ points, thresholdUs: 200, profile: "lab", clock: "realtime" });
  for (let i = 0; i < rows.length; i += 1000) model.addRows(rows.slice(i, i + 1000));
  model.setStats({
    atNs: 0n,
    streams: [
      {
        svID: "svID0001",
        received: 10000,
        complete: 9897,
        missed: 103,
        lostInPath: 0,
        dropped: 2,
        duplicates: 1,
      },
    ],
    lostEvents: 0,
    mapEntries: 12,
    mapCapacity: 65536,
  });
  const snap = model.snapshot();
  assert.equal(snap.streams.length, 3);
  assert.deepEqual(
    snap.streams.map((s) => s.svID),
    ["svID0000", "svID0001", "svID0002"],
  );
  for (const s of snap.streams) {
    const mine = rows.filter((r) => r.svID === s.svID);
    assert.equal(s.rows, mine.length);
    assert.equal(s.complete_rows, mine.filter((r) => r.t.every((t) => t !== null)).length);
    const seg = (a: number, b: number) =>
      mine
        .filter((r) => r.t[a] !== null && r.t[b] !== null)
        .map((r) => Number((r.t[b] as bigint) - (r.t[a] as bigint)));
    const cases: [string, number[]][] = [
      ["T1-T2", seg(0, 1)],
      ["T2-T3", seg(1, 2)],
      ["T3-T4", seg(2, 3)],
      ["total", seg(0, 3)],
    ];
    for (const [name, vals] of cases) {
      const got = s.segments[name];
      assert.equal(got.count, vals.length, `${s.svID} ${name} count`);
      assert.equal(got.min, Math.min(...vals));
      assert.equal(got.max, Math.max(...vals));
      const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
      assert.ok(Math.abs((got.mean as number) - mean) <= 1, `${name} mean ${got.mean} vs ${mean}`);
      for (const [key, q] of [
        ["p50", 0.5],
        ["p99", 0.99],
        ["p99.9", 0.999],
      ] as const) {
        const want = exact(vals, q);
        assert.ok(
          Math.abs((got[key] as number) - want) <= want * 0.001 + 1,
          `${s.svID} ${name} ${key} ${got[key]} vs ${want}`,
        );
      }
      assert.equal(got.over_threshold, vals.filter((v) => v > 200_000).length);
    }
  }
  const s1 = snap.streams[1];
  assert.equal(s1.received, 10000);
  assert.equal(s1.missed, 103);
  assert.equal(s1.dropped, 2);
  assert.equal(snap.streams[0].received, 0, "no counters yet for svID0000");
  assert.equal(
    snap.all.total.count,
    snap.streams.reduce((a, s) => a + s.segments.total.count, 0),
  );
  assert.equal(snap.map.capacity, 65536);
  assert.equal(snap.histogram.segment, "total");
  assert.equal(
    snap.histogram.bins.reduce((a, b) => a + b[2], 0),
    snap.all.total.count,
  );
  // the snapshot is plain JSON
  assert.deepEqual(JSON.parse(JSON.stringify(snap)), snap);
});

test("log2 bins", () => {
  assert.equal(log2Bin(500), 0);
  assert.equal(log2Bin(1000), 1);
  assert.equal(log2Bin(1999), 1);
  assert.equal(log2Bin(8000), 4);
  assert.equal(log2Bin(1e12), 17);
});

test("screen and plain lines show every stream, segment and counter", () => {
  const model = new LiveModel({ points, thresholdUs: 200 });
  const rows = makeRows(3000, 3);
  model.addRows(rows);
  model.setStats({
    atNs: 0n,
    streams: ["svID0000", "svID0001", "svID0002"].map((svID) => ({
      svID,
      received: 1000,
      complete: 990,
      missed: 10,
      lostInPath: 0,
      dropped: 7,
      duplicates: 0,
    })),
    lostEvents: 3,
    mapEntries: 1,
    mapCapacity: 100,
  });
  const snap = model.snapshot();
  const text = renderScreen(snap, { color: false });
  for (const s of ["svID0000", "svID0001", "svID0002"]) assert.match(text, new RegExp(`${s}.*dropped 7`));
  assert.match(text, /T1-T2 Thyp/);
  assert.match(text, /T3-T4 Tsub/);
  assert.match(text, /lost events 3/);
  assert.match(text, />200µs/);
  assert.match(text, /\[\d+, \d+\)\s+\d+ \|@+/, "a log2 histogram line");
  assert.ok(!text.includes("\u001b["), "no escapes without colour");
  assert.ok(renderScreen(snap, { color: true }).includes("\u001b["));
  const small = renderScreen(snap, { color: false, rows: 20 });
  assert.match(small, /more streams/);
  const plain = renderPlainLines(snap);
  assert.equal(plain.length, 4);
  assert.match(plain[0], /svID0000 received 1000 missed 10 dropped 7 duplicates 0 rows 1000/);
  assert.equal(fmtUs(12345), "12.3");
  assert.equal(fmtUs(null), "-");
});

test("display: screen redraws in place (log-update), plain appends lines, json writes one object per line", async () => {
  const { Writable } = await import("node:stream");
  const { LiveDisplay } = await import("../src/live/display.js");
  const sink = () => {
    const chunks: string[] = [];
    const w = new Writable({
      write(c, _e, cb) {
        chunks.push(String(c));
        cb();
      },
    }) as InstanceType<typeof Writable> & { rows?: number; columns?: number; isTTY?: boolean };
    w.rows = 60;
    w.columns = 160;
    w.isTTY = true;
    return { w, text: () => chunks.join("") };
  };
  const model = new LiveModel({ points, thresholdUs: 200 });
  model.addRows(makeRows(300, 1));
  const screen = sink();
  const d = new LiveDisplay("screen", screen.w, "lab (bridge)");
  d.update(model.snapshot());
  d.update(model.snapshot());
  d.done();
  assert.match(screen.text(), /svtrace live.*lab \(bridge\)/);
  assert.match(screen.text(), /\u001b\[2K/, "the second frame erases the first");
  const plain = sink();
  new LiveDisplay("plain", plain.w).update(model.snapshot());
  assert.ok(!plain.text().includes("\u001b["));
  assert.match(plain.text(), /svID0000 received/);
  const json = sink();
  const dj = new LiveDisplay("json", json.w);
  dj.update(model.snapshot());
  dj.update(model.snapshot());
  const objs = json
    .text()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { streams: unknown[] });
  assert.equal(objs.length, 2);
  assert.equal(objs[1].streams.length, 3);
});

test("complete rows are those every probe saw: t0 (the publisher's refrTm) is not a probe", () => {
  const withT0: PointMeta[] = [0, 1, 2].map((i) => ({ name: `t${i}`, label: `T${i}`, probe: `p${i}` }));
  const model = new LiveModel({ points: withT0, thresholdUs: 200 });
  const t = 1_795_000_000_000_000_000n;
  model.addRows([
    { svID: "a", appid: 1, iteration: 0, smpCnt: 0, t: [null, t, t + 5000n] }, // publisher without --t0
    { svID: "a", appid: 1, iteration: 0, smpCnt: 1, t: [t - 9000n, t, t + 5000n] },
    { svID: "a", appid: 1, iteration: 0, smpCnt: 2, t: [null, t, null] }, // lost after T1
  ]);
  const s = model.snapshot().streams[0];
  assert.equal(s?.rows, 3);
  assert.equal(s?.complete_rows, 2);
});
