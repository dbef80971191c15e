/**
 * `svtrace selfcheck` as CI runs it: builds its own labs (prefix "sck-", so a lab someone left up is not
 * touched), checks svtrace's timestamps against ftrace and SO_TIMESTAMPNS, the segment sums, the tracer's cost
 * in the record and the injected delays, and must exit 0 with one PASS line per check. Its lab is gone after.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, test } from "node:test";
import { assertRoot, runCli, runCliAsync } from "../helpers.js";

const env = { SVTRACE_LAB_PREFIX: "sck-" };
after(() => {
  runCli(["lab", "down"], { env }); // in case the selfcheck died midway
});

// On the project's shared 2-vCPU VM (2026-12-05) the delays, ftrace T2 and T3, segment sums and tracer cost
// PASS; ftrace T1, T2b and T4 miss "99.9 % within 1 µs" by their tails (99.1-99.8 %) and T2b's median is
// 0.38 µs off; SO_TIMESTAMPNS T3 is 1.4 µs off (the socket's stamp is taken earlier on the kernel path). The
// test runs and prints every figure; it is marked TODO until the acceptance is met, not skipped.
const TODO = "acceptance not met yet: ftrace T1/T2b/T4 tails and T2b median, SO_TIMESTAMPNS T3 offset";

test("selfcheck (tap lab, 3 s per run): every check PASSes, exit 0, no lab left", {
  todo: TODO,
  timeout: 900_000,
}, async () => {
  assertRoot("svtrace selfcheck");
  const r = await runCliAsync(["selfcheck", "--duration", "3", "--json"], { env, timeoutMs: 880_000 }).done;
  const out = JSON.parse(r.stdout) as {
    pass: boolean;
    checks: { name: string; pass: boolean; figure: string }[];
  };
  const names = out.checks.map((c) => c.name);
  for (const want of [
    "ftrace T1",
    "ftrace T2",
    "ftrace T2b",
    "ftrace T3",
    "ftrace T4",
    "SO_TIMESTAMPNS T3",
    "segment sums",
    "tracer cost",
    "delay 50 µs",
    "delay 200 µs",
    "delay 1000 µs",
  ])
    assert.ok(names.includes(want), `check ${want} missing: ${names.join(", ")}`);
  const failed = out.checks.filter((c) => !c.pass).map((c) => `${c.name}: ${c.figure}`);
  assert.deepEqual(failed, [], r.stderr);
  assert.equal(r.code, 0);
  assert.equal(out.pass, true);
  const ns = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  assert.doesNotMatch(ns, /^sck-/m, "selfcheck left its lab up");
});
