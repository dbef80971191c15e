/**
 * What to trace, from the selection values (a plain object; the CLI defines the flags in
 * src/cli/trace-options.ts) and svtrace.cfg: lab [switch] or machine hypervisor|vm|VM, iface (or SV_INTERFACE),
 * svIDs, points, SV_BUFFER_SIZE. Values override the file. The result is the tracer core's TraceOptions.
 */
import { fail } from "../errors.js";
import type { LabMode, SwitchMode } from "../lab/names.js";
import type { ClockName } from "../record/schema.js";
import type { TraceOptions } from "../trace/session-types.js";
import { readSvtraceCfg } from "./svtrace-cfg.js";

/** The selection values, named after their flags (absent ones undefined). */
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
export function resolveSelection(flags: SelectionFlags, labSwitch?: LabMode | null): Selection {
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
    if (!flags.switch && labSwitch === "qemu")
      fail(
        "--lab does not trace the qemu lab live yet (its VM is a guest with its own kernel and clock): svtrace record --lab traces both sides and joins them, or trace the host with --machine hypervisor and the guest with svtrace lab exec -- svtrace live --machine vm --iface eth0",
      );
    const sw =
      (flags.switch as SwitchMode | undefined) ?? (labSwitch as SwitchMode | null | undefined) ?? "bridge";
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
