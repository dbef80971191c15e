/**
 * The tracer's own cost, read from the kernel: with kernel.bpf_stats_enabled on, every BPF program counts its
 * run time (run_time_ns) and runs (run_cnt), which /proc/PID/fdinfo/FD shows for each program fd a process
 * holds. Reading the fds of the process that loaded the programs (bpftrace today, a libbpf loader too) needs
 * no bpftool and no bpf() call. Programs are told apart by type and load order (prog_id): the tracepoint
 * programs come in the order the generator emitted their probe blocks (one per attach point).
 */
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import type { TracerCost } from "../record/schema.js";

const STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled";
/** BPF_PROG_TYPE_TRACEPOINT (bpftrace's tracepoint probes) */
const PROG_TYPE_TRACEPOINT = 5;
/** BPF_PROG_TYPE_RAW_TRACEPOINT (the libbpf backend's programs) */
const PROG_TYPE_RAW_TRACEPOINT = 17;

export interface ProgStats {
  fd: number;
  id: number;
  type: number;
  runTimeNs: number;
  runCnt: number;
  recursionMisses: number;
}

/**
 * Turn run-time statistics on if they are off; the returned function puts the sysctl back as it was. Returns
 * undefined (and changes nothing) when the sysctl cannot be read or written.
 */
export function enableBpfStats(): { wasOn: boolean; restore: () => void } | undefined {
  let was: string;
  try {
    was = readFileSync(STATS_SYSCTL, "utf8").trim();
  } catch {
    return undefined;
  }
  if (was !== "0") return { wasOn: true, restore: () => {} };
  try {
    writeFileSync(STATS_SYSCTL, "1");
  } catch {
    return undefined;
  }
  let restored = false;
  return {
    wasOn: false,
    restore: () => {
      if (restored) return;
      restored = true;
      try {
        writeFileSync(STATS_SYSCTL, "0");
      } catch {
        /* the process lost the right to write it: nothing more to do */
      }
    },
  };
}

/** Every BPF program fd of a process with its statistics, in load order (prog_id). */
export function readProgStats(pid: number): ProgStats[] {
  const out: ProgStats[] = [];
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const f of fds) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/fd/${f}`);
    } catch {
      continue;
    }
    if (link !== "anon_inode:bpf-prog") continue;
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${f}`, "utf8");
    } catch {
      continue;
    }
    const field = (k: string): number => Number(new RegExp(`^${k}:\\s*(\\d+)`, "m").exec(info)?.[1] ?? NaN);
    out.push({
      fd: Number(f),
      id: field("prog_id"),
      type: field("prog_type"),
      runTimeNs: field("run_time_ns"),
      runCnt: field("run_cnt"),
      recursionMisses: field("recursion_misses") || 0,
    });
  }
  return out.sort((a, b) => a.id - b.id);
}

export interface CostInput {
  /** point names in path order with their attach point */
  points: { name: string; attach: string }[];
  progs: ProgStats[];
  /** attach point -> program fd, when the backend knows which program serves which attach point (libbpf);
   * without it, tracepoint programs are matched to attach points by load order (bpftrace) */
  fds?: Map<string, number>;
  /** SVs recorded (rows) */
  svs: number;
  statsOn: boolean;
  lostEvents: number;
  mapCapacity: number;
  mapEntriesMax: number;
}

/**
 * Attribute run time to points. One program per attach point (known by fd, or in order of first use); a program that serves
 * several points (T1 and T3 both on netif_receive_skb) is split evenly between them, since each SV runs it once
 * at each. cost_ns[point] = its share of the program's run time / SVs recorded: the kernel time the tracer
 * added per SV at that point, including its runs for frames it filtered out.
 */
export function tracerCost(c: CostInput): TracerCost {
  const attaches: string[] = [];
  for (const p of c.points) if (!attaches.includes(p.attach)) attaches.push(p.attach);
  const byFd = c.fds;
  const tp = byFd
    ? attaches.map((a) => c.progs.find((p) => p.fd === byFd.get(a))).filter((p): p is ProgStats => !!p)
    : c.progs.filter((p) => p.type === PROG_TYPE_TRACEPOINT || p.type === PROG_TYPE_RAW_TRACEPOINT);
  const rest = c.progs.filter((p) => !tp.includes(p));
  const svs = Math.max(1, c.svs);
  const perSv = (ns: number): number => Math.round((ns / svs) * 10) / 10;
  const cost: Record<string, number> = {};
  const programs: TracerCost["programs"] = [];
  const usable = c.statsOn && tp.length === attaches.length;
  attaches.forEach((attach, i) => {
    const prog = usable ? tp[i] : undefined;
    const pts = c.points.filter((p) => p.attach === attach).map((p) => p.name);
    const runTimeNs = prog?.runTimeNs ?? 0;
    const runs = prog?.runCnt ?? 0;
    programs.push({
      attach,
      points: pts,
      progId: prog?.id ?? null,
      runs,
      runTimeNs,
      nsPerRun: runs > 0 ? Math.round((runTimeNs / runs) * 10) / 10 : 0,
      nsPerSv: perSv(runTimeNs),
    });
    for (const p of pts) cost[p] = prog ? perSv(runTimeNs / pts.length) : 0;
  });
  const otherNs = rest.reduce((a, p) => a + (p.runTimeNs || 0), 0);
  const totalNs = tp.reduce((a, p) => a + (p.runTimeNs || 0), 0) + otherNs;
  return {
    source: usable
      ? "kernel.bpf_stats_enabled: run_time_ns/run_cnt of the tracer's BPF programs (/proc/PID/fdinfo)"
      : c.statsOn
        ? `not attributed: ${tp.length} tracepoint programs for ${attaches.length} attach points`
        : "not measured: kernel.bpf_stats_enabled could not be turned on",
    svs: c.svs,
    cost_ns: cost,
    total_ns_per_sv: usable ? perSv(totalNs) : 0,
    other_ns_per_sv: usable ? perSv(otherNs) : 0,
    programs,
    recursion_misses: c.progs.reduce((a, p) => a + p.recursionMisses, 0),
    lost_events: c.lostEvents,
    map_capacity: c.mapCapacity,
    map_entries_max: c.mapEntriesMax,
    map_fill_max: c.mapCapacity > 0 ? Math.round((c.mapEntriesMax / c.mapCapacity) * 10000) / 10000 : 0,
  };
}
