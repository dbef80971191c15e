/**
 * The Linux bridge of the lab (bridge and tap modes): br0 in the hyp namespace with STP, multicast snooping
 * and the forward delay off, so SV multicast is flooded to every port from the first frame, once every port
 * forwards (`waitForwarding`).
 */
import { ipIn, sleep } from "./exec.js";
import { listLinks } from "./netns.js";

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

/**
 * Wait until every port of `bridge` is forwarding. Carrier (IFF_LOWER_UP) is not enough: the bridge enables
 * a port only when the kernel's link watcher reports the carrier, which runs later, under the RTNL lock. Right
 * after another lab was taken down (most likely its namespaces' teardown still holding RTNL), a port stayed
 * disabled for over a second after carrier, and the bridge dropped every frame it received meanwhile (seen: 0
 * of 100 probe frames through a lab whose `up` had just returned).
 */
export async function waitForwarding(
  ns: string,
  bridge: string,
  ports: string[],
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let states: string[] = [];
  for (;;) {
    const links = await listLinks(ns);
    states = ports.map((p) => {
      const l = links.find((x) => x.name === p);
      return l ? (l.master === bridge ? (l.bridgePortState ?? "unknown") : `not in ${bridge}`) : "missing";
    });
    if (states.every((st) => st === "forwarding")) return;
    if (Date.now() > deadline) break;
    await sleep(20);
  }
  throw new Error(
    `the ports of ${bridge} in ${ns} did not all start forwarding within ${timeoutMs / 1000} s (${ports.map((p, k) => `${p} ${states[k]}`).join(", ")})`,
  );
}
