/**
 * Processes the lab starts (OVS daemons, the tap forwarder): identify them by PID plus kernel start time
 * and command line, so that `lab down` never signals a recycled PID; check liveness; stop them.
 */
import { readdirSync, readFileSync } from "node:fs";
import { sleep } from "./exec.js";

export type LabProcessRole = "ovsdb-server" | "ovs-vswitchd" | "forwarder" | "qemu";

/** A process the lab started, as recorded in the state file. */
export interface LabProcess {
  role: LabProcessRole;
  pid: number;
  /** field 22 of /proc/PID/stat (clock ticks since boot): with the PID it names one process for ever */
  startTime: string;
  /** /proc/PID/cmdline, NULs shown as spaces */
  cmdline: string;
}

/** Start time and command line of a live PID, or undefined if there is no such process. */
export function processIdentity(pid: number): { startTime: string; cmdline: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // rest[0] is field 3 (state); starttime is field 22
    const startTime = rest[19] ?? "";
    if (rest[0] === "Z") return undefined; // a zombie is gone for our purposes
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replace(/\0/g, " ");
    return { startTime, cmdline };
  } catch {
    return undefined;
  }
}

/** Record a freshly started process. */
export function identify(role: LabProcessRole, pid: number): LabProcess | undefined {
  const id = processIdentity(pid);
  return id ? { role, pid, ...id } : undefined;
}

/** True if the recorded process is still the same, running process. */
export function isAlive(p: LabProcess): boolean {
  const id = processIdentity(p.pid);
  return id !== undefined && id.startTime === p.startTime;
}

/** One OS thread of a process: id, name (comm) and scheduling policy (0 OTHER, 1 FIFO, 2 RR). */
export interface ThreadInfo {
  tid: number;
  name: string;
  policy: number;
  rtPriority: number;
}

/** Threads of a PID whose name starts with `namePrefix`. */
export function threadsNamed(pid: number, namePrefix: string): ThreadInfo[] {
  const out: ThreadInfo[] = [];
  let taskIds: number[];
  try {
    taskIds = readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return out;
  }
  for (const tid of taskIds) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      if (!name.startsWith(namePrefix)) continue;
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // rt_priority is field 40, policy field 41 -> rest[37], rest[38]
      out.push({ tid, name, rtPriority: Number(rest[37]), policy: Number(rest[38]) });
    } catch {
      // thread ended meanwhile
    }
  }
  return out;
}

/**
 * Stop a recorded process: SIGTERM, wait up to `graceMs`, then SIGKILL. Does nothing if the PID now belongs
 * to another process (different start time). Returns what happened.
 */
export async function stopProcess(
  p: LabProcess,
  graceMs = 3000,
): Promise<"stopped" | "killed" | "gone" | "recycled"> {
  const id = processIdentity(p.pid);
  if (!id) return "gone";
  if (id.startTime !== p.startTime) return "recycled";
  try {
    process.kill(p.pid, "SIGTERM");
  } catch {
    return "gone";
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(p)) return "stopped";
    await sleep(20);
  }
  try {
    process.kill(p.pid, "SIGKILL");
  } catch {
    return "stopped";
  }
  for (let i = 0; i < 100 && isAlive(p); i++) await sleep(20);
  return "killed";
}
