/**
 * The tracer core end to end on the real kernel: a lab (bridge, then tap), the svtrace publisher and
 * subscriber as child processes, startTrace() in this process. Checks that every SV is matched at every
 * point with positive latencies in path order, that svID0001/svID0010/svID0100 are three streams with their
 * own counts, that skipped smpCnt values are counted as exact drops across the wrap, that a VLAN-tagged
 * stream is matched at every point, and "all streams" mode. The lab prefix comes from SVTRACE_LAB_PREFIX.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { labDown, labNames, labUp } from "../src/lab/index.js";
import type { SvRow } from "../src/record/schema.js";
import { startTrace } from "../src/trace/session.js";
import type { TraceOptions, TraceSummary, TraceWarning } from "../src/trace/session-types.js";
import { assertRoot, runCliAsync } from "./helpers.js";

interface PubJson {
  sent: number;
  streams: { svID: string; sent: number; skipped: number }[];
}

interface SubJson {
  received: number;
  streams: { svID: string; received: number }[];
}

/** Trace one publisher run through the lab: subscriber up, trace ready, publish, stop. */
async function traceRun(
  opts: TraceOptions,
  publishArgs: string[],
): Promise<{ rows: SvRow[]; summary: TraceSummary; pub: PubJson; sub: SubJson; warnings: TraceWarning[] }> {
  const n = labNames();
  const sub = runCliAsync(["subscribe", "--iface", n.vmIf, "--netns", n.vm, "--json"], {
    timeoutMs: 120_000,
  });
  const listening = new Promise<void>((res, rej) => {
    let buf = "";
    sub.child.stderr?.on("data", (c: Buffer) => {
      buf += c.toString();
      if (buf.includes("listening")) res();
    });
    sub.child.once("exit", () => rej(new Error(`subscriber exited early: ${buf}`)));
  });
  const rows: SvRow[] = [];
  const warnings: TraceWarning[] = [];
  const session = await startTrace(opts);
  session.on("rows", (r) => rows.push(...r));
  session.on("warning", (w) => warnings.push(w));
  try {
    await session.ready;
    await listening;
    const pub = runCliAsync(["publish", "--iface", n.pubIf, "--netns", n.pub, "--json", ...publishArgs], {
      timeoutMs: 120_000,
    });
    const pr = await pub.done;
    assert.equal(pr.code, 0, `publisher failed: ${pr.stderr}`);
    await new Promise((r) => setTimeout(r, 500));
    const summary = await session.stop();
    sub.child.kill("SIGINT");
    const sr = await sub.done;
    assert.equal(sr.code, 0, `subscriber failed: ${sr.stderr}`);
    return {
      rows,
      summary,
      pub: JSON.parse(pr.stdout) as PubJson,
      sub: JSON.parse(sr.stdout) as SubJson,
      warnings,
    };
  } finally {
    await session.stop();
    if (sub.child.exitCode === null) sub.child.kill("SIGKILL");
  }
}

function assertPathOrder(rows: SvRow[], points: number): void {
  for (const r of rows) {
    assert.equal(r.t.length, points + 1);
    for (let i = 2; i <= points; i++) {
      const a = r.t[i - 1];
      const b = r.t[i];
      assert.ok(a !== null && b !== null, `${r.svID}/${r.smpCnt}: point ${i} missing`);
      assert.ok(b >= a, `${r.svID}/${r.smpCnt}: t${i} ${b} before t${i - 1} ${a}`);
    }
  }
}

describe("trace session on the bridge lab", { timeout: 240_000 }, () => {
  before(async () => {
    assertRoot("the tracer end-to-end test");
    await labDown();
    await labUp({ mode: "bridge" });
  });
  after(async () => {
    await labDown();
  });

  it("matches every SV at T1..T4, three equal-byte-sum svIDs apart, exact drops across the wrap", async () => {
    const svids = ["svID0001", "svID0010", "svID0100"];
    const { rows, summary, pub, sub, warnings } = await traceRun(
      { profile: "lab", labSwitch: "bridge", streams: svids, expectedRate: 12_000 },
      ["--svids", svids.join(","), "--count", "6000", "--t0", "--skip-smpcnt", "7,2500"],
    );
    assert.equal(summary.stats.lostEvents, 0, "lost events");
    assert.ok(!warnings.some((w) => w.kind === "attach-failed"), JSON.stringify(warnings));
    for (const id of svids) {
      const p = pub.streams.find((s) => s.svID === id);
      assert.ok(p, `publisher stream ${id}`);
      const c = summary.stats.streams.find((s) => s.svID === id);
      assert.ok(c, `trace stream ${id}`);
      const mine = rows.filter((r) => r.svID === id);
      const complete = mine.filter((r) => r.t.slice(1).every((t) => t !== null));
      const subCount = sub.streams.find((s) => s.svID === id)?.received;
      assert.equal(complete.length, p.sent, `${id}: complete rows vs sent`);
      assert.equal(c.complete, p.sent, `${id}: complete counter`);
      assert.equal(c.received, p.sent, `${id}: received counter`);
      assert.equal(subCount, p.sent, `${id}: subscriber count`);
      assert.equal(c.dropped, p.skipped, `${id}: drops = skipped smpCnt values`);
      assert.ok(p.skipped >= 3, `publisher skipped ${p.skipped}`);
      assert.equal(c.duplicates, 0);
      assert.equal(c.missed, 0);
      // one smpCnt period (4000) wrapped once: iterations 0 and 1, smpCnt unique within an iteration
      const keys = new Set(mine.map((r) => `${r.iteration}/${r.smpCnt}`));
      assert.equal(keys.size, mine.length, `${id}: (iteration, smpCnt) unique`);
      assert.deepEqual([...new Set(mine.map((r) => r.iteration))].sort(), [0, 1]);
      // refrTm (publisher send time) is before T1
      for (const r of complete) {
        const t0 = r.t[0];
        const t1 = r.t[1];
        assert.ok(t0 !== null && t1 !== null);
        assert.ok(t1 - t0 > -20_000n, `${id}/${r.smpCnt}: T1 ${t1 - t0} ns after refrTm`);
      }
    }
    assertPathOrder(
      rows.filter((r) => r.t.slice(1).every((t) => t !== null)),
      4,
    );
    assert.ok(summary.stats.mapEntries <= 3, `map entries left: ${summary.stats.mapEntries}`);
  });

  it("matches a VLAN-tagged stream at every point (tag in the frame at T1, in skb->vlan_all later)", async () => {
    const { rows, summary, pub } = await traceRun(
      { profile: "lab", labSwitch: "bridge", streams: ["vlanSV"], expectedRate: 4000 },
      ["--svids", "vlanSV", "--count", "2000", "--vlan", "5", "--prio", "4"],
    );
    const c = summary.stats.streams.find((s) => s.svID === "vlanSV");
    assert.ok(c);
    assert.equal(c.complete, pub.sent);
    assert.equal(rows.length, pub.sent);
    assertPathOrder(rows, 4);
  });

  it("traces all streams (no svID list) keyed by the svID string", async () => {
    const { rows, summary, pub } = await traceRun(
      { profile: "lab", labSwitch: "bridge", expectedRate: 8000 },
      ["--streams", "2", "--svid-prefix", "allSV", "--count", "1500"],
    );
    for (const p of pub.streams) {
      const c = summary.stats.streams.find((s) => s.svID === p.svID);
      assert.ok(c, `stream ${p.svID} found without a list`);
      assert.equal(c.complete, p.sent);
    }
    assert.equal(rows.length, pub.sent);
    assertPathOrder(rows, 4);
  });
});

describe("trace session on the tap lab (vhost-style copy T2b)", { timeout: 180_000 }, () => {
  before(async () => {
    assertRoot("the tracer end-to-end test");
    await labDown();
    await labUp({ mode: "tap" });
  });
  after(async () => {
    await labDown();
  });

  it("matches every SV at T1, T2 (vnet0), T2b (vhost- copy), T3, T4", async () => {
    const { rows, summary, pub } = await traceRun(
      {
        profile: "lab",
        labSwitch: "tap",
        points: ["T1", "T2", "T2b", "T3", "T4"],
        streams: ["tapSV"],
        expectedRate: 4000,
      },
      ["--svids", "tapSV", "--count", "3000"],
    );
    assert.deepEqual(
      summary.stats.streams.map((s) => s.svID),
      ["tapSV"],
    );
    const c = summary.stats.streams[0];
    assert.equal(c.complete, pub.sent, JSON.stringify(c));
    assert.equal(rows.length, pub.sent);
    assertPathOrder(rows, 5);
  });
});
