/**
 * Checks before tracing, each failing with one line that names the problem and what to do: root, bpftrace
 * present and runnable, kernel BTF, tracefs (mounted here when it is missing and we are root), the
 * tracepoints the points need, and the interface.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { type BpftraceFeatures, detectBpftrace } from "../bpftrace/features.js";
import { fail } from "../errors.js";
import { ATTACH_POINTS, type ProbePoint } from "../probes/catalogue.js";
import { interfaceExists } from "../probes/discovery.js";

export const TRACEFS = "/sys/kernel/tracing";
export const BTF_VMLINUX = "/sys/kernel/btf/vmlinux";

export function checkRoot(): void {
  if (process.getuid?.() !== 0)
    fail("tracing needs root (bpftrace runs only as root, with CAP_SYS_ADMIN): run svtrace with sudo");
}

export function checkBpftrace(binary?: string): BpftraceFeatures {
  try {
    return detectBpftrace(binary);
  } catch (e) {
    fail((e as Error).message);
  }
}

export function checkBtf(path = BTF_VMLINUX): void {
  if (!existsSync(path))
    fail(`no kernel BTF (${path}): svtrace needs a kernel built with CONFIG_DEBUG_INFO_BTF=y`);
}

/** tracefs must be mounted for tracepoints; mount it when it is not (root only). */
export function checkTracefs(dir = TRACEFS): void {
  if (existsSync(`${dir}/events`)) return;
  if (dir === TRACEFS && existsSync(dir)) {
    spawnSync("mount", ["-t", "tracefs", "nodev", dir], { stdio: "ignore", timeout: 10_000 });
    if (existsSync(`${dir}/events`)) return;
  }
  fail(`no tracefs at ${dir}/events: mount it (mount -t tracefs nodev ${TRACEFS}) and try again`);
}

/** Every tracepoint the points use must exist in tracefs. */
export function checkTracepoints(points: ProbePoint[], dir = TRACEFS): void {
  for (const p of points) {
    const a = ATTACH_POINTS[p.attach];
    if (a.kind !== "tracepoint") continue;
    const [, cat, ev] = a.name.split(":");
    if (!existsSync(`${dir}/events/${cat}/${ev}`))
      fail(
        `tracepoint ${cat}:${ev} (point ${p.name}) does not exist in this kernel (${dir}/events/${cat}/${ev})`,
      );
  }
}

export function checkInterface(iface: string): void {
  if (!interfaceExists(iface))
    fail(`unknown interface ${iface}: no /sys/class/net/${iface} here (check the name with \`ip link\`)`);
}
