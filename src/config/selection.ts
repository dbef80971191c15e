/**
 * What to trace, from the command line and svtrace.cfg: `--lab [--switch]` or `--machine hypervisor|vm|VM`,
 * `--iface` (or SV_INTERFACE), `--stream` svIDs, `--points`, SV_BUFFER_SIZE. Flags override the file.
 * Shared by `svtrace live`, `record` and `demo`; the result is the tracer core's TraceOptions.
 */
import { Option } from "@commander-js/extra-typings";
import { fail } from "../errors.js";
import { SWITCH_MODES, type SwitchMode } from "../lab/names.js";
import type { ClockName } from "../record/schema.js";
import type { TraceOptions } from "../trace/session-types.js";
import { readSvtraceCfg } from "./svtrace-cfg.js";

export interface SelectionFlags {
  lab?: boolean;
  switch?: string;
  machine?: string;
  iface?: string;
  stream?: string[];
  points?: string;
  conf?: string;
  bufferSize?: number;
  rate?: number;
  clock?: string;
  tap?: string;
  qemuPid?: number;
  app?: string;
  appTid?: string;
  kprobes?: boolean;
  backend?: string;
}

export interface Selection {
  trace: TraceOptions;
  /** the config file that was read, if any */
  confPath?: string;
  /** "lab (bridge)", "hypervisor enp7s0", ... for titles */
  title: string;
}

function positiveInt(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < 1) fail(`bad ${name} "${v}": give a positive integer`);
    return Number(v);
  };
}

/** The selection options, to add to a command with `.addOption()` (one list so every command agrees). */
export function selectionOptions() {
  return [
    new Option(
      "--lab",
      "trace the svtrace lab (svtrace lab up): T1 hyp-in, T2 hyp-out/vnet0, T3 vm0, T4 svt-sub",
    ),
    new Option("--switch <mode>", "lab switch variant (default: the running lab's, else bridge)").choices(
      SWITCH_MODES,
    ),
    new Option("--machine <kind>", "real host profile: hypervisor or vm (VM accepted, case-insensitive)"),
    new Option("--iface <if>", "SV interface (T1 on a hypervisor, T3 in a VM); overrides SV_INTERFACE"),
    new Option(
      "--stream <svid...>",
      "only these svIDs (exact; repeat or separate with commas); default: all",
    ),
    new Option("--points <list>", "trace these points, in path order (e.g. T1,T2,T3,T4)"),
    new Option("--conf <file>", "the original svtrace.cfg ([DEFAULT] SV_INTERFACE, SV_BUFFER_SIZE)"),
    new Option("--buffer-size <n>", "pending-SV map size (overrides SV_BUFFER_SIZE)").argParser(
      positiveInt("--buffer-size"),
    ),
    new Option("--rate <sv/s>", "expected SV/s over all streams (sizes maps and buffers)").argParser(
      positiveInt("--rate"),
    ),
    new Option("--clock <clock>", "clock of the timestamps").choices(["realtime", "tai"] as const),
    new Option("--tap <dev>", "hypervisor: the VM's tap device (vnetN) for T2a"),
    new Option(
      "--qemu-pid <pid>",
      "hypervisor: the QEMU process whose vhost threads (by tid) are T2b",
    ).argParser(positiveInt("--qemu-pid")),
    new Option("--app <comm>", "vm: the application's thread name (T4), exact"),
    new Option("--app-tid <tid,...>", "vm: the application's thread ids (T4)"),
    new Option(
      "--backend <tracer>",
      "tracer backend: libbpf (raw tracepoints, ring buffer), bpftrace, or auto (libbpf where it loads)",
    ).choices(["auto", "libbpf", "bpftrace"] as const),
    new Option(
      "--kprobes",
      "the original svtrace's kprobe points (tpacket_rcv -> consume_skb), where the kernel has kprobes",
    ),
  ] as const;
}

/** Split repeated/comma-separated svIDs, drop duplicates, validate. */
export function parseStreams(values: string[] | undefined): string[] {
  const out: string[] = [];
  for (const v of values ?? []) {
    for (const part of v.split(",")) {
      const id = part.trim();
      if (id === "") continue;
      if (!/^[\x20-\x7e]+$/.test(id) || id.length > 64)
        fail(`bad svID "${id}" in --stream: printable ASCII, at most 64 characters`);
      if (!out.includes(id)) out.push(id);
    }
  }
  return out;
}

function parseTids(v: string): number[] {
  const out = v.split(",").map((x) => x.trim());
  for (const x of out) if (!/^\d+$/.test(x)) fail(`bad --app-tid "${v}": thread ids separated by commas`);
  return out.map(Number);
}

export function parseMachine(v: string): "hypervisor" | "vm" {
  const m = v.trim().toLowerCase();
  if (m === "hypervisor" || m === "vm") return m;
  fail(`bad --machine "${v}": use hypervisor or vm (VM is accepted too)`);
}

/**
 * Resolve the flags (and --conf) into TraceOptions. `labSwitch` is the running lab's mode, used when --lab is
 * given without --switch.
 */
export function resolveSelection(flags: SelectionFlags, labSwitch?: SwitchMode | null): Selection {
  const cfg = flags.conf ? readSvtraceCfg(flags.conf) : undefined;
  if (flags.lab && flags.machine) fail("give either --lab or --machine, not both");
  if (flags.switch && !flags.lab && flags.machine) fail("--switch is for --lab only");
  const iface = flags.iface ?? cfg?.iface;
  const streams = parseStreams(flags.stream);
  const points = flags.points
    ? flags.points
        .split(",")
        .map((p) => p.trim())
        .filter((p) => p !== "")
    : undefined;
  const trace: TraceOptions = { profile: "lab" };
  let title: string;
  if (flags.lab || (!flags.machine && flags.switch)) {
    const sw = (flags.switch as SwitchMode | undefined) ?? labSwitch ?? "bridge";
    trace.profile = "lab";
    trace.labSwitch = sw;
    title = `lab (${sw})`;
  } else if (flags.machine) {
    trace.profile = parseMachine(flags.machine);
    if (!iface)
      fail(
        `--machine ${trace.profile} needs the SV interface: give --iface IF or SV_INTERFACE in --conf svtrace.cfg`,
      );
    title = `${trace.profile} ${iface}`;
  } else {
    fail(
      "say what to trace: --lab (the svtrace lab, see svtrace lab up) or --machine hypervisor|vm with --iface IF (or --conf svtrace.cfg)",
    );
  }
  if (iface) trace.iface = iface;
  if (streams.length > 0) trace.streams = streams;
  if (points) trace.points = points;
  const mapKeys = flags.bufferSize ?? cfg?.bufferSize;
  if (mapKeys !== undefined) trace.mapKeys = mapKeys;
  if (flags.rate !== undefined) trace.expectedRate = flags.rate;
  if (flags.clock) trace.clock = flags.clock as ClockName;
  if (flags.tap) trace.tap = flags.tap;
  if (flags.qemuPid !== undefined) trace.qemuPid = flags.qemuPid;
  if (flags.app) trace.appComm = flags.app;
  if (flags.appTid) trace.appTids = parseTids(flags.appTid);
  if (flags.kprobes) trace.kprobes = true;
  if (flags.backend) trace.backend = flags.backend;
  return { trace, confPath: flags.conf, title };
}

function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) fail(`bad ${name} "${v}": give a number > 0`);
    return n;
  };
}

/** The options every traced run has (live, record): threshold, duration, Prometheus. */
export function runOptions() {
  return [
    new Option("--threshold-us <us>", "count SVs above this latency (µs)")
      .argParser(positiveNumber("--threshold-us"))
      .default(200),
    new Option("--duration <s>", "stop after this many seconds (default: until Ctrl-C)").argParser(
      positiveNumber("--duration"),
    ),
    new Option(
      "--prometheus <[host:]port>",
      "serve /metrics for Prometheus (127.0.0.1 unless a host is given)",
    ),
  ] as const;
}

/** Every flag of a traced run, as commander parses them. */
export interface RunFlags extends SelectionFlags {
  thresholdUs: number;
  duration?: number;
  prometheus?: string;
  json?: boolean;
}
