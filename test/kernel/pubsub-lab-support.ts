/**
 * Shared plumbing for the publish/subscribe tests: a private network namespace with only `lo` (so SV sent
 * there reaches nobody else), and a subscriber started through the CLI that is awaited until it is listening.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { labNames } from "../../src/lab/names.js";
import type { PublishSummary } from "../../src/publish/types.js";
import type { SubscribeSummary } from "../../src/subscribe/types.js";
import { assertRoot, type CliResult, runCli, runCliAsync } from "../helpers.js";

function ip(args: string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${r.stderr.trim()}`);
}

/** Create namespace `h4t-TAG-PID` with lo up; returns its name. */
export function makeNetns(tag: string): string {
  const name = `h4t-${tag}-${process.pid}`;
  ip(["netns", "add", name]);
  try {
    ip(["-n", name, "link", "set", "lo", "up"]);
  } catch (e) {
    ip(["netns", "del", name]);
    throw e;
  }
  return name;
}

export function deleteNetns(name: string): void {
  spawnSync("ip", ["netns", "del", name]);
}

/** children started by these helpers that have not exited yet (killed by `stopStrays()` in `after`) */
const running = new Set<ChildProcess>();

/** Track a child so `stopStrays()` can end it if a test fails before stopping it. */
export function track(child: ChildProcess): void {
  running.add(child);
  child.once("close", () => running.delete(child));
}

/** SIGKILL every tracked child still running (only the ones these tests started, by their handle). */
export function stopStrays(): void {
  for (const c of running) c.kill("SIGKILL");
  running.clear();
}

export interface RunningSubscriber {
  pid: number;
  stop(signal?: NodeJS.Signals): void;
  done: Promise<CliResult>;
}

/** Start `svtrace subscribe ARGS` and resolve once it printed "listening" (rejects if it exits first). */
export async function startSubscriber(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<RunningSubscriber> {
  let resolveListening: () => void = () => {};
  const listening = new Promise<void>((res) => {
    resolveListening = res;
  });
  let err = "";
  const { child, done } = runCliAsync(["subscribe", ...args], {
    env,
    onStderr: (c) => {
      err += c;
      if (err.includes("listening")) resolveListening();
    },
  });
  track(child);
  const first = await Promise.race([listening.then(() => "listening"), done.then(() => "exited")]);
  if (first !== "listening") {
    const r = await done;
    throw new Error(`subscriber exited before listening (code ${r.code}): ${r.stderr}`);
  }
  return {
    pid: child.pid ?? -1,
    stop: (signal = "SIGINT") => {
      child.kill(signal);
    },
    done,
  };
}

export function parseSubscribe(r: CliResult): SubscribeSummary {
  assert.equal(r.code, 0, `subscribe failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as SubscribeSummary;
}

export function publish(args: string[], env: NodeJS.ProcessEnv = {}): PublishSummary {
  const r = runCli(["publish", ...args, "--json"], { env, timeoutMs: 120_000 });
  assert.equal(r.code, 0, `publish failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as PublishSummary;
}

/** Thread names (comm) of a process. */
export function threadNames(pid: number): string[] {
  const out: string[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.push(readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim());
    } catch {
      // thread ended
    }
  }
  return out;
}

export interface LabRun {
  pub: PublishSummary;
  sub: SubscribeSummary;
}

/**
 * Through the lab (already up, names from SVTRACE_LAB_PREFIX / default): subscriber on the VM's vm0,
 * publisher on pub0 with `streams` streams for `seconds`; the subscriber is stopped 1 s after the publisher ends.
 */
/** Packets received so far on an interface of a namespace (kernel counter). */
function rxPackets(ns: string, iface: string): number {
  const r = spawnSync("ip", ["-n", ns, "-s", "-j", "link", "show", iface], { encoding: "utf8" });
  if (r.status !== 0) return -1;
  const j = JSON.parse(r.stdout) as { stats64?: { rx?: { packets?: number } } }[];
  return j[0]?.stats64?.rx?.packets ?? -1;
}

export async function publishThroughLab(
  names: { pub: string; vm: string },
  streams: number,
  seconds: number,
  extra: string[] = [],
): Promise<LabRun> {
  const sub = await startSubscriber(["--iface", "vm0", "--netns", names.vm, "--json"]);
  const rx0 = rxPackets(names.vm, "vm0");
  let pub: PublishSummary;
  try {
    pub = publish([
      "--iface",
      "pub0",
      "--netns",
      names.pub,
      "--streams",
      String(streams),
      "--duration",
      String(seconds),
      ...extra,
    ]);
    // a forwarder (tap, ovs) may still be delivering: wait until vm0 has seen every frame or stops receiving
    let last = -1;
    for (let i = 0; i < 100; i++) {
      const n = rxPackets(names.vm, "vm0") - rx0;
      if (n >= pub.sent || n === last) break;
      last = n;
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    await new Promise((r) => setTimeout(r, 500));
    sub.stop("SIGINT");
  }
  return { pub, sub: parseSubscribe(await sub.done) };
}

/**
 * The acceptance test of one switch mode: lab up (torn down in `after`), 8 streams for 10 s from svt-pub to
 * svt-vm, every frame received (0 missing, 0 duplicates), per-stream counts equal to the publisher's.
 */
export function completeDeliveryTest(MODE: "bridge" | "tap"): void {
  before(() => {
    assertRoot(`publish/subscribe through the ${MODE} lab`);
    runCli(["lab", "down"]); // a leftover lab of ours from a crashed run
    const r = runCli(["lab", "up", "--switch", MODE]);
    assert.equal(r.code, 0, `lab up --switch ${MODE} failed: ${r.stderr}`);
  });
  after(() => {
    stopStrays();
    const r = runCli(["lab", "down"]);
    assert.equal(r.code, 0, `lab down failed: ${r.stderr}`);
  });

  test(`${MODE}: 8 streams for 10 s arrive complete`, async (t) => {
    const { pub, sub } = await publishThroughLab(labNames(), 8, 10);
    assert.equal(pub.sent, 8 * 40_000);
    assert.equal(pub.send_errors, 0);
    assert.equal(sub.streams.length, 8);
    assert.equal(sub.received, pub.sent, `every frame received (missing by smpCnt: ${sub.missing})`);
    assert.equal(sub.missing, 0);
    assert.equal(sub.duplicates, 0);
    assert.equal(sub.out_of_order, 0);
    for (const p of pub.streams) {
      const s = sub.streams.find((x) => x.svID === p.svID);
      assert.ok(s, `stream ${p.svID} received`);
      assert.equal(s.received, p.sent, `${p.svID} count`);
      assert.equal(s.missing, 0);
      assert.equal(s.duplicates, 0);
    }
    const g = sub.streams[0].gap_error;
    t.diagnostic(
      `publisher |gap-period| p50 ${pub.gap_error.p50_us} p99 ${pub.gap_error.p99_us} µs, missed ${pub.deadlines_missed}; ` +
        `subscriber (kernel rx) ${sub.streams[0].svID} |gap-250| p50 ${g.p50_us} p99 ${g.p99_us} µs`,
    );
  });
}
