/**
 * Publisher -> Open vSwitch (userspace netdev datapath) lab -> subscriber, at 1 and 8 streams for 5 s each:
 * frames arrive with no duplicates and never more than were sent. Loss is possible on a loaded 2-core machine
 * (the vswitchd main thread polls the ports): it is reported as a finding, with the drops of the daemon's
 * packet sockets (where it was lost when it was the socket), not asserted.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { labNames } from "../../src/lab/names.js";
import { ovsSockets } from "../../src/lab/ovs-sockets.js";
import { assertRoot, runCli } from "../helpers.js";
import { publishThroughLab, stopStrays } from "./pubsub-lab-support.js";

before(() => {
  assertRoot("publish/subscribe through the ovs lab");
  runCli(["lab", "down"]);
  const r = runCli(["lab", "up", "--switch", "ovs"]);
  assert.equal(r.code, 0, `lab up --switch ovs failed: ${r.stderr}`);
});
after(() => {
  stopStrays();
  const r = runCli(["lab", "down"]);
  assert.equal(r.code, 0, `lab down failed: ${r.stderr}`);
});

for (const streams of [1, 8]) {
  test(`ovs: ${streams} stream(s) for 5 s arrive (loss reported)`, async (t) => {
    const names = labNames();
    const drops = async () => (await ovsSockets(names.hyp)).map((k) => `${k.device} ${k.drops}`).join(", ");
    const before = await drops();
    const { pub, sub } = await publishThroughLab(names, streams, 5);
    assert.equal(pub.sent, streams * 20_000);
    assert.equal(sub.streams.length, streams, "every stream arrives");
    assert.ok(sub.received > 0);
    assert.ok(sub.received <= pub.sent, "never more than sent");
    assert.equal(sub.duplicates, 0);
    for (const s of sub.streams) assert.ok(s.received > 0, `${s.svID} arrives`);
    const lost = pub.sent - sub.received;
    t.diagnostic(
      `ovs ${streams} stream(s): sent ${pub.sent}, received ${sub.received}, lost ${lost} ` +
        `(${((100 * lost) / pub.sent).toFixed(3)} %), missing by smpCnt ${sub.missing}, out of order ${sub.out_of_order}; ` +
        `ovs-vswitchd's socket drops before: ${before}, after: ${await drops()}`,
    );
  });
}
