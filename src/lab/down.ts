/**
 * `lab down`: stop the processes the lab started (only if PID and start time still match), delete the
 * namespaces svtrace created, remove the run directory and the state file. Idempotent; works after a crash
 * or a half-done `up` because `up` records each step before taking it.
 */
import { readdirSync, rmSync } from "node:fs";
import { basename } from "node:path";
import { sleep } from "./exec.js";
import { type LabNames, labNames } from "./names.js";
import { deleteNamespace, netnsExists } from "./netns.js";
import { preflight } from "./preflight.js";
import { type LabProcess, type LabProcessRole, processIdentity, stopProcess } from "./processes.js";
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

  // 0. an interrupted `up` may have left an `ip` command running (e.g. `ip netns add`): let it finish first,
  //    so that nothing appears after we have cleaned up.
  await waitForIpCommands([names.pub, names.hyp, names.vm], names.runDir);

  // 1. processes: the recorded ones, plus any process whose command line names our run directory
  //    (covers a crash between starting a daemon and recording it).
  //    Twice: a daemon that was still forking (--detach) when `up` died shows up on the second pass.
  const seen = new Set<string>();
  for (let pass = 0; pass < 2; pass++) {
    const procs: LabProcess[] = [
      ...(pass === 0 ? (state?.processes ?? []) : []),
      ...runDirProcesses(names.runDir),
    ];
    for (const p of procs) {
      const key = `${p.pid}:${p.startTime}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const r = await stopProcess(p);
      if (r !== "gone" && r !== "recycled")
        result.stoppedProcesses.push({ role: p.role, pid: p.pid, result: r });
    }
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

/**
 * Processes this lab started, found by their command line: an OVS daemon or QEMU (or the `ip netns exec`
 * still starting one) with its files in our run directory, or our forwarder (`lab forwarder ... --run-dir DIR`).
 * This finds what a crashed `up` started but had not recorded yet; nothing else is ever matched.
 */
function runDirProcesses(runDir: string): LabProcess[] {
  const out: LabProcess[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const id = processIdentity(pid);
    if (!id) continue;
    const role = labRole(id.cmdline.split(" "), runDir);
    if (role) out.push({ role, pid, ...id });
  }
  return out;
}

/** Wait (up to 5 s) until no short-lived `ip` command that names one of our namespaces is running. */
async function waitForIpCommands(namespaces: string[], runDir: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    let busy = false;
    for (const e of readdirSync("/proc")) {
      if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
      const argv = processIdentity(Number(e))?.cmdline.split(" ") ?? [];
      if (basename(argv[0] ?? "") !== "ip" || labRole(argv, runDir)) continue;
      if (argv.some((a) => namespaces.includes(a))) busy = true;
    }
    if (!busy) return;
    await sleep(20);
  }
}

function labRole(argv: string[], runDir: string): LabProcessRole | undefined {
  let args = argv;
  if (basename(args[0] ?? "") === "ip" && args[1] === "netns" && args[2] === "exec") args = args.slice(4);
  const prog = basename(args[0] ?? "");
  const inRunDir = args.some((a) => a.includes(`${runDir}/`));
  if ((prog === "ovsdb-server" || prog === "ovs-vswitchd") && inRunDir) return prog;
  if (prog === "qemu-system-x86_64" && inRunDir) return "qemu";
  const i = args.indexOf("--run-dir");
  if (i > 0 && args[i + 1] === runDir && args.includes("forwarder") && args.includes("lab"))
    return "forwarder";
  return undefined;
}
