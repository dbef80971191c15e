/**
 * The log-linear latency histogram against an exact computation (sorting) on random data with heavy tails,
 * ties and negative values; merge, serialization, countAbove and the drawable buckets.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { bucketHigh, bucketIndex, bucketLow, LatencyHistogram } from "../src/analysis/histogram.js";
import { mulberry32 as rng } from "../src/util/prng.js";

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** ~N(28 µs, 4 µs), 0.1 % spikes to 150 µs, rare ms spikes, heavy Pareto tail, and many ties. */
function latencies(n: number, seed: number): number[] {
  const r = rng(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = r();
    let v: number;
    if (u < 0.00002) v = 1_000_000 + Math.floor(r() * 3_000_000);
    else if (u < 0.001) v = 100_000 + Math.floor(r() * 50_000);
    else if (u < 0.01)
      v = Math.floor(30_000 / (1 - r()) ** 1.5); // Pareto tail
    else if (u < 0.05)
      v = 28_000; // ties
    else v = Math.max(0, Math.round(28_000 + 4_000 * gauss(r)));
    out.push(v);
  }
  return out;
}

function exactQuantile(sorted: Float64Array, q: number): number {
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length - 1e-9)));
  return sorted[rank - 1] as number;
}

const QS = [0, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999, 1];

function assertClose(got: number, want: number, what: string): void {
  const err = want === 0 ? Math.abs(got) : Math.abs(got - want) / Math.abs(want);
  assert.ok(err <= 0.001, `${what}: got ${got}, exact ${want}, relative error ${(err * 100).toFixed(4)} %`);
}

test("bucket layout is continuous and each bucket is at most 1/1024 wide", () => {
  let prevHigh = 0;
  for (let i = 0; i < 2048 + 30 * 1024; i++) {
    assert.equal(bucketLow(i), prevHigh, `bucket ${i} starts where ${i - 1} ends`);
    const lo = bucketLow(i);
    const hi = bucketHigh(i);
    if (lo >= 2048) assert.ok((hi - lo) / lo <= 1 / 1024 + 1e-12);
    assert.equal(bucketIndex(lo), i);
    assert.equal(bucketIndex(hi - 1), i);
    prevHigh = hi;
  }
  // above 2^32 too
  for (const v of [2 ** 32, 2 ** 32 + 12345, 5e12, 2 ** 52 + 7]) {
    const i = bucketIndex(v);
    assert.ok(bucketLow(i) <= v && v < bucketHigh(i), `value ${v} falls in its bucket`);
  }
});

test("percentiles within 0.1 % of a sort on 200 000 heavy-tailed values with ties; exact count/sum/min/max", () => {
  for (const seed of [1, 2, 3]) {
    const vals = latencies(200_000, seed);
    const h = new LatencyHistogram();
    h.recordMany(vals);
    const sorted = Float64Array.from(vals).sort();
    for (const q of QS) assertClose(h.quantile(q), exactQuantile(sorted, q), `seed ${seed} q=${q}`);
    assert.equal(h.count, vals.length);
    assert.equal(
      h.sum,
      vals.reduce((a, b) => a + b, 0),
    );
    assert.equal(h.min, sorted[0]);
    assert.equal(h.max, sorted[sorted.length - 1]);
    const mean = h.sum / h.count;
    assertClose(h.mean, mean, "mean");
    const variance = vals.reduce((a, v) => a + (v - mean) ** 2, 0) / vals.length;
    assertClose(h.stddev, Math.sqrt(variance), "stddev");
    assert.equal(h.percentile(99.9), h.quantile(0.999));
  }
});

test("small sets and values below 2048 are exact", () => {
  const h = new LatencyHistogram();
  for (const v of [5, 5, 5, 7, 1000, 2047, 3]) h.record(v);
  const sorted = Float64Array.from([5, 5, 5, 7, 1000, 2047, 3]).sort();
  for (const q of [0, 0.1, 0.3, 0.5, 0.6, 0.8, 0.99, 1])
    assert.equal(h.quantile(q), exactQuantile(sorted, q), `q=${q}`);
  assert.equal(h.countAbove(5), 3);
  assert.equal(h.countAbove(2047), 0);
  assert.equal(h.countAbove(0), 7);
  const empty = new LatencyHistogram();
  assert.ok(Number.isNaN(empty.quantile(0.5)));
  assert.ok(Number.isNaN(empty.min));
  assert.equal(empty.countAbove(10), 0);
});

test("negative latencies are counted and ordered below the positive ones", () => {
  const vals = latencies(50_000, 9).map((v, i) => (i % 97 === 0 ? -v - 3000 : v));
  const h = new LatencyHistogram();
  h.recordMany(vals);
  const sorted = Float64Array.from(vals).sort();
  assert.equal(h.negatives, vals.filter((v) => v < 0).length);
  assert.ok(h.negatives > 0);
  for (const q of [0, 0.001, 0.005, 0.01, 0.5, 0.99, 1])
    assertClose(h.quantile(q), exactQuantile(sorted, q), `q=${q}`);
  assert.equal(h.min, sorted[0]);
  const b = h.buckets();
  assert.ok((b[0] as { lo: number }).lo < 0, "negative buckets come first");
  assert.equal(
    b.reduce((a, x) => a + x.count, 0),
    vals.length,
  );
  for (let i = 1; i < b.length; i++)
    assert.ok((b[i] as { lo: number }).lo >= (b[i - 1] as { hi: number }).hi);
});

test("countAbove is within one bucket of the exact count", () => {
  const vals = latencies(100_000, 4);
  const h = new LatencyHistogram();
  h.recordMany(vals);
  for (const t of [10_000, 28_000, 50_000, 100_000, 200_000, 250_000, 1_000_000]) {
    const exact = vals.filter((v) => v > t).length;
    const got = h.countAbove(t);
    const bucketCount = vals.filter((v) => bucketIndex(v) === bucketIndex(t)).length;
    assert.ok(Math.abs(got - exact) <= bucketCount, `> ${t}: got ${got}, exact ${exact}`);
  }
});

test("merge equals recording everything in one; JSON round trip keeps every statistic", () => {
  const a = latencies(30_000, 5);
  const b = latencies(20_000, 6).map((v, i) => (i % 1000 === 0 ? -v : v));
  const ha = new LatencyHistogram();
  ha.recordMany(a);
  const hb = new LatencyHistogram();
  hb.recordMany(b);
  const all = new LatencyHistogram();
  all.recordMany([...a, ...b]);
  ha.merge(hb);
  assert.equal(ha.count, all.count);
  assert.equal(ha.sum, all.sum);
  assert.equal(ha.min, all.min);
  assert.equal(ha.max, all.max);
  assert.equal(ha.negatives, all.negatives);
  assertClose(ha.mean, all.mean, "merged mean");
  assertClose(ha.stddev, all.stddev, "merged stddev");
  for (const q of QS) assert.equal(ha.quantile(q), all.quantile(q), `merged q=${q}`);
  const back = LatencyHistogram.fromJSON(JSON.parse(JSON.stringify(ha)));
  for (const q of QS) assert.equal(back.quantile(q), ha.quantile(q));
  assert.equal(back.count, ha.count);
  assert.equal(back.stddev, ha.stddev);
  assert.deepEqual(back.buckets(), ha.buckets());
  assert.throws(() => LatencyHistogram.fromJSON({} as never), /not a serialized/);
});

test("reset clears everything; logBuckets keep the total", () => {
  const h = new LatencyHistogram();
  h.recordMany(latencies(10_000, 7));
  const lb = h.logBuckets(20);
  assert.equal(
    lb.reduce((a, x) => a + x.count, 0),
    10_000,
  );
  for (const bin of lb) assert.ok(bin.hi > bin.lo);
  h.reset();
  assert.equal(h.count, 0);
  assert.deepEqual(h.buckets(), []);
  h.record(42);
  assert.equal(h.quantile(0.5), 42);
});
