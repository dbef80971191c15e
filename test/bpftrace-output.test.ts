/**
 * Parsing the generated program's output lines and bpftrace's own lines, and the refrTm conversion
 * (checked against the codec's UtcTime conversion).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseLine, refrTmToNs } from "../src/bpftrace/output.js";
import { utcTimeFromNs, utcTimeToNs } from "../src/sv/utc-time.js";

describe("output lines", () => {
  it("parses a complete row, svID with spaces last", () => {
    const ev = parseLine("R 3999 2 16384 0 100 200 300 400 my stream 1", 4);
    assert.deepEqual(ev, {
      kind: "row",
      complete: true,
      smpCnt: 3999,
      iteration: 2,
      appid: 16384,
      refrTm: 0n,
      times: [100n, 200n, 300n, 400n],
      stream: "my stream 1",
    });
  });

  it("parses incomplete rows, gaps, duplicates, counters, leftovers", () => {
    const i = parseLine("I 5 1 16385 0 100 0 300 0 2", 4);
    assert.equal(i.kind, "row");
    assert.equal(i.kind === "row" && i.complete, false);
    assert.deepEqual(parseLine("D 4000 1 svID0001", 4), {
      kind: "gap",
      expected: 4000,
      got: 1,
      stream: "svID0001",
    });
    assert.deepEqual(parseLine("U 2 17 3", 4), { kind: "duplicate", point: 2, smpCnt: 17, stream: "3" });
    assert.deepEqual(parseLine("@in: 12345", 4), { kind: "entered", count: 12345 });
    assert.deepEqual(parseLine("@p1[svID, 0001, 42, 3]: 987", 4), {
      kind: "pending",
      point: 1,
      stream: "svID, 0001",
      smpCnt: 42,
      iteration: 3,
      time: 987n,
    });
    assert.deepEqual(parseLine("READY 4711", 4), { kind: "ready", time: 4711n });
    assert.deepEqual(parseLine("END", 4), { kind: "end" });
  });

  it("recognises bpftrace's own lines", () => {
    assert.deepEqual(parseLine("Attaching 5 probes...", 4), { kind: "attaching", probes: 5 });
    assert.deepEqual(parseLine("Lost 8694 events", 4), { kind: "lost", count: 8694 });
    assert.deepEqual(parseLine("", 4), { kind: "blank" });
    assert.equal(parseLine("R 1 2 3", 4).kind, "other", "a short row is not a row");
    assert.equal(parseLine("R x 1 2 3 4 5 6 7 s", 4).kind, "other");
  });

  it("converts refrTm (seconds << 24 | fraction) like the codec's UtcTime", () => {
    for (const ns of [1_795_691_135_993_751_034n, 1_700_000_000_000_000_000n, 1_000_000_000n]) {
      const u = utcTimeFromNs(ns);
      const raw = (BigInt(u.seconds) << 24n) | BigInt(u.fraction);
      assert.equal(refrTmToNs(raw), utcTimeToNs(u));
      const err = (refrTmToNs(raw) ?? 0n) - ns;
      assert.ok(err >= -30n && err <= 30n, `error ${err} ns`);
    }
    assert.equal(refrTmToNs(0n), null);
  });
});
