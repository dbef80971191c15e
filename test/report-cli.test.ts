/**
 * `svtrace report` as a user runs it: the --json summary shape, the verdict and exit status, JUnit XML that
 * parses, plain text when piped, errors naming the file and line, the original results file and logger files,
 * the HTML page opened in headless Chromium (charts rendered with data) and the PNG files.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { writeSyntheticRecord } from "../src/record/synthetic.js";
import { runCli } from "./helpers.js";
import { REPORT_STAT_KEYS, tempDir } from "./report-fixtures.js";

const tmp = tempDir();
const rec = join(tmp.dir, "run.arrow");
const ROWS = 60_000;
before(async () => {
  await writeSyntheticRecord(rec, "arrow", {
    rows: ROWS,
    streams: ["svID0000", "svID0001"],
    points: ["t1", "t2", "t3", "t4"],
    meanNs: [12_000, 9_000, 7_000],
    sdNs: [2_000, 1_500, 1_000],
    spikeFraction: 0.002,
    msSpikeFraction: 0.0001,
    seed: 5,
  });
});
after(() => tmp.cleanup());

test("--json: one object; streams with svID and segments keyed by name, alias and total, in ns", () => {
  const r = runCli(["report", rec, "--json", "--threshold-us", "50"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split("\n").length, 1, "exactly one line of JSON");
  const s = JSON.parse(r.stdout);
  assert.equal(s.rows, ROWS);
  assert.deepEqual(s.thresholds_us, [50, 100, 200, 250]);
  assert.equal(s.streams.length, 2);
  assert.deepEqual(
    s.streams.map((x: { svID: string }) => x.svID),
    ["svID0000", "svID0001"],
  );
  for (const st of s.streams) {
    for (const key of ["T1-T2", "Thyp", "T2-T3", "Ttrans", "T3-T4", "Tsub", "total", "Tseapath"])
      assert.ok(st.segments[key], `${st.svID} has segment ${key}`);
    assert.deepEqual(st.segments.Thyp, st.segments["T1-T2"]);
    for (const seg of Object.values(st.segments) as Record<string, unknown>[]) {
      for (const k of REPORT_STAT_KEYS) assert.equal(typeof seg[k], "number", `${k} is a number`);
      assert.deepEqual(Object.keys(seg.over_us as object).sort(), ["100", "200", "250", "50"]);
    }
    const t = st.segments.total;
    assert.equal(t.count, ROWS / 2);
    assert.ok(
      t.min <= t.p50 && t.p50 <= t.p90 && t.p90 <= t.p99 && t.p99 <= t["p99.9"] && t["p99.999"] <= t.max,
    );
    assert.ok(t.p50 > 25_000 && t.p50 < 31_000, `total p50 ${t.p50} ns near 28 µs`);
    assert.equal(st.drops, 0);
    assert.equal(st.duplicates, 0);
  }
  assert.equal(s.verdict, undefined, "no verdict without limits");
  assert.ok(Array.isArray(s.series.total) && s.series.total.length >= 7, "per-second series");
  assert.equal(s.spikes.length, 10);
});

test("verdict: PASS/FAIL line per limit, exit status 0 or 1; unknown segment and bad syntax are errors", () => {
  const pass = runCli([
    "report",
    rec,
    "--limit",
    "Thyp=5000",
    "--limit",
    "T3-T4=5000",
    "--max-latency-us",
    "9000",
  ]);
  assert.equal(pass.code, 0, pass.stderr);
  assert.match(pass.stdout, /^PASS Thyp <= 5000 us: max [\d.]+ µs$/m);
  assert.match(pass.stdout, /^PASS T3-T4 <= 5000 us/m);
  assert.match(pass.stdout, /^PASS total <= 9000 us/m);
  assert.match(pass.stdout, /^PASS min latency > 0 us/m);
  assert.match(pass.stdout, /^verdict: PASS$/m);
  const fail = runCli(["report", rec, "--limit", "Thyp=100", "--limit", "Tsub=5000", "--json"]);
  assert.equal(fail.code, 1);
  const v = JSON.parse(fail.stdout).verdict;
  assert.equal(v.pass, false);
  const thyp = v.checks.find((c: { name: string }) => c.name === "Thyp <= 100 us");
  assert.equal(thyp.pass, false);
  assert.equal(thyp.over, JSON.parse(fail.stdout).all.segments.Thyp.over_us["100"]);
  assert.ok(thyp.over > 0);
  assert.equal(v.checks.find((c: { name: string }) => c.name === "Tsub <= 5000 us").pass, true);
  const text = runCli(["report", rec, "--limit", "Thyp=100"]);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /^FAIL Thyp <= 100 us: [\d ]+ SVs above the limit, max [\d.]+ µs$/m);
  assert.match(text.stdout, /^verdict: FAIL$/m);
  assert.doesNotMatch(text.stdout, /\x1b\[/, "no colour when piped");
  const unknown = runCli(["report", rec, "--limit", "Tnet=100"]);
  assert.equal(unknown.code, 1);
  assert.match(
    unknown.stderr,
    /^svtrace: --limit Tnet=100: this record has no segment Tnet; its segments are T1-T2 \(Thyp\)/,
  );
  const syntax = runCli(["report", rec, "--limit", "Thyp"]);
  assert.equal(syntax.code, 1);
  assert.match(syntax.stderr, /expected SEGMENT=MICROSECONDS/);
});

test("--junit writes well-formed JUnit XML with a failure per failed limit", () => {
  const xml = join(tmp.dir, "latency.xml");
  const r = runCli(["report", rec, "--limit", "Thyp=100", "--limit", "Ttrans=9000", "--junit", xml]);
  assert.equal(r.code, 1);
  const check = spawnSync(
    "/usr/bin/python3",
    [
      "-c",
      "import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); s = d.documentElement; " +
        "print(s.tagName, s.getAttribute('tests'), s.getAttribute('failures'), len(d.getElementsByTagName('testcase')), len(d.getElementsByTagName('failure')))",
      xml,
    ],
    { encoding: "utf8" },
  );
  assert.equal(check.status, 0, `XML does not parse: ${check.stderr}`);
  assert.equal(check.stdout.trim(), "testsuites 3 1 3 1");
  const text = readFileSync(xml, "utf8");
  assert.match(
    text,
    /<testcase classname="svtrace.latency" name="Thyp &lt;= 100 us" time="0">\s*<failure type="latency" message="[\d ]+ SVs above 100 us/,
  );
});

test("malformed input: one line naming the file and line, exit 1, no internal error", () => {
  const bad = join(tmp.dir, "bad.csv");
  writeFileSync(
    bad,
    "svID,appid,iteration,smpCnt,t1_ns,t2_ns\nsvID0000,16384,0,1,100,200\nsvID0000,16384,0,2,100,2x0\n",
  );
  const r = runCli(["report", bad]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `svtrace: ${bad}: line 3: t2_ns "2x0" is not a nanosecond count\n`);
  const missing = runCli(["report", join(tmp.dir, "nope.arrow")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.arrow: no such file/);
  const none = runCli(["report"]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no input/);
});

test("the original svtrace results file and sv_timestamp_logger files are reported", () => {
  const results = join(tmp.dir, "results");
  writeFileSync(
    results,
    `${Array.from({ length: 1000 }, (_, i) => String(10 + (i % 7) + (i === 500 ? 300 : 0))).join("\n")}\n`,
  );
  const r = runCli(["report", results, "--json", "--limit", "T1-T2=250"]);
  assert.equal(r.code, 1);
  const s = JSON.parse(r.stdout);
  assert.equal(s.streams[0].svID, "(results)");
  assert.equal(s.streams[0].drops, null);
  assert.equal(s.all.segments["T1-T2"].max, 313_000);
  assert.equal(s.all.segments["T1-T2"].min, 10_000);
  assert.equal(s.all.segments["T1-T2"].over_us["250"], 1);
  const pub = join(tmp.dir, "ts_pub.txt");
  const sub = join(tmp.dir, "ts_sub.txt");
  const lines = (off: number, skip?: number, spike = 0) =>
    Array.from({ length: 8000 }, (_, k) => k)
      .filter((k) => k !== skip)
      .map(
        (k) =>
          `${Math.floor(k / 4000)}:svID0000:${k % 4000}:${1727698715000000 + k * 250 + off + (k === 7000 ? spike : 0)}`,
      )
      .join("\n");
  writeFileSync(pub, `${lines(0)}\n`);
  writeFileSync(sub, `${lines(40, 1234, 500)}\nSV drop: 1\n`);
  const j = runCli(["report", "--pub", pub, "--sub", sub, "--limit", "Ttot=100", "--json"]);
  assert.equal(j.code, 1);
  const js = JSON.parse(j.stdout);
  assert.deepEqual(
    js.points.map((p: { name: string }) => p.name),
    ["t0", "t4"],
  );
  const ttot = js.streams[0].segments.Ttot;
  assert.equal(ttot.count, 7999);
  assert.equal(ttot.min, 40_000);
  assert.equal(ttot.max, 540_000);
  assert.equal(ttot.over_us["100"], 1);
  assert.equal(js.streams[0].lostInPath, 1);
});

function pngSize(path: string): { w: number; h: number } {
  const b = readFileSync(path);
  assert.deepEqual(
    [...b.subarray(0, 8)],
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    `${path} is a PNG`,
  );
  assert.equal(b.subarray(12, 16).toString("latin1"), "IHDR");
  return { w: b.readUInt32BE(16), h: b.readUInt32BE(20) };
}

test("--html: a self-contained page whose charts render in headless Chromium; --png: valid PNG plots", () => {
  const html = join(tmp.dir, "report.html");
  const png = join(tmp.dir, "png");
  const r = runCli(["report", rec, "--html", html, "--png", png, "--limit", "Thyp=100"], {
    timeoutMs: 180_000,
  });
  assert.equal(r.code, 1, r.stderr);
  const page = readFileSync(html, "utf8");
  assert.doesNotMatch(page, /<script|https?:\/\/(?!www\.w3\.org)/, "no script and no network reference");
  assert.ok((page.match(/<svg /g) ?? []).length >= 9, "4 histograms, 4 time series, 1 exceedance");
  const files = readdirSync(png).sort();
  assert.deepEqual(files, [
    "exceedance.png",
    "histogram-T1-T2.png",
    "histogram-T2-T3.png",
    "histogram-T3-T4.png",
    "histogram-total.png",
    "time-T1-T2.png",
    "time-T2-T3.png",
    "time-T3-T4.png",
    "time-total.png",
  ]);
  for (const f of files) {
    const { w, h } = pngSize(join(png, f));
    assert.ok(w >= 1000 && h >= 300, `${f} is ${w}x${h}`);
  }
  // Chromium: DOM after rendering, and a screenshot to look at
  const chromium = "/usr/bin/chromium";
  assert.ok(existsSync(chromium), "Debian's chromium is installed (apt-get install chromium)");
  const profile = join(tmp.dir, "chromium-profile");
  const common = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    `--user-data-dir=${profile}`,
  ];
  const dom = spawnSync(chromium, [...common, "--dump-dom", `file://${html}`], {
    encoding: "utf8",
    timeout: 90_000,
    maxBuffer: 64 << 20,
  });
  assert.equal(dom.status, 0, dom.stderr);
  const charts = dom.stdout.split('<div class="chart"').slice(1);
  assert.equal(charts.length, 9);
  for (const c of charts) {
    const id = /id="([^"]+)"/.exec(c)?.[1];
    assert.match(c, /<svg[^>]*width="1000"/, `${id} is an SVG`);
    const paths = (c.match(/<path /g) ?? []).length;
    assert.ok(paths >= 20, `${id} has ${paths} drawn paths`);
  }
  assert.match(dom.stdout, /limit 100 µs/, "the limit is drawn");
  assert.match(dom.stdout, /verdict: FAILED/);
  const shot = process.env.SVTRACE_KEEP_SCREENSHOT ?? join(tmp.dir, "report.png");
  const s = spawnSync(
    chromium,
    [...common, "--window-size=1200,3000", `--screenshot=${shot}`, `file://${html}`],
    {
      encoding: "utf8",
      timeout: 90_000,
    },
  );
  assert.equal(s.status, 0, s.stderr);
  assert.deepEqual(pngSize(shot), { w: 1200, h: 3000 });
});
