/**
 * The tracer's columnar hot path (issue 16's CPU target) gives exactly what the BigInt/object path gives:
 * 64-bit time words (refrTm conversion, clock offset, differences) against BigInt arithmetic on random and edge
 * values; RowBuffer rows built word by word against SvRows appended; the live model fed column batches against
 * the same rows fed as SvRows; StreamState accounting from seen-masks against the BigInt times form.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { refrTmToNs } from "../src/bpftrace/output.js";
import { LiveModel } from "../src/live/model.js";
import { columnsFromRows, rowsOf } from "../src/record/columns.js";
import { addWords, diffWords, refrTmWords, wordsOf } from "../src/record/ns64.js";
import { RowBuffer } from "../src/record/row-buffer.js";
import type { PointMeta, SvRow } from "../src/record/schema.js";
import { StreamState } from "../src/trace/stream-state.js";
import { mulberry32 as rng } from "../src/util/prng.js";

const r = rng(16);
const u64 = (): bigint => (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32));
const fromWords = (w: Uint32Array, at: number): bigint =>
  BigInt.asIntN(64, (BigInt(w[at] as number) | (BigInt(w[at + 1] as number) << 32n)) & 0xffffffffffffffffn);

test("refrTm, clock offset and differences in 32-bit words equal the BigInt arithmetic", () => {
  const out = new Uint32Array(2);
  const refr = [
    1n,
    0xffffffn,
    0x1000000n,
    (1_765_000_000n << 24n) | 0xabcdefn,
    (0xffffffffffn << 24n) | 0xffffffn,
    ...Array.from({ length: 2000 }, u64),
    ...Array.from(
      { length: 2000 },
      () => (BigInt(1_700_000_000 + Math.floor(r() * 1e8)) << 24n) | BigInt(Math.floor(r() * 2 ** 24)),
    ),
  ];
  for (const v of refr) {
    const w = wordsOf(v);
    assert.equal(refrTmWords(w.lo, w.hi, out, 0), true);
    assert.equal(fromWords(out, 0), BigInt.asIntN(64, refrTmToNs(v) as bigint), `refrTm ${v}`);
  }
  assert.equal(refrTmWords(0, 0, out, 0), false, "refrTm 0 is null");
  const offsets = [
    0n,
    1n,
    -1n,
    1_765_000_000_000_000_000n,
    -123_456_789n,
    ...Array.from({ length: 200 }, () => BigInt.asIntN(64, u64())),
  ];
  for (const off of offsets) {
    for (let k = 0; k < 20; k++) {
      const raw = k < 10 ? BigInt(Math.floor(r() * 2 ** 50)) : u64();
      const a = wordsOf(raw);
      const o = wordsOf(off);
      addWords(a.lo, a.hi, o.lo, o.hi, out, 0);
      assert.equal(fromWords(out, 0), BigInt.asIntN(64, raw + off), `${raw} + ${off}`);
    }
  }
  for (let k = 0; k < 5000; k++) {
    const s = BigInt.asIntN(64, u64());
    const e = k % 2 ? s + BigInt(Math.floor((r() - 0.3) * 2 ** 40)) : BigInt.asIntN(64, u64());
    const ew = wordsOf(e);
    const sw = wordsOf(s);
    assert.equal(diffWords(ew.lo, ew.hi, sw.lo, sw.hi), Number(e - s), `${e} - ${s}`);
  }
});

const points: PointMeta[] = ["t0", "t1", "t2", "t3"].map((name) => ({ name, label: name, probe: name }));

function rows(n: number): SvRow[] {
  const out: SvRow[] = [];
  const base = 1_765_000_000_000_000_000n;
  for (let i = 0; i < n; i++) {
    const t1 = base + BigInt(i) * 26_041n;
    const t: (bigint | null)[] = [
      i % 5 === 0 ? null : t1 - BigInt(Math.floor(r() * 4000)),
      t1,
      i % 13 === 0 ? null : t1 + BigInt(Math.floor(r() * 30_000)),
      i % 17 === 0 ? null : t1 + 40_000n + BigInt(Math.floor(r() * 2 ** 20)),
    ];
    out.push({ svID: `sv${i % 3}`, appid: 0x4000 + (i % 3), iteration: i >> 12, smpCnt: i % 4800, t });
  }
  return out;
}

test("RowBuffer rows set word by word equal the same SvRows appended", () => {
  const rs = rows(10_000);
  const a = new RowBuffer(points.length, 16);
  const b = new RowBuffer(points.length, 16);
  for (const row of rs) {
    a.append(row);
    const k = b.begin(row.svID, row.appid, row.iteration, row.smpCnt);
    row.t.forEach((v, p) => {
      if (v === null) b.setNull(p, k);
      else if (p % 2) b.setTime(p, k, v);
      else {
        const w = wordsOf(v as bigint);
        b.setWords(p, k, w.lo, w.hi);
      }
    });
  }
  assert.deepEqual([...rowsOf(b.take())], [...rowsOf(a.take())]);
});

test("the live model fed column batches equals the model fed the same SvRows", () => {
  const rs = rows(20_000);
  const byRows = new LiveModel({ points, thresholdUs: 20 });
  const byCols = new LiveModel({ points, thresholdUs: 20 });
  for (let i = 0; i < rs.length; i += 4096) {
    byRows.addRows(rs.slice(i, i + 4096));
    byCols.addColumns(columnsFromRows(rs.slice(i, i + 4096), points.length));
  }
  const strip = (s: ReturnType<LiveModel["snapshot"]>) => ({ ...s, time: "", elapsed_s: 0, rate: 0 });
  const now = Date.now();
  assert.deepEqual(strip(byCols.snapshot(now)), strip(byRows.snapshot(now)));
  assert.equal(byCols.totalRows, rs.length);
});

/** The accounting as StreamState.row did it on BigInt times before the columnar path (the reference). */
class ReferenceState {
  counters = { received: 0, complete: 0, missed: 0, lostInPath: 0, duplicates: 0 };
  private readonly lastDone = new Map<number, bigint>();
  row(smp: number, times: bigint[], complete: boolean, kernelIteration: number): number | undefined {
    const n = times.length;
    const last = times[n - 1] as bigint;
    const onlyLast = n > 1 && last !== 0n && times.slice(0, n - 1).every((t) => t === 0n);
    if (complete && last !== 0n) {
      const prev = this.lastDone.get(smp);
      if (onlyLast && prev !== undefined && last - prev < 5_000_000n) {
        this.counters.duplicates += 1;
        return undefined;
      }
      this.lastDone.set(smp, last);
    }
    this.counters.received += 1;
    const seen = times.map((t) => t !== 0n);
    if (seen.every(Boolean)) this.counters.complete += 1;
    else {
      if (seen.slice(0, seen.lastIndexOf(true)).includes(false)) this.counters.missed += 1;
      if (seen[0] && !seen[n - 1]) this.counters.lostInPath += 1;
    }
    return Math.max(0, kernelIteration - 2);
  }
}

test("StreamState accounting from seen-masks (and from BigInt times) equals the reference, duplicates included", () => {
  const ref = new ReferenceState();
  const a = new StreamState("x");
  const b = new StreamState("x");
  const n = 4;
  for (let i = 0; i < 20_000; i++) {
    const smp = Math.floor(r() * 50);
    const last = 1_765_000_000_000_000_000n + BigInt(i) * BigInt(Math.floor(r() * 3_000_000));
    const times: bigint[] = [0, 1, 2].map(() => (r() < 0.2 ? 0n : 5n + BigInt(i)));
    times.push(r() < 0.1 ? 0n : last);
    if (r() < 0.05) times.fill(0n);
    if (r() < 0.3) times.fill(0n, 0, n - 1);
    const complete = r() < 0.9;
    const it = Math.floor(r() * 5);
    let seen = 0;
    times.forEach((t, j) => {
      if (t !== 0n) seen |= 1 << j;
    });
    const w = wordsOf(times[n - 1] as bigint);
    const want = ref.row(smp, times, complete, it);
    assert.equal(b.rowSeen(smp, 7, seen, n, complete, it, w.lo, w.hi), want);
    assert.equal(a.row(smp, 7, times, complete, it), want);
  }
  const { received, complete, missed, lostInPath, duplicates } = b.counters;
  assert.deepEqual({ received, complete, missed, lostInPath, duplicates }, ref.counters);
  assert.deepEqual(b.counters, a.counters);
  assert.ok(
    ref.counters.duplicates > 0 && ref.counters.missed > 0 && ref.counters.lostInPath > 0,
    "every counter exercised",
  );
});
