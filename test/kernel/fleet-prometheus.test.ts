/**
 * Issue 15 acceptance: Debian's prometheus (127.0.0.1, free port, temporary storage) with the shipped rules and
 * scrape config (test variant made from them: 1 s intervals, for: 2 s, ranges 15 s) scrapes `svtrace live --lab
 * --prometheus` run headless as the systemd unit runs it (no TTY, stdin and stdout on /dev/null), while 2
 * streams × 4000 SV/s (smpCnt 1234 skipped: one drop per second) cross the lab; live records the same run
 * (--out). At one instant inside the traffic the recording rules (p50/p99/p99.9 per stream and segment, SV/s
 * received and dropped) agree with that record's SVs of the same 15 s window, percentiles within a histogram
 * bucket (p99.9: two, see below). OVS lab (ms spikes in Thyp) with a 20 µs threshold: SvtraceLatencyHigh fires; bridge lab with a 50 ms
 * threshold, above what the record shows: it never does. Test lab prefix flt- (SVTRACE_LAB_PREFIX).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { labNames } from "../../src/lab/names.js";
import { type SegmentDef, segmentLatency, segmentsFor } from "../../src/live/segments.js";
import { bucketFor, LATENCY_BUCKETS_US } from "../../src/metrics/buckets.js";
import { assertRoot, cliMain, runCli } from "../helpers.js";
import {
  freePort,
  type PromAlert,
  type RunningPrometheus,
  startPrometheus,
} from "../metrics-prometheus-support.js";
import {
  type CsvRow,
  checkCsvRecord,
  interrupt,
  kill,
  type Running,
  sleep,
  startFifo,
  waitFor,
} from "./tracer-support.js";

const PREFIX = "flt-";
const ENV = { SVTRACE_LAB_PREFIX: PREFIX };
const names = labNames(PREFIX);
const dir = mkdtempSync(join(tmpdir(), "svt-fleet-"));
const WINDOW_S = 15;
const TRAFFIC_S = 25;

function lab(args: string[]): void {
  const r = runCli(["lab", ...args], { env: ENV, timeoutMs: 60_000 });
  if (args[0] === "up") assert.equal(r.code, 0, `lab ${args.join(" ")}: ${r.stderr}`);
  else if (r.code !== 0) process.stderr.write(`lab down failed: ${r.stderr}\n`);
}

/** `svtrace ARGS` as the systemd unit runs it: no TTY, stdin and stdout on /dev/null, stderr kept. */
function startHeadless(args: string[]): Running {
  const child: ChildProcess = spawn(process.execPath, [cliMain, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ...ENV },
  });
  let err = "";
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    err += c;
  });
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
    child.on("close", (code, signal) => res({ code: code ?? (signal ? 128 : 1), stdout: "", stderr: err }));
  });
  return { child, done, stderr: () => err };
}

before(() => {
  assertRoot("the fleet monitoring test (bpftrace, network namespaces)");
  lab(["down"]); // a leftover of a crashed run
});
after(() => {
  lab(["down"]);
  rmSync(dir, { recursive: true, force: true });
});

/** The value at quantile q of sorted values, as histogram_quantile ranks it (rank q·n). */
function quantile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

/** The first line of a CSV record (its column names). */
function csvHeader(path: string): string {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString("utf8").split("\n")[0];
  } finally {
    closeSync(fd);
  }
}

function bucketLabel(ns: number): string {
  const b = bucketFor(ns);
  return b < LATENCY_BUCKETS_US.length ? `le ${LATENCY_BUCKETS_US[b]} µs` : "+Inf";
}

interface LabResult {
  /** SvtraceLatencyHigh alerts seen firing (svid segment) and pending, polled every second during traffic */
  firing: Set<string>;
  pending: Set<string>;
  /** the record's p99 per "svid segment" in the window */
  recordP99: Map<string, number>;
}

async function monitorLab(
  mode: "ovs" | "bridge",
  thresholdUs: number,
  diag: (s: string) => void,
): Promise<LabResult> {
  const csv = join(dir, `${mode}.csv`);
  let live: Running | undefined;
  let sub: Running | undefined;
  let pubP: Running | undefined;
  let prom: RunningPrometheus | undefined;
  lab(["up", "--switch", mode]);
  try {
    const port = await freePort();
    const t0 = Date.now();
    live = startHeadless([
      "live",
      "--lab",
      "--switch",
      mode,
      "--clock",
      "realtime",
      "--prometheus",
      `127.0.0.1:${port}`,
      "--threshold-us",
      String(thresholdUs),
      "--out",
      csv,
      "--format",
      "csv",
    ]);
    await waitFor(live, "tracing");
    assert.match(live.stderr(), new RegExp(`metrics on http://127\\.0\\.0\\.1:${port}/metrics`));
    prom = await startPrometheus([`127.0.0.1:${port}`], { forS: 2, rangeS: WINDOW_S });
    sub = startFifo(40, ["subscribe", "--iface", "vm0", "--netns", names.vm]);
    await waitFor(sub, "listening");
    const pubStart = Date.now();
    pubP = startFifo(30, [
      "publish",
      "--iface",
      "pub0",
      "--netns",
      names.pub,
      "--streams",
      "2",
      "--duration",
      String(TRAFFIC_S),
      "--skip-smpcnt",
      "1234",
      "--json",
    ]);
    // the instant compared: a full window inside the traffic
    const atS = (pubStart + (WINDOW_S + 5) * 1000) / 1000;
    const firing = new Set<string>();
    const pending = new Set<string>();
    let published = false;
    void pubP.done.then(() => {
      published = true;
    });
    const key = (a: PromAlert) => `${a.labels.svid} ${a.labels.segment}`;
    while (!published) {
      for (const a of await prom.alerts())
        if (a.labels.alertname === "SvtraceLatencyHigh")
          (a.state === "firing" ? firing : pending).add(key(a));
      await sleep(1000);
    }
    const pubR = await pubP.done;
    assert.equal(pubR.code, 0, pubR.stderr);
    assert.ok(Date.now() / 1000 > atS + 1, "the publisher ran past the compared instant");
    // the recording rules at that instant
    const at = async (expr: string) =>
      new Map(
        (await prom!.query(expr, atS)).map((s) => [
          `${s.metric.svid} ${s.metric.segment ?? ""}`.trim(),
          Number(s.value[1]),
        ]),
      );
    const rules = {
      p50: await at("instance_svid_segment:svtrace_latency_seconds:p50_1m"),
      p99: await at("instance_svid_segment:svtrace_latency_seconds:p99_1m"),
      p999: await at("instance_svid_segment:svtrace_latency_seconds:p999_1m"),
      received: await at("instance_svid:svtrace_sv_received:rate1m"),
      dropped: await at("instance_svid:svtrace_sv_dropped:rate1m"),
    };
    const ruleHealth = (await prom.rules()).filter((r) => r.health !== "ok");
    assert.deepEqual(ruleHealth, [], "every rule evaluates");
    const dropAlerts = (await prom.alerts()).filter((a) => a.labels.alertname === "SvtraceSvDropped");
    await sleep(1000);
    await interrupt(sub);
    const liveR = await interrupt(live);
    assert.equal(liveR.code, 0, `live: ${liveR.stderr}`);
    assert.match(liveR.stderr, /traced .* stopped by signal/, "the summary reaches stderr (the journal)");
    diag(`${mode}: live ready ${Date.now() - t0} ms after start; stopped`);

    // the record's SVs of the same window: delivered (last point present) in (at - 15 s, at]
    const lo = BigInt(Math.round((atS - WINDOW_S) * 1e9));
    const hi = BigInt(Math.round(atS * 1e9));
    const defs: SegmentDef[] = segmentsFor(
      csvHeader(csv)
        .split(",")
        .filter((c) => /^t\w+_ns$/.test(c))
        .map((c) => ({ name: c.replace(/_ns$/, "") })),
    );
    const lat = new Map<string, number[]>();
    const t1Count = new Map<string, number>();
    const before1234 = new Map<string, number>();
    await checkCsvRecord(csv, (row: CsvRow) => {
      const last = row.t.reduce<bigint | null>((m, x) => (x !== null && (m === null || x > m) ? x : m), null);
      if (last === null || last <= lo || last > hi) return;
      if (row.t[1] !== null) t1Count.set(row.svID, (t1Count.get(row.svID) ?? 0) + 1);
      if (row.smpCnt === 1233) before1234.set(row.svID, (before1234.get(row.svID) ?? 0) + 1);
      for (const d of defs) {
        const ns = segmentLatency(d, row.t);
        if (ns === undefined) continue;
        const k = `${row.svID} ${d.name}`;
        const a = lat.get(k) ?? [];
        a.push(ns);
        lat.set(k, a);
      }
    });
    assert.equal(t1Count.size, 2, "2 streams in the window");
    const recordP99 = new Map<string, number>();
    const lines: string[] = [];
    for (const [k, values] of lat) {
      values.sort((a, b) => a - b);
      for (const [q, name] of [
        [0.5, "p50"],
        [0.99, "p99"],
        [0.999, "p999"],
      ] as const) {
        const rec = quantile(values, q);
        if (name === "p99") recordP99.set(k, rec);
        const prom = rules[name].get(k);
        assert.ok(
          prom !== undefined && Number.isFinite(prom),
          `${k} ${name}: a recording rule value (${prom})`,
        );
        const promNs = prom * 1e9;
        // p50 and p99 within one bucket; p99.9 within two: over the 15 s window its rank is the ~60th-largest SV,
        // and Prometheus' rate window and the record's rows (by their last point) start and end a scrape apart,
        // so a handful of SVs at the edges moves it (seen: 16.1 µs in le=20 vs 9.7 µs in le=10)
        const slack = name === "p999" ? 2 : 1;
        assert.ok(
          Math.abs(bucketFor(promNs) - bucketFor(rec)) <= slack,
          `${mode} ${k} ${name}: Prometheus ${(promNs / 1000).toFixed(1)} µs (${bucketLabel(promNs)}) vs record ${(rec / 1000).toFixed(1)} µs (${bucketLabel(rec)}), ${values.length} SVs`,
        );
        if (name === "p99")
          lines.push(`${k} p99 rule ${(promNs / 1000).toFixed(0)} record ${(rec / 1000).toFixed(0)} µs`);
      }
    }
    // SV/s: Prometheus' 15 s rate vs the record's count in the window. The window's edges are known to a scrape
    // (1 s) on each side and rate() extrapolates to them: 2/15 of the rate, plus 2 events for discrete drops
    const close = (a: number, b: number) => Math.abs(a - b) <= (2 / WINDOW_S) * b + 2 / WINDOW_S;
    for (const [svid, n] of t1Count) {
      const rate = rules.received.get(svid) ?? Number.NaN;
      const recRate = n / WINDOW_S;
      assert.ok(close(rate, recRate), `${svid}: ${rate} SV/s vs record ${recRate}`);
      // one smpCnt skipped per second: SVs with smpCnt 1233 in the window = drops in it
      const drops = (before1234.get(svid) ?? 0) / WINDOW_S;
      const dRate = rules.dropped.get(svid) ?? Number.NaN;
      assert.ok(drops > 0 && close(dRate, drops), `${svid}: dropped ${dRate}/s vs record ${drops}/s`);
      assert.ok(
        dropAlerts.some((a) => a.labels.svid === svid && a.state === "firing"),
        `${svid}: SvtraceSvDropped firing`,
      );
      lines.push(
        `${svid} ${rate.toFixed(0)} SV/s (record ${recRate.toFixed(0)}), dropped ${dRate.toFixed(2)}/s`,
      );
    }
    diag(
      `${mode}, threshold ${thresholdUs} µs: ${lines.join("; ")}; LatencyHigh firing: ${[...firing].join(", ") || "none"}`,
    );
    return { firing, pending, recordP99 };
  } finally {
    kill(pubP);
    kill(sub);
    kill(live);
    await prom?.stop();
    lab(["down"]);
  }
}

test("OVS lab, 20 µs threshold: recording rules agree with the record, the latency alert fires", {
  timeout: 180_000,
}, async (t) => {
  const r = await monitorLab("ovs", 20, (s) => t.diagnostic(s));
  const over = [...r.recordP99].filter(([, ns]) => ns > 20_000).map(([k]) => k);
  assert.ok(over.length > 0, "the OVS lab's p99 is above 20 µs somewhere (the record says so)");
  assert.ok(r.firing.size > 0, `SvtraceLatencyHigh fired (record p99 over 20 µs: ${over.join(", ")})`);
});

test("bridge lab, 50 ms threshold above its latencies: the latency alert never fires", {
  timeout: 180_000,
}, async (t) => {
  const r = await monitorLab("bridge", 50_000, (s) => t.diagnostic(s));
  const over = [...r.recordP99].filter(([, ns]) => ns > 50_000_000);
  assert.deepEqual(
    over,
    [],
    "the bridge lab's p99 stays under 50 ms (else this machine is too loaded for the check)",
  );
  assert.deepEqual([...r.firing], [], "not firing");
  assert.deepEqual([...r.pending], [], "not even pending");
});
