/**
 * Spike attribution (report's `attribution`) on a synthetic record with context columns, written as Arrow and
 * as CSV and read back: the SVs over the record's threshold grouped by segment and cause (thread, tid, CPU,
 * dominant wait, blocker, route) with exact counts and shares; the context columns survive both formats and
 * `export --csv`; a record without context has an empty attribution and a note naming record --context.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, describe, it } from "node:test";
import { rowsOf } from "../src/record/columns.js";
import { openRecordFile } from "../src/record/open.js";
import { RowBuffer } from "../src/record/row-buffer.js";
import { contextColumns, type RecordMeta } from "../src/record/schema.js";
import { openRecordWriter } from "../src/record/writer.js";
import { runReport } from "../src/report/run-report.js";
import { runCli } from "./helpers.js";
import { meta, tempDir } from "./report-fixtures.js";

const tmp = tempDir("svtrace-attrib-");
after(() => tmp.cleanup());

const N = 1000;
const BASE = 1_800_000_000_000_000_000n;

/**
 * Every SV: T1-T2 20 µs, T2-T3 10 µs, T3-T4 30 µs, except: i % 25 == 5 (40 SVs) T1-T2 900 µs in handler3
 * (tid 812, CPU 1) asleep most of it; i % 10 == 0 (100 SVs) T3-T4 2000 µs, of which i % 50 == 0 (20) running
 * on CPU 0 and the other 80 on CPU 1 runnable behind hog (pid 777).
 */
async function writeRecord(path: string, format: "arrow" | "csv", m: RecordMeta): Promise<void> {
  const extras = contextColumns(m);
  const col = (name: string) => {
    const i = extras.findIndex((x) => x.name === name);
    if (m.context) assert.ok(i >= 0, `column ${name}`);
    return i;
  };
  const buf = new RowBuffer(m.points.length, 1024, extras);
  const thread = (r: number, p: string, cpu: number, tid: number, comm: string) => {
    if (!m.context) return;
    buf.setExtra(col(`${p}_cpu`), r, cpu);
    buf.setExtra(col(`${p}_tid`), r, tid);
    buf.setExtraStr(col(`${p}_comm`), r, comm);
  };
  const wait = (
    r: number,
    p: string,
    run: number,
    runnable: number,
    sleep: number,
    blocker?: [number, string],
  ) => {
    if (!m.context?.wait) return;
    buf.setExtra(col(`${p}_wait_run_ns`), r, run);
    buf.setExtra(col(`${p}_wait_runnable_ns`), r, runnable);
    buf.setExtra(col(`${p}_wait_sleep_ns`), r, sleep);
    if (blocker) {
      buf.setExtra(col(`${p}_blocker_pid`), r, blocker[0]);
      buf.setExtraStr(col(`${p}_blocker_comm`), r, blocker[1]);
    }
  };
  for (let i = 0; i < N; i++) {
    const r = buf.begin("ctxSV", 0x4000, 0, i);
    const t1 = BASE + BigInt(i) * 250_000n;
    const slow12 = i % 25 === 5;
    const slow34 = i % 10 === 0;
    const t2 = t1 + (slow12 ? 900_000n : 20_000n);
    const t3 = t2 + 10_000n;
    const t4 = t3 + (slow34 ? 2_000_000n : 30_000n);
    buf.setTime(0, r, t1 - 50_000n);
    buf.setTime(1, r, t1);
    buf.setTime(2, r, t2);
    buf.setTime(3, r, t3);
    buf.setTime(4, r, t4);
    thread(r, "t1", 0, 100, "pub");
    thread(r, "t2", 1, 812, "handler3");
    thread(r, "t3", 1, 15, "ksoftirqd/1");
    if (slow12) wait(r, "t2", 100_000, 0, 800_000);
    if (slow34 && i % 50 === 0) {
      thread(r, "t4", 0, 500, "svt-sub");
      wait(r, "t4", 1_900_000, 50_000, 50_000);
    } else if (slow34) {
      thread(r, "t4", 1, 500, "svt-sub");
      wait(r, "t4", 50_000, 1_900_000, 50_000, [777, "hog"]);
    } else thread(r, "t4", 1, 500, "svt-sub");
  }
  const w = openRecordWriter(path, format, m);
  w.appendColumns(buf.take());
  await w.close(m);
}

const quiet = () =>
  new Writable({
    write(_c, _e, cb) {
      cb();
    },
  });

const POINTS = ["t0", "t1", "t2", "t3", "t4"];

describe("attribution in report", () => {
  for (const format of ["arrow", "csv"] as const) {
    it(`groups the slow SVs by segment and cause (${format})`, async () => {
      const m = meta(POINTS, { backend: "libbpf", context: { thresholdUs: 200, wait: true } });
      const path = join(tmp.dir, `ctx.${format}`);
      await writeRecord(path, format, m);
      const { summary } = await runReport({ files: [path], json: true, out: quiet(), err: quiet() });
      assert.equal(summary.attribution_note, null);
      assert.equal(summary.attribution_threshold_us, 200);
      const bySeg = (s: string) => summary.attribution.filter((e) => e.segment === s);
      assert.deepEqual(
        bySeg("T1-T2").map((e) => [
          e.count,
          e.over,
          e.share,
          e.thread,
          e.tid,
          e.cpu,
          e.wait,
          e.blocker,
          e.route,
        ]),
        [[40, 40, 1, "handler3", 812, 1, "sleeping", null, "pub > handler3 > ksoftirqd/1 > svt-sub"]],
      );
      const sub = bySeg("T3-T4");
      assert.deepEqual(
        sub.map((e) => [e.count, e.over, e.share, e.thread, e.tid, e.cpu, e.wait, e.blocker, e.blocker_pid]),
        [
          [80, 100, 0.8, "svt-sub", 500, 1, "runnable", "hog", 777],
          [20, 100, 0.2, "svt-sub", 500, 0, "running", null, null],
        ],
      );
      assert.equal(sub[0]?.alias, "Tsub");
      assert.equal(sub[0]?.mean_us, 2000);
      assert.equal(sub[0]?.runnable_mean_us, 1900);
      assert.equal(bySeg("T2-T3").length, 0, "no T2-T3 SV over 200 µs");
      assert.equal(bySeg("T0-T1").length, 0);
      // the same in the terminal text
      let text = "";
      await runReport({
        files: [path],
        out: new Writable({
          write(c, _e, cb) {
            text += c.toString();
            cb();
          },
        }),
        err: quiet(),
        color: false,
      });
      assert.match(
        text,
        /T3-T4 Tsub: 80 of 100 SVs over 200 µs \(80\.0 %\) carried by svt-sub \(tid 500\) on CPU 1; waiting for the CPU behind hog \(pid 777\)/,
      );
      // and in the HTML report
      const html = join(tmp.dir, `ctx-${format}.html`);
      await runReport({ files: [path], html, out: quiet(), err: quiet() });
      assert.match(
        readFileSync(html, "utf8"),
        /<li>T3-T4 Tsub: 80 of 100 SVs over 200 µs \(80\.0 %\) carried by svt-sub \(tid 500\) on CPU 1; waiting for the CPU behind hog \(pid 777\)/,
      );
    });
  }

  it("keeps the context columns through Arrow, CSV and export --csv", async () => {
    const m = meta(POINTS, { backend: "libbpf", context: { thresholdUs: 200, wait: true } });
    const a = join(tmp.dir, "rt.arrow");
    const c = join(tmp.dir, "rt.csv");
    await writeRecord(a, "arrow", m);
    await writeRecord(c, "csv", m);
    const names = contextColumns(m).map((x) => x.name);
    const header = readFileSync(c, "utf8").split("\n", 1)[0] as string;
    assert.equal(header, `svID,appid,iteration,smpCnt,t0_ns,t1_ns,t2_ns,t3_ns,t4_ns,${names.join(",")}`);
    assert.ok(header.includes("t4_cpu,t4_tid,t4_comm") && header.endsWith("t4_blocker_pid,t4_blocker_comm"));
    const r = runCli(["export", a, "--csv"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, readFileSync(c, "utf8"), "export --csv of the Arrow record = the CSV record");
    // export --perfetto: each slice names the thread and CPU that ran the point ending it
    const pj = join(tmp.dir, "rt.json");
    const pr = runCli(["export", a, "--perfetto", pj, "--svs", "all"]);
    assert.equal(pr.code, 0, pr.stderr);
    const events = (
      JSON.parse(readFileSync(pj, "utf8")) as {
        traceEvents: {
          name: string;
          ph: string;
          pid: number;
          tid: number;
          ts?: number;
          id?: number;
          args?: Record<string, unknown>;
        }[];
      }
    ).traceEvents;
    const slices = events.filter((e) => e.ph === "X");
    const t34 = slices.filter((e) => e.args?.segment === "t3-t4");
    assert.equal(t34.length, N);
    assert.ok(t34.every((e) => e.args?.thread === "svt-sub" && e.args?.tid === 500));
    assert.equal(t34.filter((e) => e.args?.cpu === 0).length, 20);
    // a track per thread (process 2, named comm (tid)) and per CPU (process 3), a mark where each ran a point
    const named = (pid: number) =>
      new Map(
        events.filter((e) => e.name === "thread_name" && e.pid === pid).map((e) => [e.tid, e.args?.name]),
      );
    assert.deepEqual(
      named(2),
      new Map([
        [100, "pub (100)"],
        [812, "handler3 (812)"],
        [15, "ksoftirqd/1 (15)"],
        [500, "svt-sub (500)"],
      ]),
    );
    assert.deepEqual(
      named(3),
      new Map([
        [0, "CPU 0"],
        [1, "CPU 1"],
      ]),
    );
    const marks = (pid: number, tid: number) => slices.filter((e) => e.pid === pid && e.tid === tid).length;
    assert.deepEqual(
      [marks(2, 100), marks(2, 812), marks(2, 15), marks(2, 500)],
      [N, N, N, N],
      "one mark per SV on the thread that ran each point",
    );
    assert.equal(marks(3, 0) + marks(3, 1), 4 * N, "and on its CPU");
    // each SV's flow goes through its threads, in point order: pub -> handler3 -> ksoftirqd/1 -> svt-sub
    const flows = new Map<number, number[]>();
    for (const e of events.filter((x) => x.name === "sv" && x.id !== undefined)) {
      assert.equal(e.pid, 2, "flow on the thread tracks");
      flows.set(e.id as number, [...(flows.get(e.id as number) ?? []), e.tid]);
    }
    assert.equal(flows.size, N);
    for (const tids of flows.values()) assert.deepEqual(tids, [100, 812, 15, 500]);
    const input = openRecordFile(a);
    try {
      const first = input.batches().next().value;
      assert.ok(first?.extra, "context columns read back");
      assert.equal(first.extra.length, names.length);
      const rows = [...rowsOf(first)];
      assert.equal(rows.length, N);
    } finally {
      input.close();
    }
  });

  it("is empty, with a note, on a record without context (and its file has no context column)", async () => {
    const m = meta(POINTS, { backend: "libbpf" });
    const path = join(tmp.dir, "plain.csv");
    await writeRecord(path, "csv", m);
    assert.equal(
      readFileSync(path, "utf8").split("\n", 1)[0],
      "svID,appid,iteration,smpCnt,t0_ns,t1_ns,t2_ns,t3_ns,t4_ns",
    );
    const { summary } = await runReport({ files: [path], json: true, out: quiet(), err: quiet() });
    assert.deepEqual(summary.attribution, []);
    assert.match(summary.attribution_note ?? "", /needs a record made with svtrace record --context/);
  });

  it("says the wait analysis needs libbpf when a bpftrace record has context but no wait columns", async () => {
    const note =
      "wait analysis needs the libbpf backend (the bpftrace backend records the CPU and thread of each point only)";
    const m = meta(POINTS, {
      backend: "bpftrace",
      context: { thresholdUs: 200, wait: false, waitNote: note },
    });
    const path = join(tmp.dir, "bt.arrow");
    await writeRecord(path, "arrow", m);
    const { summary } = await runReport({ files: [path], json: true, out: quiet(), err: quiet() });
    assert.deepEqual(
      summary.attribution.map((e) => [e.segment, e.count, e.thread, e.cpu, e.wait]),
      [
        ["T1-T2", 40, "handler3", 1, null],
        ["T3-T4", 80, "svt-sub", 1, null],
        ["T3-T4", 20, "svt-sub", 0, null],
      ],
    );
    assert.equal(summary.attribution_note, note);
  });
});
