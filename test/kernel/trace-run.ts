/**
 * Shared by the tracer end-to-end tests: run a trace while traffic crosses the lab (subscriber in the VM
 * namespace, trace ready, send, stop), and the path-order check.
 */
import assert from "node:assert/strict";
import { labNames } from "../../src/lab/index.js";
import type { SvRow } from "../../src/record/schema.js";
import { startTrace } from "../../src/trace/session.js";
import type {
  StreamCounters,
  TraceOptions,
  TraceStats,
  TraceSummary,
  TraceWarning,
} from "../../src/trace/session-types.js";
import { runCliAsync } from "../helpers.js";

export interface PubJson {
  sent: number;
  streams: { svID: string; sent: number; skipped: number }[];
}

export interface SubJson {
  received: number;
  streams: { svID: string; received: number }[];
}

/** Trace one publisher run through the lab: subscriber up, trace ready, publish, stop. */
export async function traceRun(
  opts: TraceOptions,
  publishArgs: string[],
): Promise<{ rows: SvRow[]; summary: TraceSummary; pub: PubJson; sub: SubJson; warnings: TraceWarning[] }> {
  const n = labNames();
  let out = "";
  const r = await traceWith(opts, async () => {
    const pr = await runCliAsync(
      ["publish", "--iface", n.pubIf, "--netns", n.pub, "--json", ...publishArgs],
      {
        timeoutMs: 120_000,
      },
    ).done;
    assert.equal(pr.code, 0, `publisher failed: ${pr.stderr}`);
    out = pr.stdout;
  });
  return { ...r, pub: JSON.parse(out) as PubJson };
}

/** Trace while `send` puts traffic into the lab: subscriber up, trace ready, send, stop. */
export async function traceWith(
  opts: TraceOptions,
  send: () => Promise<void>,
): Promise<{ rows: SvRow[]; summary: TraceSummary; sub: SubJson; warnings: TraceWarning[] }> {
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
  const stats: TraceStats[] = [];
  let readyEvents = 0;
  const session = await startTrace(opts);
  session.on("rows", (r) => rows.push(...r));
  session.on("warning", (w) => warnings.push(w));
  session.on("stats", (st) => stats.push(st));
  session.on("ready", () => {
    readyEvents += 1;
  });
  try {
    await session.ready;
    assert.equal(readyEvents, 1, "ready emitted once");
    await listening;
    await send();
    await new Promise((r) => setTimeout(r, 500));
    // a short replay can end within the first second of a libbpf trace (attached at once): wait for the first
    // snapshot rather than stop before any could come
    if (stats.length === 0) await new Promise((r) => session.on("stats", r));
    const summary = await session.stop();
    assert.ok(stats.length >= 1, "a stats snapshot about once a second");
    for (const st of stats) {
      assert.equal(st.mapCapacity, summary.stats.mapCapacity);
      assert.ok(st.mapEntries < st.mapCapacity);
    }
    sub.child.kill("SIGINT");
    const sr = await sub.done;
    assert.equal(sr.code, 0, `subscriber failed: ${sr.stderr}`);
    return { rows, summary, sub: JSON.parse(sr.stdout) as SubJson, warnings };
  } finally {
    await session.stop();
    if (sub.child.exitCode === null) sub.child.kill("SIGKILL");
  }
}

export function assertPathOrder(rows: SvRow[], points: number): void {
  for (const r of rows) {
    assert.equal(r.t.length, points + 1);
    let prev: bigint | null = null;
    for (let i = 1; i <= points; i++) {
      const t = r.t[i];
      if (t === null) continue;
      assert.ok(
        prev === null || t >= prev,
        `${r.svID}/${r.smpCnt}: t${i} ${t} before an earlier point ${prev}`,
      );
      prev = t;
    }
  }
}

/**
 * The tracer's account of one stream against the ground truth: the first point saw every frame sent (the
 * publisher's veth is lossless), the last point (the subscriber's read) saw exactly what the subscriber
 * received, at least `minComplete` of the sent SVs have every point (losses in the switch/queues under load
 * are real, not the tracer's), no SV missed a point that a later point saw, and the counters agree with the rows.
 */
export function checkStream(
  rows: SvRow[],
  counters: StreamCounters | undefined,
  sent: number,
  opts: { subscriber?: number; minComplete?: number; lastIsSubscriber?: boolean } = {},
): void {
  assert.ok(counters, "stream in the trace counters");
  const n = rows[0]?.t.length ?? 1;
  const seen = (k: number) => rows.filter((r) => r.t[k] !== null).length;
  const complete = rows.filter((r) => r.t.slice(1).every((t) => t !== null)).length;
  const perPoint = Array.from({ length: n - 1 }, (_, k) => seen(k + 1));
  const why = `${JSON.stringify(counters)} sent ${sent} subscriber ${opts.subscriber} seen per point ${perPoint.join("/")}`;
  assert.equal(perPoint[0], sent, `first point saw every frame sent: ${why}`);
  if (opts.subscriber !== undefined && opts.lastIsSubscriber !== false)
    assert.equal(perPoint[perPoint.length - 1], opts.subscriber, `last point = subscriber's count: ${why}`);
  assert.ok(complete >= Math.ceil((opts.minComplete ?? 0.999) * sent), `complete ${complete}: ${why}`);
  assert.equal(counters.complete, complete, `complete counter: ${why}`);
  assert.equal(counters.received, rows.length, `received counter: ${why}`);
  assert.equal(counters.missed, 0, `missed: ${why}`);
}
