/**
 * The probe catalogue: every place in the kernel where svtrace can timestamp an SV, as typed data.
 *
 * An attach point (a tracepoint or, where the kernel has kprobes, a kprobe) says how the skb is reached and
 * whether the event carries the device name. A trace point (T1, T2, ...) is an attach point plus a filter
 * (device name, network namespace inode, thread name or prefix, thread ids) and a label. The bpftrace
 * generator (../bpftrace/generate.ts) turns a list of points into one program.
 */

/** Where a probe attaches, in bpftrace syntax. */
export type AttachName =
  | "tracepoint:net:netif_receive_skb"
  | "tracepoint:net:netif_rx"
  | "tracepoint:net:net_dev_queue"
  | "tracepoint:net:net_dev_start_xmit"
  | "tracepoint:net:napi_gro_receive_entry"
  | "tracepoint:skb:skb_copy_datagram_iovec"
  | "tracepoint:skb:consume_skb"
  | "kprobe:tpacket_rcv"
  | "kprobe:consume_skb";

export interface AttachPoint {
  name: AttachName;
  kind: "tracepoint" | "kprobe";
  /** bpftrace expression giving the skb pointer */
  skbExpr: string;
  /** the event carries the device name (`str(args->name)`); skb->dev may already be the veth peer there */
  hasDevName: boolean;
  /** where the 802.1Q tag may be: "frame" (tag still at +12) or "skb" (already in skb->vlan_all); both handled */
  vlan: "frame-or-skb" | "skb";
  /** what it means, for labels and --help */
  description: string;
}

export const ATTACH_POINTS: Record<AttachName, AttachPoint> = {
  "tracepoint:net:netif_receive_skb": {
    name: "tracepoint:net:netif_receive_skb",
    kind: "tracepoint",
    skbExpr: "args->skbaddr",
    hasDevName: true,
    vlan: "frame-or-skb",
    description: "the stack receives the frame on a device (before VLAN untagging)",
  },
  "tracepoint:net:netif_rx": {
    name: "tracepoint:net:netif_rx",
    kind: "tracepoint",
    skbExpr: "args->skbaddr",
    hasDevName: true,
    vlan: "frame-or-skb",
    description: "a frame is queued to the backlog of a device (veth peer)",
  },
  "tracepoint:net:net_dev_queue": {
    name: "tracepoint:net:net_dev_queue",
    kind: "tracepoint",
    skbExpr: "args->skbaddr",
    hasDevName: true,
    vlan: "frame-or-skb",
    description: "a frame is queued for transmission on a device",
  },
  "tracepoint:net:net_dev_start_xmit": {
    name: "tracepoint:net:net_dev_start_xmit",
    kind: "tracepoint",
    skbExpr: "args->skbaddr",
    hasDevName: true,
    vlan: "frame-or-skb",
    description: "a device driver starts transmitting the frame",
  },
  "tracepoint:net:napi_gro_receive_entry": {
    name: "tracepoint:net:napi_gro_receive_entry",
    kind: "tracepoint",
    skbExpr: "args->skbaddr",
    hasDevName: true,
    vlan: "frame-or-skb",
    description: "the NIC driver hands the frame to GRO (NAPI)",
  },
  "tracepoint:skb:skb_copy_datagram_iovec": {
    name: "tracepoint:skb:skb_copy_datagram_iovec",
    kind: "tracepoint",
    skbExpr: "args->skbaddr",
    hasDevName: false,
    vlan: "skb",
    description: "the frame is copied to user space or guest memory (recv, tun read, vhost)",
  },
  "tracepoint:skb:consume_skb": {
    name: "tracepoint:skb:consume_skb",
    kind: "tracepoint",
    skbExpr: "args->skbaddr",
    hasDevName: false,
    vlan: "skb",
    description: "the last reference to the frame is released (final free only)",
  },
  "kprobe:tpacket_rcv": {
    name: "kprobe:tpacket_rcv",
    kind: "kprobe",
    skbExpr: "arg0",
    hasDevName: false,
    vlan: "skb",
    description: "an AF_PACKET mmap socket receives the frame (the original svtrace's T1)",
  },
  "kprobe:consume_skb": {
    name: "kprobe:consume_skb",
    kind: "kprobe",
    skbExpr: "arg0",
    hasDevName: false,
    vlan: "skb",
    description: "consume_skb called, every reference (the original svtrace's T2)",
  },
};

/** Which namespace a netns filter is checked against. */
export type NetnsVia = "dev" | "task";

export interface PointFilter {
  /** device name, exact (`str(args->name)` on net:* events, else `skb->dev->name`) */
  dev?: string;
  /** network namespace inode the device (via "dev") or the current task (via "task") must be in */
  netns?: { inode: number; via: NetnsVia; name?: string };
  /** thread name, exact (`comm`, max 15 characters) */
  comm?: string;
  /** thread name prefix, e.g. "vhost-" */
  commPrefix?: string;
  /** thread ids (bpftrace `tid`): vhost workers, IRQ threads, the subscriber's thread */
  tids?: number[];
}

/** One trace point of a profile. */
export interface ProbePoint {
  /** "T1", "T2", "T2a", "T2b", "T3", "T4", ... */
  name: string;
  /** human label, e.g. "T1 hyp-in receive" */
  label: string;
  attach: AttachName;
  filter: PointFilter;
}

/** "tracepoint:net:netif_receive_skb dev=hyp-in netns=svt-hyp" — for metadata and messages. */
export function describePoint(p: ProbePoint): string {
  const f = p.filter;
  const parts: string[] = [p.attach];
  if (f.dev !== undefined) parts.push(`dev=${f.dev}`);
  if (f.netns) parts.push(`netns=${f.netns.name ?? f.netns.inode}${f.netns.via === "task" ? "(task)" : ""}`);
  if (f.comm !== undefined) parts.push(`comm=${f.comm}`);
  if (f.commPrefix !== undefined) parts.push(`comm=${f.commPrefix}*`);
  if (f.tids && f.tids.length > 0) parts.push(`tid=${f.tids.join(",")}`);
  return parts.join(" ");
}

/** True when the point needs kprobes. */
export function needsKprobes(p: ProbePoint): boolean {
  return ATTACH_POINTS[p.attach].kind === "kprobe";
}

/** Record column stem for the i-th point of a record ("t1".."t9"); t0 is refrTm. */
export function pointColumn(index: number): string {
  return `t${index + 1}`;
}
