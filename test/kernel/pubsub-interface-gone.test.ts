/**
 * An interface that vanishes mid-run: `svtrace lab down` while subscribe and publish run in the bridge lab.
 * Both stop on their own (well before their --duration) with a one-line error naming the interface and the
 * likely cause, exit non-zero, and keep what they have (the subscriber's JSON summary and --log file).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { labNames } from "../../src/lab/names.js";
import type { SubscribeSummary } from "../../src/subscribe/types.js";
import { assertRoot, runCliAsync } from "../helpers.js";
import { downAndAssertClean, labCli } from "./lab-support.js";
import { stopStrays, track } from "./pubsub-lab-support.js";

const PREFIX = "svtgone-";
const env = { SVTRACE_LAB_PREFIX: PREFIX };
const dir = mkdtempSync(join(tmpdir(), "svtrace-gone-"));

before(() => {
  assertRoot("lab down under a running subscriber and publisher");
  labCli(PREFIX, ["down"]);
  const r = labCli(PREFIX, ["up", "--switch", "bridge"]);
  assert.equal(r.code, 0, `lab up failed: ${r.stderr}`);
});
after(() => {
  stopStrays();
  rmSync(dir, { recursive: true, force: true });
  downAndAssertClean(PREFIX);
});

test("lab down ends subscribe and publish with a one-line error, keeping what they have", async () => {
  const names = labNames(PREFIX);
  const log = join(dir, "sub.log");
  let subErr = "";
  const sub = runCliAsync(
    ["subscribe", "--iface", "vm0", "--netns", names.vm, "--json", "--log", log, "--duration", "600"],
    { env, onStderr: (c) => (subErr += c) },
  );
  track(sub.child);
  for (let i = 0; i < 200 && !subErr.includes("listening"); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(subErr, /listening/);
  const pub = runCliAsync(
    ["publish", "--iface", "pub0", "--netns", names.pub, "--streams", "2", "--duration", "600"],
    { env },
  );
  track(pub.child);
  await new Promise((r) => setTimeout(r, 2000));
  const down = labCli(PREFIX, ["down"]);
  assert.equal(down.code, 0, down.stderr);

  const s = await sub.done;
  assert.equal(s.code, 1, s.stderr);
  const subLines = s.stderr
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("svtrace:"));
  assert.equal(subLines.length, 1, s.stderr);
  assert.match(
    subLines[0],
    /^svtrace: vm0 \(netns svtgone-vm\) went away \(.*E(NETDOWN|NXIO|NODEV)\): .*lab down/,
  );
  const summary = JSON.parse(s.stdout) as SubscribeSummary;
  assert.equal(summary.stopped_by, "error");
  assert.equal(summary.interface_gone, true);
  assert.ok(summary.received > 0, "frames received before the lab went down are in the summary");
  assert.ok(existsSync(log));
  assert.equal(readFileSync(log, "utf8").trim().split("\n").length, summary.log_lines);

  const p = await pub.done;
  assert.equal(p.code, 1, p.stderr);
  assert.match(p.stderr.trim(), /^svtrace: pub0 \(netns svtgone-pub\) went away \(.*\): .*lab down`$/);
  assert.match(p.stdout, /^published on pub0 .*: \d+ frames/, "the publisher's summary so far");
});
