/**
 * The selfcheck's arithmetic: nearest-event pairing (each independent event used once, outside the window
 * unmatched), pairing by (svID, smpCnt) with the nearest time among repeats, the distribution figures, the
 * per-SV segment sums and a segment's p50.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { distribution, pairByKey, pairNearest, segmentP50, segmentSums } from "../src/selfcheck/compare.js";

test("pairNearest: nearest unused event within the window; a frame the other side missed stays unmatched", () => {
  const ours = [1_000_000n, 1_250_300n, 1_500_000n, 1_750_000n];
  // the third frame has no event; an extra event far away is ignored
  const theirs = [999_800n, 1_250_000n, 1_749_900n, 9_000_000n];
  assert.deepEqual(pairNearest(ours, theirs, 50_000n), [200, 300, 100]);
  // one event cannot serve two of our times
  assert.deepEqual(pairNearest([100n, 101n], [100n], 50n), [0]);
});

test("pairByKey: same svID:smpCnt, the nearest of its repeats (smpCnt wraps every second)", () => {
  const theirs = new Map([["A:5", [1_000_000_000n, 2_000_000_400n]]]);
  const d = pairByKey(
    [
      { key: "A:5", t: 2_000_000_000n },
      { key: "A:6", t: 2_000_000_000n },
    ],
    theirs,
    500_000_000n,
  );
  assert.deepEqual(d, [-400]);
});

test("distribution: matched share within the bound, median and tails", () => {
  const d = distribution([100, -100, 150, 2000], 5, 1000);
  assert.equal(d.count, 5);
  assert.equal(d.matched, 4);
  assert.equal(d.withinShare, 0.75);
  assert.equal(d.p50Ns, 100);
  assert.equal(d.maxAbsNs, 2000);
});

test("segment sums and p50 over the rows that have both points", () => {
  const rows = [{ t: [null, 10n, 15n, 40n] }, { t: [5n, 20n, 21n, 30n] }, { t: [null, 10n, null, 40n] }];
  assert.deepEqual(segmentSums(rows, 1), { rows: 2, exact: 2 });
  assert.equal(segmentP50(rows, 1, 2), 1);
  assert.equal(segmentP50(rows, 1, 3), 30);
});
