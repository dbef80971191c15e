/**
 * An independent timestamp at svtrace's points: the kernel's own tracing ring buffer, no BPF. One ftrace
 * instance of svtrace's own per point (/sys/kernel/tracing/instances/svtrace-<pid>-<point>), the point's
 * tracepoint enabled there with a filter made from the point's (device name, thread name, thread ids), the
 * instance's clock set to "mono" (ktime_get_mono_fast_ns, the clock bpftrace's nsecs reads) and the "raw"
 * output option, which prints each event's time in nanoseconds ("pid cpu ns type: N"; the default output
 * prints µs). One instance per point, because net:netif_receive_skb is T1 on hyp-in and T3 on vm0: raw output
 * has no fields, so the instance is what says which point an event belongs to. The network-namespace filter
 * svtrace applies cannot be said in an ftrace filter: the lab's device names are unique while it runs.
 * Each point gets two instances, "a" then "b": callbacks of one tracepoint run in the order they were
 * registered, so b's stamp is late by a's callback, and svtrace's program (attached after both) is late by
 * b's. b - a measures what one ftrace callback costs, and the selfcheck takes that from svtrace - b.
 * One more instance, "irq", records every interrupt entry (irq:irq_handler_entry and x86's irq_vectors:*_entry:
 * timer, IPIs, irq_work) with its CPU, so the selfcheck can tell a pair of stamps an interrupt came between.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { ATTACH_POINTS, type ProbePoint } from "../probes/catalogue.js";
import { ensureTracefs } from "../trace/preflight.js";

/** The ftrace filter of a point, or undefined when it has nothing ftrace can filter on. */
export function ftraceFilter(p: ProbePoint): string | undefined {
  const f = p.filter;
  const parts: string[] = [];
  if (f.dev !== undefined && ATTACH_POINTS[p.attach].hasDevName) parts.push(`name == "${f.dev}"`);
  if (f.comm !== undefined) parts.push(`comm == "${f.comm}"`);
  if (f.commPrefix !== undefined) parts.push(`comm ~ "${f.commPrefix}*"`);
  if (f.tids && f.tids.length > 0) parts.push(`(${f.tids.map((t) => `common_pid == ${t}`).join(" || ")})`);
  return parts.length > 0 ? parts.join(" && ") : undefined;
}

/** One instance's events in time order: CLOCK_MONOTONIC ns and the CPU each ran on; overruns and drops. */
export interface FtraceEvents {
  times: bigint[];
  cpus: number[];
  lost: number;
}

/** The instance of interrupt entries (see the file's comment). */
export const IRQ_INSTANCE = "irq";

export class FtraceInstances {
  private readonly dirs = new Map<string, string>();

  /** Make and arm one instance per point, and the interrupt instance (throws with the tracefs path that failed). */
  constructor(points: ProbePoint[], bufferKb = 4096) {
    // mounted when missing (a fresh machine), and wherever the kernel offers it (tracefs or debugfs/tracing)
    const tracefs = ensureTracefs();
    try {
      const irqDir = `${tracefs}/instances/svtrace-${process.pid}-${IRQ_INSTANCE}`;
      mkdirSync(irqDir);
      this.dirs.set(IRQ_INSTANCE, irqDir);
      writeFileSync(`${irqDir}/tracing_on`, "0");
      writeFileSync(`${irqDir}/trace_clock`, "mono");
      writeFileSync(`${irqDir}/buffer_size_kb`, String(bufferKb));
      writeFileSync(`${irqDir}/options/raw`, "1");
      writeFileSync(`${irqDir}/events/irq/irq_handler_entry/enable`, "1");
      const vectors = `${irqDir}/events/irq_vectors`;
      if (existsSync(vectors))
        for (const e of readdirSync(vectors).filter((x) => x.endsWith("_entry")))
          writeFileSync(`${vectors}/${e}/enable`, "1");
      for (const p of points.flatMap((x) => [
        { ...x, name: `${x.name}a` },
        { ...x, name: `${x.name}b` },
      ])) {
        const [kind, system, event] = p.attach.split(":");
        if (kind !== "tracepoint" || !system || !event) throw new Error(`${p.name} is not a tracepoint`);
        const dir = `${tracefs}/instances/svtrace-${process.pid}-${p.name}`;
        mkdirSync(dir);
        this.dirs.set(p.name, dir);
        writeFileSync(`${dir}/tracing_on`, "0");
        writeFileSync(`${dir}/trace_clock`, "mono");
        writeFileSync(`${dir}/buffer_size_kb`, String(bufferKb));
        writeFileSync(`${dir}/options/raw`, "1");
        const filter = ftraceFilter(p);
        if (filter) writeFileSync(`${dir}/events/${system}/${event}/filter`, filter);
        writeFileSync(`${dir}/events/${system}/${event}/enable`, "1");
      }
    } catch (e) {
      this.remove();
      throw e;
    }
  }

  start(): void {
    for (const dir of this.dirs.values()) writeFileSync(`${dir}/tracing_on`, "1");
  }

  /** Stop every instance and return each instance's events ("T1a", "T1b", ..., "irq"). */
  stop(): Map<string, FtraceEvents> {
    for (const dir of this.dirs.values()) writeFileSync(`${dir}/tracing_on`, "0");
    const out = new Map<string, FtraceEvents>();
    for (const [name, dir] of this.dirs) {
      const events: { t: bigint; cpu: number }[] = [];
      // raw output: "pid cpu ns type: N"
      for (const line of readFileSync(`${dir}/trace`, "utf8").split("\n")) {
        if (line === "" || line.startsWith("#")) continue;
        const [, cpu, ts] = line.split(" ", 3);
        if (ts && /^\d+$/.test(ts)) events.push({ t: BigInt(ts), cpu: Number(cpu) });
      }
      events.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
      let lost = 0;
      for (const cpu of onlineCpus()) {
        const stats = readFileSync(`${dir}/per_cpu/${cpu}/stats`, "utf8");
        for (const k of ["overrun", "dropped events"])
          lost += Number(new RegExp(`^${k}: (\\d+)`, "m").exec(stats)?.[1] ?? 0);
      }
      out.set(name, { times: events.map((e) => e.t), cpus: events.map((e) => e.cpu), lost });
    }
    return out;
  }

  /** Disable and remove every instance (idempotent). */
  remove(): void {
    for (const dir of this.dirs.values()) {
      try {
        writeFileSync(`${dir}/tracing_on`, "0");
      } catch {
        /* already gone */
      }
      try {
        rmdirSync(dir);
      } catch {
        /* already gone */
      }
    }
    this.dirs.clear();
  }
}

/** "cpu0", "cpu1", ... for the online CPUs (each instance has per_cpu/cpuN/stats with its overruns). */
function onlineCpus(): string[] {
  const text = readFileSync("/sys/devices/system/cpu/online", "utf8").trim();
  const cpus: string[] = [];
  for (const part of text.split(",")) {
    const [a, b] = part.split("-").map(Number);
    for (let c = a ?? 0; c <= (b ?? a ?? 0); c++) cpus.push(`cpu${c}`);
  }
  return cpus;
}
