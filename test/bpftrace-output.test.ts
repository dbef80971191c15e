/**
 * Parsing the generated program's output lines and bpftrace's own lines, and the refrTm conversion
 * (checked against the codec's UtcTime conversion).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseLine, refrTmToNs } from "../src/bpftrace/output.js";
import { utcTimeFromNs, utcTimeToNs } from "../src/sv/utc-time.js";

describe("output lines", () => {
  it("reads a context line (record --context): stream, smpCnt, iteration, point, cpu, tid, comm with spaces", () => {
    assert.deepEqual(parseLine("C 3 3999 2 4 1 812 handler 3", 4), {
      kind: "context",
      stream: "3",
      smpCnt: 3999,
      iteration: 2,
      point: 4,
      cpu: 1,
      tid: 812,
      comm: "handler 3",
    });
    assert.equal(parseLine("C 3 x 2 4 1 812 handler3", 4).kind, "other");
  });
  it("unpacks a packed row: A = smpCnt | appid << 16 | iteration << 32, two 32-bit deltas per word", () => {
    const a = 3999n | (0x4000n << 16n) | (7n << 32n);
    const tn = 1_000_000_000n;
    // T1 5000 ns before T4, T2 not seen, T3 1 ns before T4 (delta + 1 is printed; 0 = not seen)
    const p0 = 5001n | (0n << 32n);
    const p1 = 2n;
    const ev = parseLine(`R ${a} 123456789 ${tn} ${p0} ${p1} 65537`, 4);
    assert.deepEqual(ev, {
      kind: "row",
      complete: true,
      smpCnt: 3999,
      iteration: 7,
      appid: 0x4000,
      refrTm: 123456789n,
      times: [tn - 5000n, 0n, tn - 1n, tn],
      stream: "65537",
    });
    // equal times (delta 0) stay distinct from "not seen"
    const same = parseLine(`R ${a} 0 ${tn} ${1n | (1n << 32n)} 1 3`, 4);
    assert.equal(same.kind === "row" && same.times.join(), [tn, tn, tn, tn].join());
    // deltas up to 2^32 - 2 ns, with the high word
    const big = parseLine(`R ${a} 0 ${tn} ${1n | (0xfffffffen << 32n)} 0 3`, 4);
    assert.equal(big.kind === "row" && big.times.join(), [tn, tn - 0xfffffffdn, 0n, tn].join());
    // two points: one word with one delta; one point: no word
    assert.deepEqual(
      parseLine(`R ${a} 0 ${tn} 11 1`, 2).kind === "row" && parseLine(`R ${a} 0 ${tn} 11 1`, 2),
      {
        ...(ev as object),
        refrTm: 0n,
        times: [tn - 10n, tn],
        stream: "1",
      },
    );
    assert.equal(parseLine(`R ${a} 0 ${tn} 1`, 1).kind, "row");
    assert.equal(parseLine(`R ${a} 0 ${tn} 11 1`, 1).kind, "other", "field count follows the point count");
  });

  it("parses an unpacked F row, stream announcements, ring state and slots printed at exit", () => {
    assert.deepEqual(parseLine("F 3999 2 16384 0 100 0 300 400 12", 4), {
      kind: "row",
      complete: true,
      smpCnt: 3999,
      iteration: 2,
      appid: 16384,
      refrTm: 0n,
      times: [100n, 0n, 300n, 400n],
      stream: "12",
    });
    assert.deepEqual(parseLine("S 65536 my svID with spaces", 4), {
      kind: "stream",
      stream: "65536",
      svID: "my svID with spaces",
    });
    assert.deepEqual(parseLine("@bh[1]: 8195", 4), { kind: "ringHead", cpu: 1, index: 8195 });
    assert.deepEqual(parseLine("@bt[0]: 17", 4), { kind: "ringTail", cpu: 0, index: 17 });
    assert.deepEqual(parseLine("O 1 42", 4), { kind: "overrun", cpu: 1, rows: 42 });
    const a = 17n | (1n << 16n) | (2n << 32n);
    const st = parseLine(`@b[1, 2]: (${a}, 0, 500, 11, 0, 65537)`, 4);
    assert.equal(st.kind, "staged");
    if (st.kind === "staged") {
      assert.equal(st.cpu, 1);
      assert.equal(st.slot, 2);
      assert.deepEqual(st.row.times, [490n, 0n, 0n, 500n]);
      assert.equal(st.row.smpCnt, 17);
      assert.equal(st.row.stream, "65537");
    }
  });

  it("parses incomplete rows, gaps, duplicates, counters, leftovers", () => {
    const i = parseLine("I 5 1 16385 0 100 0 300 0 2", 4);
    assert.equal(i.kind, "row");
    assert.equal(i.kind === "row" && i.complete, false);
    assert.deepEqual(parseLine("D 4000 1 5", 4), { kind: "gap", expected: 4000, got: 1, stream: "5" });
    assert.deepEqual(parseLine("U 2 17 3", 4), { kind: "duplicate", point: 2, smpCnt: 17, stream: "3" });
    assert.deepEqual(parseLine("@pend: 12345", 4), { kind: "mapEntries", count: 12345 });
    // an SV still waiting at exit: @p[stream, smpCnt, slot]: (iteration, t1, t2, t3)
    assert.deepEqual(parseLine("@p[65536, 42, 3]: (7, 987, 0, 990)", 4), {
      kind: "pending",
      stream: "65536",
      smpCnt: 42,
      iteration: 7,
      times: [987n, 0n, 990n],
    });
    // a slot of another point count is not taken for one
    assert.equal(parseLine("@p[65536, 42, 3]: (7, 987)", 4).kind, "other");
    assert.deepEqual(parseLine("READY 4711", 4), { kind: "ready", time: 4711n });
    assert.deepEqual(parseLine("END", 4), { kind: "end" });
  });

  it("recognises bpftrace's own lines", () => {
    assert.deepEqual(parseLine("Attaching 5 probes...", 4), { kind: "attaching", probes: 5 });
    assert.deepEqual(parseLine("Lost 8694 events", 4), { kind: "lost", count: 8694 });
    assert.deepEqual(parseLine("", 4), { kind: "blank" });
    assert.equal(parseLine("R 1 2 3", 4).kind, "other", "a short row is not a row");
    assert.equal(parseLine("R x 1 2 3 4 5", 4).kind, "other");
    assert.equal(parseLine("F 1 2 3 4 5 6 7 8 s", 4).kind, "other", "the stream is a number");
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
