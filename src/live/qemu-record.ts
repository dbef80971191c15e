/**
 * `record --lab` on a qemu lab: two tracers on two kernels and one joined record. The host side is
 * `svtrace record --machine hypervisor --iface hyp-in --tap vnet0 --qemu-pid PID` run in the hypervisor namespace
 * (T1 hyp-in receive, T2a vnet0 transmit, T2b QEMU's read of the tap); the guest side is
 * `svtrace record --machine vm --iface eth0` run in the guest through the agent (`svtrace lab exec`), with the
 * host's node and svtrace read over 9p. A round of clock exchanges before and after (the agent's channel is held
 * by the guest record in between) maps the guest's clock onto the host's; the two records are then joined per SV
 * (src/record/clock-join.ts) into `out`, and kept beside it (`.host.arrow`, `.guest.arrow`).
 */
import { copyFileSync, rmSync } from "node:fs";
import { CLI_MAIN, lastJson, SvtraceChild } from "../demo/children.js";
import { fail } from "../errors.js";
import { guestClockRound } from "../lab/guest-clock.js";
import { labNames } from "../lab/names.js";
import { readState } from "../lab/state.js";
import { joinAcrossClocks } from "../record/clock-join.js";
import { ClockMapping, type ClockRound } from "../record/clock-sync.js";
import { openRecordFile } from "../record/open.js";
import type { CrossClockMeta, RecordFormat } from "../record/schema.js";
import { openRecordWriter } from "../record/writer.js";

export interface QemuRecordOptions {
  out: string;
  format: RecordFormat;
  /** seconds from the moment both sides record; undefined = until SIGINT/SIGTERM or `signal` */
  durationS?: number;
  backend?: string;
  streams?: string[];
  /** clock exchanges per round (default 50) */
  clockSamples?: number;
  prefix?: string;
  /** once both tracers record */
  onReady?: (hostPoints: string, guestPoints: string) => void;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface QemuRecordResult {
  out: string;
  hostRecord: string;
  guestRecord: string;
  rows: number;
  crossClock: CrossClockMeta;
  hostStderr: string;
  guestStderr: string;
  /** CPU seconds (user + system) of each tracer process from attached to stopped, from its --json summary */
  hostCpuS: number | null;
  guestCpuS: number | null;
}

const READY_TIMEOUT_MS = 300_000;
const STOP_GRACE_MS = 180_000;

function pointsOf(stderr: string): string {
  return /recording .*?\(([^,)]+(?:,[^,)]+)*), (?:libbpf|bpftrace)\)/.exec(stderr)?.[1] ?? "?";
}

export async function recordQemuLab(opts: QemuRecordOptions): Promise<QemuRecordResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const names = labNames(opts.prefix);
  const state = readState(names);
  const qemu = state?.processes.find((p) => p.role === "qemu");
  if (state?.mode !== "qemu" || !qemu) fail("no qemu lab is up: svtrace lab up --switch qemu");
  const n = opts.clockSamples ?? 50;
  const stamp = `${process.pid}-${Date.now()}`;
  const guestTmp = `${names.guestDir}/record-${stamp}.arrow`;
  const hostOut = `${opts.out}.host.arrow`;
  const guestOut = `${opts.out}.guest.arrow`;
  const common = [
    "--json",
    ...(opts.backend ? ["--backend", opts.backend] : []),
    ...(opts.streams ?? []).flatMap((s) => ["--stream", s]),
  ];

  const rounds: ClockRound[] = [await guestClockRound(n, names.prefix)];
  const host = new SvtraceChild(
    "host record",
    [
      "record",
      "--machine",
      "hypervisor",
      "--iface",
      names.hypIn,
      "--tap",
      names.tap,
      "--qemu-pid",
      String(qemu.pid),
      "--out",
      hostOut,
      ...common,
    ],
    undefined,
    ["ip", "netns", "exec", names.hyp],
  );
  const guest = new SvtraceChild(
    "guest record",
    [
      "lab",
      "exec",
      "--",
      process.execPath,
      CLI_MAIN,
      "record",
      "--machine",
      "vm",
      "--iface",
      "eth0",
      "--out",
      guestTmp,
      ...common,
    ],
    undefined,
    [],
    { SVTRACE_LAB_PREFIX: names.prefix },
  );
  const stopBoth = async (): Promise<void> => {
    await Promise.all([host.stop(STOP_GRACE_MS, "SIGINT"), guest.stop(STOP_GRACE_MS, "SIGINT")]);
  };
  let stopRequested: () => void = () => {};
  const stopped = new Promise<void>((r) => {
    stopRequested = r;
  });
  const onSignal = (): void => stopRequested();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  opts.signal?.addEventListener("abort", onSignal);
  try {
    const [hostReady, guestReady] = await Promise.all([
      host.waitForStderr("recording", READY_TIMEOUT_MS),
      guest.waitForStderr("recording", READY_TIMEOUT_MS),
    ]);
    if (!hostReady || !guestReady) {
      await stopBoth();
      const who = !hostReady ? host : guest;
      fail(
        `the ${who.name} did not start: ${who.stderr.trim().split("\n").slice(-2).join(" / ") || "no output"}`,
      );
    }
    opts.onReady?.(pointsOf(host.stderr), pointsOf(guest.stderr));
    const ended = Promise.race([host.done, guest.done]).then(() => undefined);
    const timer =
      opts.durationS !== undefined
        ? new Promise<void>((r) => setTimeout(r, (opts.durationS as number) * 1000).unref())
        : new Promise<void>(() => {});
    await Promise.race([stopped, ended, timer]);
    const [h, g] = await Promise.all([
      host.stop(STOP_GRACE_MS, "SIGINT"),
      guest.stop(STOP_GRACE_MS, "SIGINT"),
    ]);
    if (h.code !== 0 && h.code !== 130)
      fail(`the host record failed (${h.code ?? h.signal}): ${h.stderr.trim()}`);
    if (g.code !== 0 && g.code !== 130)
      fail(`the guest record failed (${g.code ?? g.signal}): ${g.stderr.trim()}`);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (host.running || guest.running) await stopBoth();
  }
  rounds.push(await guestClockRound(n, names.prefix));
  copyFileSync(guestTmp, guestOut);
  rmSync(guestTmp, { force: true });

  const mapping = new ClockMapping(rounds);
  const hostIn = openRecordFile(hostOut);
  const guestIn = openRecordFile(guestOut);
  const { input, meta } = joinAcrossClocks(hostIn, guestIn, mapping);
  const w = openRecordWriter(opts.out, opts.format, meta);
  try {
    for (const b of input.batches()) w.appendColumns(b);
  } finally {
    input.close();
    await w.close(meta);
  }
  const cc = meta.crossClock as CrossClockMeta;
  log(formatCrossClock(cc));
  return {
    out: opts.out,
    hostRecord: hostOut,
    guestRecord: guestOut,
    rows: w.rows,
    crossClock: cc,
    hostStderr: host.stderr,
    guestStderr: guest.stderr,
    hostCpuS: runCpu(host.stdout),
    guestCpuS: runCpu(guest.stdout),
  };
}

function runCpu(stdout: string): number | null {
  const j = lastJson<{ cpu_s?: number; cpu_attached_s?: number }>(stdout);
  return j?.cpu_s !== undefined ? j.cpu_s - (j.cpu_attached_s ?? 0) : null;
}

/** One line on the clock mapping of a joined record. */
export function formatCrossClock(cc: CrossClockMeta): string {
  const us = (ns: number) => (ns / 1000).toFixed(1);
  const step = cc.guestRealtimeStepNs;
  return (
    `clocks: guest points ${cc.guestPoints.join(",")} mapped onto the host's clock ± ${us(cc.uncertaintyNs)} µs ` +
    `(fastest round trip ${cc.rttMinNs.map(us).join(" / ")} µs of ${cc.samples.join(" / ")} exchanges over the ${cc.method}` +
    `${cc.driftPpm !== null ? `; drift ${cc.driftPpm} ppm, ${us(cc.driftOverRunNs ?? 0)} µs over the run` : ""}); ` +
    `guest wall clock off by ${(Number(cc.guestRealtimeOffsetNs) / 1e6).toFixed(1)} ms` +
    `${step !== null && Math.abs(step) >= 1e6 ? `, and it stepped by ${(step / 1e6).toFixed(1)} ms during the run (the mapping uses monotonic clocks: unaffected)` : ""}`
  );
}
