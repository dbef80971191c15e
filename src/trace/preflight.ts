/**
 * Checks before tracing, each failing with one line that names the problem and what to do: root, bpftrace
 * present and runnable, kernel BTF, tracefs (mounted here when it is missing and we are root), the
 * tracepoints the points need, and the interface. `tracingPreflight()` is the one entry every caller that
 * runs bpftrace goes through (commands, benches, tests), so nothing depends on what an earlier run mounted.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { type BpftraceFeatures, detectBpftrace } from "../bpftrace/features.js";
import { fail } from "../errors.js";
import { ATTACH_POINTS, type ProbePoint } from "../probes/catalogue.js";
import { interfaceExists } from "../probes/discovery.js";

export const TRACEFS = "/sys/kernel/tracing";
/** Where kernels before 4.1 (and some distributions) expose tracefs: inside debugfs. */
export const DEBUGFS = "/sys/kernel/debug";
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

/** Mount `fstype` on `dir`; the error text of mount(8) when it fails, undefined when it worked. */
function mountFs(fstype: string, dir: string): string | undefined {
  const r = spawnSync("mount", ["-t", fstype, "nodev", dir], { encoding: "utf8", timeout: 10_000 });
  if (r.error) return r.error.message;
  return r.status === 0 ? undefined : (r.stderr || `exit status ${r.status}`).trim().split("\n")[0];
}

/**
 * tracefs must be mounted for tracepoints (bpftrace reads event ids from it); a fresh machine often has it
 * unmounted. Mount it at /sys/kernel/tracing, or where only debugfs is offered, mount debugfs (which brings
 * tracing/ with it). Returns the directory that has `events/`.
 */
export function ensureTracefs(dir = TRACEFS): string {
  if (existsSync(`${dir}/events`)) return dir;
  if (dir !== TRACEFS)
    fail(`no tracefs at ${dir}/events: mount it (mount -t tracefs nodev ${dir}) and try again`);
  const why: string[] = [];
  if (existsSync(TRACEFS)) {
    const err = mountFs("tracefs", TRACEFS);
    if (existsSync(`${TRACEFS}/events`)) return TRACEFS;
    why.push(`mount -t tracefs nodev ${TRACEFS}: ${err ?? "mounted, but no events/"}`);
  }
  if (existsSync(`${DEBUGFS}/tracing/events`)) return `${DEBUGFS}/tracing`;
  if (existsSync(DEBUGFS)) {
    const err = mountFs("debugfs", DEBUGFS);
    if (existsSync(`${DEBUGFS}/tracing/events`)) return `${DEBUGFS}/tracing`;
    why.push(`mount -t debugfs nodev ${DEBUGFS}: ${err ?? "mounted, but no tracing/events/"}`);
  }
  fail(
    `no tracefs, and mounting it failed (${why.join("; ") || `neither ${TRACEFS} nor ${DEBUGFS} exists`}): ` +
      "tracing needs a kernel with CONFIG_FTRACE and root with CAP_SYS_ADMIN",
  );
}

/**
 * Everything the kernel side of tracing needs, in the order a user would fix it: root, bpftrace, BTF,
 * tracefs (mounted when missing). The bpftrace features it finds are returned for program generation.
 */
export function tracingPreflight(opts: { bpftrace?: string } = {}): {
  features: BpftraceFeatures;
  tracefs: string;
} {
  checkRoot();
  const features = checkBpftrace(opts.bpftrace);
  checkBtf();
  return { features, tracefs: ensureTracefs() };
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
