/**
 * `svtrace compare A B`: every statistic and threshold count with its absolute and relative change, from two
 * records or from a `report --json` summary and a record; the HTML page with both histograms overlaid.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { writeSyntheticRecord } from "../src/record/synthetic.js";
import { change, describeChange } from "../src/report/compare.js";
import { runCli } from "./helpers.js";
import { REPORT_STAT_KEYS, tempDir } from "./report-fixtures.js";

const tmp = tempDir();
const a = join(tmp.dir, "before.arrow");
const b = join(tmp.dir, "after.csv");
before(async () => {
  await writeSyntheticRecord(a, "arrow", { rows: 40_000, spikeFraction: 0.02, seed: 1 });
  await writeSyntheticRecord(b, "csv", { rows: 40_000, spikeFraction: 0.0005, meanNs: [25_000], seed: 2 });
});
after(() => tmp.cleanup());

test("change and its wording: counts as 'a -> b, rel', latencies as signed µs", () => {
  assert.deepEqual(change(352_533, 512), {
    a: 352_533,
    b: 512,
    delta: -352_021,
    relative: -352_021 / 352_533,
  });
  assert.equal(describeChange(change(352_533, 512), "count"), "352 533 -> 512, -99.9 %");
  assert.equal(describeChange(change(28_000, 29_400), "us"), "+1.4 µs, +5.0 %");
  assert.equal(describeChange(change(0, 3), "count"), "0 -> 3, new");
  assert.equal(describeChange(change(0, 0), "count"), "0 -> 0, 0 %");
  assert.equal(change(null, 5).delta, null);
});

test("compare two records: JSON with every statistic's change, consistent with each run's report", () => {
  const ra = JSON.parse(runCli(["report", a, "--json"]).stdout);
  const rb = JSON.parse(runCli(["report", b, "--json"]).stdout);
  const r = runCli(["compare", a, b, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const c = JSON.parse(r.stdout);
  assert.equal(c.tool, "svtrace compare");
  assert.equal(c.a.rows, 40_000);
  const seg = c.scopes[0].segments[0];
  assert.equal(c.scopes[0].scope, "all");
  assert.equal(seg.name, "T1-T2");
  assert.equal(seg.alias, "Thyp");
  for (const k of REPORT_STAT_KEYS) {
    assert.equal(seg.stats[k].a, ra.all.segments["T1-T2"][k], `A ${k}`);
    assert.equal(seg.stats[k].b, rb.all.segments["T1-T2"][k], `B ${k}`);
    assert.equal(seg.stats[k].delta, seg.stats[k].b - seg.stats[k].a);
  }
  const o = seg.over_us["100"];
  assert.equal(o.a, ra.all.segments["T1-T2"].over_us["100"]);
  assert.equal(o.b, rb.all.segments["T1-T2"].over_us["100"]);
  assert.ok(o.a > 500 && o.b < o.a / 10, `${o.a} -> ${o.b}`);
  assert.equal(o.relative, (o.b - o.a) / o.a);
});

test("compare a JSON summary with a record; terminal table and HTML with overlaid histograms", () => {
  const summary = join(tmp.dir, "before.json");
  writeFileSync(summary, runCli(["report", a, "--json"]).stdout);
  const html = join(tmp.dir, "compare.html");
  const r = runCli(["compare", summary, b, "--html", join(tmp.dir, "nohist.html")]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^all streams, T1-T2 \(Thyp\)$/m);
  assert.match(r.stdout, /^> 100 µs +[\d ]+ +[\d ]+ +[\d ]+ -> [\d ]+, -9\d\.\d %$/m);
  assert.match(r.stdout, /^p50 +28\.\d +25\.\d +-\d\.\d µs, -\d+\.\d %$/m);
  assert.match(readFileSync(join(tmp.dir, "nohist.html"), "utf8"), /no histogram to overlay/);
  const r2 = runCli(["compare", a, b, "--html", html]);
  assert.equal(r2.code, 0, r2.stderr);
  const page = readFileSync(html, "utf8");
  assert.doesNotMatch(page, /<script/);
  assert.equal((page.match(/<svg /g) ?? []).length, 2, "histogram and exceedance of T1-T2");
  assert.match(page, /A [^<]*before\.arrow/);
  assert.match(page, /B [^<]*after\.csv/);
  const bad = join(tmp.dir, "bad.json");
  writeFileSync(bad, '{"tool":"other"}');
  const e = runCli(["compare", bad, b]);
  assert.equal(e.code, 1);
  assert.match(e.stderr, /bad\.json: this JSON is not a `svtrace report --json` summary/);
});
