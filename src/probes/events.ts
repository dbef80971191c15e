/**
 * The events catalogue of `svtrace path`: every kernel event an SV frame can cause that the pwru-like trace
 * listens to, as typed data (the trace points of ./catalogue.ts are a measured subset of these). Each says how
 * the skb and the device are reached, and what extra field it carries (kfree_skb's drop reason). Kprobe
 * events on skb-taking functions are listed for kernels that have kprobes; this one has none.
 */

/** What an event means on the path. */
export type PathEventKind =
  | "receive"
  | "queue"
  | "transmit"
  | "copy"
  | "free"
  | "drop"
  | "qdisc"
  | "function";

export interface PathEvent {
  /** short name printed in traces and routes: "netif_receive_skb" */
  name: string;
  /** bpftrace attach point */
  attach: string;
  kind: PathEventKind;
  /** bpftrace expression giving the skb pointer */
  skbExpr: string;
  /** device name: from the event (`str(args->name)`) or from skb->dev (may be NULL: printed empty) */
  dev: "args" | "skb";
  /** the event fires after skb->dev was switched to the veth peer: take the netns net_dev_start_xmit saw */
  devNsFromStartXmit?: boolean;
  /** extra value printed with the event: kfree_skb's drop reason */
  extra?: "reason";
  /** tracefs directory (category/event) that must exist, or "kprobe" */
  tracefs: string;
}

function tp(
  category: string,
  event: string,
  kind: PathEventKind,
  dev: "args" | "skb",
  more: Partial<PathEvent> = {},
): PathEvent {
  return {
    name: event,
    attach: `tracepoint:${category}:${event}`,
    kind,
    skbExpr: "args->skbaddr",
    dev,
    tracefs: `${category}/${event}`,
    ...more,
  };
}

/** Tracepoint events, in rough path order. */
export const TRACEPOINT_EVENTS: readonly PathEvent[] = [
  tp("net", "net_dev_queue", "queue", "args"),
  tp("qdisc", "qdisc_enqueue", "qdisc", "skb"),
  tp("qdisc", "qdisc_dequeue", "qdisc", "skb"),
  tp("net", "net_dev_start_xmit", "transmit", "args"),
  tp("net", "net_dev_xmit", "transmit", "args", { devNsFromStartXmit: true }),
  tp("net", "netif_rx", "receive", "args"),
  tp("net", "napi_gro_receive_entry", "receive", "args"),
  tp("net", "netif_receive_skb", "receive", "args"),
  tp("skb", "skb_copy_datagram_iovec", "copy", "skb"),
  tp("skb", "consume_skb", "free", "skb"),
  tp("skb", "kfree_skb", "drop", "skb", { extra: "reason" }),
];

/** skb-taking kernel functions (first argument the skb), as pwru follows them, where kprobes exist. */
export const KPROBE_FUNCTIONS: readonly string[] = [
  "__netif_receive_skb_core",
  "br_handle_frame",
  "br_forward",
  "br_pass_frame_up",
  "dev_hard_start_xmit",
  "veth_xmit",
  "tun_net_xmit",
  "packet_rcv",
  "tpacket_rcv",
];

export function kprobeEvents(): PathEvent[] {
  return KPROBE_FUNCTIONS.map((f) => ({
    name: f,
    attach: `kprobe:${f}`,
    kind: "function" as const,
    skbExpr: "arg0",
    dev: "skb" as const,
    tracefs: "kprobe",
  }));
}
