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
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { ATTACH_POINTS, type ProbePoint } from "../probes/catalogue.js";

const TRACEFS = "/sys/kernel/tracing";

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

export class FtraceInstances {
  private readonly dirs = new Map<string, string>();

  /** Make and arm one instance per point (throws with the tracefs path that failed). */
  constructor(points: ProbePoint[], bufferKb = 4096) {
    try {
      for (const p of points.flatMap((x) => [
        { ...x, name: `${x.name}a` },
        { ...x, name: `${x.name}b` },
      ])) {
        const [kind, system, event] = p.attach.split(":");
        if (kind !== "tracepoint" || !system || !event) throw new Error(`${p.name} is not a tracepoint`);
        const dir = `${TRACEFS}/instances/svtrace-${process.pid}-${p.name}`;
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

  /** Stop every instance and return each instance's event times ("T1a", "T1b", ...; CLOCK_MONOTONIC ns, in time order). */
  stop(): Map<string, { times: bigint[]; lost: number }> {
    for (const dir of this.dirs.values()) writeFileSync(`${dir}/tracing_on`, "0");
    const out = new Map<string, { times: bigint[]; lost: number }>();
    for (const [name, dir] of this.dirs) {
      const times: bigint[] = [];
      for (const line of readFileSync(`${dir}/trace`, "utf8").split("\n")) {
        if (line === "" || line.startsWith("#")) continue;
        const ts = line.split(" ", 3)[2];
        if (ts && /^\d+$/.test(ts)) times.push(BigInt(ts));
      }
      times.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      let lost = 0;
      for (const cpu of onlineCpus()) {
        const m = /overrun: (\d+)/.exec(readFileSync(`${dir}/per_cpu/${cpu}/stats`, "utf8"));
        lost += Number(m?.[1] ?? 0);
      }
      out.set(name, { times, lost });
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
