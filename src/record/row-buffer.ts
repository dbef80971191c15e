/**
 * Growable column buffer that collects rows (one SvRow at a time or whole columnar batches) until the record
 * writer flushes them as one batch.
 */
import type { ExtraColumn, RecordColumns } from "./columns.js";
import type { ExtraSpec, SvRow } from "./schema.js";

export class RowBuffer {
  private cap = 0;
  private n = 0;
  private names: string[] = [];
  private index = new Map<string, number>();
  private stream = new Uint32Array(0);
  private appid = new Uint16Array(0);
  private iteration = new Uint32Array(0);
  private smpCnt = new Uint32Array(0);
  private t: BigInt64Array[] = [];
  /** t[p] as 32-bit words (lo at 2r, hi at 2r+1) */
  private words: Uint32Array[] = [];
  private valid: Uint8Array[] = [];
  private hasNull: boolean[] = [];
  /** context columns (record --context): values, validity, and each string column's dictionary */
  private xv: Uint32Array[] = [];
  private xvalid: Uint8Array[] = [];
  private xnull: boolean[] = [];
  private xdict: string[][] = [];
  private xindex: Map<string, number>[] = [];

  constructor(
    readonly points: number,
    initial = 4096,
    readonly extras: readonly ExtraSpec[] = [],
  ) {
    this.xnull = extras.map(() => false);
    this.xdict = extras.map(() => []);
    this.xindex = extras.map(() => new Map());
    this.grow(initial);
  }

  /** Context column e of row r (set every context column of a row, or none: the default is null). */
  setExtra(e: number, r: number, v: number): void {
    (this.xv[e] as Uint32Array)[r] = v;
    (this.xvalid[e] as Uint8Array)[r] = 1;
  }

  setExtraStr(e: number, r: number, s: string): void {
    const idx = this.xindex[e] as Map<string, number>;
    let i = idx.get(s);
    if (i === undefined) {
      const d = this.xdict[e] as string[];
      i = d.length;
      d.push(s);
      idx.set(s, i);
    }
    this.setExtra(e, r, i);
  }

  setExtraNull(e: number, r: number): void {
    (this.xvalid[e] as Uint8Array)[r] = 0;
    this.xnull[e] = true;
  }

  /** Every context column of row r null. */
  nullExtras(r: number): void {
    for (let e = 0; e < this.extras.length; e++) this.setExtraNull(e, r);
  }

  get length(): number {
    return this.n;
  }

  append(row: SvRow): void {
    if (this.n === this.cap) this.grow(this.cap * 2);
    const r = this.n++;
    this.stream[r] = this.streamIndex(row.svID);
    this.appid[r] = row.appid;
    this.iteration[r] = row.iteration;
    this.smpCnt[r] = row.smpCnt;
    this.nullExtras(r);
    for (let p = 0; p < this.points; p++) {
      const v = row.t[p];
      if (v === null || v === undefined) {
        (this.valid[p] as Uint8Array)[r] = 0;
        (this.t[p] as BigInt64Array)[r] = 0n;
        this.hasNull[p] = true;
      } else {
        (this.valid[p] as Uint8Array)[r] = 1;
        (this.t[p] as BigInt64Array)[r] = v;
      }
    }
  }

  /**
   * Start a row without an SvRow object (the tracer's hot path); returns its index. Set every point's time
   * then, with setTime, setWords or setNull.
   */
  begin(svID: string, appid: number, iteration: number, smpCnt: number): number {
    if (this.n === this.cap) this.grow(this.cap * 2);
    const r = this.n++;
    this.stream[r] = this.streamIndex(svID);
    this.appid[r] = appid;
    this.iteration[r] = iteration;
    this.smpCnt[r] = smpCnt;
    if (this.extras.length > 0) this.nullExtras(r);
    return r;
  }

  setTime(p: number, r: number, v: bigint | null): void {
    if (v === null) this.setNull(p, r);
    else {
      (this.valid[p] as Uint8Array)[r] = 1;
      (this.t[p] as BigInt64Array)[r] = v;
    }
  }

  /** Point p of row r as two 32-bit words (lo, hi) of the int64. */
  setWords(p: number, r: number, lo: number, hi: number): void {
    (this.valid[p] as Uint8Array)[r] = 1;
    const w = this.words[p] as Uint32Array;
    w[2 * r] = lo;
    w[2 * r + 1] = hi;
  }

  /** The words of point p, for writing row r's time at 2r, 2r+1 in place (then call markSet). */
  wordsOf(p: number): Uint32Array {
    return this.words[p] as Uint32Array;
  }

  markSet(p: number, r: number): void {
    (this.valid[p] as Uint8Array)[r] = 1;
  }

  setNull(p: number, r: number): void {
    (this.valid[p] as Uint8Array)[r] = 0;
    const w = this.words[p] as Uint32Array;
    w[2 * r] = 0;
    w[2 * r + 1] = 0;
    this.hasNull[p] = true;
  }

  appendColumns(c: RecordColumns): void {
    if (c.t.length !== this.points)
      throw new Error(`batch has ${c.t.length} time columns, the record has ${this.points}`);
    let need = this.cap;
    while (this.n + c.length > need) need *= 2;
    if (need !== this.cap) this.grow(need);
    const map = c.names.map((s) => this.streamIndex(s));
    const base = this.n;
    for (let r = 0; r < c.length; r++) this.stream[base + r] = map[c.stream[r] as number] as number;
    this.appid.set(c.appid.subarray(0, c.length), base);
    this.iteration.set(c.iteration.subarray(0, c.length), base);
    this.smpCnt.set(c.smpCnt.subarray(0, c.length), base);
    for (let p = 0; p < this.points; p++) {
      (this.t[p] as BigInt64Array).set((c.t[p] as BigInt64Array).subarray(0, c.length), base);
      const v = c.valid[p];
      const dst = this.valid[p] as Uint8Array;
      if (v) {
        dst.set(v.subarray(0, c.length), base);
        if (!this.hasNull[p] && v.subarray(0, c.length).includes(0)) this.hasNull[p] = true;
      } else dst.fill(1, base, base + c.length);
    }
    for (let e = 0; e < this.extras.length; e++) {
      const src = c.extra?.[e];
      const valid = this.xvalid[e] as Uint8Array;
      if (!src) {
        valid.fill(0, base, base + c.length);
        this.xnull[e] = true;
        continue;
      }
      const dst = this.xv[e] as Uint32Array;
      if (src.kind === "str") {
        const map = src.dict.map((s) => {
          const idx = this.xindex[e] as Map<string, number>;
          let i = idx.get(s);
          if (i === undefined) {
            i = (this.xdict[e] as string[]).push(s) - 1;
            idx.set(s, i);
          }
          return i;
        });
        for (let r = 0; r < c.length; r++) dst[base + r] = map[src.values[r] as number] ?? 0;
      } else dst.set(src.values.subarray(0, c.length), base);
      if (src.valid) {
        valid.set(src.valid.subarray(0, c.length), base);
        if (src.valid.subarray(0, c.length).includes(0)) this.xnull[e] = true;
      } else valid.fill(1, base, base + c.length);
    }
    this.n += c.length;
  }

  /** The buffered rows as a batch (copies), and an empty buffer. */
  take(): RecordColumns {
    const n = this.n;
    const out: RecordColumns = {
      length: n,
      names: this.names,
      stream: this.stream.slice(0, n),
      appid: this.appid.slice(0, n),
      iteration: this.iteration.slice(0, n),
      smpCnt: this.smpCnt.slice(0, n),
      t: this.t.map((col) => col.slice(0, n)),
      valid: this.valid.map((v, p) => (this.hasNull[p] ? v.slice(0, n) : null)),
    };
    if (this.extras.length > 0) {
      out.extra = this.extras.map(
        (x, e): ExtraColumn => ({
          name: x.name,
          kind: x.kind,
          values: (this.xv[e] as Uint32Array).slice(0, n),
          valid: this.xnull[e] ? (this.xvalid[e] as Uint8Array).slice(0, n) : null,
          dict: this.xdict[e] as string[],
        }),
      );
      this.xnull = this.extras.map(() => false);
      this.xdict = this.extras.map(() => []);
      this.xindex = this.extras.map(() => new Map());
    }
    this.n = 0;
    this.names = [];
    this.index = new Map();
    this.hasNull = this.hasNull.map(() => false);
    return out;
  }

  private streamIndex(svID: string): number {
    let s = this.index.get(svID);
    if (s === undefined) {
      s = this.names.length;
      this.names.push(svID);
      this.index.set(svID, s);
    }
    return s;
  }

  private grow(cap: number): void {
    const n = this.n;
    const up = <T extends Uint32Array | Uint16Array | Uint8Array | BigInt64Array>(
      a: T,
      make: (k: number) => T,
    ): T => {
      const b = make(cap);
      b.set(a.subarray(0, n) as never);
      return b;
    };
    this.stream = up(this.stream, (k) => new Uint32Array(k));
    this.appid = up(this.appid, (k) => new Uint16Array(k));
    this.iteration = up(this.iteration, (k) => new Uint32Array(k));
    this.smpCnt = up(this.smpCnt, (k) => new Uint32Array(k));
    this.t = Array.from({ length: this.points }, (_, p) =>
      up(this.t[p] ?? new BigInt64Array(0), (k) => new BigInt64Array(k)),
    );
    this.words = this.t.map((a) => new Uint32Array(a.buffer, a.byteOffset, 2 * a.length));
    this.valid = Array.from({ length: this.points }, (_, p) =>
      up(this.valid[p] ?? new Uint8Array(0), (k) => new Uint8Array(k)),
    );
    this.hasNull = Array.from({ length: this.points }, (_, p) => this.hasNull[p] ?? false);
    this.xv = this.extras.map((_, e) => up(this.xv[e] ?? new Uint32Array(0), (k) => new Uint32Array(k)));
    this.xvalid = this.extras.map((_, e) =>
      up(this.xvalid[e] ?? new Uint8Array(0), (k) => new Uint8Array(k)),
    );
    this.cap = cap;
  }
}
