/**
 * smpCnt continuity from (iteration, smpCnt): exact whatever the row order, as in svtrace records, whose rows
 * are written when each SV reaches the last point (incomplete ones later) and so cross the wrap out of order.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { analyzeRecord } from "../src/analysis/analyze.js";
import type { SvRow } from "../src/record/schema.js";
import { IteratedContinuity, KEEP_ITERATIONS } from "../src/streams/iterated-continuity.js";
import { mulberry32 } from "../src/util/prng.js";
import { MemoryInput, meta } from "./report-fixtures.js";

/** SVs 0..n-1 of a 4000-modulus stream as (iteration, smpCnt) */
function sequence(n: number, start = 0): [number, number][] {
  return Array.from({ length: n }, (_, i) => [Math.floor((start + i) / 4000), (start + i) % 4000]);
}

test("in order: wraps counted, nothing missing", () => {
  const c = new IteratedContinuity();
  for (const [it, s] of sequence(10_000, 3990)) c.push(it, s);
  assert.deepEqual(c.counts(), {
    received: 10_000,
    missing: 0,
    duplicates: 0,
    outOfOrder: 0,
    wraps: 3,
    modulus: 4000,
  });
});

test("rows shuffled across the wrap: still no drops, and the late ones are out of order", () => {
  const rnd = mulberry32(7);
  const seq = sequence(20_000, 1000);
  // move 1 row in 50 up to 200 places later, many across a wrap
  let moved = 0;
  for (let i = seq.length - 201; i >= 0; i--) {
    if (rnd() < 0.02) {
      const j = i + 1 + Math.floor(rnd() * 200);
      const [row] = seq.splice(i, 1);
      seq.splice(j, 0, row as [number, number]);
      moved++;
    }
  }
  assert.ok(moved > 100);
  const c = new IteratedContinuity(4000);
  for (const [it, s] of seq) c.push(it, s);
  const k = c.counts();
  assert.equal(k.missing, 0);
  assert.equal(k.duplicates, 0);
  assert.equal(k.received, 20_000);
  assert.ok(k.outOfOrder > 0 && k.outOfOrder <= moved, `${k.outOfOrder} out of order, ${moved} moved`);
});

test("gaps (also across the wrap and whole missing iterations) and duplicates are exact", () => {
  const c = new IteratedContinuity();
  const seq = sequence(20_000, 3000).filter(([it, s]) => !(it === 1 && s >= 3990) && !(it === 2 && s < 5));
  const withoutIteration3 = seq.filter(([it]) => it !== 3);
  for (const [it, s] of withoutIteration3) c.push(it, s);
  c.push(5, 100); // twice again: the newest iteration still has its bitmap
  c.push(5, 100);
  const k = c.counts();
  assert.equal(k.missing, 10 + 5 + 4000);
  assert.equal(k.duplicates, 2);
  assert.equal(k.modulus, 4000);
});

test(`an SV more than ${KEEP_ITERATIONS} iterations late is out of order and counted once`, () => {
  const c = new IteratedContinuity(4000);
  for (const [it, s] of sequence(4000 * 6)) if (!(it === 0 && s === 10)) c.push(it, s);
  c.push(0, 10);
  const k = c.counts();
  assert.equal(k.missing, 0);
  assert.equal(k.outOfOrder, 1);
});

test("svtrace report: a record whose rows cross the wrap out of order shows no drops", async () => {
  const rows: SvRow[] = [];
  for (const [it, s] of sequence(12_000, 3000)) {
    const t1 = 1_800_000_000_000_000_000n + BigInt(it * 4000 + s) * 250_000n;
    rows.push({ svID: "svID0000", appid: 0x4000, iteration: it, smpCnt: s, t: [null, t1, t1 + 20_000n] });
  }
  // the last 25 SVs of each iteration reach the record 600 SVs into the next one (a subscriber that lagged:
  // SVs that miss the last point are written when their entry goes stale)
  for (let w = 4000 - 3000; w < rows.length - 700; w += 4000) {
    const late = rows.splice(w - 25, 25);
    rows.splice(w - 25 + 600, 0, ...late);
  }
  const a = await analyzeRecord(new MemoryInput(meta(["t0", "t1", "t2"]), rows, 500), {});
  const st = a.summary.streams[0];
  assert.equal(st?.drops, 0);
  assert.equal(st?.duplicates, 0);
});
