/**
 * Network namespaces and links of the lab through `ip`: create a quiet namespace (IPv6 off, lo up),
 * veth pairs created directly inside their namespaces, and a JSON view of the links for `lab status`.
 */
import { existsSync } from "node:fs";
import { ip, ipIn, runIn } from "./exec.js";

export function netnsExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`);
}

/**
 * `ip netns add NAME`, then switch IPv6 off (no ND/MLD/router solicitations from any interface created later)
 * and bring lo up. No IPv4 address is ever configured, so no ARP either: only what a test sends crosses.
 */
export async function createQuietNamespace(name: string): Promise<void> {
  await ip(["netns", "add", name]);
  await runIn(name, "sysctl", [
    "-q",
    "-w",
    "net.ipv6.conf.all.disable_ipv6=1",
    "net.ipv6.conf.default.disable_ipv6=1",
  ]);
  await ipIn(name, ["link", "set", "lo", "up"]);
}

/** A veth pair whose two ends are born in their namespaces (never visible in the caller's namespace). */
export async function createVethPair(
  a: { ns: string; name: string },
  b: { ns: string; name: string },
): Promise<void> {
  await ip(["link", "add", a.name, "netns", a.ns, "type", "veth", "peer", "name", b.name, "netns", b.ns]);
}

export async function linkUp(ns: string, name: string): Promise<void> {
  await ipIn(ns, ["link", "set", name, "up"]);
}

/** Remove a namespace; its veths, bridges and taps go with it. Missing namespace: nothing to do. */
export async function deleteNamespace(name: string): Promise<void> {
  if (!netnsExists(name)) return;
  await ip(["netns", "del", name]);
}

/** One interface as `lab status` reports it. */
export interface LinkInfo {
  namespace: string;
  name: string;
  /** "veth", "bridge", "tun", "openvswitch", ... or "" for lo/unknown */
  kind: string;
  /** kernel operstate: UP, DOWN, UNKNOWN, LOWERLAYERDOWN */
  operstate: string;
  /** administratively up (IFF_UP) */
  adminUp: boolean;
  /** carrier present (IFF_LOWER_UP) */
  carrier: boolean;
  /** bridge (or OVS datapath) the port belongs to, if any */
  master: string | null;
  /**
   * a Linux bridge port's state ("forwarding", "disabled", "blocking", ...), null if not a bridge port. A port
   * starts forwarding only once the kernel's link watcher has seen its carrier, which was seen to lag the
   * carrier by over a second (it runs under the RTNL lock): until then the bridge drops every frame the port
   * receives.
   */
  bridgePortState: string | null;
  mtu: number;
  /** frames the device queues for transmit (txqueuelen; a tap's ring) */
  txQueueLen: number;
  rxPackets: number;
  rxDropped: number;
  txPackets: number;
  txDropped: number;
}

interface IpLinkJson {
  ifname: string;
  flags?: string[];
  operstate?: string;
  master?: string;
  mtu?: number;
  txqlen?: number;
  linkinfo?: { info_kind?: string; info_slave_kind?: string; info_slave_data?: { state?: string } };
  stats64?: {
    rx?: { packets?: number; dropped?: number };
    tx?: { packets?: number; dropped?: number };
  };
}

/** Every link of a namespace except lo (empty if the namespace does not exist). */
export async function listLinks(ns: string): Promise<LinkInfo[]> {
  if (!netnsExists(ns)) return [];
  const out = await ipIn(ns, ["-j", "-d", "-s", "link", "show"]);
  const links = JSON.parse(out || "[]") as IpLinkJson[];
  return links
    .filter((l) => l.ifname !== "lo")
    .map((l) => ({
      namespace: ns,
      name: l.ifname,
      kind: l.linkinfo?.info_kind ?? "",
      operstate: l.operstate ?? "UNKNOWN",
      adminUp: (l.flags ?? []).includes("UP"),
      carrier: (l.flags ?? []).includes("LOWER_UP"),
      master: l.master ?? null,
      bridgePortState:
        l.linkinfo?.info_slave_kind === "bridge" ? (l.linkinfo.info_slave_data?.state ?? "unknown") : null,
      mtu: l.mtu ?? 0,
      txQueueLen: l.txqlen ?? 0,
      rxPackets: l.stats64?.rx?.packets ?? 0,
      rxDropped: l.stats64?.rx?.dropped ?? 0,
      txPackets: l.stats64?.tx?.packets ?? 0,
      txDropped: l.stats64?.tx?.dropped ?? 0,
    }));
}
