/**
 * sv_timestamp_logger files (`iteration:svID:smpCnt:timestamp_us`) and joins per SV on (svID, iteration,
 * smpCnt): publisher/hypervisor/subscriber files with missing, duplicated and reordered SVs across the smpCnt
 * wrap; the old format without iteration; a hypervisor record joined with a VM record; a small join window;
 * malformed lines named by file and line.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { rowsOf } from "../src/record/columns.js";
import type { RecordInput } from "../src/record/input.js";
import { JoinedRecords } from "../src/record/join.js";
import { TimestampLoggerReader } from "../src/record/logger-reader.js";
import { LOGGER_POINTS, openInputs } from "../src/record/open.js";
import type { SvRow } from "../src/record/schema.js";
import { openRecordWriter } from "../src/record/writer.js";
import { makeRows, meta, tempDir } from "./report-fixtures.js";

const tmp = tempDir();
after(() => tmp.cleanup());

function readAll(input: RecordInput): SvRow[] {
  const out: SvRow[] = [];
  try {
    for (const b of input.batches()) out.push(...rowsOf(b));
  } finally {
    input.close();
  }
  return out;
}

const key = (r: { svID: string; iteration: number; smpCnt: number }) =>
  `${r.svID}/${r.iteration}/${r.smpCnt}`;

interface LogLine {
  svID: string;
  iteration: number;
  smpCnt: number;
  us: number;
}

function logText(lines: LogLine[], drop?: number): string {
  return `${lines.map((l) => `${l.iteration}:${l.svID}:${l.smpCnt}:${l.us}`).join("\n")}\n${drop === undefined ? "" : `SV drop: ${drop}\n`}`;
}

/** 2 streams x 9000 SVs at 4000/s (two wraps), publisher times in µs */
function published(): LogLine[] {
  const out: LogLine[] = [];
  const t0 = 1_727_698_715_000_000;
  for (let k = 0; k < 9000; k++)
    for (const [s, svID] of ["svID0000", "svID0001"].entries())
      out.push({ svID, iteration: Math.floor(k / 4000), smpCnt: k % 4000, us: t0 + k * 250 + s * 3 });
  return out;
}

test("pub/hyp/sub logger files are joined per SV, with missing, duplicated and reordered SVs across the wrap", () => {
  const pub = published();
  const hyp = pub.map((l) => ({ ...l, us: l.us + 20 + (l.smpCnt % 7) }));
  const sub = hyp.map((l) => ({ ...l, us: l.us + 30 + (l.smpCnt % 5) }));
  // hypervisor misses 3 SVs; the subscriber misses another, duplicates two and sees the wrap out of order
  const missingHyp = new Set(["svID0000/0/100", "svID0001/1/3999", "svID0000/2/0"]);
  const hypLines = hyp.filter((l) => !missingHyp.has(key(l)));
  const subLines = sub.filter((l) => key(l) !== "svID0001/0/2000");
  subLines.splice(500, 0, { ...(subLines[499] as LogLine) });
  subLines.push({ ...(subLines[10] as LogLine) }); // a late duplicate, long after its SV was joined
  const wrapAt = subLines.findIndex((l) => l.svID === "svID0000" && l.iteration === 1 && l.smpCnt === 0);
  const last = subLines[wrapAt - 2] as LogLine; // svID0000 0/3999
  assert.equal(key(last), "svID0000/0/3999");
  subLines.splice(wrapAt - 2, 1);
  subLines.splice(wrapAt + 3, 0, last); // arrives after 1/0 and 1/1
  const fp = join(tmp.dir, "ts_pub.txt");
  const fh = join(tmp.dir, "ts_hyp.txt");
  const fs = join(tmp.dir, "ts_vm.txt");
  writeFileSync(fp, logText(pub));
  writeFileSync(fh, logText(hypLines, 3));
  writeFileSync(fs, logText(subLines));
  const input = openInputs({ files: [], pub: fp, hyp: fh, sub: fs });
  assert.ok(input instanceof JoinedRecords);
  assert.deepEqual(
    input.meta.points.map((p) => p.name),
    ["t0", "t1", "t4"],
  );
  const rows = readAll(input);
  assert.equal(rows.length, pub.length, "one row per published SV, none invented by duplicates");
  const byKey = new Map(rows.map((r) => [key(r), r]));
  assert.equal(byKey.size, rows.length, "no SV twice");
  const usOf = (list: LogLine[]) => new Map(list.map((l) => [key(l), BigInt(l.us) * 1000n]));
  const P = usOf(pub);
  const H = usOf(hypLines);
  const S = usOf(sub.filter((l) => key(l) !== "svID0001/0/2000"));
  for (const [k, r] of byKey) {
    assert.equal(r.t[0], P.get(k) ?? null, `${k} t0`);
    assert.equal(r.t[1], H.get(k) ?? null, `${k} t1`);
    assert.equal(r.t[2], S.get(k) ?? null, `${k} t4`);
  }
  assert.equal(byKey.get("svID0000/0/100")?.t[1], null);
  assert.equal(byKey.get("svID0001/0/2000")?.t[2], null);
  assert.notEqual(byKey.get("svID0000/0/3999")?.t[2], null, "the reordered SV is matched");
  assert.deepEqual(
    input.stats.map((s) => [s.rows, s.duplicates, s.missing]),
    [
      [18000, 0, 0],
      [17997, 0, 3],
      [18001, 2, 1],
    ],
  );
});

test("old logger format (svID:smpCnt:timestamp) gets its iteration from the smpCnt wraps", () => {
  const lines = published().filter((l) => l.svID === "svID0000");
  const old = join(tmp.dir, "old.txt");
  writeFileSync(old, `${lines.map((l) => `${l.svID}:${l.smpCnt}:${l.us}`).join("\n")}\n`);
  const got = readAll(new TimestampLoggerReader(old, LOGGER_POINTS.sub));
  assert.deepEqual(
    got.map((r) => [r.iteration, r.smpCnt]),
    lines.map((l) => [l.iteration, l.smpCnt]),
  );
  // an svID holding ':' survives in the new format
  const colon = join(tmp.dir, "colon.txt");
  writeFileSync(colon, "3:MU:01:A:17:1727698715978775\n");
  const [r] = readAll(new TimestampLoggerReader(colon, LOGGER_POINTS.pub));
  assert.deepEqual([r?.iteration, r?.svID, r?.smpCnt, r?.t[0]], [3, "MU:01:A", 17, 1727698715978775000n]);
});

test("malformed logger lines are named by file and line", () => {
  const bad = join(tmp.dir, "bad_ts.txt");
  writeFileSync(bad, "0:svID0000:1:1727698715978775\n0:svID0000:x:1727698715978800\n");
  assert.throws(
    () => readAll(new TimestampLoggerReader(bad, LOGGER_POINTS.pub)),
    /bad_ts\.txt: line 2: smpCnt "x"/,
  );
  const bad2 = join(tmp.dir, "bad2_ts.txt");
  writeFileSync(bad2, "0:svID0000:1:1727698715978775\ngarbage\n");
  assert.throws(
    () => readAll(new TimestampLoggerReader(bad2, LOGGER_POINTS.sub)),
    /bad2_ts\.txt: line 2: "garbage" is not/,
  );
  const bad3 = join(tmp.dir, "bad3_ts.txt");
  writeFileSync(bad3, "0:svID0000:1:17276987159787.5\n");
  assert.throws(
    () => readAll(new TimestampLoggerReader(bad3, LOGGER_POINTS.sub)),
    /bad3_ts\.txt: line 1: timestamp/,
  );
});

test("a hypervisor record (t1, t2) and a VM record (t3, t4) are joined; a shared point name is renamed", async () => {
  const rows = makeRows({
    streams: ["svID0001", "svID0010", "svID0100"],
    perStream: 3000,
    points: 4,
    seed: 21,
  });
  const hyp = join(tmp.dir, "hyp.arrow");
  const vm = join(tmp.dir, "vm.csv");
  const wh = openRecordWriter(hyp, "arrow", meta(["t1", "t2"]), { maxBatchRows: 700 });
  const wv = openRecordWriter(vm, "csv", meta(["t3", "t4"]));
  // the VM record misses some SVs and has them in a different order
  const vmRows = rows.filter((_, i) => i % 101 !== 0).reverse();
  for (const r of rows) wh.append({ ...r, t: r.t.slice(0, 2) });
  for (const r of vmRows) wv.append({ ...r, t: r.t.slice(2) });
  await wh.close();
  await wv.close();
  const joined = openInputs({ files: [vm, hyp], join: { window: 4000 } });
  assert.deepEqual(
    joined.meta.points.map((p) => p.name),
    ["t1", "t2", "t3", "t4"],
  );
  const got = new Map(readAll(joined).map((r) => [key(r), r]));
  assert.equal(got.size, rows.length);
  rows.forEach((r, i) => {
    const g = got.get(key(r));
    assert.ok(g, key(r));
    assert.deepEqual(g.t, i % 101 === 0 ? [r.t[0], r.t[1], null, null] : r.t, key(r));
    assert.equal(g.appid, r.appid);
  });
  // same point names in both inputs: the second gets a suffix
  const hyp2 = join(tmp.dir, "hyp2.arrow");
  const w2 = openRecordWriter(hyp2, "arrow", meta(["t1", "t3"]));
  for (const r of rows.slice(0, 10)) w2.append({ ...r, t: [r.t[0] ?? null, r.t[2] ?? null] });
  await w2.close();
  const j2 = openInputs({ files: [hyp, hyp2] });
  assert.deepEqual(
    j2.meta.points.map((p) => p.name),
    ["t1", "t1b", "t2", "t3"],
  );
  j2.close();
});

test("a small join window still pairs nearby SVs and gives up on the missing ones (bounded memory)", () => {
  const pub = published();
  const sub = pub.filter((_, i) => i % 3 !== 0).map((l) => ({ ...l, us: l.us + 40 }));
  const fp = join(tmp.dir, "w_pub.txt");
  const fs = join(tmp.dir, "w_sub.txt");
  writeFileSync(fp, logText(pub));
  writeFileSync(fs, logText(sub));
  const input = openInputs({ files: [], pub: fp, sub: fs, join: { window: 16 } });
  const rows = readAll(input);
  assert.equal(rows.length, pub.length);
  const complete = rows.filter((r) => r.t[1] !== null);
  assert.equal(complete.length, sub.length);
  for (const r of complete) assert.equal((r.t[1] as bigint) - (r.t[0] as bigint), 40_000n);
});
