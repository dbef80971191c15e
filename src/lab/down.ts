/**
 * `lab down`: stop the processes the lab started (only if PID and start time still match), delete the
 * namespaces svtrace created, remove the run directory and the state file. Idempotent; works after a crash
 * or a half-done `up` because `up` records each step before taking it.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type LabNames, labNames } from "./names.js";
import { deleteNamespace, netnsExists } from "./netns.js";
import { preflight } from "./preflight.js";
import { identify, type LabProcess, type LabProcessRole, stopProcess } from "./processes.js";
import { readState, removeState } from "./state.js";

export interface LabDownResult {
  names: LabNames;
  /** false if there was no state file (nothing svtrace created) */
  hadLab: boolean;
  stoppedProcesses: { role: string; pid: number; result: string }[];
  deletedNamespaces: string[];
  /** namespaces with the lab's names that svtrace did not create: left alone */
  foreignNamespaces: string[];
  teardownMs: number;
}

export async function labDown(opts: { prefix?: string } = {}): Promise<LabDownResult> {
  const names = labNames(opts.prefix);
  preflight(undefined, "svtrace lab down");
  const t0 = performance.now();
  const state = readState(names);
  const result: LabDownResult = {
    names,
    hadLab: state !== undefined,
    stoppedProcesses: [],
    deletedNamespaces: [],
    foreignNamespaces: [],
    teardownMs: 0,
  };
  const ours = new Set(state?.namespaces ?? []);
  result.foreignNamespaces = [names.pub, names.hyp, names.vm].filter((n) => !ours.has(n) && netnsExists(n));

  // 1. processes: the recorded ones, plus any daemon whose pidfile sits in our run directory and whose
  //    command line names that directory (covers a crash between starting a daemon and recording it).
  const procs: LabProcess[] = [...(state?.processes ?? [])];
  for (const p of pidfileProcesses(names.runDir)) if (!procs.some((q) => q.pid === p.pid)) procs.push(p);
  for (const p of procs) {
    const r = await stopProcess(p);
    result.stoppedProcesses.push({ role: p.role, pid: p.pid, result: r });
  }

  // 2. namespaces svtrace created (their veths, bridges, taps and OVS ports go with them)
  for (const ns of [...ours].reverse()) {
    if (!netnsExists(ns)) continue;
    await deleteNamespace(ns);
    result.deletedNamespaces.push(ns);
  }

  // 3. run directory and state
  rmSync(names.runDir, { recursive: true, force: true });
  removeState(names);
  result.teardownMs = performance.now() - t0;
  return result;
}

const PIDFILE_ROLES: Record<string, LabProcessRole> = {
  "ovsdb-server.pid": "ovsdb-server",
  "ovs-vswitchd.pid": "ovs-vswitchd",
  "forwarder.pid": "forwarder",
};

/** Processes named by pidfiles under the run directory whose command line mentions the run directory. */
function pidfileProcesses(runDir: string): LabProcess[] {
  const out: LabProcess[] = [];
  if (!existsSync(runDir)) return out;
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name in PIDFILE_ROLES) files.push(join(dir, e.name));
    }
  };
  walk(runDir);
  for (const f of files) {
    const pid = Number.parseInt(readFileSync(f, "utf8").trim(), 10);
    if (!Number.isInteger(pid) || pid <= 1) continue;
    const role = PIDFILE_ROLES[f.slice(f.lastIndexOf("/") + 1)];
    const p = role ? identify(role, pid) : undefined;
    if (p?.cmdline.includes(runDir)) out.push(p);
  }
  return out;
}
