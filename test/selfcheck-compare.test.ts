/**
 * The selfcheck's arithmetic: pairing with the preceding event (each independent event used once, outside the
 * window unmatched), pairing by (svID, smpCnt) with the nearest time among repeats, the distribution figures, the
 * per-SV segment sums and a segment's p50.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  distribution,
  interruptedBetween,
  pairByKey,
  pairPreceding,
  segmentP50,
  segmentSums,
} from "../src/selfcheck/compare.js";

test("pairPreceding: the latest unused event before ours, however late ours is within the window", () => {
  // frames 250 µs apart; the second of ours was held 180 µs (an interrupt between the callbacks): the third
  // frame's event is nearer (70 µs), but the pair is the event before it
  const theirs = [1_000_000n, 1_250_000n, 1_500_000n, 1_750_000n];
  const ours = [1_000_300n, 1_430_000n, 1_500_250n, 1_750_100n];
  assert.deepEqual(pairPreceding(ours, theirs, 1_000n, 240_000n), [300, 180_000, 250, 100]);
  // within the slack, an event a little after ours (clock noise) still pairs; one missing event leaves ours unmatched
  assert.deepEqual(pairPreceding([2_000_000n], [2_000_400n], 1_000n, 240_000n), [-400]);
  assert.deepEqual(pairPreceding([1_000_300n, 1_250_200n], [1_000_000n], 1_000n, 240_000n), [300]);
});

test("interruptedBetween: an interrupt entry on the same CPU inside [from, to] only", () => {
  const irq = { times: [100n, 200n, 300n, 400n], cpus: [0, 1, 0, 1] };
  assert.equal(interruptedBetween(irq, 0, 150n, 310n), true); // cpu 0 at 300
  assert.equal(interruptedBetween(irq, 1, 210n, 390n), false); // cpu 1 only at 200 and 400
  assert.equal(interruptedBetween(irq, 1, 200n, 200n), true); // inclusive
  assert.equal(interruptedBetween(irq, 0, 301n, 1_000n), false);
  assert.equal(interruptedBetween({ times: [], cpus: [] }, 0, 0n, 1_000n), false);
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
