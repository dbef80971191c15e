/**
 * contrib/systemd/svtrace-monitor.service, run as systemd would run it (no systemd here: PID 1 is the VM's
 * init): its EnvironmentFile read, its ExecStart expanded by systemd's rules (`${VAR}` one word, `$VAR` split on
 * whitespace), stdout to /dev/null, and stopped by SIGTERM (KillMode=mixed) within TimeoutStopSec. The shipped
 * env file is used with only the host-specific values replaced (the SV interface is loopback, metrics on
 * 127.0.0.1), so a change to either file that breaks the command shows here.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { assertRoot, cliMain, repoRoot } from "../helpers.js";

const unitPath = join(repoRoot, "contrib/systemd/svtrace-monitor.service");
const envPath = join(repoRoot, "contrib/systemd/svtrace-monitor.env");

/** The [Service] settings of the unit (last one wins, as systemd reads them). */
function serviceSettings(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1];
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (kv && section === "Service") out.set(kv[1], kv[2]);
  }
  return out;
}

/** KEY=VALUE lines of an EnvironmentFile (comments and blank lines skipped). */
function envFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const kv = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!kv) throw new Error(`not a KEY=VALUE line in ${envPath}: ${line}`);
    out.set(kv[1], kv[2]);
  }
  return out;
}

/** systemd's ExecStart expansion for a line without quotes: `$VAR` alone is split into words (none when empty),
 * `${VAR}` is replaced inside its word. */
function expandExecStart(line: string, env: Map<string, string>): string[] {
  assert.ok(!/["'\\]/.test(line), "the expansion here handles no quoting: keep ExecStart free of quotes");
  const value = (name: string) => {
    const v = env.get(name);
    assert.ok(v !== undefined, `ExecStart uses $${name}, which the env file does not set`);
    return v;
  };
  const words: string[] = [];
  for (const w of line.trim().split(/\s+/)) {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(w);
    if (whole)
      words.push(
        ...value(whole[1])
          .split(/\s+/)
          .filter((x) => x !== ""),
      );
    else words.push(w.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, n: string) => value(n)));
  }
  return words;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

/** Runs the unit's command with these env-file overrides; `whileUp` is called once /metrics answers. */
async function runUnit(
  overrides: Record<string, string>,
  whileUp?: (metrics: string) => void,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; sawMetrics: boolean }> {
  const unit = serviceSettings(readFileSync(unitPath, "utf8"));
  assert.equal(unit.get("EnvironmentFile"), "/etc/default/svtrace-monitor");
  assert.equal(unit.get("StandardOutput"), "null");
  assert.equal(unit.get("KillMode"), "mixed");
  assert.equal(unit.get("Restart"), "on-failure");
  const env = envFile(readFileSync(envPath, "utf8"));
  for (const [k, v] of Object.entries(overrides)) {
    assert.ok(env.has(k), `the env file has no ${k}`);
    env.set(k, v);
  }
  const argv = expandExecStart(unit.get("ExecStart") ?? "", env);
  assert.equal(argv[0], "/usr/local/bin/svtrace", "the unit runs the installed svtrace");
  const stopSec = Number(unit.get("TimeoutStopSec"));
  const child = spawn(process.execPath, [cliMain, ...argv.slice(1)], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  let done: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exited.then((r) => {
    done = r;
  });
  let sawMetrics = false;
  try {
    const url = `http://${env.get("SVTRACE_PROMETHEUS")}/metrics`;
    for (let i = 0; i < 600 && !done && !sawMetrics; i++) {
      try {
        const res = await fetch(url);
        if (res.ok) {
          const text = await res.text();
          sawMetrics = true;
          whileUp?.(text);
        }
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (!done) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), stopSec * 1000);
    const r = await exited;
    clearTimeout(timer);
    return { ...r, stderr, sawMetrics };
  } finally {
    if (!done && child.exitCode === null) child.kill("SIGKILL");
  }
}

describe("contrib/systemd/svtrace-monitor.service", () => {
  it("its command serves /metrics with the env file's threshold and stops cleanly on SIGTERM", async () => {
    assertRoot("tracing SVs on loopback");
    const port = await freePort();
    let metrics = "";
    const r = await runUnit(
      {
        SVTRACE_MACHINE: "vm",
        SVTRACE_IFACE: "lo",
        SVTRACE_PROMETHEUS: `127.0.0.1:${port}`,
        // the split-on-whitespace form of $SVTRACE_ARGS, with two flags
        SVTRACE_ARGS: "--rate 4000 --stream svID_unit_test",
      },
      (m) => {
        metrics = m;
      },
    );
    assert.ok(r.sawMetrics, `/metrics never answered; stderr:\n${r.stderr}`);
    const threshold = /^svtrace_latency_threshold_seconds(?:\{[^}]*\})? (\S+)$/m.exec(metrics);
    assert.ok(threshold, `no svtrace_latency_threshold_seconds in:\n${metrics.slice(0, 2000)}`);
    assert.equal(Number(threshold[1]), 200e-6, "SVTRACE_THRESHOLD_US=200 of the env file reaches svtrace");
    assert.match(metrics, /^svtrace_lost_events_total/m);
    assert.equal(r.signal, null, `svtrace died of ${r.signal} instead of stopping on SIGTERM`);
    assert.equal(
      r.code,
      0,
      `exit ${r.code} on SIGTERM (systemd would count a failure); stderr:\n${r.stderr}`,
    );
  });

  it("a wrong interface in the env file fails with one line and a non-zero exit, so Restart=on-failure applies", async () => {
    assertRoot("tracing SVs");
    const port = await freePort();
    const r = await runUnit({
      SVTRACE_MACHINE: "vm",
      SVTRACE_IFACE: "svtnosuch0",
      SVTRACE_PROMETHEUS: `127.0.0.1:${port}`,
    });
    assert.notEqual(r.code, 0);
    assert.equal(r.sawMetrics, false);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `more than one line on stderr:\n${r.stderr}`);
    assert.match(lines[0], /svtnosuch0/);
  });
});
