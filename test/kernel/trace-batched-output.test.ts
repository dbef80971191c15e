/**
 * The tracer's packed output through the real record command, with a stand-in for bpftrace that prints what
 * the generated program prints: a packed R row whose stream number arrives before its S line (bpftrace reads
 * the per-CPU buffers in turn), and at exit the rows still queued in the per-CPU rings (@bh head, @bt tail,
 * @b slots: only indexes from tail to head are rows). The record must hold exactly the two SVs, with the svID,
 * T0 and every point's time.
 * (The generated program itself runs on the kernel in the tracer-lab tests, which compare counts with the
 * subscriber's.)
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { assertRoot, runCli } from "../helpers.js";
import { withFakeBpftrace } from "./tracer-support.js";

const packA = (smp: bigint, appid: bigint, it: bigint) => smp | (appid << 16n) | (it << 32n);
const refrTm = (1_764_000_000n << 24n) | 0x800000n; // 1764000000.5 s

test("packed rows, a stream announced late and rows still queued at exit all reach the record", () => {
  assertRoot("the tracer preflight");
  const tn1 = 5_000_000_000n;
  const tn2 = 5_000_250_000n;
  // row 1: T1 30 us, T2 20 us, T3 10 us before T4 (deltas + 1 in two 32-bit halves)
  const row1 = `R ${packA(10n, 0x4000n, 2n)} ${refrTm} ${tn1} ${30_001n | (20_001n << 32n)} 10001 65536`;
  // row 2 (queued on CPU 0 at index 8193, slot 1, after the tail): no refrTm, T2 and T3 not seen
  const row2 = `(${packA(11n, 0x4000n, 2n)}, 0, ${tn2}, 40001, 0, 65536)`;
  const stale = `(${packA(999n, 0x4000n, 1n)}, 0, 1, 1, 1, 65536)`;
  withFakeBpftrace(
    [
      `trap 'echo END; echo "@bh[0]: 8194"; echo "@bt[0]: 8193"; echo "@bh[1]: 5"; echo "@bt[1]: 5"; echo "@b[0, 0]: ${stale}"; echo "@b[0, 1]: ${row2}"; echo "@b[0, 2]: ${stale}"; echo "@b[1, 4]: ${stale}"; exit 0' INT TERM`,
      'echo "Attaching 6 probes..."',
      'echo "READY 1000"',
      `echo "${row1}"`,
      'echo "S 65536 my stream"',
      "while :; do sleep 0.1; done",
    ],
    (fake, dir) => {
      const out = join(dir, "r.csv");
      const r = runCli(["record", "--lab", "--out", out, "--format", "csv", "--duration", "2"], {
        env: { SVTRACE_BPFTRACE: fake, SVTRACE_BACKEND: "bpftrace" },
      });
      assert.equal(r.code, 0, r.stderr);
      const lines = readFileSync(out, "utf8").trim().split("\n");
      assert.equal(lines[0], "svID,appid,iteration,smpCnt,t0_ns,t1_ns,t2_ns,t3_ns,t4_ns");
      assert.equal(lines.length, 3, `two SVs, the stale slots left out:\n${lines.join("\n")}`);
      const rows = lines.slice(1).map((l) => l.split(","));
      rows.sort((a, b) => Number(a[3]) - Number(b[3]));
      const [a, b] = rows;
      assert.deepEqual(
        [a[0], a[1], a[3], b[0], b[1], b[3]],
        ["my stream", "16384", "10", "my stream", "16384", "11"],
      );
      assert.equal(a[2], b[2], "same iteration");
      assert.equal(a[4], "1764000000500000000", "T0 from refrTm");
      const t = (row: string[], i: number) => BigInt(row[5 + i]);
      assert.deepEqual(
        [t(a, 3) - t(a, 0), t(a, 3) - t(a, 1), t(a, 3) - t(a, 2)],
        [30_000n, 20_000n, 10_000n],
      );
      assert.equal(t(b, 3) - t(a, 3), tn2 - tn1, "both on the same clock");
      assert.deepEqual([b[4], b[6], b[7]], ["", "", ""], "no refrTm, T2 and T3 not seen");
      assert.equal(t(b, 3) - t(b, 0), 40_000n);
    },
  );
});
