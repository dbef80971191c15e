/**
 * `svtrace lab` in bridge mode, for real: up, status (text and JSON), SV frames from pub0 arrive on vm0
 * (untagged and VLAN-tagged), nothing else arrives, a bridge port that stops forwarding is reported, up again
 * is idempotent, down removes everything.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, test } from "node:test";
import type { LabStatus } from "../../src/lab/index.js";
import { probeLab } from "../../src/lab/index.js";
import { assertRoot } from "../helpers.js";
import { assertClean, downAndAssertClean, labCli } from "./lab-support.js";

const PREFIX = "tlb-";

before(() => {
  assertRoot("lab tests");
  labCli(PREFIX, ["down"]); // leftovers of an earlier crashed run
});
after(() => downAndAssertClean(PREFIX));

test("lab up --switch bridge builds the topology and status reports it", (t) => {
  const up = labCli(PREFIX, ["up", "--switch", "bridge", "--json"]);
  assert.equal(up.code, 0, up.stderr);
  const s = JSON.parse(up.stdout) as LabStatus & { setupMs: number; alreadyUp: boolean };
  assert.equal(s.alreadyUp, false);
  assert.equal(s.mode, "bridge");
  assert.equal(s.healthy, true, s.problems.join("; "));
  assert.deepEqual(
    s.namespaces.map((n) => [n.name, n.exists, n.createdBySvtrace]),
    [
      ["tlb-pub", true, true],
      ["tlb-hyp", true, true],
      ["tlb-vm", true, true],
    ],
  );
  const where = (name: string) => s.interfaces.find((i) => i.name === name);
  assert.equal(where("pub0")?.namespace, "tlb-pub");
  assert.equal(where("hyp-in")?.master, "br0");
  assert.equal(where("hyp-out")?.master, "br0");
  // up returns only once both ports forward (a port can lag its carrier by a second: linux-bridge.ts)
  assert.equal(where("hyp-in")?.bridgePortState, "forwarding");
  assert.equal(where("hyp-out")?.bridgePortState, "forwarding");
  assert.equal(where("br0")?.kind, "bridge");
  assert.equal(where("vm0")?.namespace, "tlb-vm");
  assert.equal(where("vm0")?.kind, "veth");
  assert.ok(
    s.interfaces.every((i) => i.adminUp),
    "every interface is up",
  );
  assert.deepEqual(s.processes, [], "bridge mode starts no process");
  t.diagnostic(`bridge setup ${s.setupMs} ms`);

  const st = labCli(PREFIX, ["status"]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /lab up \(--switch bridge, prefix "tlb-"/);
  assert.match(st.stdout, /hyp-out\s+veth\s+UP\s+master br0/);
});

test("SV frames sent on pub0 arrive on vm0, and nothing else does", async () => {
  const quiet = await probeLab({ prefix: PREFIX, count: 0, settleMs: 1000 });
  assert.equal(quiet.otherFrames, 0, "no chatter reaches vm0 while nothing is sent");
  const r = await probeLab({ prefix: PREFIX, count: 400, intervalUs: 250 });
  assert.deepEqual(r, { sent: 400, received: 400, duplicates: 0, otherFrames: 0 });
  const tagged = await probeLab({ prefix: PREFIX, count: 50, vlan: 7 });
  assert.equal(tagged.received, 50);
  assert.equal(tagged.otherFrames, 0);
});

test("a bridge port that does not forward makes the lab unhealthy: frames stop at the bridge", async () => {
  // a port left in "learning" stays there with STP off (only "blocking" ports are moved to forwarding)
  const setState = (state: number) =>
    spawnSync(
      "ip",
      ["-n", "tlb-hyp", "link", "set", "dev", "hyp-out", "type", "bridge_slave", "state", String(state)],
      {
        encoding: "utf8",
      },
    );
  assert.equal(setState(2).status, 0);
  try {
    const st = JSON.parse(labCli(PREFIX, ["status", "--json"]).stdout) as LabStatus;
    assert.equal(st.healthy, false);
    assert.deepEqual(st.problems, ["bridge port hyp-out in tlb-hyp is learning, not forwarding"]);
    assert.equal((await probeLab({ prefix: PREFIX, count: 20, settleMs: 300 })).received, 0);
    const up = labCli(PREFIX, ["up"]);
    assert.equal(up.code, 1);
    assert.match(
      up.stderr,
      /is up but broken \(bridge port hyp-out in tlb-hyp is learning, not forwarding\)/,
    );
  } finally {
    assert.equal(setState(3).status, 0);
  }
  const st = JSON.parse(labCli(PREFIX, ["status", "--json"]).stdout) as LabStatus;
  assert.equal(st.healthy, true, st.problems.join("; "));
  assert.equal((await probeLab({ prefix: PREFIX, count: 20 })).received, 20);
});

test("lab up again with the same switch changes nothing; another switch is refused", () => {
  const again = labCli(PREFIX, ["up"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already up/);
  const other = labCli(PREFIX, ["up", "--switch", "tap"]);
  assert.equal(other.code, 1);
  assert.equal(
    other.stderr,
    'svtrace: the lab (prefix "tlb-") is already up with --switch bridge: run svtrace lab down first\n',
  );
});

test("lab down removes everything and is idempotent", (t) => {
  const d = labCli(PREFIX, ["down", "--json"]);
  assert.equal(d.code, 0, d.stderr);
  const j = JSON.parse(d.stdout) as { deletedNamespaces: string[]; teardownMs: number };
  assert.deepEqual(j.deletedNamespaces.sort(), ["tlb-hyp", "tlb-pub", "tlb-vm"]);
  t.diagnostic(`bridge teardown ${j.teardownMs} ms`);
  assertClean(PREFIX);
  const again = labCli(PREFIX, ["down"]);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /nothing to remove/);
  const st = labCli(PREFIX, ["status", "--json"]);
  assert.equal(st.code, 1);
  assert.equal((JSON.parse(st.stdout) as LabStatus).phase, null);
});
