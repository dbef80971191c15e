/**
 * Finding the threads and namespaces a profile filters on, from /proc and /sys: the vhost worker threads
 * of a QEMU process (its own `vhost-*` threads from Linux 6.4, kernel threads `vhost-PID` before), the IRQ threads of a NIC
 * (`/proc/interrupts` + `/sys/class/net/IF/device/msi_irqs` -> threads named `irq/N-...`), the inode of a
 * network namespace, and whether the kernel offers kprobes. Filters use thread ids, never process ids.
 * The parsers take text so they can be tested on fixtures as well as on the live /proc.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename } from "node:path";

export interface ThreadInfo {
  pid: number;
  tid: number;
  comm: string;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** All threads of a process: /proc/PID/task/TID/comm. */
export function threadsOf(pid: number, procRoot = "/proc"): ThreadInfo[] {
  let tids: string[];
  try {
    tids = readdirSync(`${procRoot}/${pid}/task`);
  } catch {
    return [];
  }
  const out: ThreadInfo[] = [];
  for (const t of tids) {
    if (!/^\d+$/.test(t)) continue;
    const comm = readText(`${procRoot}/${pid}/task/${t}/comm`);
    if (comm !== undefined) out.push({ pid, tid: Number(t), comm: comm.replace(/\n$/, "") });
  }
  return out.sort((a, b) => a.tid - b.tid);
}

/** Every thread on the machine (all processes), for name searches. */
export function allThreads(procRoot = "/proc"): ThreadInfo[] {
  const out: ThreadInfo[] = [];
  for (const d of readdirSync(procRoot)) {
    if (/^\d+$/.test(d)) out.push(...threadsOf(Number(d), procRoot));
  }
  return out;
}

/**
 * The vhost worker threads of a QEMU process, in both thread models: from Linux 6.4 they are QEMU's own
 * threads named "vhost-<pid>" (/proc/PID/task); before 6.4 each is a kernel thread `vhost-<QEMU pid>`, a child
 * of kthreadd (PPid 2), not in QEMU's task list. Both kinds are returned, sorted by tid.
 */
export function vhostThreads(qemuPid: number, procRoot = "/proc"): ThreadInfo[] {
  const own = threadsOf(qemuPid, procRoot).filter((t) => t.comm.startsWith("vhost-"));
  const name = `vhost-${qemuPid}`;
  const kthreads: ThreadInfo[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync(procRoot);
  } catch {
    entries = [];
  }
  for (const d of entries) {
    if (!/^\d+$/.test(d) || Number(d) === qemuPid) continue;
    if (readText(`${procRoot}/${d}/comm`)?.replace(/\n$/, "") !== name) continue;
    const ppid = /^PPid:\s*(\d+)/m.exec(readText(`${procRoot}/${d}/status`) ?? "")?.[1];
    if (ppid === "2") kthreads.push({ pid: Number(d), tid: Number(d), comm: name });
  }
  return [...own, ...kthreads].sort((a, b) => a.tid - b.tid);
}

/** Threads whose name starts with a prefix, machine-wide (e.g. "vhost-" when no QEMU pid is given). */
export function threadsNamed(prefix: string, procRoot = "/proc"): ThreadInfo[] {
  return allThreads(procRoot).filter((t) => t.comm.startsWith(prefix));
}

export interface InterruptLine {
  irq: number;
  /** the action names at the end of the line, e.g. "eth0-rx-0" or "virtio0-input.0" */
  actions: string;
}

/** Parse /proc/interrupts text: numbered IRQ lines only (NMI, LOC... are skipped). */
export function parseInterrupts(text: string): InterruptLine[] {
  const lines = text.split("\n");
  const cpus = (lines[0] ?? "")
    .trim()
    .split(/\s+/)
    .filter((c) => /^CPU\d+$/.test(c)).length;
  const out: InterruptLine[] = [];
  for (const line of lines.slice(1)) {
    const m = /^\s*(\d+):\s+(.*)$/.exec(line);
    if (!m) continue;
    // per-CPU counters, chip name, hwirq-trigger ("5-edge", "512000-edge"), then the action names
    const rest = m[2].trim().split(/\s+/).slice(cpus);
    let typeIdx = -1;
    rest.forEach((f, i) => {
      if (/(^|-)(edge|level|fasteoi|simple)$/i.test(f)) typeIdx = i;
    });
    const actions = typeIdx >= 0 ? rest.slice(typeIdx + 1).join(" ") : (rest[rest.length - 1] ?? "");
    out.push({ irq: Number(m[1]), actions });
  }
  return out;
}

/** The bus device behind a NIC, e.g. "virtio2" or "0000:03:00.0" (basename of /sys/class/net/IF/device). */
export function nicDevice(iface: string, sysRoot = "/sys"): string | undefined {
  try {
    return basename(realpathSync(`${sysRoot}/class/net/${iface}/device`));
  } catch {
    return undefined;
  }
}

/**
 * IRQ numbers of a NIC: its MSI vectors from sysfs (the device's, or its PCI parent's for virtio), plus the
 * /proc/interrupts lines naming the interface or its bus device ("eth0-rx-0", "virtio2-input.0").
 */
export function nicIrqs(iface: string, opts: { sysRoot?: string; procRoot?: string } = {}): number[] {
  const sys = opts.sysRoot ?? "/sys";
  const proc = opts.procRoot ?? "/proc";
  const irqs = new Set<number>();
  const dev = nicDevice(iface, sys);
  const names = [iface, ...(dev ? [dev] : [])];
  const text = readText(`${proc}/interrupts`);
  if (text !== undefined) {
    for (const l of parseInterrupts(text)) {
      const acts = l.actions.split(/[\s,]+/);
      if (acts.some((a) => names.some((n) => a === n || a.startsWith(`${n}-`)))) irqs.add(l.irq);
    }
  }
  if (irqs.size === 0) {
    for (const dir of [
      `${sys}/class/net/${iface}/device/msi_irqs`,
      `${sys}/class/net/${iface}/device/../msi_irqs`,
    ]) {
      try {
        for (const n of readdirSync(dir)) if (/^\d+$/.test(n)) irqs.add(Number(n));
        break;
      } catch {
        // no MSI vectors there
      }
    }
  }
  return [...irqs].sort((a, b) => a - b);
}

/** The kernel threads serving IRQs ("irq/N-name"), for the given IRQ numbers. */
export function irqThreads(irqs: number[], procRoot = "/proc"): ThreadInfo[] {
  const want = new Set(irqs);
  return threadsNamed("irq/", procRoot).filter((t) => {
    const m = /^irq\/(\d+)-/.exec(t.comm);
    return m !== null && want.has(Number(m[1]));
  });
}

/** Inode of a network namespace: a name under /run/netns, or "self" for the caller's own. */
export function netnsInode(name: string): number {
  const path = name === "self" ? "/proc/self/ns/net" : `/run/netns/${name}`;
  return statSync(path).ino;
}

/** Whether the named network namespace exists (as made by `ip netns add`). */
export function netnsExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`);
}

/** kprobes can be attached only when the kernel has kprobe_events (CONFIG_KPROBES). */
export function kprobesAvailable(tracefs = "/sys/kernel/tracing"): boolean {
  return existsSync(`${tracefs}/kprobe_events`) || existsSync("/sys/kernel/debug/tracing/kprobe_events");
}

/** Whether an interface exists in the caller's network namespace. */
export function interfaceExists(iface: string): boolean {
  return existsSync(`/sys/class/net/${iface}`);
}
