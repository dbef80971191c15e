/**
 * The CSV reader's byte-level parser on edge cases, each checked against values written out by hand:
 * empty fields = null, quoted svIDs (as the CSV writer quotes them), CRLF, blank lines, a last line without
 * a newline, int64 timestamps beyond 2^53 kept exact (both ends of the range), values outside int64 and
 * malformed fields rejected naming the line, lines split across the reader's 4 MiB blocks and batches.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { rowsOf } from "../src/record/columns.js";
import { CsvRecordReader } from "../src/record/csv-reader.js";
import { RecordFormatError } from "../src/record/input.js";
import type { SvRow } from "../src/record/schema.js";
import { tempDir } from "./report-fixtures.js";

const tmp = tempDir();
after(() => tmp.cleanup());
const HEADER = "svID,appid,iteration,smpCnt,t0_ns,t1_ns,t2_ns";
let n = 0;

function read(text: string): SvRow[] {
  const p = join(tmp.dir, `p${n++}.csv`);
  writeFileSync(p, text);
  const reader = new CsvRecordReader(p);
  const out: SvRow[] = [];
  try {
    for (const b of reader.batches()) out.push(...rowsOf(b));
  } finally {
    reader.close();
  }
  return out;
}

const row = (
  svID: string,
  appid: number,
  iteration: number,
  smpCnt: number,
  t: (bigint | null)[],
): SvRow => ({
  svID,
  appid,
  iteration,
  smpCnt,
  t,
});

test("CSV parser: empty fields are null, anywhere in the line, last one included", () => {
  const rows = read(`${HEADER}\na,1,2,3,,20,\nb,4,5,6,10,,30\nc,7,8,9,,,\n`);
  assert.deepEqual(rows, [
    row("a", 1, 2, 3, [null, 20n, null]),
    row("b", 4, 5, 6, [10n, null, 30n]),
    row("c", 7, 8, 9, [null, null, null]),
  ]);
});

test("CSV parser: quoted svIDs (comma, quote, non-ASCII) as the writer quotes them, mixed with plain ones", () => {
  const rows = read(
    `${HEADER}\n"x,""y""",1,0,1,10,20,30\nplain,2,0,2,11,21,31\n"é",3,0,3,12,22,32\n"plain",2,0,4,1,2,3\n`,
  );
  assert.deepEqual(
    rows.map((r) => [r.svID, r.smpCnt]),
    [
      ['x,"y"', 1],
      ["plain", 2],
      ["é", 3],
      ["plain", 4],
    ],
  );
  assert.deepEqual(rows[0]?.t, [10n, 20n, 30n]);
});

test("CSV parser: CRLF line ends, blank lines and a last line without a newline", () => {
  const crlf = read(`${HEADER}\r\na,1,0,1,10,20,30\r\n\r\nb,1,0,2,11,,31\r\nc,1,0,3,12,22,`);
  assert.deepEqual(
    crlf.map((r) => [r.svID, r.t]),
    [
      ["a", [10n, 20n, 30n]],
      ["b", [11n, null, 31n]],
      ["c", [12n, 22n, null]],
    ],
  );
  const noNl = read(`${HEADER}\na,1,0,1,10,20,30\n\nb,1,0,2,11,21,31`);
  assert.deepEqual(noNl[1]?.t, [11n, 21n, 31n]);
  const crEnd = read(`${HEADER}\na,1,0,1,10,20,30\r`);
  assert.deepEqual(crEnd[0]?.t, [10n, 20n, 30n]);
});

test("CSV parser: nanosecond counts beyond 2^53 and at both ends of int64 are exact", () => {
  const vals = [
    9007199254740993n, // 2^53 + 1
    1795651200000000001n,
    9223372036854775807n, // int64 max
    -9223372036854775808n, // int64 min
    -1n,
    -4294967296n,
    4294967295n,
    4294967296n,
    0n,
    123456789012345n, // 15 digits
    1234567890123456n, // 16 digits
    -1795651200000060710n,
  ];
  const lines = vals.map((v, i) => `s,1,0,${i},${v},${v},000${v < 0n ? "1" : v}`);
  const rows = read(`${HEADER}\n${lines.join("\n")}\n`);
  rows.forEach((r, i) => {
    const v = vals[i] as bigint;
    assert.deepEqual(r.t, [v, v, v < 0n ? 1n : v], `row ${i}`);
  });
});

test("CSV parser: malformed fields and values outside int64 fail naming the line", () => {
  const cases: [string, RegExp][] = [
    ["s,1,0,1,10,20,9223372036854775808", /line 3: t2_ns "9223372036854775808" is outside the 64-bit range/],
    [
      "s,1,0,1,-9223372036854775809,20,30",
      /line 3: t0_ns "-9223372036854775809" is outside the 64-bit range/,
    ],
    ["s,1,0,1,10,20,12345678901234567890123", /line 3: t2_ns "12345678901234567890123" is outside/],
    ["s,1,0,1,10,-,30", /line 3: t1_ns "-" is not a nanosecond count/],
    ["s,1,0,1,10,2 0,30", /line 3: t1_ns "2 0" is not a nanosecond count/],
    ["s,1,0,1,10,20,30,40", /line 3: 8 fields, the header has 7/],
    ["s,1,0,1,10,20", /line 3: 6 fields, the header has 7/],
    ["s,65536,0,1,10,20,30", /line 3: appid "65536" is not 0\.\.65535/],
    ["s,1,4294967296,1,10,20,30", /line 3: iteration "4294967296" is not a whole number/],
    ["s,1,0,-1,10,20,30", /line 3: smpCnt "-1" is not a whole number/],
    ['"s,1,0,1,10,20,30', /line 3: unterminated quote/],
  ];
  for (const [line, re] of cases)
    assert.throws(
      () => read(`${HEADER}\n\n${line}\n`),
      (e: unknown) => e instanceof RecordFormatError && re.test(e.message),
      line,
    );
});

test("CSV parser: lines across 4 MiB blocks and 65536-row batches keep every value", () => {
  // long svIDs make lines straddle the block boundaries at varying offsets
  const nRows = 150_000;
  const parts = [HEADER];
  for (let i = 0; i < nRows; i++) {
    const t0 = 1795651200000000000n + BigInt(i) * 125000n;
    const nul = i % 7919 === 0;
    parts.push(
      `sv${i % 3}${"x".repeat(i % 50)},${i % 65536},${i >> 12},${i},${t0},${nul ? "" : t0 + 28000n},${t0 + 40001n}`,
    );
  }
  const rows = read(`${parts.join("\n")}\n`);
  assert.equal(rows.length, nRows);
  for (const i of [0, 1, 65535, 65536, 77777, 131072, nRows - 1]) {
    const r = rows[i] as SvRow;
    const t0 = 1795651200000000000n + BigInt(i) * 125000n;
    assert.equal(r.svID, `sv${i % 3}${"x".repeat(i % 50)}`);
    assert.deepEqual([r.appid, r.iteration, r.smpCnt], [i % 65536, i >> 12, i]);
    assert.deepEqual(r.t, [t0, i % 7919 === 0 ? null : t0 + 28000n, t0 + 40001n]);
  }
  assert.equal(rows.filter((r) => r.t[1] === null).length, Math.ceil(nRows / 7919));
});
