/**
 * smpCnt continuity tracker: synthetic sequences for every event kind, and the counts of every shared capture's
 * reference decode (tshark) against its summary.json.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import {
  inferModulus,
  KNOWN_MODULI,
  modulusForRate,
  nominalRateForModulus,
  REORDER_WINDOW,
  SmpCntTracker,
} from "../src/streams/continuity.js";
import { capturesDir } from "./helpers.js";

function feed(t: SmpCntTracker, counts: number[]) {
  return counts.map((c) => t.push(c));
}

describe("SmpCntTracker on synthetic sequences", () => {
  test("plain run and wrap at a given modulus", () => {
    const t = new SmpCntTracker(4000);
    const ev = feed(t, [3997, 3998, 3999, 0, 1]);
    assert.deepEqual(
      ev.map((e) => e.kind),
      ["first", "next", "next", "wrap", "next"],
    );
    assert.deepEqual(
      ev.map((e) => e.iteration),
      [0, 0, 0, 1, 1],
    );
    assert.deepEqual(t.counts(), {
      received: 5,
      missing: 0,
      gaps: 0,
      duplicates: 0,
      outOfOrder: 0,
      wraps: 1,
      invalid: 0,
    });
  });

  test("a gap across the wrap is counted once: 3999 -> 2 is 2 missing at 4000", () => {
    const t = new SmpCntTracker(4000);
    const ev = feed(t, [3998, 3999, 2, 3]);
    assert.equal(ev[2].kind, "wrap");
    assert.equal(ev[2].missing, 2);
    assert.equal(t.missing, 2);
    assert.equal(t.gaps, 1);
    assert.equal(t.wraps, 1);
  });

  test("gap, then a late sample fills it (out-of-order, missing decreases), then a real duplicate", () => {
    const t = new SmpCntTracker(4000);
    const ev = feed(t, [10, 11, 14, 12, 12, 14, 15]);
    assert.deepEqual(
      ev.map((e) => e.kind),
      ["first", "next", "gap", "out-of-order", "duplicate", "duplicate", "next"],
    );
    assert.equal(ev[2].missing, 2);
    assert.equal(t.missing, 1, "13 is still missing, 12 arrived late");
    assert.equal(t.gaps, 1);
    assert.equal(t.outOfOrder, 1);
    assert.equal(t.duplicates, 2);
  });

  test("a late sample from before the wrap keeps its own iteration", () => {
    const t = new SmpCntTracker(4000);
    const ev = feed(t, [3998, 0, 3999, 1]);
    assert.equal(ev[1].kind, "wrap");
    assert.equal(ev[1].missing, 1);
    assert.equal(ev[2].kind, "out-of-order");
    assert.equal(ev[2].iteration, 0);
    assert.equal(ev[3].iteration, 1);
    assert.equal(t.missing, 0);
  });

  test("modulus inferred at the first wrap from the largest counter seen", () => {
    const t = new SmpCntTracker();
    assert.equal(t.modulus, undefined);
    feed(t, [4790, 4791, 4799]);
    assert.equal(t.likelyModulus, 4800);
    const e = t.push(0);
    assert.equal(e.kind, "wrap");
    assert.equal(t.modulus, 4800);
    assert.equal(t.modulusInferred, true);
    assert.equal(t.missing, 7, "4792..4798 missing");
    assert.equal(t.gaps, 1);
  });

  test("libiec61850 16-bit counter wraps at 65536", () => {
    const t = new SmpCntTracker();
    feed(t, [65534, 65535, 0]);
    assert.equal(t.modulus, 65536);
    assert.equal(t.wraps, 1);
    assert.equal(t.missing, 0);
  });

  test("counter beyond an explicit modulus is invalid; beyond an inferred one re-infers", () => {
    const t = new SmpCntTracker(4000);
    t.push(1);
    assert.equal(t.push(4000).kind, "invalid");
    assert.equal(t.invalid, 1);
    const u = new SmpCntTracker();
    feed(u, [3999, 0, 1]);
    assert.equal(u.modulus, 4000);
    u.push(4500);
    assert.equal(u.modulus, 4800);
    assert.throws(() => new SmpCntTracker(1), RangeError);
  });

  test("a far backward jump (publisher restart) is a wrap plus a gap, not thousands of late samples", () => {
    const t = new SmpCntTracker(4000);
    feed(t, [2000, 2001, 5, 6]);
    assert.equal(t.wraps, 1);
    assert.equal(t.missing, 4000 - 2002 + 5);
    assert.equal(t.outOfOrder, 0);
  });

  test("window is bounded: a sample older than the reorder window is not matched against stale marks", () => {
    const t = new SmpCntTracker(65536);
    for (let i = 0; i < 5000; i++) t.push(i);
    assert.equal(t.missing, 0);
    assert.equal(t.push(4990).kind, "duplicate");
    assert.equal(
      t.push(100).kind,
      "wrap",
      "5000 samples back is outside the window: taken as a forward jump",
    );
  });

  test("an outage that skips most of a cycle is one gap, not a run of late samples", () => {
    const t = new SmpCntTracker(4000);
    for (let c = 400; c <= 500; c++) t.push(c);
    const e = t.push(3500); // 750 ms lost at 4000 samples/s: 1000 "behind" or 2999 ahead
    assert.equal(e.kind, "gap");
    assert.equal(e.missing, 2999);
    for (let c = 3501; c < 4000; c++) assert.equal(t.push(c).kind, "next");
    assert.equal(t.push(0).kind, "wrap");
    assert.equal(t.duplicates, 0);
    assert.equal(t.outOfOrder, 0);
    assert.equal(t.missing, 2999);
  });

  test("late by up to REORDER_WINDOW - 1 is out-of-order; deeper is a jump forward", () => {
    const t = new SmpCntTracker(65536);
    t.push(1000);
    t.push(1000 + REORDER_WINDOW + 10);
    assert.equal(t.push(1000 + 11).kind, "out-of-order");
    const u = new SmpCntTracker(65536);
    u.push(1000);
    u.push(1000 + REORDER_WINDOW + 10);
    assert.equal(u.push(1000 + 9).kind, "wrap");
  });

  test("rate helpers", () => {
    assert.equal(modulusForRate(4000), 4000);
    assert.equal(modulusForRate(4000.5), undefined);
    assert.equal(inferModulus(3999), 4000);
    assert.equal(inferModulus(4000), 4800);
    assert.equal(inferModulus(12799), 12800);
    assert.equal(inferModulus(15359), 15360);
    assert.equal(inferModulus(20000), 65536);
    for (const m of KNOWN_MODULI) assert.ok(nominalRateForModulus(m), `label for ${m}`);
    assert.equal(nominalRateForModulus(12800)?.samplesPerCycle, 256);
    assert.equal(nominalRateForModulus(4800)?.frequencyHz, 60);
  });
});

interface RefRecord {
  frame: number;
  src: string | null;
  dst: string | null;
  vlan_id: number | null;
  appid: number | null;
  svID?: string | null;
  smpCnt?: number | null;
}
interface Summary {
  smpCnt_wraps_count: number;
  smpCnt_gaps_count: number;
  smpCnt_repeats_count: number;
  smpCnt_wraps: { frame: number; svID: string; prev: number; cur: number }[];
  smpCnt_gaps: { frame: number; svID: string; prev: number; cur: number }[];
}

describe("SmpCntTracker reproduces every capture's summary.json (fed tshark's reference smpCnt values)", () => {
  const names = readdirSync(capturesDir).filter((n) => n.endsWith(".summary.json"));
  test("captures present", () => assert.ok(names.length >= 10, `found ${names.length} summaries`));
  for (const name of names) {
    const stem = name.replace(/\.summary\.json$/, "");
    test(stem, () => {
      const summary = JSON.parse(readFileSync(join(capturesDir, name), "utf8")) as Summary;
      const lines = gunzipSync(readFileSync(join(capturesDir, `${stem}.ref.jsonl.gz`)))
        .toString("utf8")
        .split("\n")
        .filter((l) => l.length > 0);
      const trackers = new Map<string, SmpCntTracker>();
      const wraps: { frame: number; svID: string; prev: number; cur: number }[] = [];
      const gaps: typeof wraps = [];
      for (const line of lines) {
        const r = JSON.parse(line) as RefRecord;
        if (r.smpCnt == null || r.svID == null) continue;
        const key = JSON.stringify([r.svID, r.appid, r.src, r.dst, r.vlan_id]);
        let t = trackers.get(key);
        if (!t) {
          t = new SmpCntTracker();
          trackers.set(key, t);
        }
        const e = t.push(r.smpCnt);
        if (e.kind === "wrap") wraps.push({ frame: r.frame, svID: r.svID, prev: e.previous!, cur: r.smpCnt });
        else if (e.kind === "gap")
          gaps.push({ frame: r.frame, svID: r.svID, prev: e.previous!, cur: r.smpCnt });
      }
      let w = 0;
      let g = 0;
      let d = 0;
      for (const t of trackers.values()) {
        w += t.wraps;
        g += t.gaps;
        d += t.duplicates;
      }
      assert.equal(w, summary.smpCnt_wraps_count, "wraps");
      assert.equal(g, summary.smpCnt_gaps_count, "gaps");
      assert.equal(d, summary.smpCnt_repeats_count, "repeats");
      assert.deepEqual(wraps.slice(0, 50), summary.smpCnt_wraps);
      assert.deepEqual(gaps.slice(0, 50), summary.smpCnt_gaps);
    });
  }
});
