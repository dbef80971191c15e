/**
 * Plumbing for the tracer acceptance tests (test/tracer-*.test.ts): bring the lab up/down through the CLI,
 * start `svtrace record`/`live`/`subscribe`/`publish` as the user would (child processes, no shell), wait for
 * their readiness lines, stop them by PID, and read CSV records back.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LabStatus } from "../../src/lab/index.js";
import type { LiveSnapshot } from "../../src/live/model.js";
import { type CliResult, cliMain, runCli, runCliAsync } from "../helpers.js";

export const PREFIX = process.env.SVTRACE_LAB_PREFIX ?? "svt-";
export const NS = { pub: `${PREFIX}pub`, hyp: `${PREFIX}hyp`, vm: `${PREFIX}vm` };

export function labUp(mode: "bridge" | "tap" | "ovs"): void {
  const r = runCli(["lab", "up", "--switch", mode], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `lab up: ${r.stderr}`);
}

/**
 * Where the lab dropped frames, from `svtrace lab status`: interfaces with transmit drops (a veth counts a frame
 * its peer's backlog refused, a tap one its full ring refused) and the tap forwarder's write errors; "none" if
 * nowhere. Receive drops are left out: vm0 counts every SV as one (no protocol handles 0x88BA; the packet
 * socket still gets it).
 */
export function labDrops(): string {
  const r = runCli(["lab", "status", "--json"], { timeoutMs: 60_000 });
  if (r.code !== 0) return `lab status failed: ${r.stderr.trim()}`;
  const s = JSON.parse(r.stdout) as LabStatus;
  const parts = s.interfaces
    .filter((i) => i.txDropped > 0)
    .map((i) => `${i.namespace}/${i.name} tx dropped ${i.txDropped}`);
  if (s.forwarder && s.forwarder.writeErrors > 0)
    parts.push(`forwarder write errors ${s.forwarder.writeErrors}`);
  return parts.length > 0 ? parts.join("; ") : "none";
}

export function labDown(): void {
  const r = runCli(["lab", "down"], { timeoutMs: 60_000 });
  if (r.code !== 0) process.stderr.write(`lab down failed: ${r.stderr}\n`);
}

/**
 * Run `fn` with a stand-in for bpftrace (a shell script: `--version` answers 0.17, otherwise `body` runs) and the
 * lab up (default prefix); the lab and the script's directory are removed even when `fn` throws.
 */
export function withFakeBpftrace(body: string[], fn: (fake: string, dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "svt-fakebt-"));
  try {
    const fake = join(dir, "bpftrace");
    writeFileSync(
      fake,
      ["#!/bin/sh", 'if [ "$1" = "--version" ]; then echo "bpftrace v0.17.0"; exit 0; fi', ...body, ""].join(
        "\n",
      ),
    );
    chmodSync(fake, 0o755);
    const lab = runCli(["lab", "up"]);
    assert.equal(lab.code, 0, lab.stderr);
    try {
      fn(fake, dir);
    } finally {
      runCli(["lab", "down"]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Running {
  child: ChildProcess;
  done: Promise<CliResult>;
  stderr(): string;
}

/** Start `svtrace ARGS` and collect its stderr. */
export function start(args: string[], timeoutMs = 900_000): Running {
  let err = "";
  const r = runCliAsync(args, {
    timeoutMs,
    onStderr: (c) => {
      err += c;
    },
  });
  return { child: r.child, done: r.done, stderr: () => err };
}

/**
 * Start `svtrace ARGS` at SCHED_FIFO `prio` through chrt (as KERNEL-TRACING.md's CI ran the subscriber, so a
 * loaded machine does not delay T4 by more than an smpCnt period); plain `start` when chrt is not permitted.
 */
export function startFifo(prio: number, args: string[], timeoutMs = 900_000): Running {
  if (spawnSync("chrt", ["-f", "1", "true"], { stdio: "ignore" }).status !== 0) return start(args, timeoutMs);
  return startUnder(["chrt", "-f", String(prio)], args, timeoutMs);
}

/** Start `svtrace ARGS` under `prefix` (chrt, taskset, ...), collecting stdout and stderr; killed after `timeoutMs`. */
export function startUnder(prefix: string[], args: string[], timeoutMs = 900_000): Running {
  const child = spawn(prefix[0] as string, [...prefix.slice(1), process.execPath, cliMain, ...args]);
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    out += c;
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    err += c;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<CliResult>((res) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      res({ code: code ?? (signal ? 128 : 1), stdout: out, stderr: err });
    });
  });
  return { child, done, stderr: () => err };
}

/** Wait until the process printed `text` on stderr; fail with its output if it exits or times out first. */
export async function waitFor(p: Running, text: string, timeoutMs = 90_000): Promise<void> {
  const t0 = Date.now();
  let exited = false;
  void p.done.then(() => {
    exited = true;
  });
  while (!p.stderr().includes(text)) {
    if (exited) {
      const r = await p.done;
      assert.fail(`exited (${r.code}) before "${text}": ${r.stderr}`);
    }
    if (Date.now() - t0 > timeoutMs) assert.fail(`no "${text}" within ${timeoutMs} ms: ${p.stderr()}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/**
 * The tracer backend these tests run (SVTRACE_BACKEND=libbpf|bpftrace; default libbpf, which this machine must
 * load: auto falling back to bpftrace here is a failure, not a pass).
 */
export const TEST_BACKEND = process.env.SVTRACE_BACKEND ?? "libbpf";

/** Wait for `record`'s "recording" line and check it traces with TEST_BACKEND. */
export async function waitForRecording(p: Running, backend = TEST_BACKEND): Promise<void> {
  await waitFor(p, "recording");
  const line =
    p
      .stderr()
      .split("\n")
      .find((l) => l.includes("recording")) ?? "";
  assert.match(line, new RegExp(`, ${backend}\\) to `), `record traces with ${backend}: ${line}`);
}

/** SIGINT (the svtrace commands stop cleanly with their summary) and wait. */
export async function interrupt(p: Running): Promise<CliResult> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGINT");
  return p.done;
}

/** Kill by PID if still running (cleanup). */
export function kill(p: Running | undefined): void {
  if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
}

export interface CsvRow {
  svID: string;
  appid: number;
  iteration: number;
  smpCnt: number;
  /** t0..tN, null = empty field */
  t: (bigint | null)[];
}

export function readCsvRecord(path: string): { header: string; rows: CsvRow[] } {
  const lines = readFileSync(path, "utf8").split("\n");
  const header = lines[0];
  const rows: CsvRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i];
    if (l === "") continue;
    const f = l.split(",");
    rows.push({
      svID: f[0],
      appid: Number(f[1]),
      iteration: Number(f[2]),
      smpCnt: Number(f[3]),
      t: f.slice(4).map((x) => (x === "" ? null : BigInt(x))),
    });
  }
  return { header, rows };
}

export interface PublishJson {
  sent: number;
  streams: { svID: string; sent: number; skipped?: number }[];
}
export interface SubscribeJson {
  received: number;
  streams: {
    svID: string;
    received: number;
    samples: number;
    missing: number;
    duplicates: number;
    out_of_order: number;
  }[];
}

export function lastSnapshot(stdout: string): LiveSnapshot & { record?: { rows: number } } {
  const lines = stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"));
  assert.ok(lines.length > 0, "at least one JSON snapshot");
  return JSON.parse(lines[lines.length - 1]) as LiveSnapshot;
}

export function countBy<T>(items: T[], key: (x: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of items) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return m;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}

export interface StreamCheck {
  rows: number;
  /** rows with T1..T4 all present */
  complete: number;
  /** rows with T4 (the subscriber's read) */
  withT4: number;
  /** rows with T1 (entered the host while this trace ran) */
  withT1: number;
  /** rows whose present points are not strictly increasing in path order (T0 included) */
  outOfOrder: number;
  /** (iteration, smpCnt) seen twice */
  duplicateKeys: number;
  smpCnts: Set<number>;
  /** rows per pattern of present points, e.g. "-1111" = no t0, t1..t4 present (for failure messages) */
  patterns: Map<string, number>;
}

/**
 * Read a CSV record line by line (memory stays small) and check it per stream. `onRow` sees every row
 * (e.g. to feed a LiveModel).
 */
export async function checkCsvRecord(
  path: string,
  onRow?: (row: CsvRow) => void,
): Promise<{ header: string; streams: Map<string, StreamCheck> }> {
  const { createReadStream } = await import("node:fs");
  const { createInterface } = await import("node:readline");
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  let header = "";
  const streams = new Map<string, StreamCheck>();
  const keys = new Map<string, Set<number>>();
  for await (const l of rl) {
    if (header === "") {
      header = l;
      continue;
    }
    if (l === "") continue;
    const f = l.split(",");
    const row: CsvRow = {
      svID: f[0],
      appid: Number(f[1]),
      iteration: Number(f[2]),
      smpCnt: Number(f[3]),
      t: f.slice(4).map((x) => (x === "" ? null : BigInt(x))),
    };
    let s = streams.get(row.svID);
    if (!s) {
      s = {
        rows: 0,
        complete: 0,
        withT4: 0,
        withT1: 0,
        outOfOrder: 0,
        duplicateKeys: 0,
        smpCnts: new Set(),
        patterns: new Map(),
      };
      streams.set(row.svID, s);
      keys.set(row.svID, new Set());
    }
    s.rows++;
    s.smpCnts.add(row.smpCnt);
    const k = row.iteration * 65536 + row.smpCnt;
    const ks = keys.get(row.svID) as Set<number>;
    if (ks.has(k)) s.duplicateKeys++;
    ks.add(k);
    const pattern = row.t.map((x) => (x === null ? "-" : "1")).join("");
    s.patterns.set(pattern, (s.patterns.get(pattern) ?? 0) + 1);
    const kernel = row.t.slice(1);
    if (kernel.every((x) => x !== null)) s.complete++;
    if (row.t[row.t.length - 1] !== null) s.withT4++;
    if (row.t[1] !== null) s.withT1++;
    let prev: bigint | null = null;
    for (const x of row.t) {
      if (x === null) continue;
      if (prev !== null && x <= prev) {
        s.outOfOrder++;
        break;
      }
      prev = x;
    }
    onRow?.(row);
  }
  return { header, streams };
}

/** "11111: 119000, -1111: 1000" over every stream: which points the rows have, most common first */
export function describePatterns(streams: Map<string, StreamCheck>): string {
  const all = new Map<string, number>();
  for (const s of streams.values()) for (const [p, n] of s.patterns) all.set(p, (all.get(p) ?? 0) + n);
  return [...all]
    .sort((a, b) => b[1] - a[1])
    .map(([p, n]) => `${p}: ${n}`)
    .join(", ");
}
