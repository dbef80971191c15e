/**
 * One `svtrace path` run: preflight, the events this kernel offers (tracefs; kprobe functions only where
 * kprobes exist), the lab's namespaces as the netns filter, the path program run through bpftrace, and its
 * event lines collected until the first N SVs are in (plus a settle time for their last events) or a signal.
 */
import { existsSync, readFileSync } from "node:fs";
import { BPFTRACE_ARGS } from "../bpftrace/generate.js";
import { generatePathProgram } from "../bpftrace/generate-path.js";
import { fail } from "../errors.js";
import { labNames } from "../lab/names.js";
import { kprobesAvailable, netnsExists, netnsInode } from "../probes/discovery.js";
import { kprobeEvents, type PathEvent, TRACEPOINT_EVENTS } from "../probes/events.js";
import { PathCollector, parsePathLine, type SvPath } from "./path-events.js";
import { TRACEFS, tracingPreflight } from "./preflight.js";
import { BpftraceRunner } from "./runner.js";

export interface PathRunOptions {
  /** lab: filter on the lab's namespaces; machine: every namespace */
  lab?: { prefix?: string };
  streams?: string[];
  count: number;
  /** wall time to wait for the last SV's late events once the count is reached (default 500 ms) */
  settleMs?: number;
  /** SVs first seen this soon after the probes attached may be half-way through: skipped (default 50 ms) */
  skipMs?: number;
  signal?: AbortSignal;
  onReady?: (info: PathRunInfo) => void;
  onProgress?: (kept: number) => void;
}

export interface PathRunInfo {
  events: string[];
  /** events listed in the catalogue that this kernel does not offer */
  missing: string[];
  kprobes: boolean;
  /** netns inode -> name (lab namespaces, and the caller's as "host") */
  netnsNames: Map<number, string>;
  notes: string[];
  program: string;
}

export interface PathRunResult {
  info: PathRunInfo;
  paths: SvPath[];
  stoppedBy: "count" | "signal" | "bpftrace-exit";
  skippedEarly: number;
  /** drop reason number -> name, from the kfree_skb format */
  dropReasons: Map<number, string>;
}

/** kfree_skb's reason names from its print format (__print_symbolic list). */
export function dropReasonNames(tracefs = TRACEFS): Map<number, string> {
  const out = new Map<number, string>();
  try {
    const fmt = readFileSync(`${tracefs}/events/skb/kfree_skb/format`, "utf8");
    for (const m of fmt.matchAll(/\{\s*(\d+),\s*"([A-Z0-9_]+)"\s*\}/g)) out.set(Number(m[1]), m[2]);
  } catch {
    // no names: numbers are printed
  }
  return out;
}

/** The catalogue's events this kernel offers. */
export function availableEvents(tracefs = TRACEFS): {
  events: PathEvent[];
  missing: string[];
  kprobes: boolean;
} {
  const events: PathEvent[] = [];
  const missing: string[] = [];
  for (const e of TRACEPOINT_EVENTS) {
    if (existsSync(`${tracefs}/events/${e.tracefs}`)) events.push(e);
    else missing.push(e.name);
  }
  const kprobes = kprobesAvailable(tracefs);
  if (kprobes) events.push(...kprobeEvents());
  return { events, missing, kprobes };
}

export async function runPath(opts: PathRunOptions): Promise<PathRunResult> {
  const { features } = tracingPreflight();
  if (!Number.isInteger(opts.count) || opts.count < 1) fail("--count needs a positive integer");
  const { events, missing, kprobes } = availableEvents();
  const notes: string[] = [];
  notes.push(
    kprobes
      ? `kprobes: also following ${kprobeEvents().length} skb functions`
      : "kprobes: none on this kernel (no kprobe_events, CONFIG_KPROBES off): tracepoints only",
  );
  if (missing.length > 0) notes.push(`not offered by this kernel: ${missing.join(", ")}`);
  const netnsNames = new Map<number, string>([[netnsInode("self"), "host"]]);
  let netns: number[] | undefined;
  if (opts.lab) {
    const n = labNames(opts.lab.prefix);
    for (const ns of [n.pub, n.hyp, n.vm]) {
      if (!netnsExists(ns)) fail(`lab namespace ${ns} not found: start the lab first (svtrace lab up)`);
      netnsNames.set(netnsInode(ns), ns);
    }
    netns = [netnsInode(n.pub), netnsInode(n.hyp), netnsInode(n.vm)];
  } else notes.push("every network namespace of this machine");
  // ovs-vswitchd runs in the host's namespace and reads the lab's frames through AF_PACKET (no skb->dev there)
  const program = generatePathProgram({
    events,
    streams: opts.streams,
    netns,
    anyNetnsComms: opts.lab ? ["ovs-vswitchd"] : undefined,
  });
  const info: PathRunInfo = {
    events: events.map((e) => e.name),
    missing,
    kprobes,
    netnsNames,
    notes,
    program,
  };
  const kindOf = new Map(events.map((e) => [e.name, e.kind]));
  const collector = new PathCollector({
    count: opts.count,
    perStream: (opts.streams?.length ?? 0) > 0,
    // an SV first seen anywhere but where it is queued or received was in flight before the probes attached
    entry: (name) => ["queue", "receive"].includes(kindOf.get(name) ?? "copy"),
  });
  let stop: (r: PathRunResult["stoppedBy"]) => void = () => {};
  const stopped = new Promise<PathRunResult["stoppedBy"]>((res) => {
    stop = res;
  });
  let settle: NodeJS.Timeout | undefined;
  let readyAt: bigint | undefined;
  const skipNs = BigInt(Math.round((opts.skipMs ?? 50) * 1e6));
  const runner = new BpftraceRunner({
    binary: features.binary,
    program,
    args: BPFTRACE_ARGS,
    env: { BPFTRACE_STRLEN: "64", BPFTRACE_PERF_RB_PAGES: "256" },
    pointCount: 1,
    onEvent: (ev) => {
      if (ev.kind === "ready") {
        readyAt = ev.time;
        collector.startAt(ev.time + skipNs);
        opts.onReady?.(info);
        return;
      }
      if (ev.kind !== "other" || readyAt === undefined) return;
      const line = parsePathLine(ev.text);
      if (!line) return;
      collector.add(line);
      opts.onProgress?.(collector.size);
      if (collector.full && !settle) settle = setTimeout(() => stop("count"), opts.settleMs ?? 500);
    },
    onStderr: () => {},
  });
  void runner.closed.then(() => stop("bpftrace-exit"));
  const onAbort = () => stop("signal");
  opts.signal?.addEventListener("abort", onAbort);
  try {
    await runner.ready.catch((e: Error) => fail(`bpftrace could not start the path trace: ${e.message}`));
    const why = await stopped;
    if (settle) clearTimeout(settle);
    const exit = await runner.stop();
    if (why === "bpftrace-exit" && exit.code !== 0 && exit.signal !== "SIGINT")
      fail(
        `bpftrace ended unexpectedly (${exit.code ?? exit.signal}): ${exit.stderr.slice(0, 3).join(" | ")}`,
      );
    return {
      info,
      paths: collector.paths(),
      stoppedBy: why,
      skippedEarly: collector.skippedEarly,
      dropReasons: dropReasonNames(),
    };
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    if (runner.child.exitCode === null && runner.child.signalCode === null) await runner.stop();
  }
}
