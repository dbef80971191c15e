/**
 * `svtrace export FILE --perfetto OUT.json` on a synthetic record (4 points, 2 streams, spikes): the file is
 * trace-event JSON by the format's rules (a traceEvents array; every event has name, ph, pid, tid; X has ts and
 * dur >= 0; i, s, t, f have ts; s/t/f have an id, every flow starts with one s and ends with one f; M names a
 * process or thread), every selected SV's points appear in order along its flow, the slowest SVs are all
 * selected and those over the threshold are marked slow; --svs all exports every SV.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { openRecordFile } from "../src/record/open.js";
import { writeSyntheticRecord } from "../src/record/synthetic.js";
import type { TraceEvent } from "../src/report/perfetto.js";
import { runCli } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "svt-perfetto-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function checkFormat(events: TraceEvent[]): Map<number, TraceEvent[]> {
  const flows = new Map<number, TraceEvent[]>();
  for (const e of events) {
    assert.equal(typeof e.name, "string");
    assert.ok(["X", "i", "s", "t", "f", "M"].includes(e.ph), `ph ${e.ph}`);
    assert.ok(Number.isInteger(e.pid) && Number.isInteger(e.tid));
    if (e.ph === "M") {
      assert.ok(["process_name", "thread_name"].includes(e.name));
      assert.equal(typeof (e.args as { name?: unknown }).name, "string");
      continue;
    }
    assert.ok(typeof e.ts === "number" && Number.isFinite(e.ts) && e.ts >= 0, JSON.stringify(e));
    if (e.ph === "X") assert.ok(typeof e.dur === "number" && e.dur >= 0);
    if (e.ph === "i") assert.ok(e.s === undefined || ["t", "p", "g"].includes(e.s));
    if (e.ph === "s" || e.ph === "t" || e.ph === "f") {
      assert.ok(Number.isInteger(e.id));
      const f = flows.get(e.id as number) ?? [];
      f.push(e);
      flows.set(e.id as number, f);
    }
  }
  for (const [id, f] of flows) {
    assert.equal(f[0].ph, "s", `flow ${id} starts with s`);
    assert.equal(f[f.length - 1].ph, "f", `flow ${id} ends with f`);
    assert.equal(f.filter((e) => e.ph === "s").length, 1);
    assert.equal(f.filter((e) => e.ph === "f").length, 1);
    for (let i = 1; i < f.length; i++)
      assert.ok((f[i].ts as number) >= (f[i - 1].ts as number), `flow ${id} ascending`);
    // each s/t step sits at the start of an X slice on the same track (the flow binds to it)
    for (const e of f.filter((x) => x.ph !== "f"))
      assert.ok(
        events.some((x) => x.ph === "X" && x.tid === e.tid && x.ts === e.ts),
        `flow ${id} step bound to a slice`,
      );
  }
  return flows;
}

test("export --perfetto: valid trace-event JSON, every selected SV a flow through its points in order", async () => {
  const rec = join(dir, "run.arrow");
  await writeSyntheticRecord(rec, "arrow", {
    rows: 20_000,
    streams: ["svA", "svB"],
    points: ["t1", "t2", "t3", "t4"],
    spikeFraction: 0.01,
    seed: 7,
  } as Parameters<typeof writeSyntheticRecord>[2]);
  const out = join(dir, "run.json");
  const r = runCli([
    "export",
    rec,
    "--perfetto",
    out,
    "--svs",
    "slowest=50,sample=30",
    "--threshold-us",
    "100",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(readFileSync(out, "utf8")) as { traceEvents: TraceEvent[] };
  assert.ok(Array.isArray(doc.traceEvents));
  const flows = checkFormat(doc.traceEvents);
  assert.equal(flows.size, 80);
  // tracks: one per segment and one for the last point, named
  const names = doc.traceEvents.filter((e) => e.ph === "M" && e.name === "thread_name").map((e) => e.tid);
  assert.deepEqual(names, [1, 2, 3, 4]);
  // each SV: X slices T1-T2, T2-T3, T3-T4 in order and contiguous, then the instant at T4
  const bySv = new Map<string, TraceEvent[]>();
  for (const e of doc.traceEvents.filter((x) => x.ph === "X" || x.ph === "i")) {
    const a = e.args as { svID: string; smpCnt: number; iteration: number };
    const k = `${a.svID}/${a.iteration}/${a.smpCnt}`;
    bySv.set(k, [...(bySv.get(k) ?? []), e]);
  }
  assert.equal(bySv.size, 80);
  for (const [k, evs] of bySv) {
    assert.deepEqual(
      evs.map((e) => `${e.ph}${e.tid}`),
      ["X1", "X2", "X3", "i4"],
      k,
    );
    for (let i = 1; i < evs.length; i++)
      assert.ok(
        Math.abs((evs[i].ts as number) - ((evs[i - 1].ts as number) + (evs[i - 1].dur ?? 0))) < 1e-6,
        k,
      );
  }
  // the 50 slowest of the record are all there; slow marking follows the threshold
  const totals: number[] = [];
  const input = openRecordFile(rec);
  for (const c of input.batches())
    for (let r2 = 0; r2 < c.length; r2++) totals.push(Number(c.t[3][r2] - c.t[0][r2]) / 1000);
  input.close();
  totals.sort((a, b) => b - a);
  const exported = [...bySv.values()].map((evs) => (evs[3].args as { total_us: number }).total_us);
  const cut = totals[49];
  assert.ok(exported.filter((v) => v >= cut).length >= 50);
  for (const evs of bySv.values()) {
    const a = evs[3].args as { total_us: number; slow: boolean };
    assert.equal(a.slow, a.total_us > 100);
    assert.equal(evs[0].name.startsWith("SLOW "), a.slow);
  }
  assert.ok(
    [...bySv.values()].some((evs) => (evs[3].args as { slow: boolean }).slow),
    "some SVs are slow",
  );

  const all = join(dir, "all.json");
  assert.equal(runCli(["export", rec, "--perfetto", all, "--svs", "all"]).code, 0);
  const docAll = JSON.parse(readFileSync(all, "utf8")) as { traceEvents: TraceEvent[] };
  assert.equal(checkFormat(docAll.traceEvents).size, 20_000);
  assert.equal(runCli(["export", rec, "--perfetto", all, "--svs", "slowest=x"]).code !== 0, true);
});
