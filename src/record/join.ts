/**
 * Joins several records per SV on (svID, iteration, smpCnt): e.g. a hypervisor record (t1, t2) with a VM
 * record (t3, t4), or sv_timestamp_logger files from the publisher, hypervisor and subscriber. The result is
 * one record whose points are every input's points in name order (a name used twice gets a suffix: t1, t1b).
 *
 * Streaming: inputs are read in lock step on the sample sequence (iteration * modulus + smpCnt, the modulus
 * learnt from the largest smpCnt seen): the input that is furthest behind reads next, so inputs with many
 * missing SVs do not drift apart. An SV waits in a pending table until every input has given it, or until each
 * input missing it has moved `window` samples past it (then that point is null), so memory is bounded by the
 * window, not the file size. Missing, duplicated (the same key twice in one input: the first is kept) and
 * reordered SVs across the smpCnt wrap are all handled.
 */
import { emptyColumns, type RecordColumns, trim } from "./columns.js";
import { NameTable, type RecordInput } from "./input.js";
import type { PointMeta, RecordMeta } from "./schema.js";

const OUT_BATCH = 65536;

export interface JoinOptions {
  /** samples (per stream) an input may move past an SV before that SV counts as missing from it
   * (default 20 000: 5 s at 4000 SV/s) */
  window?: number;
}

interface Pending {
  svID: string;
  appid: number;
  iteration: number;
  smpCnt: number;
  t: (bigint | null)[];
  /** inputs that gave this SV */
  seen: number;
  done: boolean;
}

/** Per-input counts of a join. */
export interface JoinInputStats {
  path: string;
  rows: number;
  /** the same (svID, iteration, smpCnt) twice in this input while it was pending */
  duplicates: number;
  /** SVs this input never gave although another input did */
  missing: number;
}

/** Output point names for inputs' points, in order, unique. */
function mergePoints(inputs: RecordInput[]): { points: PointMeta[]; map: number[][] } {
  const all: { p: PointMeta; input: number; idx: number }[] = [];
  inputs.forEach((inp, i) => {
    inp.meta.points.forEach((p, k) => {
      all.push({ p, input: i, idx: k });
    });
  });
  const num = (name: string): number => Number(/^t(\d+)/.exec(name)?.[1] ?? 1e9);
  all.sort((a, b) => num(a.p.name) - num(b.p.name) || a.input - b.input || a.idx - b.idx);
  const used = new Set<string>();
  const map = inputs.map((inp) => new Array<number>(inp.meta.points.length).fill(-1));
  const points: PointMeta[] = [];
  for (const e of all) {
    let name = e.p.name;
    for (let s = 1; used.has(name); s++) name = `${e.p.name}${String.fromCharCode(97 + s)}`;
    used.add(name);
    (map[e.input] as number[])[e.idx] = points.length;
    points.push({ ...e.p, name });
  }
  return { points, map };
}

export class JoinedRecords implements RecordInput {
  readonly kind = "join" as const;
  readonly identity = true;
  readonly hasMeta: boolean;
  readonly meta: RecordMeta;
  readonly path: string;
  readonly stats: JoinInputStats[];
  private readonly map: number[][];
  private readonly window: number;
  private readonly table = new NameTable();
  private nRows = 0;

  constructor(
    readonly inputs: RecordInput[],
    opts: JoinOptions = {},
  ) {
    if (inputs.length < 2) throw new Error("a join needs two inputs or more");
    const { points, map } = mergePoints(inputs);
    this.map = map;
    this.window = opts.window ?? 20_000;
    const base = inputs.find((i) => i.hasMeta) ?? (inputs[0] as RecordInput);
    this.hasMeta = inputs.some((i) => i.hasMeta);
    this.meta = { ...base.meta, points, profile: inputs.map((i) => i.meta.profile).join("+") };
    this.path = inputs.map((i) => i.path).join(" + ");
    this.stats = inputs.map((i) => ({ path: i.path, rows: 0, duplicates: 0, missing: 0 }));
  }

  get size(): number {
    return this.inputs.reduce((a, i) => a + i.size, 0);
  }
  get bytesRead(): number {
    return this.inputs.reduce((a, i) => a + i.bytesRead, 0);
  }
  get rows(): number {
    return this.nRows;
  }
  get warnings(): string[] {
    return this.inputs.flatMap((i) => i.warnings);
  }

  *batches(): Generator<RecordColumns> {
    const n = this.inputs.length;
    const np = this.meta.points.length;
    const all = (1 << n) - 1;
    const W = this.window;
    const iters = this.inputs.map((i) => i.batches());
    const cur: (RecordColumns | null)[] = new Array(n).fill(null);
    const pos = new Array<number>(n).fill(0);
    const done = new Array<boolean>(n).fill(false);
    // progress of each input: the furthest (iteration, smpCnt) it has read
    const progIt = new Array<number>(n).fill(-1);
    const progCnt = new Array<number>(n).fill(0);
    let mod = 1;
    const seq = (it: number, cnt: number): number => it * mod + cnt;
    const progress = (i: number): number =>
      (progIt[i] as number) < 0 ? Number.NEGATIVE_INFINITY : seq(progIt[i] as number, progCnt[i] as number);
    const pending = new Map<string, Pending>();
    const fifo: Pending[] = [];
    let head = 0;
    // keys joined recently, so a late duplicate is not taken for a new, partial SV
    const completed = new Map<string, Pending>();
    const completedOrder: string[] = [];
    let completedHead = 0;
    let out = this.fresh(np);
    let r = 0;
    const outputs: RecordColumns[] = [];

    const emit = (e: Pending): void => {
      e.done = true;
      for (let i = 0; i < n; i++) if (!(e.seen & (1 << i))) (this.stats[i] as JoinInputStats).missing++;
      out.stream[r] = this.table.indexOf(e.svID);
      out.appid[r] = e.appid;
      out.iteration[r] = e.iteration;
      out.smpCnt[r] = e.smpCnt;
      for (let p = 0; p < np; p++) {
        const v = e.t[p];
        if (v === null || v === undefined) {
          let valid = out.valid[p];
          if (!valid) {
            valid = new Uint8Array(OUT_BATCH).fill(1);
            out.valid[p] = valid;
          }
          valid[r] = 0;
        } else (out.t[p] as BigInt64Array)[r] = v;
      }
      r++;
      if (r === OUT_BATCH) {
        outputs.push(out);
        out = this.fresh(np);
        r = 0;
      }
    };
    /** every input that has not given e has moved W samples past it (or ended) */
    const stale = (e: Pending): boolean => {
      const s = seq(e.iteration, e.smpCnt);
      for (let i = 0; i < n; i++) if (!(e.seen & (1 << i)) && !done[i] && progress(i) - s <= W) return false;
      return true;
    };

    for (;;) {
      // the input that is furthest behind in the sample sequence reads next
      let k = -1;
      for (let i = 0; i < n; i++) if (!done[i] && (k < 0 || progress(i) < progress(k))) k = i;
      if (k < 0) break;
      let c = cur[k];
      if (!c || (pos[k] as number) >= c.length) {
        const next = (iters[k] as Generator<RecordColumns>).next();
        if (next.done) {
          done[k] = true;
          continue;
        }
        c = next.value;
        cur[k] = c;
        pos[k] = 0;
      }
      const map = this.map[k] as number[];
      const bit = 1 << k;
      const end = Math.min(c.length, (pos[k] as number) + 512);
      const st = this.stats[k] as JoinInputStats;
      for (let row = pos[k] as number; row < end; row++) {
        const svID = c.names[c.stream[row] as number] as string;
        const it = c.iteration[row] as number;
        const cnt = c.smpCnt[row] as number;
        if (cnt + 1 > mod) mod = cnt + 1;
        if (it > (progIt[k] as number) || (it === progIt[k] && cnt > (progCnt[k] as number))) {
          progIt[k] = it;
          progCnt[k] = cnt;
        }
        st.rows++;
        const key = `${it}:${cnt}:${svID}`;
        let e = pending.get(key);
        if (!e) {
          if (completed.has(key)) {
            st.duplicates++;
            continue;
          }
          e = {
            svID,
            appid: c.appid[row] as number,
            iteration: it,
            smpCnt: cnt,
            t: new Array(np).fill(null),
            seen: 0,
            done: false,
          };
          pending.set(key, e);
          fifo.push(e);
        }
        if (e.seen & bit) {
          st.duplicates++;
          continue;
        }
        e.seen |= bit;
        if (e.appid === 0) e.appid = c.appid[row] as number;
        for (let p = 0; p < map.length; p++) {
          const v = c.valid[p];
          if (v?.[row] !== 0) e.t[map[p] as number] = (c.t[p] as BigInt64Array)[row] as bigint;
        }
        if (e.seen === all) {
          pending.delete(key);
          emit(e);
          completed.set(key, e);
          completedOrder.push(key);
        }
      }
      pos[k] = end;
      // SVs every missing input has moved well past (or finished) are emitted with nulls
      while (head < fifo.length) {
        const e = fifo[head] as Pending;
        if (!e.done) {
          if (!stale(e)) break;
          pending.delete(`${e.iteration}:${e.smpCnt}:${e.svID}`);
          emit(e);
        }
        head++;
      }
      if (head > 65536 && head * 2 > fifo.length) {
        fifo.splice(0, head);
        head = 0;
      }
      // forget joined keys once every input is well past them
      let minProg = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) if (!done[i]) minProg = Math.min(minProg, progress(i));
      while (completedHead < completedOrder.length) {
        const key = completedOrder[completedHead] as string;
        const e = completed.get(key) as Pending;
        if (minProg - seq(e.iteration, e.smpCnt) <= W) break;
        completed.delete(key);
        completedHead++;
      }
      if (completedHead > 65536 && completedHead * 2 > completedOrder.length) {
        completedOrder.splice(0, completedHead);
        completedHead = 0;
      }
      while (outputs.length > 0) {
        const o = outputs.shift() as RecordColumns;
        this.nRows += o.length;
        yield o;
      }
    }
    for (; head < fifo.length; head++) {
      const e = fifo[head] as Pending;
      if (!e.done) emit(e);
    }
    for (const o of outputs) {
      this.nRows += o.length;
      yield o;
    }
    if (r > 0) {
      this.nRows += r;
      yield trim(out, r);
    }
  }

  private fresh(np: number): RecordColumns {
    return emptyColumns(OUT_BATCH, np, this.table.names);
  }

  close(): void {
    for (const i of this.inputs) i.close();
  }
}
