/**
 * Spike attribution from a record's context columns (record --context): every SV whose segment (a pair of
 * consecutive points) is over the threshold counts under its cause: the thread (comm, tid) and CPU of the
 * point that ends the segment, what dominated the wait there (running, runnable = waiting for the CPU,
 * sleeping = not yet woken; from the wait columns, libbpf only), the task that held the CPU meanwhile and the
 * route (the comms along the points). Groups come out per segment, largest first, with their share of the
 * segment's SVs over the threshold. Batches without context columns cost nothing.
 */
import { type ExtraColumn, extraAt, type RecordColumns } from "../record/columns.js";
import { firstProbe, type PointMeta, type RecordMeta, SEGMENT_ALIASES } from "../record/schema.js";
import { pointTitle } from "./segments.js";

const TWO32 = 4294967296;
/** groups kept per segment in the result (the rest are summed in the segment's `over`) */
export const ATTRIBUTION_TOP = 10;

export type WaitKind = "running" | "runnable" | "sleeping";

/** One cause of a segment's slow SVs (`svtrace report --json`'s `attribution` entries). */
export interface AttributionEntry {
  /** "T1-T2" */
  segment: string;
  /** "Thyp" */
  alias: string | null;
  /** SVs of this cause over the threshold */
  count: number;
  /** count / the segment's SVs over the threshold */
  share: number;
  /** the segment's SVs over the threshold (every cause) */
  over: number;
  /** thread (comm) and tid of the point that ends the segment, and its CPU */
  thread: string | null;
  tid: number | null;
  cpu: number | null;
  /** the largest part of the wait on that CPU (null without the wait analysis) */
  wait: WaitKind | null;
  /** the task that held the CPU longest while the thread was runnable */
  blocker: string | null;
  blocker_pid: number | null;
  /** comms of the points, first to last ("svt-pub > handler3 > svt-sub") */
  route: string | null;
  /** mean of the segment latency and of each wait part over these SVs, µs */
  mean_us: number;
  max_us: number;
  runnable_mean_us: number | null;
}

export interface Attribution {
  threshold_us: number;
  entries: AttributionEntry[];
  /** why the list is empty or partial (no context, no wait analysis) */
  note: string | null;
}

interface Group {
  seg: number;
  thread: string | null;
  tid: number | null;
  cpu: number | null;
  wait: WaitKind | null;
  blocker: string | null;
  blockerPid: number | null;
  route: string | null;
  count: number;
  sum: number;
  max: number;
  runnableSum: number;
  runnableN: number;
}

interface PointCols {
  cpu?: ExtraColumn;
  tid?: ExtraColumn;
  comm?: ExtraColumn;
  run?: ExtraColumn;
  runnable?: ExtraColumn;
  sleep?: ExtraColumn;
  blockerPid?: ExtraColumn;
  blockerComm?: ExtraColumn;
}

const SUFFIX_KEYS: Record<string, keyof PointCols> = {
  cpu: "cpu",
  tid: "tid",
  comm: "comm",
  wait_run_ns: "run",
  wait_runnable_ns: "runnable",
  wait_sleep_ns: "sleep",
  blocker_pid: "blockerPid",
  blocker_comm: "blockerComm",
};

function num(e: ExtraColumn | undefined, r: number): number | null {
  if (!e) return null;
  const v = extraAt(e, r);
  return typeof v === "number" ? v : null;
}

function str(e: ExtraColumn | undefined, r: number): string | null {
  if (!e) return null;
  const v = extraAt(e, r);
  return typeof v === "string" ? v : null;
}

export class AttributionAccumulator {
  private readonly thNs: number;
  private readonly groups = new Map<string, Group>();
  private readonly over: number[];
  private readonly segNames: string[];
  private readonly p0: number;
  private sawContext = false;
  private sawWait = false;

  constructor(
    private readonly points: readonly Pick<PointMeta, "name">[],
    readonly thresholdUs: number,
  ) {
    this.thNs = thresholdUs * 1000;
    this.p0 = firstProbe(points);
    this.segNames = points.slice(1).map((p, j) => `${pointTitle(points[j] as PointMeta)}-${pointTitle(p)}`);
    this.over = this.segNames.map(() => 0);
  }

  /** One batch; nothing to do without context columns. */
  add(c: RecordColumns): void {
    if (!c.extra || c.extra.length === 0) return;
    this.sawContext = true;
    const np = this.points.length;
    const cols: PointCols[] = this.points.map(() => ({}));
    for (const e of c.extra) {
      const m = /^(t\d+[a-z]?)_(.+)$/.exec(e.name);
      if (!m) continue;
      const p = this.points.findIndex((x) => x.name === m[1]);
      const key = SUFFIX_KEYS[m[2] as string];
      if (p >= 0 && key) (cols[p] as PointCols)[key] = e;
    }
    const hi = c.t.map((a) => new Int32Array(a.buffer, a.byteOffset, a.length * 2));
    const lo = c.t.map((a) => new Uint32Array(a.buffer, a.byteOffset, a.length * 2));
    const th = this.thNs;
    for (let j = 0; j + 1 < np; j++) {
      const to = j + 1;
      if (to < this.p0) continue;
      const va = c.valid[j];
      const vb = c.valid[to];
      const ha = hi[j] as Int32Array;
      const la = lo[j] as Uint32Array;
      const hb = hi[to] as Int32Array;
      const lb = lo[to] as Uint32Array;
      const pc = cols[to] as PointCols;
      for (let r = 0; r < c.length; r++) {
        if ((va && va[r] === 0) || (vb && vb[r] === 0)) continue;
        const r2 = 2 * r;
        const d =
          ((hb[r2 + 1] as number) - (ha[r2 + 1] as number)) * TWO32 +
          ((lb[r2] as number) - (la[r2] as number));
        if (!(d > th)) continue;
        this.over[j] = (this.over[j] as number) + 1;
        this.count(j, r, d, pc, cols);
      }
    }
  }

  private count(j: number, r: number, d: number, pc: PointCols, cols: PointCols[]): void {
    const run = num(pc.run, r);
    const runnable = num(pc.runnable, r);
    const sleep = num(pc.sleep, r);
    let wait: WaitKind | null = null;
    if (run !== null && runnable !== null && sleep !== null) {
      this.sawWait = true;
      wait = runnable >= run && runnable >= sleep ? "runnable" : sleep >= run ? "sleeping" : "running";
    }
    const thread = str(pc.comm, r);
    const tid = num(pc.tid, r);
    const cpu = num(pc.cpu, r);
    // the blocker matters only when the thread waited for the CPU
    const blocker = wait === "runnable" ? str(pc.blockerComm, r) : null;
    const blockerPid = wait === "runnable" ? num(pc.blockerPid, r) : null;
    const comms: string[] = [];
    for (let p = this.p0; p < cols.length; p++) comms.push(str((cols[p] as PointCols).comm, r) ?? "?");
    const route = comms.every((x) => x === "?") ? null : comms.join(" > ");
    const key = `${j}\u0000${thread}\u0000${tid}\u0000${cpu}\u0000${wait}\u0000${blocker}\u0000${blockerPid}\u0000${route}`;
    let g = this.groups.get(key);
    if (!g) {
      g = {
        seg: j,
        thread,
        tid,
        cpu,
        wait,
        blocker,
        blockerPid,
        route,
        count: 0,
        sum: 0,
        max: 0,
        runnableSum: 0,
        runnableN: 0,
      };
      this.groups.set(key, g);
    }
    g.count++;
    g.sum += d;
    if (d > g.max) g.max = d;
    if (runnable !== null) {
      g.runnableSum += runnable;
      g.runnableN++;
    }
  }

  result(meta: Pick<RecordMeta, "context">): Attribution {
    let note: string | null = null;
    if (!this.sawContext)
      note = meta.context
        ? "no rows with context columns were read (an empty record, or a join, which keeps only the times): attribution needs one record made with record --context"
        : "attribution needs a record made with svtrace record --context";
    else if (!this.sawWait)
      note =
        meta.context?.waitNote ??
        "wait analysis needs the libbpf backend: slow SVs are attributed to the thread and CPU only";
    const bySeg = new Map<number, Group[]>();
    for (const g of this.groups.values()) {
      const l = bySeg.get(g.seg) ?? [];
      l.push(g);
      bySeg.set(g.seg, l);
    }
    const entries: AttributionEntry[] = [];
    for (const seg of [...bySeg.keys()].sort((a, b) => a - b)) {
      const list = (bySeg.get(seg) as Group[]).sort((a, b) => b.count - a.count).slice(0, ATTRIBUTION_TOP);
      const over = this.over[seg] as number;
      const name = this.segNames[seg] as string;
      for (const g of list)
        entries.push({
          segment: name,
          alias: SEGMENT_ALIASES[name] ?? null,
          count: g.count,
          share: Math.round((g.count / over) * 10000) / 10000,
          over,
          thread: g.thread,
          tid: g.tid,
          cpu: g.cpu,
          wait: g.wait,
          blocker: g.blocker,
          blocker_pid: g.blockerPid,
          route: g.route,
          mean_us: Math.round(g.sum / g.count / 100) / 10,
          max_us: Math.round(g.max / 100) / 10,
          runnable_mean_us: g.runnableN ? Math.round(g.runnableSum / g.runnableN / 100) / 10 : null,
        });
    }
    return { threshold_us: this.thresholdUs, entries, note };
  }
}

/** One line per entry, e.g. "T1-T2 Thyp: 3 703 SVs over 200 µs, 99 % carried by handler3 (tid 812) on CPU 1". */
export function describeEntry(e: AttributionEntry, thresholdUs: number, fmt: (n: number) => string): string {
  const who = e.thread ? `${e.thread}${e.tid !== null ? ` (tid ${e.tid})` : ""}` : "an unknown thread";
  const parts = [
    `${e.segment}${e.alias ? ` ${e.alias}` : ""}: ${fmt(e.count)} of ${fmt(e.over)} SVs over ${thresholdUs} µs (${(e.share * 100).toFixed(1)} %) carried by ${who}${e.cpu !== null ? ` on CPU ${e.cpu}` : ""}`,
  ];
  if (e.wait === "runnable")
    parts.push(
      `waiting for the CPU${e.blocker ? ` behind ${e.blocker}${e.blocker_pid !== null ? ` (pid ${e.blocker_pid})` : ""}` : ""}${e.runnable_mean_us !== null ? ` ${e.runnable_mean_us} µs on average` : ""}`,
    );
  else if (e.wait === "sleeping") parts.push("not yet woken for most of it");
  else if (e.wait === "running") parts.push("running for most of it");
  parts.push(`mean ${e.mean_us} µs, max ${e.max_us} µs`);
  if (e.route) parts.push(`route ${e.route}`);
  return parts.join("; ");
}
