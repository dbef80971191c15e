/**
 * A record as Chrome/Perfetto trace-event JSON (opens in ui.perfetto.dev and chrome://tracing): one "X" slice
 * per segment between consecutive points of each selected SV, on one track per segment (process 1), an "i"
 * instant at the last point, and SVs slower than the threshold marked (name prefix "SLOW", cat "sv,slow",
 * args.slow). Each SV is a flow ("s" -> "t" ... -> "f") through its points. With a record --context record,
 * each segment slice's args name the thread, tid and CPU that ran the point ending it, and two more processes
 * hold a track per thread (process 2, tid = the thread's id, named by its comm) and per CPU (process 3,
 * "CPU n") with a short mark slice where that thread or CPU ran each point; the flow of an SV whose points all
 * have context goes through its thread marks, so it shows which thread handed the SV to which.
 * Selection: the slowest N SVs (first to last point) and a deterministic sample of the others, or all.
 */
import { type ExtraColumn, extraAt, type RecordColumns } from "../record/columns.js";
import type { RecordMeta } from "../record/schema.js";
import { firstProbe } from "../record/schema.js";
import { mulberry32 } from "../util/prng.js";

export interface PerfettoOptions {
  /** the slowest this many SVs (default 1000) */
  slowest: number;
  /** plus this many others picked at random (default 200) */
  sample: number;
  /** every SV (slowest/sample ignored) */
  all?: boolean;
  /** SVs slower than this (first to last point, µs) are marked slow (default 200) */
  thresholdUs: number;
  seed?: number;
}

/** One trace event (the fields this exporter uses). */
export interface TraceEvent {
  name: string;
  ph: "X" | "i" | "s" | "t" | "f" | "M";
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  id?: number;
  bp?: "e";
  s?: "t" | "p" | "g";
  args?: Record<string, unknown>;
}

interface Picked {
  svID: string;
  smpCnt: number;
  iteration: number;
  appid: number;
  /** ns per probe point, null where missed */
  t: (bigint | null)[];
  totalNs: number;
  /** record --context: the CPU and thread at each probe point (null where unknown) */
  ctx?: ({ cpu: number | null; tid: number | null; thread: string | null } | null)[];
}

/** Each probe point's cpu, tid and comm columns in a batch with context (record --context). */
function contextColumnsOf(
  c: RecordColumns,
  meta: RecordMeta,
  first: number,
): { cpu?: ExtraColumn; tid?: ExtraColumn; comm?: ExtraColumn }[] | undefined {
  if (!c.extra) return undefined;
  const by = new Map(c.extra.map((e) => [e.name, e]));
  return meta.points.slice(first).map((p) => ({
    cpu: by.get(`${p.name}_cpu`),
    tid: by.get(`${p.name}_tid`),
    comm: by.get(`${p.name}_comm`),
  }));
}

function pick(
  c: RecordColumns,
  r: number,
  first: number,
  ctxCols?: { cpu?: ExtraColumn; tid?: ExtraColumn; comm?: ExtraColumn }[],
): Picked | undefined {
  const t: (bigint | null)[] = [];
  for (let p = first; p < c.t.length; p++) {
    const v = c.valid[p];
    t.push(v && v[r] === 0 ? null : (c.t[p][r] as bigint));
  }
  const seen = t.filter((x): x is bigint => x !== null);
  if (seen.length < 2) return undefined;
  return {
    svID: c.names[c.stream[r]] as string,
    smpCnt: c.smpCnt[r] as number,
    iteration: c.iteration[r] as number,
    appid: c.appid[r] as number,
    t,
    totalNs: Number(seen[seen.length - 1] - seen[0]),
    ...(ctxCols
      ? {
          ctx: ctxCols.map((x) => {
            const v = (e?: ExtraColumn) => (e ? extraAt(e, r) : null);
            const cpu = v(x.cpu);
            const tid = v(x.tid);
            const thread = v(x.comm);
            if (cpu === null && tid === null && thread === null) return null;
            return {
              cpu: typeof cpu === "number" ? cpu : null,
              tid: typeof tid === "number" ? tid : null,
              thread: typeof thread === "string" ? thread : null,
            };
          }),
        }
      : {}),
  };
}

/** Pick the SVs: a bounded list of the slowest and a reservoir sample of the rest. */
export function selectSvs(batches: Iterable<RecordColumns>, meta: RecordMeta, o: PerfettoOptions): Picked[] {
  const first = firstProbe(meta.points);
  const rnd = mulberry32(o.seed ?? 1);
  const all: Picked[] = [];
  let slow: Picked[] = [];
  const reservoir: Picked[] = [];
  let seenOthers = 0;
  for (const c of batches) {
    const ctxCols = contextColumnsOf(c, meta, first);
    for (let r = 0; r < c.length; r++) {
      const p = pick(c, r, first, ctxCols);
      if (!p) continue;
      if (o.all) {
        all.push(p);
        continue;
      }
      slow.push(p);
      if (slow.length >= 2 * o.slowest + 1024) {
        slow.sort((a, b) => b.totalNs - a.totalNs);
        for (const x of slow.splice(o.slowest)) sampleOne(x);
      }
    }
  }
  if (o.all) return all;
  slow.sort((a, b) => b.totalNs - a.totalNs);
  for (const x of slow.splice(o.slowest)) sampleOne(x);
  slow = slow.concat(reservoir);
  return slow;

  function sampleOne(x: Picked): void {
    seenOthers++;
    if (reservoir.length < o.sample) reservoir.push(x);
    else {
      const j = Math.floor(rnd() * seenOthers);
      if (j < o.sample) reservoir[j] = x;
    }
  }
}

/** Width of a point's mark on the thread and CPU tracks (µs): a point is an instant, a slice anchors flows. */
const MARK_US = 0.5;
const PID_THREADS = 2;
const PID_CPUS = 3;

/** The trace events of the selected SVs. */
export function perfettoEvents(svs: Picked[], meta: RecordMeta, o: PerfettoOptions): TraceEvent[] {
  const points = meta.points.slice(firstProbe(meta.points));
  const pid = 1;
  let origin: bigint | undefined;
  for (const sv of svs)
    for (const t of sv.t) if (t !== null && (origin === undefined || t < origin)) origin = t;
  const us = (t: bigint) => Number(t - (origin ?? 0n)) / 1000;
  const events: TraceEvent[] = [
    { name: "process_name", ph: "M", pid, tid: 0, args: { name: `svtrace ${meta.profile} (${meta.host})` } },
  ];
  // one track per segment (tid k+1: point k -> k+1), one for the last point
  points.slice(0, -1).forEach((p, k) => {
    const q = points[k + 1];
    events.push({
      name: "thread_name",
      ph: "M",
      pid,
      tid: k + 1,
      args: { name: `${p.name.toUpperCase()}-${q.name.toUpperCase()} ${p.label} -> ${q.label}` },
    });
  });
  const lastTid = points.length;
  events.push({
    name: "thread_name",
    ph: "M",
    pid,
    tid: lastTid,
    args: { name: `${points[points.length - 1].label}` },
  });
  const ordered = [...svs].sort((a, b) => (firstTime(a) < firstTime(b) ? -1 : 1));
  // record --context: a track per thread and per CPU that ran a point
  const threads = new Map<number, string>();
  const cpus = new Set<number>();
  for (const sv of ordered)
    for (const x of sv.ctx ?? []) {
      if (x?.tid !== null && x?.tid !== undefined && !threads.has(x.tid)) threads.set(x.tid, x.thread ?? "?");
      if (x?.cpu !== null && x?.cpu !== undefined) cpus.add(x.cpu);
    }
  if (threads.size > 0) {
    events.push({ name: "process_name", ph: "M", pid: PID_THREADS, tid: 0, args: { name: "threads" } });
    for (const [tid, comm] of threads)
      events.push({
        name: "thread_name",
        ph: "M",
        pid: PID_THREADS,
        tid,
        args: { name: `${comm} (${tid})` },
      });
  }
  if (cpus.size > 0) {
    events.push({ name: "process_name", ph: "M", pid: PID_CPUS, tid: 0, args: { name: "CPUs" } });
    for (const cpu of [...cpus].sort((a, b) => a - b))
      events.push({ name: "thread_name", ph: "M", pid: PID_CPUS, tid: cpu, args: { name: `CPU ${cpu}` } });
  }
  ordered.forEach((sv, n) => {
    const slow = sv.totalNs / 1000 > o.thresholdUs;
    const name = `${slow ? "SLOW " : ""}${sv.svID}/${sv.smpCnt}`;
    const cat = slow ? "sv,slow" : "sv";
    const id = n + 1;
    const seen = sv.t.map((t, k) => ({ t, k })).filter((x): x is { t: bigint; k: number } => x.t !== null);
    const args = {
      svID: sv.svID,
      smpCnt: sv.smpCnt,
      iteration: sv.iteration,
      appid: sv.appid,
      total_us: sv.totalNs / 1000,
      slow,
    };
    for (let j = 0; j + 1 < seen.length; j++) {
      const a = seen[j];
      const b = seen[j + 1];
      events.push({
        name,
        ph: "X",
        pid,
        tid: a.k + 1,
        ts: us(a.t),
        dur: Number(b.t - a.t) / 1000,
        cat,
        args: { ...args, segment: `${points[a.k].name}-${points[b.k].name}`, ...contextArgs(sv, b.k) },
      });
    }
    const last = seen[seen.length - 1];
    events.push({ name, ph: "i", pid, tid: lastTid, ts: us(last.t), s: "t", cat, args });
    // the marks of the threads and CPUs that ran each point
    for (const { t, k } of seen) {
      const x = sv.ctx?.[k];
      const mark = {
        name: `${name} ${points[k].name.toUpperCase()}`,
        ph: "X" as const,
        ts: us(t),
        dur: MARK_US,
        cat,
      };
      const markArgs = { ...args, point: points[k].label, ...contextArgs(sv, k) };
      if (x?.tid !== null && x?.tid !== undefined)
        events.push({ ...mark, pid: PID_THREADS, tid: x.tid, args: markArgs });
      if (x?.cpu !== null && x?.cpu !== undefined)
        events.push({ ...mark, pid: PID_CPUS, tid: x.cpu, args: markArgs });
    }
    // the flow: through the thread marks when every point has its thread, else along the segment slices
    const byThread = seen.every(({ k }) => sv.ctx?.[k]?.tid !== null && sv.ctx?.[k]?.tid !== undefined);
    seen.forEach(({ t, k }, j) => {
      const ph = j === 0 ? "s" : j === seen.length - 1 ? "f" : "t";
      const at = byThread
        ? { pid: PID_THREADS, tid: sv.ctx?.[k]?.tid as number }
        : { pid, tid: j === seen.length - 1 ? lastTid : k + 1 };
      events.push({
        name: "sv",
        ph,
        ...(ph === "f" ? { bp: "e" as const } : {}),
        ...at,
        ts: us(t),
        id,
        cat: "sv-flow",
      });
    });
  });
  return events;
}

/** record --context: the thread and CPU that ran the point ending a segment, as slice args. */
function contextArgs(sv: Picked, k: number): Record<string, unknown> {
  const x = sv.ctx?.[k];
  if (!x) return {};
  return { thread: x.thread, tid: x.tid, cpu: x.cpu };
}

function firstTime(sv: Picked): bigint {
  for (const t of sv.t) if (t !== null) return t;
  return 0n;
}

/** The JSON file's text. */
export function perfettoJson(events: TraceEvent[], meta: RecordMeta): string {
  return JSON.stringify({
    traceEvents: events,
    displayTimeUnit: "ns",
    otherData: { svtrace: meta.svtraceVersion, start: meta.start, clock: meta.clock },
  });
}
