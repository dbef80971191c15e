/**
 * `lab status`: what exists (namespaces, interfaces with their state and counters, the switch, OVS ports and
 * flows), which processes the lab started and whether they still run, and a list of problems. `healthy` is true
 * when the lab is completely up. The JSON shape (LabStatus) is documented in `svtrace lab status --help`.
 */
import { existsSync, readFileSync } from "node:fs";
import { busyFile, pingGuest } from "./guest-channel.js";
import { type LabMode, type LabNames, labNames } from "./names.js";
import { type LinkInfo, listLinks, netnsExists } from "./netns.js";
import { type OvsInfo, ovsInfo } from "./ovs.js";
import { requireRoot } from "./preflight.js";
import { isAlive, processIdentity, type ThreadInfo, threadsNamed } from "./processes.js";
import type { GuestInfo } from "./qemu.js";
import { readState } from "./state.js";
import { type ForwarderStats, readForwarderStats } from "./tap.js";

export interface LabStatus {
  prefix: string;
  stateFile: string;
  runDir: string;
  /** switch mode of the lab svtrace made, null if there is none */
  mode: LabMode | null;
  /** "up", "creating" (an `up` is running or died midway), or null (no lab) */
  phase: "up" | "creating" | null;
  createdAt: string | null;
  /** tap mode: µs the forwarder holds each frame (lab up --delay-us), null in other modes or without a lab */
  delayUs: number | null;
  /** every part present, up, and every process alive */
  healthy: boolean;
  namespaces: { role: "pub" | "hyp" | "vm"; name: string; exists: boolean; createdBySvtrace: boolean }[];
  interfaces: LinkInfo[];
  ovs: OvsInfo | null;
  processes: {
    role: string;
    pid: number;
    alive: boolean;
    cmdline: string;
    /** threads named "vhost-…" (tap forwarder) with policy 0 = SCHED_OTHER, 1 = SCHED_FIFO */
    threads: ThreadInfo[];
  }[];
  forwarder: ForwarderStats | null;
  /** qemu mode: the guest as booted, its QEMU, and whether the agent's command channel answers now */
  guest: GuestStatus | null;
  problems: string[];
}

export interface GuestStatus extends GuestInfo {
  qemuPid: number | null;
  qemuAlive: boolean;
  /** "answers", "busy" (a `lab exec`, PID in busyPid, holds it) or "no answer" */
  channel: "answers" | "busy" | "no answer";
  busyPid: number | null;
  /** what the agent answered now (null unless channel is "answers") */
  uptimeS: number | null;
  /** guest CLOCK_REALTIME minus host CLOCK_REALTIME at the ping's midpoint, and the ping's round trip (ms) */
  clockOffsetMs: number | null;
  pingRttMs: number | null;
}

/** Which interfaces must exist (namespace role, name) in each mode. */
function expectedLinks(names: LabNames, mode: LabMode): [string, string][] {
  if (mode === "qemu")
    return [
      [names.pub, names.pubIf],
      [names.hyp, names.hypIn],
      [names.hyp, names.tap],
      [names.hyp, names.bridge],
    ];
  const common: [string, string][] = [
    [names.pub, names.pubIf],
    [names.hyp, names.hypIn],
    [names.vm, names.vmIf],
  ];
  if (mode === "bridge") return [...common, [names.hyp, names.hypOut], [names.hyp, names.bridge]];
  if (mode === "tap") return [...common, [names.hyp, names.tap], [names.hyp, names.bridge]];
  return [...common, [names.hyp, names.hypOut]];
}

export async function labStatus(opts: { prefix?: string } = {}): Promise<LabStatus> {
  const names = labNames(opts.prefix);
  requireRoot("svtrace lab status");
  const state = readState(names);
  const ours = new Set(state?.namespaces ?? []);
  const roles = (
    [
      ["pub", names.pub],
      ["hyp", names.hyp],
      ["vm", names.vm],
    ] as const
  ).filter(([role]) => !(state?.mode === "qemu" && role === "vm")); // the guest is the VM
  const namespaces = roles.map(([role, name]) => ({
    role,
    name,
    exists: netnsExists(name),
    createdBySvtrace: ours.has(name),
  }));
  const interfaces: LinkInfo[] = [];
  for (const ns of namespaces) if (ns.exists) interfaces.push(...(await listLinks(ns.name)));
  const processes = (state?.processes ?? []).map((p) => {
    const alive = isAlive(p);
    return {
      role: p.role,
      pid: p.pid,
      alive,
      cmdline: p.cmdline,
      threads: alive ? threadsNamed(p.pid, "vhost-") : [],
    };
  });
  const mode = state?.mode ?? null;
  const ovs = mode === "ovs" && state ? ((await ovsInfo(names)) ?? null) : null;
  const forwarder = mode === "tap" ? (readForwarderStats(names) ?? null) : null;
  const guest = mode === "qemu" && state?.guest ? await guestStatus(names, state.guest, processes) : null;

  const problems: string[] = [];
  if (!state) {
    problems.push("no lab: run svtrace lab up");
    for (const ns of namespaces)
      if (ns.exists) problems.push(`namespace ${ns.name} exists but was not created by svtrace`);
  } else {
    if (state.phase !== "up") problems.push("lab up did not finish (run svtrace lab down)");
    for (const ns of namespaces) if (!ns.exists) problems.push(`namespace ${ns.name} is missing`);
    for (const [ns, dev] of expectedLinks(names, state.mode)) {
      const l = interfaces.find((i) => i.namespace === ns && i.name === dev);
      if (!l) problems.push(`interface ${dev} in ${ns} is missing`);
      else if (!l.adminUp) problems.push(`interface ${dev} in ${ns} is down`);
      else if (!l.carrier) problems.push(`interface ${dev} in ${ns} has no carrier`);
      else if (l.bridgePortState !== null && l.bridgePortState !== "forwarding")
        problems.push(`bridge port ${dev} in ${ns} is ${l.bridgePortState}, not forwarding`);
    }
    for (const p of processes) if (!p.alive) problems.push(`${p.role} (pid ${p.pid}) is not running`);
    if (state.mode === "ovs") {
      if (!ovs) problems.push("Open vSwitch does not answer");
      else if (!ovs.ports.some((p) => p.name === names.hypIn && p.ofport === 1))
        problems.push(`OVS port ${names.hypIn} is not ofport 1`);
      else if (!ovs.ports.some((p) => p.name === names.hypOut && p.ofport === 2))
        problems.push(`OVS port ${names.hypOut} is not ofport 2`);
    }
    if (state.mode === "qemu") {
      if (!guest) problems.push("the guest never booted (lab up did not finish)");
      else if (guest.channel === "no answer") problems.push("the guest agent does not answer");
    }
    if (state.mode === "tap") {
      const fw = processes.find((p) => p.role === "forwarder");
      if (fw?.alive && !fw.threads.some((t) => t.name === names.forwarderThread))
        problems.push(`forwarder thread ${names.forwarderThread} not found`);
    }
  }
  return {
    prefix: names.prefix,
    stateFile: names.stateFile,
    runDir: names.runDir,
    mode,
    phase: state?.phase ?? null,
    createdAt: state?.createdAt ?? null,
    delayUs: state?.mode === "tap" ? (state.delayUs ?? 0) : null,
    healthy: state !== undefined && problems.length === 0,
    namespaces,
    interfaces,
    ovs,
    processes,
    forwarder,
    guest,
    problems,
  };
}

async function guestStatus(
  names: LabNames,
  info: GuestInfo,
  processes: { role: string; pid: number; alive: boolean }[],
): Promise<GuestStatus> {
  const qemu = processes.find((p) => p.role === "qemu");
  const out: GuestStatus = {
    ...info,
    qemuPid: qemu?.pid ?? null,
    qemuAlive: qemu?.alive ?? false,
    channel: "no answer",
    busyPid: null,
    uptimeS: null,
    clockOffsetMs: null,
    pingRttMs: null,
  };
  if (!out.qemuAlive) return out;
  const busy = existsSync(busyFile(names.agentSocket))
    ? Number(readFileSync(busyFile(names.agentSocket), "utf8").trim())
    : 0;
  if (busy > 0 && processIdentity(busy)) {
    out.channel = "busy";
    out.busyPid = busy;
    return out;
  }
  try {
    const pong = await pingGuest(names.agentSocket, 5000);
    out.channel = "answers";
    out.uptimeS = pong.uptimeS;
    out.clockOffsetMs = Math.round((pong.realtimeMs - pong.hostMidMs) * 10) / 10;
    out.pingRttMs = Math.round(pong.rttMs * 10) / 10;
  } catch {
    // no answer
  }
  return out;
}
