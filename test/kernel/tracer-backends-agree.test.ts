/**
 * Issue 16 acceptance: the libbpf and bpftrace backends, attached at the same time to the same traffic (bridge
 * lab, 8 streams x 4000 SV/s for 30 s), record the same SVs: the same (svID, iteration, smpCnt) rows, each with
 * the same points present and the same refrTm; the per-point time differences between the two are reported.
 * Each record's metadata carries the tracer's cost at every point (issue 14), whichever backend made it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { RecordMeta } from "../../src/record/schema.js";
import { assertRoot } from "../helpers.js";
import {
  type CsvRow,
  interrupt,
  kill,
  labDown,
  labUp,
  lastSnapshot,
  NS,
  type PublishJson,
  type Running,
  readCsvRecord,
  sleep,
  start,
  startFifo,
  waitFor,
  waitForRecording,
} from "./tracer-support.js";

const dir = mkdtempSync(join(tmpdir(), "svt-backends-"));

before(() => {
  assertRoot("the backend comparison (libbpf, bpftrace, network namespaces)");
  labUp("bridge");
});
after(() => {
  labDown();
  rmSync(dir, { recursive: true, force: true });
});

const key = (r: CsvRow) => `${r.svID} ${r.iteration} ${r.smpCnt}`;
const pattern = (r: CsvRow) => r.t.map((x) => (x === null ? "-" : "x")).join("");

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)];
}

test("libbpf and bpftrace on the same traffic at once: the same rows, SV for SV", {
  timeout: 900_000,
}, async (t) => {
  const files = { libbpf: join(dir, "libbpf.csv"), bpftrace: join(dir, "bpftrace.csv") };
  const recs: Partial<Record<keyof typeof files, Running>> = {};
  let sub: Running | undefined;
  try {
    for (const b of ["libbpf", "bpftrace"] as const) {
      const rec = start([
        "record",
        "--lab",
        "--backend",
        b,
        "--format",
        "csv",
        "--out",
        files[b],
        "--rate",
        "32000",
        "--json",
      ]);
      recs[b] = rec;
      await waitForRecording(rec, b);
    }
    sub = startFifo(40, ["subscribe", "--iface", "vm0", "--netns", NS.vm, "--json"]);
    await waitFor(sub, "listening");
    const pubR = await start([
      "publish",
      "--iface",
      "pub0",
      "--netns",
      NS.pub,
      "--json",
      "--streams",
      "8",
      "--t0",
      "--duration",
      "30",
    ]).done;
    assert.equal(pubR.code, 0, pubR.stderr);
    const published = JSON.parse(pubR.stdout) as PublishJson;
    await sleep(1500);
    await interrupt(sub);
    const rows: Record<string, Map<string, CsvRow>> = {};
    for (const b of ["libbpf", "bpftrace"] as const) {
      const r = await interrupt(recs[b] as Running);
      assert.equal(r.code, 0, `${b}: ${r.stderr}`);
      assert.equal(lastSnapshot(r.stdout).lost_events, 0, `${b}: 0 lost events`);
      const { rows: list } = readCsvRecord(files[b]);
      rows[b] = new Map(list.map((x) => [key(x), x]));
      // issue 14 item 4: the tracer's own cost per point, in the record's metadata, with either backend
      const meta = JSON.parse(readFileSync(`${files[b]}.meta.json`, "utf8")) as RecordMeta;
      const cost = meta.tracer?.cost_ns ?? {};
      for (const p of meta.points.filter((x) => x.name !== "t0")) {
        const name = p.label.split(" ")[0] as string;
        assert.ok(
          (cost[name] ?? 0) > 0,
          `${b}: tracer cost of ${name} in the metadata: ${JSON.stringify(meta.tracer)}`,
        );
      }
      t.diagnostic(`${b}: tracer cost per SV (ns) ${JSON.stringify(cost)}; ${meta.tracer?.source}`);
      assert.equal(rows[b].size, list.length, `${b}: one row per SV`);
    }
    const L = rows.libbpf;
    const B = rows.bpftrace;
    const onlyL = [...L.keys()].filter((k) => !B.has(k));
    const onlyB = [...B.keys()].filter((k) => !L.has(k));
    t.diagnostic(`published ${published.sent}; rows libbpf ${L.size}, bpftrace ${B.size}`);
    assert.deepEqual(
      { onlyLibbpf: onlyL.length, onlyBpftrace: onlyB.length },
      { onlyLibbpf: 0, onlyBpftrace: 0 },
      `rows in one record only, e.g. libbpf ${onlyL.slice(0, 3).join("; ")} bpftrace ${onlyB.slice(0, 3).join("; ")}`,
    );
    assert.ok(L.size >= 0.999 * published.sent, `rows ${L.size} of ${published.sent} published`);
    const deltas: number[][] = [];
    let differ = 0;
    let example = "";
    for (const [k, l] of L) {
      const b = B.get(k) as CsvRow;
      if (pattern(l) !== pattern(b) || l.t[0] !== b.t[0]) {
        differ++;
        if (!example) example = `${k}: libbpf ${pattern(l)} ${l.t[0]}, bpftrace ${pattern(b)} ${b.t[0]}`;
        continue;
      }
      for (let i = 1; i < l.t.length; i++) {
        const x = l.t[i];
        const y = b.t[i];
        if (x === null || y === null) continue;
        deltas[i] ??= [];
        deltas[i].push(Math.abs(Number(x - y)) / 1000);
      }
    }
    assert.equal(differ, 0, `rows whose points present or refrTm differ: ${differ}, e.g. ${example}`);
    t.diagnostic(
      `median |libbpf - bpftrace| per point (µs): ${deltas
        .map((d, i) => (d ? `t${i} ${median(d).toFixed(2)}` : ""))
        .filter(Boolean)
        .join(", ")}`,
    );
  } finally {
    kill(recs.libbpf);
    kill(recs.bpftrace);
    kill(sub);
  }
});
