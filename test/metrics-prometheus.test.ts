/** The --prometheus endpoint: a real HTTP scrape on loopback, counters and histogram buckets vs the model. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { UserError } from "../src/errors.js";
import { LiveModel } from "../src/live/model.js";
import { LATENCY_BUCKETS_US } from "../src/metrics/buckets.js";
import { parseListenAddress, startMetricsServer } from "../src/metrics/prometheus.js";
import type { PointMeta, SvRow } from "../src/record/schema.js";

const points: PointMeta[] = [1, 2, 3].map((i) => ({ name: `t${i}`, label: `T${i}`, probe: "x" }));

function sample(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const lab = /\{([^}]*)\}/.exec(line)?.[1] ?? "";
    const have = lab.split(",");
    if (want.every((w) => have.includes(w))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  throw new Error(`no sample ${name} ${JSON.stringify(labels)} in:\n${text.slice(0, 2000)}`);
}

test("listen address parsing: loopback unless a host is given", () => {
  assert.deepEqual(parseListenAddress("9184"), { host: "127.0.0.1", port: 9184 });
  assert.deepEqual(parseListenAddress("0.0.0.0:9100"), { host: "0.0.0.0", port: 9100 });
  assert.deepEqual(parseListenAddress("[::1]:9100"), { host: "::1", port: 9100 });
  assert.throws(() => parseListenAddress("abc"), UserError);
  assert.throws(() => parseListenAddress("70000"), UserError);
});

test("scrape: per-stream counters, lost events, map fill and latency buckets fine from 10 to 500 µs", async () => {
  const model = new LiveModel({ points, thresholdUs: 100 });
  const rows: SvRow[] = [];
  // latencies T1-T2 of 1..600 µs in 1 µs steps; T2-T3 fixed 3 µs
  for (let us = 1; us <= 600; us++) {
    const t1 = 1_000_000_000n + BigInt(us) * 1_000_000n;
    rows.push({
      svID: "svID0001",
      appid: 0x4001,
      iteration: 0,
      smpCnt: us,
      t: [t1, t1 + BigInt(us * 1000), t1 + BigInt(us * 1000 + 3000)],
    });
  }
  rows.push({ svID: "svID0010", appid: 0x4002, iteration: 0, smpCnt: 1, t: [5n, null, 9005n] });
  model.addRows(rows);
  model.setStats({
    atNs: 0n,
    streams: [
      { svID: "svID0001", received: 600, complete: 600, missed: 0, lostInPath: 0, dropped: 4, duplicates: 1 },
      { svID: "svID0010", received: 1, complete: 0, missed: 1, lostInPath: 0, dropped: 0, duplicates: 0 },
    ],
    lostEvents: 17,
    mapEntries: 5,
    mapCapacity: 1000,
  });
  const server = await startMetricsServer(model, "0");
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(server.url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
    const text = await res.text();
    assert.equal(sample(text, "svtrace_sv_received_total", { svid: "svID0001" }), 600);
    assert.equal(sample(text, "svtrace_sv_dropped_total", { svid: "svID0001" }), 4);
    assert.equal(sample(text, "svtrace_sv_duplicates_total", { svid: "svID0001" }), 1);
    assert.equal(sample(text, "svtrace_sv_missed_total", { svid: "svID0010" }), 1);
    assert.equal(sample(text, "svtrace_sv_rows_total", { svid: "svID0010" }), 1);
    assert.equal(sample(text, "svtrace_lost_events_total", {}), 17);
    assert.equal(sample(text, "svtrace_map_entries", {}), 5);
    assert.match(text, /# TYPE svtrace_latency_seconds histogram/);
    const seg = { svid: "svID0001", segment: "T1-T2", alias: "Thyp" };
    const fine = LATENCY_BUCKETS_US.filter((us) => us >= 10 && us <= 500);
    assert.ok(fine.length >= 15, "at least 15 buckets between 10 and 500 µs");
    for (const us of LATENCY_BUCKETS_US) {
      // values are 1..600 µs: exactly min(us, 600) of them are <= us
      assert.equal(
        sample(text, "svtrace_latency_seconds_bucket", { ...seg, le: String(us / 1e6) }),
        Math.min(us, 600),
        `le=${us}`,
      );
    }
    assert.equal(sample(text, "svtrace_latency_seconds_bucket", { ...seg, le: "+Inf" }), 600);
    assert.equal(sample(text, "svtrace_latency_seconds_count", seg), 600);
    assert.ok(Math.abs(sample(text, "svtrace_latency_seconds_sum", seg) - (600 * 601) / 2 / 1e6) < 1e-9);
    assert.equal(
      sample(text, "svtrace_latency_over_threshold_total", { svid: "svID0001", segment: "T1-T2" }),
      500,
    );
    // the partial SV of svID0010 has only the total (first present point -> last point): 9 µs
    assert.equal(
      sample(text, "svtrace_latency_seconds_count", { svid: "svID0010", segment: "total", alias: "" }),
      1,
    );
    assert.equal(
      sample(text, "svtrace_latency_seconds_count", { svid: "svID0010", segment: "T1-T2", alias: "Thyp" }),
      0,
    );
    // scraped twice: counters are set, not accumulated
    const again = await (await fetch(server.url)).text();
    assert.equal(sample(again, "svtrace_sv_received_total", { svid: "svID0001" }), 600);
    assert.equal((await fetch(server.url.replace("/metrics", "/nope"))).status, 404);
  } finally {
    await server.close();
  }
});

test("a port in use is a one-line user error", async () => {
  const model = new LiveModel({ points, thresholdUs: 100 });
  const a = await startMetricsServer(model, "0");
  try {
    await assert.rejects(
      startMetricsServer(model, String(a.address.port)),
      (e: unknown) => e instanceof UserError && /EADDRINUSE/.test(e.message),
    );
  } finally {
    await a.close();
  }
});
