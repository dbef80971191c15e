/**
 * The lab state file (/run/svtrace/lab-<prefix>.json): what `lab up` created and which processes it started.
 * It is written before each step, so that `lab down` can clean up after a crash or a half-done `up`.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fail } from "../errors.js";
import type { LabMode, LabNames } from "./names.js";
import type { LabProcess } from "./processes.js";
import type { GuestInfo } from "./qemu.js";

export interface LabState {
  version: 1;
  prefix: string;
  mode: LabMode;
  /** "creating" while `up` runs (or if it died midway), "up" once it finished */
  phase: "creating" | "up";
  createdAt: string;
  /** PID of the `svtrace lab up` that wrote this */
  creatorPid: number;
  /** namespaces svtrace created (or was about to create), in creation order */
  namespaces: string[];
  /** processes started for the lab */
  processes: LabProcess[];
  /** tap mode: each frame held this many µs by the forwarder (lab up --delay-us; absent = 0) */
  delayUs?: number;
  /** qemu mode: the guest, once it answered */
  guest?: GuestInfo;
  /** private run directory (OVS db, sockets, logs, forwarder log) */
  runDir: string;
}

/** The state, or undefined if there is no state file. A state file that cannot be read is a one-line error. */
export function readState(names: LabNames): LabState | undefined {
  let text: string;
  try {
    text = readFileSync(names.stateFile, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    fail(`cannot read lab state ${names.stateFile}: ${(e as Error).message}`);
  }
  let s: LabState | undefined;
  try {
    s = JSON.parse(text) as LabState;
  } catch {
    s = undefined;
  }
  if (s?.version !== 1 || !Array.isArray(s.namespaces) || !Array.isArray(s.processes))
    fail(
      `lab state ${names.stateFile} is damaged: check \`ip netns list\` and ${names.runDir}, clean up by hand, then delete the file`,
    );
  return s;
}

/** Write atomically (temp file + rename) so a crash never leaves half a JSON document. */
export function writeState(names: LabNames, state: LabState): void {
  mkdirSync(dirname(names.stateFile), { recursive: true, mode: 0o755 });
  const tmp = `${names.stateFile}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, names.stateFile);
}

export function removeState(names: LabNames): void {
  rmSync(names.stateFile, { force: true });
}
