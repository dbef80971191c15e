/**
 * Per-stream bookkeeping of a trace: drops counted once across the smpCnt wrap from the kernel's
 * discontinuity lines, iterations (from the kernel) of complete and stale rows, missed/lost-in-path, duplicates at the last point.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inferModulus, StreamState } from "../src/trace/stream-state.js";

const all = (t: bigint) => [t, t + 1n, t + 2n, t + 3n];

describe("stream state", () => {
  it("infers the smpCnt modulus from the largest counter", () => {
    assert.equal(inferModulus(0), 2400);
    assert.equal(inferModulus(3999), 4000);
    assert.equal(inferModulus(4000), 4800);
    assert.equal(inferModulus(12799), 12800);
    assert.equal(inferModulus(65535), 65536);
  });

  it("counts gaps once, also across the wrap, and ignores the normal wrap and backward jumps", () => {
    const s = new StreamState("a");
    for (let c = 0; c < 4000; c++) s.row(c, 0x4000, all(BigInt(c) * 250_000n + 1n), true, 1);
    s.gap(4000, 0); // normal wrap 3999 -> 0
    assert.equal(s.counters.dropped, 0);
    s.gap(4000, 2); // 3999 -> 2: 0 and 1 missing
    assert.equal(s.counters.dropped, 2);
    s.gap(3999, 0); // 3998 -> 0: 3999 missing
    assert.equal(s.counters.dropped, 3);
    s.gap(100, 105); // 100..104 missing
    assert.equal(s.counters.dropped, 8);
    s.gap(101, 100); // a repeat / late one: not a drop
    assert.equal(s.counters.dropped, 8);
  });

  it("reports the kernel's iteration 0-based (the kernel starts at 2), for complete and stale rows", () => {
    const s = new StreamState("a");
    assert.equal(s.row(5, 1, all(1n), true, 2), 0);
    assert.equal(s.row(5, 1, all(1_000_000_001n), true, 3), 1);
    assert.equal(s.row(9, 1, [5n, 0n, 0n, 0n], false, 2), 0);
    assert.equal(s.counters.lostInPath, 1);
    assert.equal(s.pending(10, [7n, 8n, 0n, 0n], 4), 2);
    // an SV from the period before the first point started (only a lagging later point saw it)
    assert.equal(s.row(3990, 1, [0n, 0n, 0n, 9n], true, 1), 0);
    assert.equal(s.counters.lostInPath, 2);
  });

  it("counts missed (a point skipped before a later one saw it) and duplicates at the last point", () => {
    const s = new StreamState("a");
    s.row(1, 1, [0n, 10n, 20n, 30n], true, 1);
    assert.equal(s.counters.missed, 1);
    s.row(2, 1, [10n, 20n, 30n, 40n], true, 1);
    assert.equal(s.counters.complete, 1);
    // the same SV read twice at the last point: only the last point is set, 1 µs later
    assert.equal(s.row(2, 1, [0n, 0n, 0n, 1040n], true, 1), undefined);
    assert.equal(s.counters.duplicates, 1);
    assert.equal(s.counters.received, 2);
  });
});
