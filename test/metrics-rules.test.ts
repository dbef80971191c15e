/**
 * contrib/prometheus: promtool accepts the shipped rules and scrape config; a real Prometheus with a test variant
 * of them (for: 1 s, ranges 5 s) scraping two stand-in hosts (the real exporter over fed models) and a dead port
 * fires exactly the alerts each host deserves, and its recording rules agree with the model within a bucket.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { segmentSnapshot } from "../src/live/model.js";
import { bucketFor } from "../src/metrics/buckets.js";
import {
  CONFIG,
  type FakeHost,
  freePort,
  type PromAlert,
  promtool,
  RULES,
  type RunningPrometheus,
  recordedNames,
  startFakeHost,
  startPrometheus,
  testRules,
  until,
} from "./metrics-prometheus-support.js";

const shipped = readFileSync(RULES, "utf8");
const ALERTS = [...shipped.matchAll(/^ +- alert: (\S+)$/gm)].map((m) => m[1]);

test("promtool check rules and check config pass on the shipped files", () => {
  const rules = promtool(["check", "rules", RULES]);
  assert.equal(rules.code, 0, rules.out);
  const n = recordedNames(shipped).length + ALERTS.length;
  assert.match(rules.out, new RegExp(`SUCCESS: ${n} rules found`));
  const config = promtool(["check", "config", CONFIG]);
  assert.equal(config.code, 0, config.out);
  assert.match(config.out, /SUCCESS: 1 rule files found/);
});

test("the test variant shortens every for: and range and still passes promtool", async () => {
  const variant = testRules(shipped, 1, 5);
  assert.doesNotMatch(variant, /^ +for: (?!1s$)/m);
  assert.doesNotMatch(variant, /\[(?!5s\])\d+[smh]\]/);
  assert.equal(variant.split("\n").length, shipped.split("\n").length, "only values change");
  const { writeFileSync, mkdtempSync, rmSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "svt-rules-"));
  try {
    writeFileSync(join(dir, "r.yml"), variant);
    const r = promtool(["check", "rules", join(dir, "r.yml")]);
    assert.equal(r.code, 0, r.out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

let prom: RunningPrometheus | undefined;
let bad: FakeHost;
let good: FakeHost;
let dead: string;

before(async () => {
  bad = await startFakeHost("bad");
  good = await startFakeHost("good");
  dead = `127.0.0.1:${await freePort()}`; // nothing listens there
  prom = await startPrometheus([bad.target, good.target, dead], { forS: 1, rangeS: 5 });
});
after(async () => {
  await prom?.stop();
  await bad?.stop();
  await good?.stop();
});

function firing(alerts: PromAlert[], instance: string): string[] {
  const names = alerts
    .filter((a) => a.state === "firing" && a.labels.instance === instance)
    .map(
      (a) =>
        `${a.labels.alertname}${a.labels.svid ? ` ${a.labels.svid}` : ""}${a.labels.segment ? ` ${a.labels.segment}` : ""}`,
    );
  return [...new Set(names)].sort();
}

test("each alert fires on the host that deserves it, none on the healthy host", {
  timeout: 120_000,
}, async () => {
  const p = prom as RunningPrometheus;
  const want = [
    "SvtraceLatencyHigh svID0001 T1-T2",
    "SvtraceLatencyHigh svID0001 total",
    "SvtraceLatencyHigh svID0002 T1-T2",
    "SvtraceLatencyHigh svID0002 total",
    "SvtracePendingMapFilling",
    "SvtraceStreamStopped svID0003",
    "SvtraceSvDropped svID0001",
    "SvtraceSvLostInHost svID0002",
    "SvtraceTracerLostEvents",
  ];
  const alerts = await until("every expected alert firing", 90_000, async () => {
    const a = await p.alerts();
    const ok =
      want.every((w) => firing(a, bad.target).includes(w)) && firing(a, dead).includes("SvtraceExporterDown");
    return ok ? a : undefined;
  });
  assert.deepEqual(firing(alerts, bad.target), want, "exactly the bad host's problems");
  assert.deepEqual(firing(alerts, dead), ["SvtraceExporterDown"]);
  // every alert of the file is exercised, and the healthy host has nothing pending or firing
  const seen = new Set(alerts.map((a) => a.labels.alertname));
  assert.deepEqual([...seen].sort(), [...ALERTS].sort(), "every shipped alert fired somewhere");
  assert.deepEqual(
    alerts.filter((a) => a.labels.instance === good.target).map((a) => a.labels.alertname),
    [],
    "healthy host: no alert",
  );
  const rules = await p.rules();
  assert.equal(rules.length, recordedNames(shipped).length + ALERTS.length);
  for (const r of rules) assert.equal(r.health, "ok", `${r.name}: ${r.lastError}`);
  assert.equal(rules.find((r) => r.name === "SvtraceExporterDown")?.state, "firing");
});

test("recording rules: percentiles within a histogram bucket of the model's, map fill exact", async () => {
  const p = prom as RunningPrometheus;
  for (const [q, name] of [
    [50, "p50"],
    [99, "p99"],
    [99.9, "p999"],
  ] as const) {
    const res = await p.query(
      `instance_svid_segment:svtrace_latency_seconds:${name}_1m{instance="${bad.target}", svid="svID0001", segment="T1-T2"}`,
    );
    assert.equal(res.length, 1, `${name}: one series`);
    assert.equal(res[0].metric.alias, "Thyp");
    const promNs = Number(res[0].value[1]) * 1e9;
    // the model's latencies repeat 1..600 µs, so every window has the distribution of the whole run
    const seg = bad.model.streams.get("svID0001")?.segments[0];
    assert.ok(seg);
    const exact = segmentSnapshot(seg)[name === "p999" ? "p99.9" : name] as number;
    assert.ok(
      Math.abs(bucketFor(promNs) - bucketFor(exact)) <= 1,
      `${name}: Prometheus ${promNs / 1000} µs vs model ${exact / 1000} µs (p${q})`,
    );
  }
  const fill = await p.query(`instance:svtrace_map_fill:ratio{instance="${bad.target}"}`);
  assert.equal(Number(fill[0].value[1]), 0.9);
  const none = await p.query(`instance:svtrace_map_fill:ratio{instance="${good.target}"}`);
  assert.equal(Number(none[0].value[1]), 0);
});
