/**
 * Arrow IPC stream records: write -> read round trip (nulls, several batches, metadata, odd svIDs), the file
 * is standard Arrow (apache-arrow reads it), a file truncated mid-batch gives every complete batch and says
 * so, a writer killed with SIGKILL leaves a readable file, and malformed files fail naming the file.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { RecordBatchFileWriter, RecordBatchStreamWriter, tableFromArrays, tableFromIPC } from "apache-arrow";
import { ArrowRecordReader } from "../src/record/arrow-reader.js";
import { rowsOf } from "../src/record/columns.js";
import { RecordFormatError } from "../src/record/input.js";
import { openRecordFile } from "../src/record/open.js";
import type { SvRow } from "../src/record/schema.js";
import { openRecordWriter } from "../src/record/writer.js";
import { tracerCost } from "../src/trace/bpf-cost.js";
import { makeRows, meta, tempDir } from "./report-fixtures.js";

const tmp = tempDir();
after(() => tmp.cleanup());

function readAll(path: string): { rows: SvRow[]; reader: ArrowRecordReader; batches: number } {
  const reader = new ArrowRecordReader(path);
  const rows: SvRow[] = [];
  let batches = 0;
  try {
    for (const b of reader.batches()) {
      batches++;
      rows.push(...rowsOf(b));
    }
  } finally {
    reader.close();
  }
  return { rows, reader, batches };
}

test("round trip: rows, nulls, several batches, metadata; apache-arrow reads the same values", async () => {
  const path = join(tmp.dir, "rt.arrow");
  const rows = makeRows({
    streams: ["svID0001", 'sv,"odd" é', "x"],
    perStream: 3000,
    points: 5,
    seed: 7,
    nullFraction: 0.05,
  });
  rows.push({
    svID: "allnull",
    appid: 65535,
    iteration: 4294967295,
    smpCnt: 65535,
    t: [null, null, null, null, null],
  });
  const m = meta(["t0", "t1", "t2", "t3", "t4"]);
  const w = openRecordWriter(path, "arrow", m, { maxBatchRows: 2048 });
  rows.slice(0, 100).forEach((r) => {
    w.append(r);
  });
  w.flush();
  rows.slice(100).forEach((r) => {
    w.append(r);
  });
  await w.close();
  assert.equal(w.rows, rows.length);
  assert.ok(w.batches >= 5, `${w.batches} batches`);
  const got = readAll(path);
  assert.equal(got.batches, w.batches);
  assert.deepEqual(got.rows, rows);
  assert.deepEqual(got.reader.warnings, []);
  assert.deepEqual(got.reader.meta, m);
  assert.equal(got.reader.hasMeta, true);
  // the standard library agrees: column names, types, nulls, metadata
  const table = tableFromIPC(readFileSync(path));
  assert.deepEqual(
    table.schema.fields.map((f) => `${f.name}:${f.type}:${f.nullable}`),
    [
      "svID:Utf8:false",
      "appid:Uint16:false",
      "iteration:Uint32:false",
      "smpCnt:Uint32:false",
      ...["t0", "t1", "t2", "t3", "t4"].map((p) => `${p}_ns:Int64:true`),
    ],
  );
  assert.deepEqual(JSON.parse(table.schema.metadata.get("svtrace") as string), m);
  assert.equal(table.numRows, rows.length);
  const i = rows.findIndex((r) => r.t[2] === null);
  assert.ok(i >= 0);
  assert.equal(table.getChild("t2_ns")?.get(i), null);
  assert.equal(table.getChild("t1_ns")?.get(i), rows[i]?.t[1]);
  assert.equal(table.getChild("svID")?.get(1), rows[1]?.svID);
});

test("an empty record still carries its schema and metadata", async () => {
  const path = join(tmp.dir, "empty.arrow");
  const w = openRecordWriter(path, "arrow", meta(["t1", "t2"]));
  await w.close();
  const got = readAll(path);
  assert.equal(got.rows.length, 0);
  assert.deepEqual(
    got.reader.meta.points.map((p) => p.name),
    ["t1", "t2"],
  );
  assert.deepEqual(got.reader.warnings, []);
});

test("a file cut mid-batch yields every complete batch, then says where it was truncated", async () => {
  const path = join(tmp.dir, "cut.arrow");
  const rows = makeRows({ streams: ["svID0000"], perStream: 5000, points: 3, seed: 9 });
  const w = openRecordWriter(path, "arrow", meta(["t1", "t2", "t3"]), { maxBatchRows: 1000 });
  const sizes: number[] = [];
  for (let b = 0; b < 5; b++) {
    rows.slice(b * 1000, b * 1000 + 1000).forEach((r) => {
      w.append(r);
    });
    sizes.push(readFileSync(path).byteLength);
  }
  await w.close();
  // cut in the middle of the 4th batch
  truncateSync(path, Math.floor(((sizes[2] as number) + (sizes[3] as number)) / 2));
  const got = readAll(path);
  assert.equal(got.rows.length, 3000);
  assert.deepEqual(got.rows, rows.slice(0, 3000));
  assert.equal(got.reader.warnings.length, 1);
  assert.match(
    got.reader.warnings[0] as string,
    /truncated in batch 4 .* read the 3 complete batches \(3000 rows\)/,
  );
  assert.match(got.reader.warnings[0] as string, /cut\.arrow/);
  // cut exactly after a batch: no end-of-stream marker
  truncateSync(path, sizes[1] as number);
  const two = readAll(path);
  assert.equal(two.rows.length, 2000);
  assert.match(two.reader.warnings[0] as string, /no end-of-stream marker after batch 2/);
});

test("a writer killed with SIGKILL leaves every flushed batch readable", async () => {
  const path = join(tmp.dir, "killed.arrow");
  const writerJs = fileURLToPath(new URL("../src/record/writer.js", import.meta.url));
  const code = `
    import { openRecordWriter } from ${JSON.stringify(writerJs)};
    const w = openRecordWriter(${JSON.stringify(path)}, "arrow", ${JSON.stringify(meta(["t1", "t2"]))}, { flushIntervalMs: 50 });
    let n = 0;
    setInterval(() => {
      for (let i = 0; i < 400; i++, n++) w.append({ svID: "svID0000", appid: 16384, iteration: Math.floor(n / 4000), smpCnt: n % 4000, t: [BigInt(n) * 250000n, BigInt(n) * 250000n + 30000n] });
      if (w.batches >= 4) process.stdout.write("flushed " + w.batches + "\\n");
    }, 20);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d: Buffer) => {
    err += d;
  });
  const flushed = await new Promise<boolean>((res) => {
    const timer = setTimeout(() => res(false), 20_000);
    child.stdout.on("data", (d: Buffer) => {
      if (/flushed/.test(String(d))) {
        clearTimeout(timer);
        res(true);
      }
    });
    child.on("exit", () => res(false));
  });
  try {
    assert.ok(flushed, `writer child did not flush: ${err}`);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await new Promise((r) =>
      child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r),
    );
  }
  assert.equal(child.signalCode, "SIGKILL");
  const got = readAll(path);
  assert.ok(got.rows.length >= 4 * 100, `${got.rows.length} rows read back`);
  got.rows.forEach((r, i) => {
    assert.equal(r.smpCnt, i % 4000);
    assert.equal((r.t[1] as bigint) - (r.t[0] as bigint), 30000n);
  });
  assert.equal(got.reader.warnings.length, 1, "a killed run has no end-of-stream marker (or a cut batch)");
});

test("records written by other Arrow writers (uint16 smpCnt, no svtrace metadata) are read", () => {
  const path = join(tmp.dir, "foreign.arrow");
  const t = tableFromArrays({
    svID: ["a", "b", "a"],
    appid: Uint16Array.from([1, 2, 1]),
    iteration: Uint32Array.from([0, 0, 1]),
    smpCnt: Uint16Array.from([3999, 5, 0]),
    t1_ns: BigInt64Array.from([10n, 20n, 30n]),
    t2_ns: BigInt64Array.from([15n, 26n, 37n]),
  });
  writeFileSync(path, RecordBatchStreamWriter.writeAll(t).toUint8Array(true));
  const got = readAll(path);
  assert.equal(got.reader.hasMeta, false);
  assert.deepEqual(
    got.rows.map((r) => [r.svID, r.appid, r.iteration, r.smpCnt, r.t]),
    [
      ["a", 1, 0, 3999, [10n, 15n]],
      ["b", 2, 0, 5, [20n, 26n]],
      ["a", 1, 1, 0, [30n, 37n]],
    ],
  );
});

test("malformed Arrow input fails with an error naming the file", () => {
  const garbage = join(tmp.dir, "garbage.arrow");
  writeFileSync(
    garbage,
    Buffer.from([
      0xff, 0xff, 0xff, 0xff, 0x10, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    ]),
  );
  assert.throws(
    () => new ArrowRecordReader(garbage),
    (e: unknown) => e instanceof RecordFormatError && e.message.includes(garbage),
  );
  const fileFormat = join(tmp.dir, "file-format.arrow");
  writeFileSync(
    fileFormat,
    RecordBatchFileWriter.writeAll(
      tableFromArrays({ svID: ["a"], t1_ns: BigInt64Array.from([1n]) }),
    ).toUint8Array(true),
  );
  assert.throws(() => new ArrowRecordReader(fileFormat), /file-format\.arrow.*not an Arrow IPC stream/);
  const noSvid = join(tmp.dir, "nosvid.arrow");
  writeFileSync(
    noSvid,
    RecordBatchStreamWriter.writeAll(tableFromArrays({ smpCnt: Uint16Array.from([1]) })).toUint8Array(true),
  );
  assert.throws(() => new ArrowRecordReader(noSvid), /nosvid\.arrow: schema: no svID column/);
});

test("final metadata: close(meta) writes the tracer's cost over the start's metadata; CSV gets <file>.meta.json", async () => {
  const cost = tracerCost({
    points: [
      { name: "T1", attach: "tracepoint:net:netif_receive_skb" },
      { name: "T2", attach: "tracepoint:net:net_dev_start_xmit" },
      { name: "T3", attach: "tracepoint:net:netif_receive_skb" },
    ],
    progs: [
      { fd: 9, id: 11, type: 2, runTimeNs: 500, runCnt: 1, recursionMisses: 0 },
      { fd: 10, id: 12, type: 5, runTimeNs: 6000, runCnt: 30, recursionMisses: 0 },
      { fd: 11, id: 13, type: 5, runTimeNs: 1000, runCnt: 10, recursionMisses: 1 },
      { fd: 12, id: 14, type: 7, runTimeNs: 2000, runCnt: 100, recursionMisses: 0 },
    ],
    svs: 10,
    statsOn: true,
    lostEvents: 3,
    mapCapacity: 100,
    mapEntriesMax: 25,
  });
  // netif_receive_skb serves T1 and T3: its 600 ns per SV is split between them
  assert.deepEqual(cost.cost_ns, { T1: 300, T3: 300, T2: 100 });
  assert.equal(cost.other_ns_per_sv, 250);
  assert.equal(cost.total_ns_per_sv, 950);
  assert.equal(cost.recursion_misses, 1);
  assert.equal(cost.map_fill_max, 0.25);
  const rows = makeRows({ streams: ["svID0000"], perStream: 50, points: 3, seed: 5 });
  const m = meta(["t1", "t2", "t3"]);
  for (const format of ["arrow", "csv"] as const) {
    const path = join(tmp.dir, `final-meta.${format}`);
    const w = openRecordWriter(path, format, { ...m, tracer: null });
    for (const r of rows) w.append(r);
    await w.close({ ...m, tracer: cost });
    const input = openRecordFile(path);
    try {
      assert.deepEqual(input.meta.tracer, cost, format);
      let n = 0;
      for (const b of input.batches()) n += b.length;
      assert.equal(n, rows.length, format);
    } finally {
      input.close();
    }
  }
  // apache-arrow itself still reads the rewritten file and its metadata
  const t = tableFromIPC(readFileSync(join(tmp.dir, "final-meta.arrow")));
  assert.equal(t.numRows, rows.length);
  assert.deepEqual(JSON.parse(t.schema.metadata.get("svtrace") ?? "{}").tracer.cost_ns, cost.cost_ns);
});
