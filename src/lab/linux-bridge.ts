/**
 * The Linux bridge of the lab (bridge and tap modes): br0 in the hyp namespace with STP, multicast snooping
 * and the forward delay off, so SV multicast is flooded to every port from the first frame.
 */
import { ipIn } from "./exec.js";

export async function createLinuxBridge(ns: string, bridge: string, ports: string[]): Promise<void> {
  await ipIn(ns, [
    "link",
    "add",
    bridge,
    "type",
    "bridge",
    "stp_state",
    "0",
    "mcast_snooping",
    "0",
    "forward_delay",
    "0",
  ]);
  for (const port of ports) await ipIn(ns, ["link", "set", port, "master", bridge]);
  await ipIn(ns, ["link", "set", bridge, "up"]);
}
