/**
 * Whether an interface drops multicast nobody asked for, and whether something has opened it. Real NICs filter
 * multicast in hardware and QEMU's virtio-net does it in the backend; virtual devices without a parent device
 * (veth, bridge, tap, OVS ports, dummy) hand every frame up. A NIC counts as filtering when it has a parent
 * device (a bus: pci, virtio, usb...); its driver is named from /sys/class/net/IF/device/driver when visible.
 * "Opened" means IFF_PROMISC/IFF_ALLMULTI set by a user or a nonzero promiscuity/allmulti count (a packet
 * socket's PACKET_MR_ALLMULTI membership raises the count, not the flag shown by `ip link`).
 */
import { execFileSync } from "node:child_process";
import { readlinkSync } from "node:fs";
import { basename } from "node:path";

export interface MulticastFilterState {
  iface: string;
  /** driver name (sysfs), else the parent bus, else the link kind ("veth"...) */
  driver: string;
  /** the device drops multicast it was not asked for */
  filters: boolean;
  /** promiscuous or all-multicast right now (by a flag or a count) */
  open: boolean;
}

interface IpLink {
  flags?: string[];
  promiscuity?: number;
  allmulti?: number;
  linkinfo?: { info_kind?: string };
  parentbus?: string;
}

/** Parse one `ip -j -d link show dev IF` answer (exported for tests on fixtures). */
export function multicastFilterFromIpJson(
  iface: string,
  json: string,
  driver?: string,
): MulticastFilterState {
  const links = JSON.parse(json) as IpLink[];
  const l = links[0];
  if (!l) throw new Error(`ip link gave nothing for ${iface}`);
  const flags = l.flags ?? [];
  const open =
    flags.includes("PROMISC") ||
    flags.includes("ALLMULTI") ||
    (l.promiscuity ?? 0) > 0 ||
    (l.allmulti ?? 0) > 0;
  const kind = l.linkinfo?.info_kind;
  const filters = kind === undefined && l.parentbus !== undefined;
  return { iface, driver: driver ?? l.parentbus ?? kind ?? "unknown", filters, open };
}

/** Read the state of `iface` (in network namespace `netns` when given); undefined when `ip` cannot tell. */
export function multicastFilterState(iface: string, netns?: string): MulticastFilterState | undefined {
  let json: string;
  try {
    json = execFileSync("ip", [...(netns ? ["-n", netns] : []), "-j", "-d", "link", "show", "dev", iface], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch {
    return undefined;
  }
  let driver: string | undefined;
  if (!netns) {
    try {
      driver = basename(readlinkSync(`/sys/class/net/${iface}/device/driver`));
    } catch {
      driver = undefined; // no parent device (virtual) or not visible from this namespace
    }
  }
  return multicastFilterFromIpJson(iface, json, driver);
}

/** One-line warning for a traced NIC that filters multicast with nothing holding it open, else undefined. */
export function multicastFilterWarning(state: MulticastFilterState | undefined): string | undefined {
  if (!state?.filters || state.open) return undefined;
  return (
    `${state.iface} (${state.driver}) filters multicast and nothing has opened it: SVs (01:0c:cd:04:...) may ` +
    `never reach the stack; run \`svtrace subscribe --iface ${state.iface}\` beside it or ` +
    `\`ip link set ${state.iface} allmulticast on\``
  );
}
