/**
 * Test plumbing for the shipped Prometheus files (contrib/prometheus): promtool, test variants of the rules
 * and the scrape config made from the shipped text (short `for:` and ranges, 1 s intervals, test targets), and a
 * real Debian `prometheus` on 127.0.0.1 (free port, temporary storage) read through its HTTP API.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LiveModel } from "../src/live/model.js";
import { startMetricsServer } from "../src/metrics/prometheus.js";
import type { PointMeta, SvRow } from "../src/record/schema.js";
import type { StreamCounters } from "../src/trace/session-types.js";
import { repoRoot } from "./helpers.js";

export const RULES = join(repoRoot, "contrib/prometheus/svtrace-rules.yml");
export const CONFIG = join(repoRoot, "contrib/prometheus/prometheus.yml");
export const DASHBOARD = join(repoRoot, "contrib/grafana/svtrace-dashboard.json");
const PROMETHEUS = "/usr/bin/prometheus";
const PROMTOOL = "/usr/bin/promtool";

export function promtool(args: string[]): { code: number; out: string } {
  const r = spawnSync(PROMTOOL, args, { encoding: "utf8", timeout: 60_000 });
  if (r.error) throw new Error(`promtool: ${r.error.message} (Debian package prometheus; ./run installs it)`);
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

/** Replace every match of `re` in `text`, asserting there is at least one. */
function replaceAll(text: string, re: RegExp, by: string, what: string): string {
  assert.ok(re.test(text), `the shipped file has ${what} (${re})`);
  return text.replace(new RegExp(re.source, `${re.flags}g`), by);
}

/**
 * The shipped rules with every `for:` set to `forS` seconds and every range ([1m], [5m]) set to `rangeS`
 * seconds, so a test sees alerts fire within seconds. Made from the shipped text (no second copy to drift).
 */
export function testRules(shipped: string, forS: number, rangeS: number): string {
  let t = replaceAll(shipped, /^( +for:) \d+[smh]$/m, `$1 ${forS}s`, "for: durations");
  t = replaceAll(t, /\[\d+[smh]\]/, `[${rangeS}s]`, "range selectors");
  return t;
}

/** The shipped prometheus.yml with 1 s intervals, `rulesPath` as the rule file and `targets` to scrape. */
export function testConfig(shipped: string, rulesPath: string, targets: string[], intervalS = 1): string {
  let t = replaceAll(
    shipped,
    /^( +(?:scrape|evaluation)_interval:) \d+[smh]$/m,
    `$1 ${intervalS}s`,
    "intervals",
  );
  t = replaceAll(t, /^( +- )svtrace-rules\.yml$/m, `$1${JSON.stringify(rulesPath)}`, "the rule file");
  t = replaceAll(
    t,
    /^( +)- targets:\n(?: +- .+\n)+/m,
    `$1- targets:\n${targets.map((x) => `$1    - ${x}\n`).join("")}`,
    "a target list",
  );
  return t;
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}
export interface PromAlert {
  labels: Record<string, string>;
  state: "pending" | "firing";
  value: string;
}

export interface RunningPrometheus {
  url: string;
  pid: number;
  dir: string;
  /** GET /api/v1/query; rejects with Prometheus' error (e.g. a parse error) when status is not success */
  query(expr: string, time?: number): Promise<PromSample[]>;
  alerts(): Promise<PromAlert[]>;
  /** /api/v1/rules: every rule with its health and last error */
  rules(): Promise<{ name: string; health: string; lastError?: string; type: string; state?: string }[]>;
  /** SIGTERM by PID (SIGKILL after 10 s), remove the storage directory */
  stop(): Promise<void>;
}

async function api<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
  if (body.status !== "success") throw new Error(`${body.errorType}: ${body.error}`);
  return body.data;
}

/**
 * Start Debian's prometheus with a test variant of the shipped config and rules (written to a temporary
 * directory), scraping `targets` every second; resolves once /-/ready answers.
 */
export async function startPrometheus(
  targets: string[],
  opts: { forS: number; rangeS: number },
): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), "svt-prom-"));
  const rules = join(dir, "rules.yml");
  const config = join(dir, "prometheus.yml");
  writeFileSync(rules, testRules(readFileSync(RULES, "utf8"), opts.forS, opts.rangeS));
  writeFileSync(config, testConfig(readFileSync(CONFIG, "utf8"), rules, targets));
  const check = promtool(["check", "config", config]);
  assert.equal(check.code, 0, `test variant of prometheus.yml: ${check.out}`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = "";
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    log += c;
  });
  const exited = new Promise<void>((res) => child.once("close", () => res()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const t0 = Date.now();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}): ${log}`);
      const ok = await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() - t0 > 30_000) throw new Error(`prometheus not ready within 30 s: ${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url,
    pid: child.pid ?? -1,
    dir,
    query: async (expr, time) => {
      const q = new URLSearchParams({ query: expr });
      if (time !== undefined) q.set("time", String(time));
      return (await api<{ result: PromSample[] }>(`${url}/api/v1/query?${q}`)).result;
    },
    alerts: async () => (await api<{ alerts: PromAlert[] }>(`${url}/api/v1/alerts`)).alerts,
    rules: async () =>
      (
        await api<{
          groups: {
            rules: { name: string; health: string; lastError?: string; type: string; state?: string }[];
          }[];
        }>(`${url}/api/v1/rules`)
      ).groups.flatMap((g) => g.rules),
    stop,
  };
}

/** Poll `probe` every 500 ms until it returns a value (not undefined); fail with `what` after `ms`. */
export async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) assert.fail(`${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Names of the recording rules (`record:` lines) of a rules file. */
export function recordedNames(rulesText: string): string[] {
  return [...rulesText.matchAll(/^ +- record: (\S+)$/gm)].map((m) => m[1]);
}

/**
 * A stand-in for one host's `svtrace live --prometheus`: the real exporter (startMetricsServer) over a live
 * model fed every 100 ms with 60 SVs per stream at points T1..T4. "bad": T1-T2 latencies spread 1..600 µs
 * (p99 above the 200 µs threshold), drops on svID0001, missed SVs on svID0002, svID0003 received 100 SVs once
 * and then nothing, lost tracer events, the pending map 90 % full. "good": 10/3/5 µs, nothing lost.
 */
export interface FakeHost {
  /** host:port to scrape */
  target: string;
  model: LiveModel;
  stop(): Promise<void>;
}

export async function startFakeHost(kind: "bad" | "good"): Promise<FakeHost> {
  const points: PointMeta[] = [1, 2, 3, 4].map((i) => ({ name: `t${i}`, label: `T${i}`, probe: "test" }));
  const model = new LiveModel({ points, thresholdUs: 200 });
  const streams = ["svID0001", "svID0002"];
  const counters = new Map<string, StreamCounters>(
    [...streams, ...(kind === "bad" ? ["svID0003"] : [])].map((svID) => [
      svID,
      {
        svID,
        received: svID === "svID0003" ? 100 : 0,
        complete: 0,
        missed: 0,
        lostInPath: 0,
        dropped: 0,
        duplicates: 0,
      },
    ]),
  );
  let n = 0;
  let lost = 0;
  const tick = (): void => {
    const rows: SvRow[] = [];
    for (const svID of streams) {
      for (let i = 0; i < 60; i++, n++) {
        const hyp = kind === "bad" ? ((n % 600) + 1) * 1000 : 10_000;
        const t1 = 1_000_000_000_000n + BigInt(n) * 250_000n;
        const t2 = t1 + BigInt(hyp);
        rows.push({
          svID,
          appid: 0x4000,
          iteration: 0,
          smpCnt: n % 4000,
          t: [t1, t2, t2 + 3000n, t2 + 8000n],
        });
      }
      const c = counters.get(svID) as StreamCounters;
      c.received += 60;
      c.complete += 60;
      if (kind === "bad" && svID === "svID0001") c.dropped += 1;
      if (kind === "bad" && svID === "svID0002") c.missed += 1;
    }
    if (kind === "bad") lost += 3;
    model.addRows(rows);
    model.setStats({
      atNs: 0n,
      streams: [...counters.values()].map((c) => ({ ...c })),
      lostEvents: lost,
      mapEntries: kind === "bad" ? 900 : 0,
      mapCapacity: 1000,
    });
  };
  tick();
  const timer = setInterval(tick, 100);
  const server = await startMetricsServer(model, "127.0.0.1:0");
  return {
    target: `127.0.0.1:${server.address.port}`,
    model,
    stop: async () => {
      clearInterval(timer);
      await server.close();
    },
  };
}
