/**
 * `svtrace lab` in ovs mode: a private ovsdb-server/ovs-vswitchd (userspace netdev datapath) inside the hyp
 * namespace, br-sv with hyp-in=1 and hyp-out=2 and only the SV flow: SV arrives, other EtherTypes do not,
 * and `down` stops both daemons and removes everything.
 */
import assert from "node:assert/strict";
import { readlinkSync } from "node:fs";
import { after, before, test } from "node:test";
import type { LabStatus } from "../src/lab/index.js";
import { probeLab } from "../src/lab/index.js";
import { assertRoot } from "./helpers.js";
import { assertClean, downAndAssertClean, labCli, processesOf } from "./lab-support.js";

const PREFIX = "tlo-";

before(() => {
  assertRoot("lab tests");
  labCli(PREFIX, ["down"]);
});
after(() => downAndAssertClean(PREFIX));

test("lab up --switch ovs: daemons in the hyp namespace, netdev bridge, ports 1/2, one SV flow", (t) => {
  const up = labCli(PREFIX, ["up", "--switch", "ovs", "--json"]);
  assert.equal(up.code, 0, up.stderr);
  const s = JSON.parse(up.stdout) as LabStatus & { setupMs: number };
  t.diagnostic(`ovs setup ${s.setupMs} ms`);
  assert.equal(s.healthy, true, s.problems.join("; "));
  assert.deepEqual(s.ovs, {
    bridge: "br-sv",
    datapathType: "netdev",
    ports: [
      { name: "hyp-in", ofport: 1 },
      { name: "hyp-out", ofport: 2 },
    ],
    flows: ["in_port=1,dl_type=0x88ba actions=output:2"],
  });
  assert.deepEqual(
    s.processes.map((p) => [p.role, p.alive]),
    [
      ["ovsdb-server", true],
      ["ovs-vswitchd", true],
    ],
  );
  assert.deepEqual(processesOf(PREFIX).sort(), s.processes.map((p) => p.pid).sort());
  // the daemons run inside the hyp namespace
  const hypIno = readlinkSync(`/proc/${s.processes[1]?.pid}/ns/net`);
  const selfIno = readlinkSync("/proc/self/ns/net");
  assert.notEqual(hypIno, selfIno, "ovs-vswitchd is not in the caller's namespace");
});

test("SV frames cross the OVS switch; other EtherTypes are dropped", async (t) => {
  const quiet = await probeLab({ prefix: PREFIX, count: 0, settleMs: 1000 });
  assert.equal(quiet.otherFrames, 0, "no chatter reaches vm0 while nothing is sent");
  const r = await probeLab({ prefix: PREFIX, count: 200, intervalUs: 1000 });
  t.diagnostic(`ovs probe: sent ${r.sent}, received ${r.received}`);
  assert.equal(r.sent, 200);
  assert.equal(r.duplicates, 0);
  assert.equal(r.otherFrames, 0);
  assert.ok(r.received >= 180, `only ${r.received}/200 SV frames crossed OVS`);
  const tagged = await probeLab({ prefix: PREFIX, count: 50, vlan: 9 });
  assert.ok(tagged.received >= 40, `only ${tagged.received}/50 tagged SV frames crossed OVS`);
  const goose = await probeLab({ prefix: PREFIX, count: 50, etherType: 0x88b8, settleMs: 500 });
  assert.equal(goose.sent, 50);
  assert.equal(goose.received, 0, "non-SV frames must not cross");
});

test("lab down stops both daemons and removes everything", (t) => {
  const d = labCli(PREFIX, ["down", "--json"]);
  assert.equal(d.code, 0, d.stderr);
  const j = JSON.parse(d.stdout) as { stoppedProcesses: { role: string }[]; teardownMs: number };
  t.diagnostic(`ovs teardown ${j.teardownMs} ms`);
  assert.deepEqual(j.stoppedProcesses.map((p) => p.role).sort(), ["ovs-vswitchd", "ovsdb-server"]);
  assertClean(PREFIX);
});
