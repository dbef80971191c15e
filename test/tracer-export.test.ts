/** `svtrace export FILE --csv`: a record (Arrow) back to CSV with the column names as header, nulls empty. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { RecordMeta, SvRow } from "../src/record/schema.js";
import { openRecordWriter } from "../src/record/writer.js";
import { runCli } from "./helpers.js";

const meta: RecordMeta = {
  svtraceVersion: "test",
  host: "h",
  kernel: "k",
  bpftrace: "0.17.0",
  profile: "lab-bridge",
  points: ["t0", "t1", "t2", "t3", "t4"].map((name) => ({ name, label: name, probe: "p" })),
  clock: "realtime",
  start: "2026-11-26T00:00:00Z",
};

test("export: Arrow record -> CSV on stdout and to --out, header = column names, null = empty", async () => {
  const dir = mkdtempSync(join(tmpdir(), "svt-export-"));
  try {
    const arrow = join(dir, "r.arrow");
    const w = openRecordWriter(arrow, "arrow", meta);
    const rows: SvRow[] = [];
    for (let i = 0; i < 5000; i++) {
      const t1 = 1_795_000_000_000_000_000n + BigInt(i) * 250_000n;
      rows.push({
        svID: i % 2 ? "svID0001" : "a,b", // a comma in an svID is quoted
        appid: 0x4000,
        iteration: Math.floor(i / 8000),
        smpCnt: Math.floor(i / 2) % 4000,
        t: [i % 3 ? null : t1 - 5000n, t1, t1 + 1000n, i === 7 ? null : t1 + 2000n, t1 + 9000n],
      });
    }
    for (const r of rows) w.append(r);
    await w.close();
    const r = runCli(["export", arrow, "--csv"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines[0], "svID,appid,iteration,smpCnt,t0_ns,t1_ns,t2_ns,t3_ns,t4_ns");
    assert.equal(lines.length, 5001);
    const expect = (row: SvRow): string =>
      [
        row.svID.includes(",") ? `"${row.svID}"` : row.svID,
        row.appid,
        row.iteration,
        row.smpCnt,
        ...row.t.map((x) => (x === null ? "" : String(x))),
      ].join(",");
    assert.equal(lines[1], expect(rows[0]));
    assert.equal(lines[8], expect(rows[7]));
    assert.deepEqual(lines.slice(1), rows.map(expect));
    const out = join(dir, "r.csv");
    const f = runCli(["export", arrow, "--csv", "--out", out]);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(readFileSync(out, "utf8"), r.stdout);
    assert.match(f.stderr, /wrote 5000 rows/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("export: a legacy results file or a missing file is a one-line error", () => {
  const dir = mkdtempSync(join(tmpdir(), "svt-export-"));
  try {
    const legacy = join(dir, "results");
    writeFileSync(legacy, "12\n11\n14\n");
    const r = runCli(["export", legacy, "--csv"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.match(r.stderr, /^svtrace: /);
    const m = runCli(["export", join(dir, "nope.arrow"), "--csv"]);
    assert.equal(m.code, 1);
    assert.match(m.stderr, /^svtrace: .*nope\.arrow/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
