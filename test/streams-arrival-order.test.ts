/**
 * Out-of-order SVs counted in arrival order whatever order the rows come in (ArrivalOrder, and
 * IteratedContinuity when rows carry their arrival time), checked against sorting every row by arrival time;
 * and through `analyzeRecord`, a record written the way the tracer writes one (per-CPU chunks, SVs lost in
 * the path seconds later, no t0) reports no SV out of order, and a real overtaking exactly.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { analyzeRecord } from "../src/analysis/analyze.js";
import type { SvRow } from "../src/record/schema.js";
import { ArrivalOrder } from "../src/streams/arrival-order.js";
import { IteratedContinuity } from "../src/streams/iterated-continuity.js";
import { mulberry32 } from "../src/util/prng.js";
import { MemoryInput, meta } from "./report-fixtures.js";

const PERIOD = 250_000; // ns between SVs of a stream
const BASE = 1_800_000_000_000_000_000;

interface Sv {
  key: number;
  t: number;
}

/** the definition: in arrival order, an SV behind the newest one seen so far */
function bruteForce(svs: Sv[]): number {
  const byTime = [...svs].sort((a, b) => a.t - b.t);
  let newest = Number.NEGATIVE_INFINITY;
  let late = 0;
  for (const s of byTime) {
    if (s.key < newest) late++;
    else newest = s.key;
  }
  return late;
}

/**
 * n SVs in key order; `swaps` of them overtaken on the way (arrive after the next one), then delivered as the
 * tracer writes rows: chunks of up to 8 rows of two CPUs alternating, and 1 in `lostEvery` written 1..4 s late.
 */
function traffic(n: number, seed: number, swaps: number, lostEvery: number): { svs: Sv[]; rows: Sv[] } {
  const rnd = mulberry32(seed);
  const svs: Sv[] = Array.from({ length: n }, (_, i) => ({
    key: i,
    t: BASE + i * PERIOD + Math.floor(rnd() * 1000),
  }));
  for (let s = 0; s < swaps; s++) {
    const i = 1 + Math.floor(rnd() * (n - 2));
    const a = svs[i] as Sv;
    const b = svs[i + 1] as Sv;
    [a.t, b.t] = [b.t + 1, a.t]; // a now arrives just after b
  }
  const byTime = [...svs].sort((a, b) => a.t - b.t);
  const cpu: Sv[][] = [[], []];
  const late: { at: number; sv: Sv }[] = [];
  for (const sv of byTime) {
    if (rnd() < 1 / lostEvery) late.push({ at: sv.t + 1e9 + rnd() * 3e9, sv });
    else (cpu[rnd() < 0.5 ? 0 : 1] as Sv[]).push(sv);
  }
  const rows: Sv[] = [];
  let i0 = 0;
  let i1 = 0;
  const c0 = cpu[0] as Sv[];
  const c1 = cpu[1] as Sv[];
  while (i0 < c0.length || i1 < c1.length) {
    // a drain pass: a chunk of CPU 0's queue, then one of CPU 1's, and any late row due by then
    const until = Math.max(c0[i0]?.t ?? 0, c1[i1]?.t ?? 0);
    for (let k = 0; k < 8 && i0 < c0.length; k++) rows.push(c0[i0++] as Sv);
    for (let k = 0; k < 8 && i1 < c1.length; k++) rows.push(c1[i1++] as Sv);
    for (let j = late.length - 1; j >= 0; j--)
      if ((late[j] as { at: number }).at <= until) rows.push((late.splice(j, 1)[0] as { sv: Sv }).sv);
  }
  for (const l of late) rows.push(l.sv);
  return { svs, rows };
}

test("rows in tracer order: out of order counted exactly as in arrival order", () => {
  for (const [seed, swaps, lostEvery] of [
    [1, 0, 200],
    [2, 25, 200],
    [3, 300, 50],
    [4, 3, 10],
  ] as const) {
    const { svs, rows } = traffic(40_000, seed, swaps, lostEvery);
    // row order alone would see many SVs behind a newer one
    let newest = -1;
    let rowOrderLate = 0;
    for (const r of rows) {
      if (r.key < newest) rowOrderLate++;
      else newest = r.key;
    }
    assert.ok(rowOrderLate > 100, `seed ${seed}: rows really out of arrival order (${rowOrderLate})`);
    const a = new ArrivalOrder();
    for (const r of rows) a.push(r.t, r.key);
    const want = bruteForce(svs);
    assert.equal(a.finish(), want, `seed ${seed}, ${swaps} swaps`);
    if (swaps === 0) assert.equal(want, 0);
    else assert.ok(want > 0 && want <= swaps);
  }
});

test("a row later than the lag is judged against the newest SV counted so far", () => {
  const a = new ArrivalOrder(1e9);
  for (let i = 0; i < 20_000; i++) if (i !== 100) a.push(BASE + i * PERIOD, i);
  a.push(BASE + 100 * PERIOD, 100); // 5 s of rows later, with a 1 s lag: counted against SV 19 995 or so
  assert.equal(a.finish(), 1);
  const b = new ArrivalOrder(1e9);
  for (let i = 0; i < 20_000; i++) if (i !== 19_990) b.push(BASE + i * PERIOD, i);
  b.push(BASE + 19_990 * PERIOD, 19_990); // within the lag: put back in its place
  assert.equal(b.finish(), 0);
});

test("IteratedContinuity with arrival times: shuffled rows, none out of order; without, row order decides", () => {
  const { svs, rows } = traffic(20_000, 9, 0, 100);
  const withTimes = new IteratedContinuity(4000);
  const rowOrder = new IteratedContinuity(4000);
  for (const r of rows) {
    withTimes.push(Math.floor(r.key / 4000), r.key % 4000, r.t);
    rowOrder.push(Math.floor(r.key / 4000), r.key % 4000);
  }
  const k = withTimes.counts();
  assert.deepEqual({ ...k, outOfOrder: k.outOfOrder }, { ...rowOrder.counts(), outOfOrder: 0 });
  assert.equal(k.received, svs.length);
  assert.equal(k.missing, 0);
  assert.ok(rowOrder.counts().outOfOrder > 100);
});

test("svtrace report: a record in tracer row order without t0 is complete, none missed, none out of order", async () => {
  const { rows } = traffic(12_000, 5, 0, 300);
  const lost = new Set<number>();
  const svRows: SvRow[] = rows.map((r, i) => {
    const t1 = BigInt(r.t);
    // 1 row in 300 never reached T3/T4 (lost in the path); no row has t0 (the publisher ran without --t0)
    const lostHere = i % 300 === 7;
    if (lostHere) lost.add(r.key);
    return {
      svID: "svID0000",
      appid: 0x4000,
      iteration: Math.floor(r.key / 4000),
      smpCnt: r.key % 4000,
      t: [null, t1, t1 + 20_000n, lostHere ? null : t1 + 23_000n, lostHere ? null : t1 + 30_000n],
    };
  });
  const a = await analyzeRecord(new MemoryInput(meta(["t0", "t1", "t2", "t3", "t4"]), svRows, 500), {});
  const st = a.summary.streams[0];
  assert.ok(st);
  assert.equal(st.rows, 12_000);
  assert.equal(st.complete, 12_000 - lost.size);
  assert.equal(st.lostInPath, lost.size);
  assert.equal(st.missed, 0, "a row without t0 did not skip a probe");
  assert.equal(st.drops, 0);
  assert.equal(st.outOfOrder, 0);

  // one SV overtaken at T1 (arrived 1 µs after its successor): exactly one out of order
  const swapped = svRows.map((r) => ({ ...r, t: [...r.t] }));
  const i = swapped.findIndex((r) => r.smpCnt === 2000 && r.iteration === 1);
  const j = swapped.findIndex((r) => r.smpCnt === 2001 && r.iteration === 1);
  const ti = swapped[i]?.t[1] as bigint;
  const tj = swapped[j]?.t[1] as bigint;
  (swapped[i] as SvRow).t = (swapped[i] as SvRow).t.map((x) => (x === null ? null : x - ti + tj + 1000n));
  const b = await analyzeRecord(new MemoryInput(meta(["t0", "t1", "t2", "t3", "t4"]), swapped, 500), {});
  assert.equal(b.summary.streams[0]?.outOfOrder, 1);
});
