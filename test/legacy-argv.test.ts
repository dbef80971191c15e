/**
 * The original svtrace.py command line mapped onto record/live (issue 12 item 7), on argument lists; and the
 * CLI answering that form instead of "unknown option '--record'".
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isLegacyArgv, legacyResultsPath, mapLegacyArgv } from "../src/cli/legacy-argv.js";
import { runCli } from "./helpers.js";

test("legacy argv: --record maps to record with DIR/results and the record beside it", () => {
  assert.equal(isLegacyArgv(["--record", "--machine", "VM"]), true);
  assert.equal(isLegacyArgv(["record", "--lab"]), false);
  assert.deepEqual(mapLegacyArgv(["--record", "--machine", "hypervisor", "--conf", "/etc/svtrace.cfg"]), [
    "record",
    "--machine",
    "hypervisor",
    "--conf",
    "/etc/svtrace.cfg",
    "--out",
    "/tmp/results.arrow",
    "--legacy-results",
    "/tmp/results",
  ]);
  assert.deepEqual(mapLegacyArgv(["--machine", "VM", "--conf", "c", "--out", "/x/"]), [
    "live",
    "--machine",
    "VM",
    "--conf",
    "c",
  ]);
  const dir = mkdtempSync(join(tmpdir(), "svt-largv-"));
  try {
    assert.equal(legacyResultsPath(dir), join(dir, "results"));
    assert.equal(legacyResultsPath(`${dir}/run-`), `${dir}/run-results`); // the original concatenates
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("legacy argv: the CLI takes the form (errors are svtrace's own, not commander's unknown option)", () => {
  const r = runCli(["--record", "--machine", "VM", "--conf", "/nonexistent/svtrace.cfg"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^svtrace: cannot read config \/nonexistent\/svtrace.cfg: no such file/);
  const both = runCli(["--record", "--live", "--machine", "VM"]);
  assert.match(both.stderr, /give either --live or --record/);
});
