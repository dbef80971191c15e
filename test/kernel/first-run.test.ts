/**
 * A fresh machine: tracefs never mounted, no /run/svtrace. In a private mount namespace (the host's mounts stay
 * as they are) first-run-child.ts unmounts tracing and runs a tracer command and the bpftrace compile checks;
 * both must work by mounting what they need (issue 11: CI was red on a machine where tracefs was never mounted).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { assertRoot } from "../helpers.js";

const child = fileURLToPath(new URL("./first-run-child.js", import.meta.url));

interface ChildReport {
  umountErrors: string[];
  mountsBefore: string[];
  eventsBefore: boolean;
  runSvtraceBefore: boolean;
  record: { code: number | null; stderr: string; header: string | null };
  mountsAfterRecord: string[];
  labStatus: { code: number | null; stdout: string; stderr: string };
  mountsBeforeChecks: string[];
  checks: { code: number | null; tail: string; stderr: string };
}

describe("first run: tracefs not mounted, nothing left by an earlier run", { timeout: 900_000 }, () => {
  it("a tracer command and the bpftrace compile checks mount tracefs themselves", (t) => {
    assertRoot("unmounting tracefs in a private mount namespace");
    const r = spawnSync("unshare", ["--mount", "--propagation", "private", process.execPath, child], {
      encoding: "utf8",
      timeout: 800_000,
    });
    assert.equal(r.status, 0, `unshare/child failed: ${r.stderr}`);
    const rep = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as ChildReport;
    // the starting state really is a fresh machine's
    assert.deepEqual(rep.umountErrors, []);
    assert.deepEqual(rep.mountsBefore, [], "tracefs/debugfs still mounted in the namespace");
    assert.equal(rep.eventsBefore, false);
    assert.equal(rep.runSvtraceBefore, false);
    // the tracer command mounted tracefs and recorded
    assert.equal(rep.record.code, 0, `svtrace record failed: ${rep.record.stderr}`);
    assert.match(rep.record.header ?? "", /^svID,appid,iteration,smpCnt,t0_ns,t3_ns,t4_ns/);
    assert.ok(rep.mountsAfterRecord.includes("/sys/kernel/tracing"), `mounts: ${rep.mountsAfterRecord}`);
    // lab status without /run/svtrace: answers "no lab" (exit 1, unhealthy), no crash
    assert.equal(rep.labStatus.code, 1, rep.labStatus.stderr);
    assert.deepEqual((JSON.parse(rep.labStatus.stdout) as { problems: string[] }).problems, [
      "no lab: run svtrace lab up",
    ]);
    // the compile checks, from nothing again
    assert.deepEqual(rep.mountsBeforeChecks, []);
    assert.equal(rep.checks.code, 0, `compile checks failed:\n${rep.checks.tail}\n${rep.checks.stderr}`);
    assert.match(rep.checks.tail, /# fail 0/);
    t.diagnostic(
      rep.checks.tail
        .split("\n")
        .filter((l) => /^# (tests|pass|fail)/.test(l))
        .join("; "),
    );
  });
});
