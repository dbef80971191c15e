/**
 * `svtrace lab up` killed midway (SIGKILL at three different steps): status reports a half-done lab, `up`
 * refuses until `down`, and `down` removes every namespace and process it had started, also ones it had
 * not recorded yet.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import type { LabStatus } from "../../src/lab/index.js";
import { assertRoot, runCliAsync } from "../helpers.js";
import { assertClean, downAndAssertClean, labCli, namespacesWith } from "./lab-support.js";

const PREFIX = "tlc-";
const STATE = `/run/svtrace/lab-${PREFIX}.json`;

before(() => {
  assertRoot("lab tests");
  labCli(PREFIX, ["down"]);
});
after(() => downAndAssertClean(PREFIX));

/** Start `lab up`, SIGKILL it as soon as the state file matches `when`. */
async function killUpWhen(mode: string, when: (state: string) => boolean): Promise<void> {
  const { child, done } = runCliAsync(["lab", "up", "--switch", mode], {
    env: { SVTRACE_LAB_PREFIX: PREFIX },
    timeoutMs: 60_000,
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const text = existsSync(STATE) ? readFileSync(STATE, "utf8") : "";
    if (text && when(text)) break;
    assert.ok(Date.now() < deadline, "lab up never reached the step to interrupt");
    await new Promise((r) => setTimeout(r, 2));
  }
  child.kill("SIGKILL");
  const r = await done;
  assert.equal(r.code, 128, "lab up was killed, not finished");
}

function expectHalfDoneThenClean(): void {
  const s = labCli(PREFIX, ["status", "--json"]);
  assert.equal(s.code, 1);
  const st = JSON.parse(s.stdout) as LabStatus;
  assert.equal(st.phase, "creating");
  assert.equal(st.healthy, false);
  const up = labCli(PREFIX, ["up"]);
  assert.equal(up.code, 1);
  assert.equal(
    up.stderr,
    `svtrace: a previous svtrace lab up (prefix "${PREFIX}") did not finish: run svtrace lab down first\n`,
  );
  const d = labCli(PREFIX, ["down"]);
  assert.equal(d.code, 0, d.stderr);
  assertClean(PREFIX);
}

test("killed right after creating the first namespace", async () => {
  await killUpWhen("bridge", (t) => t.includes(`"${PREFIX}pub"`));
  assert.ok(namespacesWith(PREFIX).length <= 1);
  expectHalfDoneThenClean();
});

test("killed while starting Open vSwitch", async () => {
  await killUpWhen("ovs", (t) => t.includes('"ovsdb-server"'));
  expectHalfDoneThenClean();
});

test("killed while the tap forwarder starts", async () => {
  await killUpWhen("tap", (t) => t.includes('"forwarder"'));
  expectHalfDoneThenClean();
});

test("after the cleanup a normal up/down works again", () => {
  const up = labCli(PREFIX, ["up"]);
  assert.equal(up.code, 0, up.stderr);
  downAndAssertClean(PREFIX);
});
