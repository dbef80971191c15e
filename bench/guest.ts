/**
 * `node dist/bench/run.js guest`: the qemu lab's real guest (TCG). For each guest kernel (Debian 6.1, and 6.1-rt
 * when `svtrace lab kernel --kernel-package linux-image-rt-amd64` cached it): the time of `svtrace lab up
 * --switch qemu` as typed (and the guest's boot time it reports); then for 1, 2 and 4 streams (4000 SV/s each,
 * `--seconds=S` of traffic, default 5): a subscriber in the guest alone (received / sent), and `svtrace record
 * --lab` with the subscriber (SVs complete at T1..T4, host and guest tracer CPU as % of one core over the run,
 * from each record's CPU between attached and stopped, the cross-clock ±). Prints figures; never fails on timing. Run under the lab lock.
 * No peer tool traces a guest and its host together; the subscriber alone is the baseline.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { recordQemuLab } from "../src/live/qemu-record.js";
import type { Bench } from "./run.js";

const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const PREFIX = "bgq-";
const env = { ...process.env, SVTRACE_LAB_PREFIX: PREFIX };
const GUEST_DIR = `/run/svtrace/lab-${PREFIX}/guest`;

function cli(
  args: string[],
  timeoutMs = 600_000,
): { code: number; stdout: string; stderr: string; ms: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: "utf8", timeout: timeoutMs });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

function subscriberStart(seconds: number, log: string): string {
  rmSync(log, { force: true });
  const r = cli(
    ["lab", "exec", "--detach", log, "--", process.execPath, CLI, "subscribe", "--iface", "eth0"].concat([
      "--duration",
      String(seconds),
      "--json",
    ]),
  );
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

/** Until the guest subscriber listens (node starts slowly under TCG): SVs sent before would be lost to it. */
async function listening(log: string): Promise<void> {
  for (let i = 0; i < 240; i++) {
    if (existsSync(log) && readFileSync(log, "utf8").includes("listening on eth0")) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `the guest subscriber did not start: ${existsSync(log) ? readFileSync(log, "utf8") : "no log"}`,
  );
}

async function subscriberStop(pid: string, log: string): Promise<{ received: number } | undefined> {
  cli(["lab", "exec", "--", "kill", "-INT", pid]);
  for (let i = 0; i < 60; i++) {
    const line = existsSync(log)
      ? readFileSync(log, "utf8")
          .split("\n")
          .find((l) => l.startsWith("{"))
      : undefined;
    if (line) return JSON.parse(line) as { received: number };
    await new Promise((r) => setTimeout(r, 500));
  }
  return undefined;
}

function publish(streams: number, seconds: number): number {
  const r = spawnSync(
    process.execPath,
    [CLI, "publish", "--iface", "pub0", "--netns", `${PREFIX}pub`, "--streams", String(streams)].concat([
      "--count",
      String(4000 * seconds),
      "--t0",
      "--json",
    ]),
    { encoding: "utf8", timeout: 120_000 },
  );
  return (JSON.parse(r.stdout) as { sent: number }).sent;
}

async function kernelRound(pkg: string, seconds: number): Promise<void> {
  cli(["lab", "down"]);
  const up = cli(["lab", "up", "--switch", "qemu", "--kernel-package", pkg, "--json"]);
  if (up.code !== 0) {
    process.stdout.write(`${pkg}: lab up failed: ${up.stderr.trim().split("\n").pop()}\n`);
    return;
  }
  try {
    const st = JSON.parse(cli(["lab", "status", "--json"]).stdout) as {
      guest?: { bootMs: number; release: string };
    };
    process.stdout.write(
      `${pkg} (${st.guest?.release}, tcg): \`svtrace lab up --switch qemu\` ${(up.ms / 1000).toFixed(1)} s, guest boot ${((st.guest?.bootMs ?? 0) / 1000).toFixed(1)} s\n`,
    );
    for (const streams of [1, 2, 4]) {
      const rate = streams * 4000;
      // subscriber alone
      const log = `${GUEST_DIR}/bench-sub.json`;
      let pid = subscriberStart(seconds + 120, log);
      await listening(log);
      const sent0 = publish(streams, seconds);
      await new Promise((r) => setTimeout(r, Math.min(60, 5 + 1.5 * seconds) * 1000));
      const alone = await subscriberStop(pid, log);
      // with both tracers
      pid = subscriberStart(seconds + 300, log);
      await listening(log);
      const out = `/tmp/svtrace-bench-guest-${process.pid}.arrow`;
      let sent1 = 0;
      const abort = new AbortController();
      const t0 = performance.now();
      let tReady = 0;
      const rec = await recordQemuLab({
        out,
        format: "arrow",
        prefix: PREFIX,
        durationS: seconds + 120,
        signal: abort.signal,
        log: () => {},
        onReady: () => {
          tReady = performance.now();
          setTimeout(() => {
            sent1 = publish(streams, seconds);
            setTimeout(() => abort.abort(), Math.min(60, 5 + 1.5 * seconds) * 1000);
          }, 10);
        },
      });
      const traced = (performance.now() - tReady) / 1000;
      const withT = await subscriberStop(pid, log);
      const rep = spawnSync(process.execPath, [CLI, "report", out, "--json"], {
        encoding: "utf8",
        maxBuffer: 1 << 28,
      });
      const s = JSON.parse(rep.stdout) as { streams: { complete: number }[] };
      const complete = s.streams.reduce((a, x) => a + x.complete, 0);
      const pct = (cpu: number | null) => (cpu === null ? "?" : `${((100 * cpu) / traced).toFixed(1)} %`);
      process.stdout.write(
        `  ${rate} SV/s x ${seconds} s: subscriber alone ${alone?.received ?? "?"}/${sent0}; with record --lab: ` +
          `subscriber ${withT?.received ?? "?"}/${sent1}, complete at T1..T4 ${complete}/${sent1}; ` +
          `tracer CPU host ${pct(rec.hostCpuS)}, guest ${pct(rec.guestCpuS)} of one core over ${traced.toFixed(0)} s ` +
          `(attach to stop ${((performance.now() - t0) / 1000).toFixed(0)} s); cross-clock ± ${(rec.crossClock.uncertaintyNs / 1000).toFixed(0)} µs\n`,
      );
      for (const f of [out, rec.hostRecord, rec.guestRecord]) rmSync(f, { force: true });
    }
  } finally {
    cli(["lab", "down"]);
  }
}

export const bench: Bench = {
  name: "guest",
  title: "qemu lab guest (TCG): boot time, SV rate the guest subscriber takes, tracer CPU host and guest",
  async run(args) {
    const seconds = Number(args.find((a) => a.startsWith("--seconds="))?.slice(10) ?? 5);
    await kernelRound("linux-image-amd64", seconds);
    if (existsSync("/var/cache/svtrace/kernels/linux-image-rt-amd64"))
      await kernelRound("linux-image-rt-amd64", seconds);
    else
      process.stdout.write(
        "linux-image-rt-amd64 not cached (svtrace lab kernel --kernel-package linux-image-rt-amd64)\n",
      );
  },
};
