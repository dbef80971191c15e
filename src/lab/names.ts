/**
 * The one place that names the lab: namespaces (with a prefix from SVTRACE_LAB_PREFIX, default "svt-"),
 * interfaces, the switch, the run directory and the state file. Everyone (publisher, tracer, demo, tests) asks here.
 */
import { fail } from "../errors.js";

/** The switch between hyp-in and the VM side. */
export type SwitchMode = "bridge" | "ovs" | "tap";
export const SWITCH_MODES: readonly SwitchMode[] = ["bridge", "ovs", "tap"];
/** What `lab up --switch` builds: a switch mode, or "qemu" (br0 + tap vnet0 into a QEMU guest instead of the VM namespace). */
export type LabMode = SwitchMode | "qemu";
export const LAB_MODES: readonly LabMode[] = [...SWITCH_MODES, "qemu"];

export const DEFAULT_PREFIX = "svt-";
/** Base directory for lab state and per-lab run directories. */
export const RUN_BASE = "/run/svtrace";

export interface LabNames {
  prefix: string;
  /** publisher namespace (T0), holds pub0 */
  pub: string;
  /** "hypervisor" namespace, holds hyp-in, the switch, hyp-out or vnet0 */
  hyp: string;
  /** "VM" namespace, holds vm0 (T3/T4) */
  vm: string;
  /** publisher NIC, in `pub` */
  pubIf: "pub0";
  /** host NIC (T1), in `hyp`, veth peer of pub0 */
  hypIn: "hyp-in";
  /** switch egress towards the VM (T2 in bridge/ovs mode), in `hyp`, veth peer of vm0 */
  hypOut: "hyp-out";
  /** VM NIC (T3), in `vm`: a veth (bridge/ovs) or a tap (tap mode) */
  vmIf: "vm0";
  /** Linux bridge name (bridge and tap modes), in `hyp` */
  bridge: "br0";
  /** Open vSwitch bridge name (ovs mode), in `hyp` */
  ovsBridge: "br-sv";
  /** host-side tap the bridge feeds in tap mode (T2a), in `hyp` */
  tap: "vnet0";
  /** name of the forwarder thread in tap mode (starts with "vhost-", like vhost-net's worker) */
  forwarderThread: "vhost-svt";
  /** run directory for this lab (OVS database/sockets/logs, forwarder log) */
  runDir: string;
  /** state file recording what `lab up` created */
  stateFile: string;
  /** qemu mode: directory shared read-write with the guest, at the same path inside it */
  guestDir: string;
  /** qemu mode: host end of the guest agent's virtio-serial channel (a unix socket QEMU listens on) */
  agentSocket: string;
}

/** Prefix from the argument, else SVTRACE_LAB_PREFIX, else "svt-"; validated so it is safe in names and paths. */
export function labPrefix(prefix?: string): string {
  const p = prefix ?? process.env.SVTRACE_LAB_PREFIX ?? DEFAULT_PREFIX;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,19}$/.test(p))
    fail(
      `bad lab prefix "${p}": use 1-20 letters, digits, '-', '_' or '.' (set SVTRACE_LAB_PREFIX, e.g. "svtA-")`,
    );
  return p;
}

/** Every name of the lab with the given (or environment/default) prefix. */
export function labNames(prefix?: string): LabNames {
  const p = labPrefix(prefix);
  const runDir = `${RUN_BASE}/lab-${p}`;
  return {
    prefix: p,
    pub: `${p}pub`,
    hyp: `${p}hyp`,
    vm: `${p}vm`,
    pubIf: "pub0",
    hypIn: "hyp-in",
    hypOut: "hyp-out",
    vmIf: "vm0",
    bridge: "br0",
    ovsBridge: "br-sv",
    tap: "vnet0",
    forwarderThread: "vhost-svt",
    runDir,
    stateFile: `${RUN_BASE}/lab-${p}.json`,
    guestDir: `${runDir}/guest`,
    agentSocket: `${runDir}/agent.sock`,
  };
}
