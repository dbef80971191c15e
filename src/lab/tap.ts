/**
 * The lab's `tap` mode, standing in for vhost-net: persistent taps vnet0 (hyp, a port of br0) and vm0 (VM),
 * and a detached background `svtrace lab forwarder` process whose "vhost-svt" thread copies every frame
 * read from vnet0 into vm0. `lab up` waits until the forwarder has attached both taps (carrier up).
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ipIn, sleep } from "./exec.js";
import type { LabNames } from "./names.js";
import { listLinks } from "./netns.js";
import { identify, isAlive, type LabProcess } from "./processes.js";

/** The compiled CLI entry (this file is <out>/src/lab/tap.js). */
const cliMain = fileURLToPath(new URL("../cli/main.js", import.meta.url));

export function forwarderLog(names: LabNames): string {
  return `${names.runDir}/forwarder.log`;
}
export function forwarderStatsFile(names: LabNames): string {
  return `${names.runDir}/forwarder-stats.json`;
}

/** Counters the forwarder writes once a second (and what `lab status` shows). */
export interface ForwarderStats {
  frames: number;
  bytes: number;
  readErrors: number;
  writeErrors: number;
  /** each frame is held this many µs after the forwarder read it (lab up --delay-us) */
  delayUs?: number;
  /** with a delay: how late the writes were after their deadline, mean and max (ns) */
  holdLateMeanNs?: number;
  holdLateMaxNs?: number;
  /** "SCHED_FIFO 45" or "SCHED_OTHER (SCHED_FIFO refused: ...)" */
  scheduling: string;
  updatedAt: string;
}

export function readForwarderStats(names: LabNames): ForwarderStats | undefined {
  try {
    return JSON.parse(readFileSync(forwarderStatsFile(names), "utf8")) as ForwarderStats;
  } catch {
    return undefined;
  }
}

/**
 * Frames the host tap may hold while the forwarder thread is not running. A tap drops (TX dropped on vnet0)
 * once its ring is full, and the kernel's default ring of 1000 frames is 31 ms at 8 x 4000 SV/s: shorter than
 * the stalls a loaded 2-vCPU VM gives a thread (a 100 ms SIGSTOP of the forwarder lost 2393 of 3200 frames).
 * 16384 frames is half a second at 32 000 frames/s. A real host's vhost-net worker can be descheduled the same
 * way; there the tap's txqueuelen is the knob too.
 */
export const TAP_QUEUE_FRAMES = 16384;

/** Persistent taps (no packet-info header, no vnet header), made in their namespaces. */
export async function createTaps(names: LabNames): Promise<void> {
  await ipIn(names.hyp, ["tuntap", "add", "dev", names.tap, "mode", "tap"]);
  await ipIn(names.hyp, ["link", "set", "dev", names.tap, "txqueuelen", String(TAP_QUEUE_FRAMES)]);
  await ipIn(names.vm, ["tuntap", "add", "dev", names.vmIf, "mode", "tap"]);
}

/**
 * Spawn the forwarder detached (it must outlive `lab up`), record it, and wait until both taps have carrier,
 * i.e. the forwarder holds an fd on each.
 */
export async function startForwarder(
  names: LabNames,
  priority: number,
  delayUs: number,
  record: (p: LabProcess) => void,
): Promise<void> {
  mkdirSync(names.runDir, { recursive: true, mode: 0o755 });
  const log = openSync(forwarderLog(names), "a");
  const child = spawn(
    process.execPath,
    [
      cliMain,
      "lab",
      "forwarder",
      "--hyp",
      names.hyp,
      "--vm",
      names.vm,
      "--from",
      names.tap,
      "--to",
      names.vmIf,
      "--thread",
      names.forwarderThread,
      "--priority",
      String(priority),
      "--delay-us",
      String(delayUs),
      "--run-dir",
      names.runDir,
    ],
    { detached: true, stdio: ["ignore", log, log] },
  );
  closeSync(log);
  const pid = child.pid;
  child.unref();
  if (pid === undefined) throw new Error("could not start the tap forwarder");
  writeFileSync(`${names.runDir}/forwarder.pid`, `${pid}\n`);
  const p = identify("forwarder", pid);
  if (!p) throw new Error(`tap forwarder exited at once: ${tail(forwarderLog(names))}`);
  record(p);

  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (!isAlive(p)) throw new Error(`tap forwarder exited: ${tail(forwarderLog(names))}`);
    const links = [...(await listLinks(names.hyp)), ...(await listLinks(names.vm))];
    const fromUp = links.some((l) => l.namespace === names.hyp && l.name === names.tap && l.carrier);
    const toUp = links.some((l) => l.namespace === names.vm && l.name === names.vmIf && l.carrier);
    if (fromUp && toUp && readForwarderStats(names)) return;
    await sleep(25);
  }
  throw new Error(
    `tap forwarder did not attach ${names.tap} and ${names.vmIf} within 15 s: ${tail(forwarderLog(names))}`,
  );
}

function tail(file: string): string {
  try {
    const lines = readFileSync(file, "utf8").trim().split("\n");
    return lines[lines.length - 1] || "(empty log)";
  } catch {
    return "(no log)";
  }
}
