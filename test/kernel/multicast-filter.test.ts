/**
 * The multicast filter (issue 12): `subscribe` and `detect` hold the interface's filter open (a packet
 * socket's PACKET_MR_ALLMULTI membership, seen as the allmulti count) exactly while they run, and the
 * record/live warning names only devices that filter (a NIC with a parent bus: virtio_net, real NICs), not veth.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { before, test } from "node:test";
import {
  multicastFilterFromIpJson,
  multicastFilterState,
  multicastFilterWarning,
} from "../../src/net/multicast-filter.js";
import { assertRoot, runCliAsync } from "../helpers.js";

const NS = "svt-mcf-test";

function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8" });
}

function allmultiCount(iface: string): number {
  const l = JSON.parse(ip("-n", NS, "-j", "-d", "link", "show", "dev", iface)) as { allmulti: number }[];
  return l[0].allmulti;
}

/** Run the CLI, wait until mcf0's allmulti count rises (or the command ends), stop it, read the count again. */
async function whileRunning(args: string[]): Promise<{ during: number; afterwards: number }> {
  const run = runCliAsync(args, { timeoutMs: 60_000 });
  let exited = false;
  void run.done.then(() => {
    exited = true;
  });
  let during = 0;
  for (let i = 0; i < 300 && !exited && during === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    during = allmultiCount("mcf0");
  }
  run.child.kill("SIGINT");
  const r = await run.done;
  assert.ok(during > 0 || r.code === 0, `ended early (${r.code}): ${r.stderr}`);
  return { during, afterwards: allmultiCount("mcf0") };
}

before(() => {
  assertRoot("the multicast-filter test");
  try {
    execFileSync("ip", ["netns", "del", NS], { stdio: "ignore" });
  } catch {
    // not left over from an earlier run
  }
});

test("multicast filter: subscribe and detect hold the filter open while they run", async () => {
  try {
    ip("netns", "add", NS);
    ip("-n", NS, "link", "add", "mcf0", "type", "veth", "peer", "name", "mcf1");
    ip("-n", NS, "link", "set", "mcf0", "up");
    ip("-n", NS, "link", "set", "mcf1", "up");
    assert.equal(allmultiCount("mcf0"), 0);
    const sub = await whileRunning(["subscribe", "--netns", NS, "--iface", "mcf0"]);
    assert.deepEqual(sub, { during: 1, afterwards: 0 });
    const det = await whileRunning(["detect", "--netns", NS, "--iface", "mcf0", "--timeout", "30"]);
    assert.deepEqual(det, { during: 1, afterwards: 0 });
    // a veth never filters: no warning even with the filter closed
    const veth = multicastFilterState("mcf0", NS);
    assert.ok(veth);
    assert.equal(veth.filters, false);
    assert.equal(veth.driver, "veth");
    assert.equal(multicastFilterWarning(veth), undefined);
  } finally {
    execFileSync("ip", ["netns", "del", NS], { stdio: "ignore" });
  }
});

test("multicast filter: a NIC with a parent bus filters; the warning names it and goes once it is opened", () => {
  // the shape `ip -j -d link` prints for this machine's virtio NIC
  const closed = JSON.stringify([
    {
      ifname: "eth0",
      flags: ["BROADCAST", "MULTICAST", "UP"],
      promiscuity: 0,
      allmulti: 0,
      parentbus: "virtio",
    },
  ]);
  const s = multicastFilterFromIpJson("eth0", closed, "virtio_net");
  assert.deepEqual(s, { iface: "eth0", driver: "virtio_net", filters: true, open: false });
  assert.match(multicastFilterWarning(s) ?? "", /^eth0 \(virtio_net\) filters multicast/);
  const counted = JSON.stringify([{ ifname: "eth0", flags: [], allmulti: 1, parentbus: "virtio" }]);
  assert.equal(multicastFilterWarning(multicastFilterFromIpJson("eth0", counted)), undefined);
  const flagged = JSON.stringify([{ ifname: "eth0", flags: ["ALLMULTI"], allmulti: 0, parentbus: "pci" }]);
  assert.equal(multicastFilterWarning(multicastFilterFromIpJson("eth0", flagged)), undefined);
  // and this machine's own NICs, read (not changed): whatever has a driver link in sysfs filters
  for (const iface of readFileSync("/proc/net/dev", "utf8").split("\n").slice(2)) {
    const name = iface.split(":")[0].trim();
    if (!name) continue;
    const st = multicastFilterState(name);
    if (!st) continue;
    let hasDevice = true;
    try {
      execFileSync("readlink", ["-e", `/sys/class/net/${name}/device/driver`], { stdio: "ignore" });
    } catch {
      hasDevice = false;
    }
    assert.equal(st.filters, hasDevice, `${name}: ${JSON.stringify(st)}`);
  }
});
