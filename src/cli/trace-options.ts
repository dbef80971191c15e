/**
 * The flags of a traced run (`svtrace live`, `record`): what to trace (resolved by src/config/selection.ts) and
 * how long, with which threshold, and whether to serve Prometheus metrics. One list, so every command agrees.
 */
import { Option } from "@commander-js/extra-typings";
import type { SelectionFlags } from "../config/selection.js";
import { fail } from "../errors.js";
import { SWITCH_MODES } from "../lab/names.js";

function positiveInt(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < 1) fail(`bad ${name} "${v}": give a positive integer`);
    return Number(v);
  };
}

/** The selection options, to add to a command with `.addOption()` (one list so every command agrees). */
export function selectionOptions() {
  return [
    new Option(
      "--lab",
      "trace the svtrace lab (svtrace lab up): T1 hyp-in, T2 hyp-out/vnet0, T3 vm0, T4 svt-sub",
    ),
    new Option("--switch <mode>", "lab switch variant (default: the running lab's, else bridge)").choices(
      SWITCH_MODES,
    ),
    new Option("--machine <kind>", "real host profile: hypervisor or vm (VM accepted, case-insensitive)"),
    new Option("--iface <if>", "SV interface (T1 on a hypervisor, T3 in a VM); overrides SV_INTERFACE"),
    new Option(
      "--stream <svid...>",
      "only these svIDs (exact; repeat or separate with commas); default: all",
    ),
    new Option("--points <list>", "trace these points, in path order (e.g. T1,T2,T3,T4)"),
    new Option("--conf <file>", "the original svtrace.cfg ([DEFAULT] SV_INTERFACE, SV_BUFFER_SIZE)"),
    new Option("--buffer-size <n>", "pending-SV map size (overrides SV_BUFFER_SIZE)").argParser(
      positiveInt("--buffer-size"),
    ),
    new Option("--rate <sv/s>", "expected SV/s over all streams (sizes maps and buffers)").argParser(
      positiveInt("--rate"),
    ),
    new Option("--clock <clock>", "clock of the timestamps").choices(["realtime", "tai"] as const),
    new Option("--tap <dev>", "hypervisor: the VM's tap device (vnetN) for T2a"),
    new Option(
      "--qemu-pid <pid>",
      "hypervisor: the QEMU process whose vhost threads (by tid) are T2b",
    ).argParser(positiveInt("--qemu-pid")),
    new Option("--app <comm>", "vm: the application's thread name (T4), exact"),
    new Option("--app-tid <tid,...>", "vm: the application's thread ids (T4)"),
    new Option(
      "--backend <tracer>",
      "tracer backend: libbpf (raw tracepoints, ring buffer), bpftrace, or auto (libbpf where it loads)",
    ).choices(["auto", "libbpf", "bpftrace"] as const),
    new Option(
      "--kprobes",
      "the original svtrace's kprobe points (tpacket_rcv -> consume_skb), where the kernel has kprobes",
    ),
  ] as const;
}

function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) fail(`bad ${name} "${v}": give a number > 0`);
    return n;
  };
}

/** The options every traced run has (live, record): threshold, duration, Prometheus. */
export function runOptions() {
  return [
    new Option("--threshold-us <us>", "count SVs above this latency (µs)")
      .argParser(positiveNumber("--threshold-us"))
      .default(200),
    new Option(
      "--context",
      "record each point's CPU and thread (tN_cpu, tN_tid, tN_comm) and, with libbpf, what the CPU did during segments over --threshold-us (wait analysis; svtrace report attributes the slow SVs)",
    ),
    new Option("--duration <s>", "stop after this many seconds (default: until Ctrl-C)").argParser(
      positiveNumber("--duration"),
    ),
    new Option(
      "--prometheus <[host:]port>",
      "serve /metrics for Prometheus (127.0.0.1 unless a host is given)",
    ),
  ] as const;
}

/** Every flag of a traced run, as commander parses them. */
export interface RunFlags extends SelectionFlags {
  thresholdUs: number;
  context?: boolean;
  duration?: number;
  prometheus?: string;
  json?: boolean;
}
