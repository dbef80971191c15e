/**
 * The qemu lab's guest: QEMU (qemu-system-x86_64) started detached inside the hypervisor namespace, on the tap
 * vnet0 (a port of br0) with a virtio-net NIC, the host's / shared read-only and the lab's guest directory shared
 * read-write over virtio-9p, a virtio-serial port for the guest agent (host end: the lab's agent.sock) and the
 * serial console in console.log. `startGuest` returns once the agent answers: that is the boot time.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { fail } from "../errors.js";
import { sleep, which } from "./exec.js";
import { type GuestPong, pingGuest } from "./guest-channel.js";
import type { GuestKernel } from "./guest-kernel.js";
import { buildInitramfs, GUESTDIR_TAG, HOSTROOT_TAG } from "./initramfs.js";
import type { LabNames } from "./names.js";
import { identify, isAlive, type LabProcess } from "./processes.js";

/** The compiled agent (this file is <out>/src/lab/qemu.js). */
const agentMain = fileURLToPath(new URL("./guest-agent.js", import.meta.url));
export const AGENT_PORT = "svtrace.agent";
/** TCG: nested KVM hangs at boot on the machines this was built on (KERNEL-TRACING.md §12). */
export type Accelerator = "tcg" | "kvm";

export interface GuestInfo {
  accel: Accelerator;
  kernel: string;
  kernelPackage: string | null;
  /** uname -r the agent reported at boot */
  release: string;
  /** from QEMU's start to the agent's first answer */
  bootMs: number;
  bootedAt: string;
  memoryMb: number;
  mac: string;
}

export function consoleLog(names: LabNames): string {
  return `${names.runDir}/console.log`;
}

export function requireQemu(accel: Accelerator): void {
  if (!which("qemu-system-x86_64"))
    fail("qemu-system-x86_64 not found: the qemu lab needs it (apt-get install qemu-system-x86)");
  if (accel === "kvm" && !existsSync("/dev/kvm"))
    fail("--accel kvm: /dev/kvm does not exist; use --accel tcg");
}

export interface StartGuestOptions {
  kernel: GuestKernel;
  accel: Accelerator;
  memoryMb: number;
  bootTimeoutMs: number;
}

/** Build the initramfs, start QEMU (recorded through `record` as soon as it runs), wait for the agent. */
export async function startGuest(
  names: LabNames,
  opts: StartGuestOptions,
  record: (p: LabProcess) => void,
): Promise<GuestInfo> {
  mkdirSync(names.guestDir, { recursive: true, mode: 0o755 });
  const initrd = `${names.runDir}/initrd.cpio`;
  await buildInitramfs({
    kernel: opts.kernel,
    out: initrd,
    guestDir: names.guestDir,
    node: process.execPath,
    agent: agentMain,
    portName: AGENT_PORT,
  });
  // a locally administered MAC derived from the prefix, so two labs' guests differ
  let h = 0;
  for (const c of names.prefix) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const mac = `52:54:00:${[(h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
  const share = "security_model=none,multidevs=remap";
  const args = [
    "netns",
    "exec",
    names.hyp,
    "qemu-system-x86_64",
    "-name",
    `svtrace-${names.prefix}`,
    "-accel",
    opts.accel,
    "-m",
    String(opts.memoryMb),
    "-smp",
    "1",
    "-nodefaults",
    "-display",
    "none",
    "-no-reboot",
    "-rtc",
    "base=utc",
    "-chardev",
    `file,id=con,path=${consoleLog(names)}`,
    "-serial",
    "chardev:con",
    "-kernel",
    opts.kernel.vmlinuz,
    "-initrd",
    initrd,
    "-append",
    "console=ttyS0 quiet panic=-1",
    "-virtfs",
    `local,path=/,mount_tag=${HOSTROOT_TAG},${share},readonly=on`,
    "-virtfs",
    `local,path=${names.guestDir},mount_tag=${GUESTDIR_TAG},${share}`,
    "-netdev",
    `tap,id=n0,ifname=${names.tap},script=no,downscript=no`,
    "-device",
    `virtio-net-pci,netdev=n0,mac=${mac}`,
    "-device",
    "virtio-serial-pci",
    "-chardev",
    `socket,id=agent,path=${names.agentSocket},server=on,wait=off`,
    "-device",
    `virtserialport,chardev=agent,name=${AGENT_PORT}`,
  ];
  const log = openSync(`${names.runDir}/qemu.log`, "a");
  const t0 = performance.now();
  const child = spawn("ip", args, { detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not start qemu-system-x86_64");
  // `ip netns exec` execs QEMU in place: record the PID once it is QEMU (same PID, same start time)
  let p: LabProcess | undefined;
  for (let i = 0; i < 200; i++) {
    p = identify("qemu", pid);
    if (!p || p.cmdline.startsWith("qemu-system")) break;
    await sleep(10);
  }
  if (!p) throw new Error(`qemu exited at once: ${tail(`${names.runDir}/qemu.log`)}`);
  record(p);

  const deadline = Date.now() + opts.bootTimeoutMs;
  let pong: GuestPong | undefined;
  while (!pong) {
    if (!isAlive(p))
      throw new Error(
        `qemu exited during boot: ${tail(`${names.runDir}/qemu.log`)} / console: ${tail(consoleLog(names))}`,
      );
    if (Date.now() > deadline)
      throw new Error(
        `the guest agent did not answer within ${opts.bootTimeoutMs / 1000} s; console: ${tail(consoleLog(names))}`,
      );
    if (existsSync(names.agentSocket)) pong = await pingGuest(names.agentSocket, 2000).catch(() => undefined);
    if (!pong) await sleep(250);
  }
  const bootMs = performance.now() - t0;
  return {
    accel: opts.accel,
    kernel: opts.kernel.vmlinuz,
    kernelPackage: opts.kernel.package,
    release: pong.release,
    bootMs: Math.round(bootMs),
    bootedAt: new Date().toISOString(),
    memoryMb: opts.memoryMb,
    mac,
  };
}

function tail(file: string): string {
  try {
    const lines = readFileSync(file, "utf8").trim().split("\n");
    return lines.slice(-3).join(" | ") || "(empty)";
  } catch {
    return "(no log)";
  }
}
