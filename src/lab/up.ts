/**
 * `lab up`: build the three-namespace lab (publisher -> hyp with a switch -> VM) in one of three switch modes.
 * Every step is recorded in the state file before it is taken; if a step fails, what was made is removed again.
 * Already up in the same mode and healthy: success without changes. Different mode, half-done, or foreign
 * namespaces with the same names: a one-line error and nothing is touched.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fail, UserError } from "../errors.js";
import { labDown } from "./down.js";
import { ipIn } from "./exec.js";
import type { GuestKernel } from "./guest-kernel.js";
import { guestKernel } from "./guest-kernel.js";
import { createLinuxBridge, waitForwarding } from "./linux-bridge.js";
import { type LabMode, type LabNames, labNames } from "./names.js";
import { createQuietNamespace, createVethPair, linkUp, netnsExists } from "./netns.js";
import { startOvs } from "./ovs.js";
import { preflight } from "./preflight.js";
import { isAlive, processIdentity } from "./processes.js";
import { type Accelerator, requireQemu, startGuest } from "./qemu.js";
import { type LabState, readState, writeState } from "./state.js";
import { type LabStatus, labStatus } from "./status.js";
import { createTaps, startForwarder, TAP_QUEUE_FRAMES } from "./tap.js";

export interface LabUpOptions {
  /** switch between hyp-in and the VM (default "bridge"); "qemu": br0 + tap vnet0 into a QEMU guest */
  mode?: LabMode;
  /** namespace prefix (default: SVTRACE_LAB_PREFIX or "svt-") */
  prefix?: string;
  /** SCHED_FIFO priority asked for the tap forwarder thread (default 45; 0 = SCHED_OTHER) */
  forwarderPriority?: number;
  /** tap mode: the forwarder holds each frame this many µs after reading it (a known delay in T2b->T3) */
  delayUs?: number;
  /** qemu mode: the guest kernel, a vmlinuz-RELEASE file or a Debian package (default linux-image-amd64) */
  kernel?: string;
  kernelPackage?: string;
  /** qemu mode: accelerator (default tcg) */
  accel?: Accelerator;
  /** qemu mode: guest memory in MiB (default 1024) */
  memoryMb?: number;
}

export interface LabUpResult {
  names: LabNames;
  mode: LabMode;
  /** true if the same lab was already up and nothing was changed */
  alreadyUp: boolean;
  /** wall time of the setup in milliseconds (0 if already up) */
  setupMs: number;
  status: LabStatus;
}

export async function labUp(opts: LabUpOptions = {}): Promise<LabUpResult> {
  const mode = opts.mode ?? "bridge";
  const names = labNames(opts.prefix);
  const delayUs = opts.delayUs ?? 0;
  if (delayUs !== 0 && mode !== "tap")
    fail("--delay-us needs --switch tap (the tap forwarder holds the frames)");
  if (!Number.isInteger(delayUs) || delayUs < 0 || delayUs > 1_000_000)
    fail(`--delay-us must be a whole number of µs from 0 to 1000000, got ${delayUs}`);
  preflight(mode === "qemu" ? "tap" : mode, "svtrace lab up");
  if (mode !== "qemu" && (opts.kernel || opts.kernelPackage || opts.accel))
    fail("--kernel, --kernel-package and --accel need --switch qemu");
  if (mode === "qemu") requireQemu(opts.accel ?? "tcg");

  const existing = readState(names);
  if (existing) return await alreadyThere(names, existing, mode, delayUs);
  // the kernel is resolved (fetched into the cache if needed) before anything is built
  const kernel = mode === "qemu" ? await guestKernel(opts) : undefined;
  const foreign = [names.pub, names.hyp, names.vm].filter(netnsExists);
  if (foreign.length > 0)
    fail(
      `network namespace ${foreign.join(", ")} already exists and was not created by svtrace: remove it (ip netns del) or pick another prefix with SVTRACE_LAB_PREFIX`,
    );

  const t0 = performance.now();
  const state: LabState = {
    version: 1,
    prefix: names.prefix,
    mode,
    phase: "creating",
    createdAt: new Date().toISOString(),
    creatorPid: process.pid,
    namespaces: [],
    processes: [],
    runDir: names.runDir,
    ...(mode === "tap" ? { delayUs } : {}),
  };
  claimState(names, state);
  try {
    if (mode === "qemu") {
      if (!kernel) throw new Error("no guest kernel");
      await buildQemu(names, state, kernel, opts.accel ?? "tcg", opts.memoryMb ?? 1024);
    } else await build(names, state, mode, opts.forwarderPriority ?? 45, delayUs);
    state.phase = "up";
    writeState(names, state);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    try {
      await labDown({ prefix: names.prefix });
    } catch (downErr) {
      const d = downErr instanceof Error ? downErr.message : String(downErr);
      fail(`lab up (--switch ${mode}) failed: ${msg}; cleanup failed too (${d}): run svtrace lab down`);
    }
    if (err instanceof UserError) throw err;
    fail(`lab up (--switch ${mode}) failed and was rolled back: ${msg}`);
  }
  const setupMs = performance.now() - t0;
  return { names, mode, alreadyUp: false, setupMs, status: await labStatus({ prefix: names.prefix }) };
}

/** Create the state file exclusively, so two concurrent `up`s of one prefix cannot both proceed. */
function claimState(names: LabNames, state: LabState): void {
  mkdirSync(dirname(names.stateFile), { recursive: true, mode: 0o755 });
  try {
    writeFileSync(names.stateFile, `${JSON.stringify(state, null, 2)}\n`, { flag: "wx", mode: 0o644 });
  } catch {
    fail(`another svtrace lab up for prefix "${names.prefix}" started at the same time; try again`);
  }
}

async function alreadyThere(
  names: LabNames,
  existing: LabState,
  mode: LabMode,
  delayUs: number,
): Promise<LabUpResult> {
  if (existing.phase !== "up") {
    const creator = processIdentity(existing.creatorPid);
    if (creator && existing.creatorPid !== process.pid && /\blab\b/.test(creator.cmdline))
      fail(`svtrace lab up (pid ${existing.creatorPid}) is still building this lab; wait for it to finish`);
    fail(`a previous svtrace lab up (prefix "${names.prefix}") did not finish: run svtrace lab down first`);
  }
  if (existing.mode !== mode)
    fail(
      `the lab (prefix "${names.prefix}") is already up with --switch ${existing.mode}: run svtrace lab down first`,
    );
  if ((existing.delayUs ?? 0) !== delayUs)
    fail(
      `the lab (prefix "${names.prefix}") is already up with --delay-us ${existing.delayUs ?? 0}: run svtrace lab down first`,
    );
  const status = await labStatus({ prefix: names.prefix });
  if (!status.healthy)
    fail(
      `the lab (prefix "${names.prefix}") is up but broken (${status.problems[0]}): run svtrace lab down, then up again`,
    );
  return { names, mode, alreadyUp: true, setupMs: 0, status };
}

/** qemu mode: pub and hyp namespaces, br0 with hyp-in and tap vnet0, QEMU on vnet0 (no VM namespace). */
async function buildQemu(
  names: LabNames,
  state: LabState,
  kernel: GuestKernel,
  accel: Accelerator,
  memoryMb: number,
): Promise<void> {
  for (const ns of [names.pub, names.hyp]) {
    state.namespaces.push(ns);
    writeState(names, state);
    await createQuietNamespace(ns);
  }
  await createVethPair({ ns: names.pub, name: names.pubIf }, { ns: names.hyp, name: names.hypIn });
  await ipIn(names.hyp, ["tuntap", "add", "dev", names.tap, "mode", "tap", "vnet_hdr"]);
  await ipIn(names.hyp, ["link", "set", "dev", names.tap, "txqueuelen", String(TAP_QUEUE_FRAMES)]);
  await createLinuxBridge(names.hyp, names.bridge, [names.hypIn, names.tap]);
  for (const [ns, dev] of [
    [names.pub, names.pubIf],
    [names.hyp, names.hypIn],
    [names.hyp, names.tap],
  ] as const)
    await linkUp(ns, dev);
  state.guest = await startGuest(names, { kernel, accel, memoryMb, bootTimeoutMs: 240_000 }, (p) => {
    state.processes.push(p);
    writeState(names, state);
  });
  writeState(names, state);
  await waitForwarding(names.hyp, names.bridge, [names.hypIn, names.tap]);
  for (const p of state.processes)
    if (!isAlive(p)) throw new Error(`${p.role} (pid ${p.pid}) exited during setup`);
}

async function build(
  names: LabNames,
  state: LabState,
  mode: Exclude<LabMode, "qemu">,
  fwPriority: number,
  delayUs: number,
): Promise<void> {
  for (const ns of [names.pub, names.hyp, names.vm]) {
    state.namespaces.push(ns);
    writeState(names, state);
    await createQuietNamespace(ns);
  }
  await createVethPair({ ns: names.pub, name: names.pubIf }, { ns: names.hyp, name: names.hypIn });
  if (mode === "tap") {
    await createTaps(names);
    await createLinuxBridge(names.hyp, names.bridge, [names.hypIn, names.tap]);
    for (const [ns, dev] of [
      [names.pub, names.pubIf],
      [names.hyp, names.hypIn],
      [names.hyp, names.tap],
      [names.vm, names.vmIf],
    ] as const)
      await linkUp(ns, dev);
    await startForwarder(names, fwPriority, delayUs, (p) => {
      state.processes.push(p);
      writeState(names, state);
    });
    await waitForwarding(names.hyp, names.bridge, [names.hypIn, names.tap]);
    return;
  }
  await createVethPair({ ns: names.hyp, name: names.hypOut }, { ns: names.vm, name: names.vmIf });
  for (const [ns, dev] of [
    [names.pub, names.pubIf],
    [names.hyp, names.hypIn],
    [names.hyp, names.hypOut],
    [names.vm, names.vmIf],
  ] as const)
    await linkUp(ns, dev);
  if (mode === "bridge") {
    await createLinuxBridge(names.hyp, names.bridge, [names.hypIn, names.hypOut]);
    await waitForwarding(names.hyp, names.bridge, [names.hypIn, names.hypOut]);
  } else
    await startOvs(names, (p) => {
      state.processes.push(p);
      writeState(names, state);
    });
  // every recorded process must still be alive once the lab is built
  for (const p of state.processes)
    if (!isAlive(p)) throw new Error(`${p.role} (pid ${p.pid}) exited during setup`);
}
