/**
 * Profiles: which trace points to use on a hypervisor, inside a VM, or in the one-machine lab
 * (bridge, ovs or tap switch), built from the catalogue and from what this machine offers.
 * `points` overrides the default selection by name (T1, T2, T2a, T2b, T3, T4...). Kprobe points (the original
 * svtrace's tpacket_rcv -> consume_skb) are offered only where the kernel has kprobes.
 */
import { fail } from "../errors.js";
import { labNames, type SwitchMode } from "../lab/names.js";
import { needsKprobes, type ProbePoint } from "./catalogue.js";
import {
  kprobesAvailable,
  netnsExists,
  netnsInode,
  threadsNamed,
  threadsOf,
  vhostThreads,
} from "./discovery.js";

export type ProfileName = "lab" | "hypervisor" | "vm";
export const PROFILE_NAMES: readonly ProfileName[] = ["lab", "hypervisor", "vm"];

/** The thread name of the lab subscriber (`svtrace subscribe`): T4 in the lab is its read. */
export const LAB_SUBSCRIBER_THREAD = "svt-sub";

export interface ProfileOptions {
  profile: ProfileName;
  /** lab: switch variant (default bridge) */
  labSwitch?: SwitchMode;
  /** lab: namespace prefix (default: SVTRACE_LAB_PREFIX or "svt-") */
  labPrefix?: string;
  /** hypervisor: the host NIC the SVs arrive on (T1); vm: the guest NIC (T3) */
  iface?: string;
  /** hypervisor: the VM's tap device (vnetN) for T2a */
  tap?: string;
  /** hypervisor: the QEMU process whose vhost threads copy into the guest (T2b filters on their tids) */
  qemuPid?: number;
  /** vm: the application's thread name (T4), exact */
  appComm?: string;
  /** vm: the application's thread ids (T4) */
  appTids?: number[];
  /** use the original svtrace's kprobe points (only where the kernel has kprobes) */
  kprobes?: boolean;
  /** select points by name, in this order */
  points?: string[];
}

/**
 * What a profile asks of the machine it runs on. The default is this machine (./discovery.ts); a fixed one
 * makes a profile's points, and so its generated program, reproducible (the reference programs in
 * test/fixtures/programs/).
 */
export interface ProfileHost {
  netnsExists(name: string): boolean;
  netnsInode(name: string): number;
  kprobesAvailable(): boolean;
  threadsNamed: typeof threadsNamed;
  vhostThreads: typeof vhostThreads;
  /** the threads of a process (QEMU's own, when it has no vhost thread: T2b is its read of the tap) */
  threadsOf?: typeof threadsOf;
}

export const THIS_MACHINE: ProfileHost = {
  netnsExists,
  netnsInode,
  kprobesAvailable,
  threadsNamed,
  vhostThreads,
  threadsOf,
};

export interface ResolvedProfile {
  profile: ProfileName;
  /** every point this profile offers here */
  available: ProbePoint[];
  /** the points to trace, in path order */
  points: ProbePoint[];
  /** what the profile decided and why (shown with --verbose / in metadata) */
  notes: string[];
}

function selfNetns(host: ProfileHost): { inode: number; via: "dev"; name: string } {
  return { inode: host.netnsInode("self"), via: "dev", name: "host" };
}

function labPoints(
  opts: ProfileOptions,
  notes: string[],
  host: ProfileHost,
): { all: ProbePoint[]; defaults: string[] } {
  const n = labNames(opts.labPrefix);
  const sw = opts.labSwitch ?? "bridge";
  for (const ns of [n.hyp, n.vm]) {
    if (!host.netnsExists(ns))
      fail(`lab namespace ${ns} not found: start the lab first (svtrace lab up --switch ${sw})`);
  }
  const hyp = { inode: host.netnsInode(n.hyp), via: "dev" as const, name: n.hyp };
  const vmDev = { inode: host.netnsInode(n.vm), via: "dev" as const, name: n.vm };
  const vmTask = { inode: vmDev.inode, via: "task" as const, name: n.vm };
  const t1: ProbePoint = {
    name: "T1",
    label: `T1 ${n.hypIn} receive`,
    attach: "tracepoint:net:netif_receive_skb",
    filter: { dev: n.hypIn, netns: hyp },
  };
  const t3: ProbePoint = {
    name: "T3",
    label: `T3 ${n.vmIf} receive`,
    attach: "tracepoint:net:netif_receive_skb",
    filter: { dev: n.vmIf, netns: vmDev },
  };
  // the moment the frame is queued to vm0's backlog (netif_rx, veth's receive): where the kernel stamps the
  // socket's SO_TIMESTAMPNS (net_timestamp_check, then the tracepoint), so selfcheck compares that stamp here
  const t3q: ProbePoint = {
    name: "T3q",
    label: `T3q ${n.vmIf} queued (netif_rx)`,
    attach: "tracepoint:net:netif_rx",
    filter: { dev: n.vmIf, netns: vmDev },
  };
  const t4: ProbePoint = {
    name: "T4",
    label: `T4 ${LAB_SUBSCRIBER_THREAD} read`,
    attach: "tracepoint:skb:skb_copy_datagram_iovec",
    filter: { comm: LAB_SUBSCRIBER_THREAD, netns: vmTask },
  };
  if (sw === "tap") {
    const t2: ProbePoint = {
      name: "T2",
      label: `T2 ${n.tap} transmit`,
      attach: "tracepoint:net:net_dev_start_xmit",
      filter: { dev: n.tap, netns: hyp },
    };
    const t2b: ProbePoint = {
      name: "T2b",
      label: `T2b ${n.forwarderThread} copy from ${n.tap}`,
      attach: "tracepoint:skb:skb_copy_datagram_iovec",
      filter: { dev: n.tap, commPrefix: "vhost-", netns: hyp },
    };
    notes.push(
      `lab tap: T2 is ${n.tap} transmit; T2b (the vhost-style copy) and T3q (netif_rx on ${n.vmIf}) on request (--points T1,T2,T2b,T3q,T3,T4)`,
    );
    return { all: [t1, t2, t2b, t3q, t3, t4], defaults: ["T1", "T2", "T3", "T4"] };
  }
  const t2: ProbePoint = {
    name: "T2",
    label: `T2 ${n.hypOut} transmit`,
    attach: "tracepoint:net:net_dev_start_xmit",
    filter: { dev: n.hypOut, netns: hyp },
  };
  if (sw === "ovs") notes.push("lab ovs: T2 runs in the ovs-vswitchd main thread (userspace datapath)");
  return { all: [t1, t2, t3q, t3, t4], defaults: ["T1", "T2", "T3", "T4"] };
}

function hypervisorPoints(
  opts: ProfileOptions,
  notes: string[],
  host: ProfileHost,
): { all: ProbePoint[]; defaults: string[] } {
  const iface = opts.iface;
  if (iface === undefined)
    fail("the hypervisor profile needs the SV interface: --iface IF (or SV_INTERFACE in svtrace.cfg)");
  const hostNs = selfNetns(host);
  let vhostTids: number[] | undefined;
  let qemuOwn = false;
  if (opts.qemuPid !== undefined) {
    vhostTids = host.vhostThreads(opts.qemuPid).map((t) => t.tid);
    if (vhostTids.length > 0) notes.push(`vhost threads of QEMU ${opts.qemuPid}: ${vhostTids.join(",")}`);
    else {
      // no vhost-net (module absent, or QEMU's own tap backend): QEMU reads the tap itself (tun_do_read), so
      // T2b is the copy out of the tap by any of QEMU's threads
      const own = (host.threadsOf ?? threadsOf)(opts.qemuPid).map((t) => t.tid);
      if (own.length === 0)
        fail(`process ${opts.qemuPid} not found (--qemu-pid): give the PID of the VM's QEMU (pgrep -a qemu)`);
      vhostTids = own;
      qemuOwn = true;
      notes.push(
        `no vhost thread for QEMU ${opts.qemuPid} (no vhost-net): T2b is QEMU's own read of the tap, threads ${own.join(",")}`,
      );
    }
  } else {
    const found = host.threadsNamed("vhost-");
    notes.push(
      found.length > 0
        ? `T2b: any thread named vhost-* (${found.length} now: ${found.map((t) => `${t.comm}/${t.tid}`).join(" ")}); give --qemu-pid to narrow it`
        : "T2b: no vhost-* thread runs now; T2b will see nothing until one does",
    );
  }
  const all: ProbePoint[] = [
    {
      name: "T1",
      label: `T1 ${iface} receive`,
      attach: "tracepoint:net:netif_receive_skb",
      filter: { dev: iface, netns: hostNs },
    },
  ];
  if (opts.tap !== undefined) {
    all.push({
      name: "T2a",
      label: `T2a ${opts.tap} transmit to the VM`,
      attach: "tracepoint:net:net_dev_start_xmit",
      filter: { dev: opts.tap, netns: hostNs },
    });
  }
  all.push({
    name: "T2b",
    label: `T2b ${qemuOwn ? "QEMU" : "vhost"} copy into the guest${opts.tap !== undefined ? ` from ${opts.tap}` : ""}`,
    attach: "tracepoint:skb:skb_copy_datagram_iovec",
    // skb->dev is still the tap in tun_do_read: narrows the copy to this VM's queue when the tap is known
    filter: {
      ...(vhostTids ? { tids: vhostTids } : { commPrefix: "vhost-" }),
      ...(opts.tap !== undefined ? { dev: opts.tap, netns: hostNs } : {}),
    },
  });
  if (host.kprobesAvailable()) {
    all.push(
      {
        name: "K1",
        label: `K1 tpacket_rcv (original svtrace T1)`,
        attach: "kprobe:tpacket_rcv",
        filter: { dev: iface },
      },
      {
        name: "K2",
        label: "K2 consume_skb in vhost (original svtrace T2)",
        attach: "kprobe:consume_skb",
        filter: vhostTids ? { tids: vhostTids } : { commPrefix: "vhost-" },
      },
    );
  }
  const defaults = opts.kprobes
    ? ["K1", "K2"]
    : all.filter((p) => !p.name.startsWith("K")).map((p) => p.name);
  return { all, defaults };
}

function vmPoints(
  opts: ProfileOptions,
  notes: string[],
  host: ProfileHost,
): { all: ProbePoint[]; defaults: string[] } {
  const iface = opts.iface;
  if (iface === undefined)
    fail("the vm profile needs the guest SV interface: --iface IF (or SV_INTERFACE in svtrace.cfg)");
  const self = selfNetns(host);
  const appFilter =
    opts.appTids && opts.appTids.length > 0
      ? { tids: opts.appTids }
      : opts.appComm !== undefined
        ? { comm: opts.appComm }
        : { netns: { inode: self.inode, via: "task" as const, name: "host" } };
  if (!opts.appTids && opts.appComm === undefined)
    notes.push(
      "T4: any task of this namespace reading an SV (give the application's thread name or tids to narrow it)",
    );
  const all: ProbePoint[] = [
    {
      name: "T3",
      label: `T3 ${iface} receive`,
      attach: "tracepoint:net:netif_receive_skb",
      filter: { dev: iface, netns: self },
    },
    {
      name: "T4",
      label: "T4 application read",
      attach: "tracepoint:skb:skb_copy_datagram_iovec",
      filter: appFilter,
    },
  ];
  if (host.kprobesAvailable()) {
    all.push(
      {
        name: "K1",
        label: "K1 tpacket_rcv (original svtrace T1)",
        attach: "kprobe:tpacket_rcv",
        filter: { dev: iface },
      },
      {
        name: "K2",
        label: "K2 consume_skb (original svtrace T2)",
        attach: "kprobe:consume_skb",
        filter: appFilter,
      },
    );
  }
  return { all, defaults: opts.kprobes ? ["K1", "K2"] : ["T3", "T4"] };
}

/** Build the points of a profile for this machine; throws a UserError naming what is missing. */
export function resolveProfile(opts: ProfileOptions, host: ProfileHost = THIS_MACHINE): ResolvedProfile {
  const notes: string[] = [];
  const kprobesAvailable = host.kprobesAvailable;
  if (opts.kprobes && !kprobesAvailable())
    fail(
      "kprobe points requested but this kernel has no kprobes (no /sys/kernel/tracing/kprobe_events, CONFIG_KPROBES off); use the tracepoint points (drop --kprobes)",
    );
  let r: { all: ProbePoint[]; defaults: string[] };
  switch (opts.profile) {
    case "lab":
      r = labPoints(opts, notes, host);
      break;
    case "hypervisor":
      r = hypervisorPoints(opts, notes, host);
      break;
    case "vm":
      r = vmPoints(opts, notes, host);
      break;
    default:
      fail(`unknown profile "${String(opts.profile)}": use lab, hypervisor or vm`);
  }
  const wanted = opts.points && opts.points.length > 0 ? opts.points : r.defaults;
  const points: ProbePoint[] = [];
  for (const w of wanted) {
    const p = r.all.find((x) => x.name.toLowerCase() === w.toLowerCase());
    if (!p) {
      if (/^K\d/i.test(w) && !kprobesAvailable())
        fail(
          `point ${w} is a kprobe point and this kernel has no kprobes (no kprobe_events); use ${r.defaults.join(",")}`,
        );
      fail(
        `unknown point "${w}" for the ${opts.profile} profile: choose from ${r.all.map((x) => x.name).join(", ")}`,
      );
    }
    if (points.includes(p)) fail(`point ${w} given twice`);
    points.push(p);
  }
  if (points.length === 0) fail("no trace points selected");
  if (points.some(needsKprobes) && !kprobesAvailable())
    fail("kprobe points selected but this kernel has no kprobes (no kprobe_events)");
  return { profile: opts.profile, available: r.all, points, notes };
}
