/**
 * Text records: svtrace CSV (exact header, empty field = null, quoted svIDs) written and read back; the
 * original svtrace `results` file written and read; the format sniffed from the first bytes; several files
 * with the same points read as one; malformed lines fail with an error naming the file and the line.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { rowsOf } from "../src/record/columns.js";
import { CsvRecordReader, splitCsvLine } from "../src/record/csv-reader.js";
import { RecordFormatError, type RecordInput } from "../src/record/input.js";
import { LEGACY_STREAM, LegacyResultsReader } from "../src/record/legacy-reader.js";
import { openInputs, openRecordFile, sniffFormat } from "../src/record/open.js";
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

function write(name: string, text: string): string {
  const p = join(tmp.dir, name);
  writeFileSync(p, text);
  return p;
}

test("CSV: header exactly the column names, nulls as empty fields, quoted svIDs, read back identical", async () => {
  const path = join(tmp.dir, "rec.csv");
  const rows = makeRows({
    streams: ["svID0000", 'a,"b"', "é"],
    perStream: 30_000,
    points: 5,
    seed: 3,
    nullFraction: 0.02,
  });
  const w = openRecordWriter(path, "csv", meta(["t0", "t1", "t2", "t3", "t4"]));
  for (const r of rows) w.append(r);
  await w.close();
  const text = readFileSync(path, "utf8");
  const lines = text.split("\n");
  assert.equal(lines[0], "svID,appid,iteration,smpCnt,t0_ns,t1_ns,t2_ns,t3_ns,t4_ns");
  assert.match(text, /\n"a,""b""",16385,/);
  assert.match(text, /,,|,\n/, "a null is an empty field");
  assert.equal(sniffFormat(path), "csv");
  const reader = new CsvRecordReader(path);
  assert.deepEqual(
    reader.meta.points.map((p) => p.name),
    ["t0", "t1", "t2", "t3", "t4"],
  );
  const got = readAll(reader);
  assert.equal(got.length, rows.length);
  assert.deepEqual(got, rows);
  assert.deepEqual(splitCsvLine('"x,""y""",1,,2'), ['x,"y"', "1", "", "2"]);
  assert.equal(splitCsvLine('"open,1'), null);
});

test("CSV: malformed input names the file and the line", () => {
  const header = "svID,appid,iteration,smpCnt,t1_ns,t2_ns\n";
  const cases: [string, RegExp][] = [
    [
      `${header}svID0000,16384,0,1,100,200\nsvID0000,16384,0,2,100\n`,
      /bad1\.csv: line 3: 5 fields, the header has 6/,
    ],
    [`${header}svID0000,16384,0,1,100,abc\n`, /bad2\.csv: line 2: t2_ns "abc" is not a nanosecond count/],
    [`${header}svID0000,70000,0,1,100,200\n`, /bad3\.csv: line 2: appid "70000" is not 0\.\.65535/],
    [`${header}svID0000,1,x,1,100,200\n`, /bad4\.csv: line 2: iteration "x"/],
    [`${header}"svID0000,1,0,1,100,200\n`, /bad5\.csv: line 2: unterminated quote/],
    ["svID,appid,smpCnt,t1_ns\nx,1,1,1\n", /bad6\.csv: line 1: header "svID,appid,smpCnt,t1_ns" is not/],
  ];
  cases.forEach(([text, re], i) => {
    const p = write(`bad${i + 1}.csv`, text);
    assert.throws(
      () => readAll(openRecordFile(p)),
      (e: unknown) => e instanceof RecordFormatError && re.test(e.message),
      `case ${i + 1}`,
    );
  });
});

test("legacy results: one whole-µs latency per line, first to last point; read back as a two-point record", async () => {
  const path = join(tmp.dir, "results");
  const rows = makeRows({ streams: ["svID0000"], perStream: 2000, points: 3, seed: 5, nullFraction: 0.05 });
  const w = openRecordWriter(path, "legacy", meta(["t1", "t2", "t3"]));
  for (const r of rows) w.append(r);
  await w.close();
  const want = rows
    .filter((r) => r.t[0] !== null && r.t[2] !== null)
    .map((r) => String(((r.t[2] as bigint) - (r.t[0] as bigint)) / 1000n));
  assert.equal(readFileSync(path, "utf8"), `${want.join("\n")}\n`);
  assert.equal(sniffFormat(path), "legacy");
  const reader = new LegacyResultsReader(path);
  assert.equal(reader.identity, false);
  const got = readAll(reader);
  assert.equal(got.length, want.length);
  got.forEach((r, i) => {
    assert.equal(r.svID, LEGACY_STREAM);
    assert.equal(r.t[0], 0n);
    assert.equal(r.t[1], BigInt(want[i] as string) * 1000n);
  });
  // the original tool's own file: the "Attaching" line it sometimes left, blank lines
  const orig = write("orig-results", "Attaching 2 probes...\n12\n11\n\n14\n");
  assert.equal(sniffFormat(orig), "legacy");
  assert.deepEqual(
    readAll(openRecordFile(orig)).map((r) => r.t[1]),
    [12000n, 11000n, 14000n],
  );
  const bad = write("bad-results", "12\n11us\n");
  assert.throws(
    () => readAll(openRecordFile(bad)),
    /bad-results: line 2: "11us" is not a latency in whole microseconds/,
  );
});

test("format sniffing and file errors", async () => {
  assert.throws(() => sniffFormat(join(tmp.dir, "nope")), /nope: no such file/);
  assert.throws(() => sniffFormat(tmp.dir), /is a directory/);
  assert.throws(() => sniffFormat(write("empty", "")), /empty: line 1: empty file/);
  assert.throws(() => sniffFormat(write("junk.txt", "hello world\n")), /junk\.txt: line 1: unknown format/);
  assert.equal(sniffFormat(write("ts.txt", "0:svID0000:3999:1727698715978775\n")), "logger");
  const arrow = join(tmp.dir, "x.arrow");
  const w = openRecordWriter(arrow, "arrow", meta(["t1", "t2"]));
  await w.close();
  assert.equal(sniffFormat(arrow), "arrow");
  assert.throws(() => openInputs({ files: [] }), /no input/);
});

test("several files with the same points are read back to back as one record", async () => {
  const rows = makeRows({ streams: ["svID0000", "svID0001"], perStream: 500, points: 2, seed: 11 });
  const a = join(tmp.dir, "part1.arrow");
  const b = join(tmp.dir, "part2.csv");
  const wa = openRecordWriter(a, "arrow", meta(["t1", "t2"]));
  for (const r of rows.slice(0, 400)) wa.append(r);
  await wa.close();
  const wb = openRecordWriter(b, "csv", meta(["t1", "t2"]));
  for (const r of rows.slice(400)) wb.append(r);
  await wb.close();
  const both = openInputs({ files: [a, b] });
  assert.equal(both.path, `${a} + ${b}`);
  assert.deepEqual(readAll(both), rows);
});
