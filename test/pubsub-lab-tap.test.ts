/**
 * Publisher (svt-pub/pub0) -> tap lab (bridge, tap, vhost- forwarder thread) -> subscriber (svt-vm/vm0), 8 streams for 10 s: the subscriber
 * receives every frame (0 missing, 0 duplicates) and its per-stream counts equal the publisher's.
 * The lab comes from `svtrace lab up` with SVTRACE_LAB_PREFIX (default svt-) and is torn down in `after`.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { labNames } from "../src/lab/names.js";
import { assertRoot, runCli } from "./helpers.js";
import { publishThroughLab, stopStrays } from "./pubsub-lab-support.js";

const MODE = "tap";

before(() => {
  assertRoot(`publish/subscribe through the ${MODE} lab`);
  runCli(["lab", "down"]); // a leftover lab of ours from a crashed run
  const r = runCli(["lab", "up", "--switch", MODE]);
  assert.equal(r.code, 0, `lab up --switch ${MODE} failed: ${r.stderr}`);
});
after(() => {
  stopStrays();
  const r = runCli(["lab", "down"]);
  assert.equal(r.code, 0, `lab down failed: ${r.stderr}`);
});

test(`${MODE}: 8 streams for 10 s arrive complete`, async (t) => {
  const { pub, sub } = await publishThroughLab(labNames(), 8, 10);
  assert.equal(pub.sent, 8 * 40_000);
  assert.equal(pub.send_errors, 0);
  assert.equal(sub.streams.length, 8);
  assert.equal(sub.received, pub.sent, `every frame received (missing by smpCnt: ${sub.missing})`);
  assert.equal(sub.missing, 0);
  assert.equal(sub.duplicates, 0);
  assert.equal(sub.out_of_order, 0);
  for (const p of pub.streams) {
    const s = sub.streams.find((x) => x.svID === p.svID);
    assert.ok(s, `stream ${p.svID} received`);
    assert.equal(s.received, p.sent, `${p.svID} count`);
    assert.equal(s.missing, 0);
    assert.equal(s.duplicates, 0);
  }
  const g = sub.streams[0].gap_error;
  t.diagnostic(
    `publisher |gap-period| p50 ${pub.gap_error.p50_us} p99 ${pub.gap_error.p99_us} µs, missed ${pub.deadlines_missed}; ` +
      `subscriber (kernel rx) ${sub.streams[0].svID} |gap-250| p50 ${g.p50_us} p99 ${g.p99_us} µs`,
  );
});
