/**
 * A batch of record rows held column-wise (what readers yield and writers accept in bulk): fixed columns as
 * typed arrays, svID as an index into a name table, one BigInt64Array of nanoseconds per point with an
 * optional validity array (0 = null). Columnar batches keep reading and analysing 48M rows cheap.
 */
import type { ExtraKind, SvRow } from "./schema.js";

/**
 * A context column (record --context, see contextColumns in ./schema.ts): u32 values, or for "str" indices
 * into `dict` (this batch's distinct strings); valid null = every row has a value, else 0 = null.
 */
export interface ExtraColumn {
  name: string;
  kind: ExtraKind;
  values: Uint32Array;
  valid: Uint8Array | null;
  dict: string[];
}

export interface RecordColumns {
  length: number;
  /** distinct svIDs of this batch; row r has svID names[stream[r]] */
  names: string[];
  stream: Uint32Array;
  appid: Uint16Array;
  iteration: Uint32Array;
  smpCnt: Uint32Array;
  /** t[p][r]: ns timestamp of point p for row r (meaningless where valid[p][r] is 0) */
  t: BigInt64Array[];
  /** valid[p] null = every row has point p; otherwise 1 = present, 0 = null */
  valid: (Uint8Array | null)[];
  /** context columns, in file order (absent in records without context) */
  extra?: ExtraColumn[];
}

/** A batch of n rows with `points` time columns (all present until a validity array is set), to fill in. */
export function emptyColumns(n: number, points: number, names: string[] = []): RecordColumns {
  return {
    length: n,
    names,
    stream: new Uint32Array(n),
    appid: new Uint16Array(n),
    iteration: new Uint32Array(n),
    smpCnt: new Uint32Array(n),
    t: Array.from({ length: points }, () => new BigInt64Array(n)),
    valid: Array.from({ length: points }, () => null),
  };
}

/** The first n rows of a batch (views, no copy). */
export function trim(c: RecordColumns, n: number): RecordColumns {
  return {
    length: n,
    names: c.names,
    stream: c.stream.subarray(0, n),
    appid: c.appid.subarray(0, n),
    iteration: c.iteration.subarray(0, n),
    smpCnt: c.smpCnt.subarray(0, n),
    t: c.t.map((a) => a.subarray(0, n)),
    valid: c.valid.map((v) => (v ? v.subarray(0, n) : null)),
    ...(c.extra
      ? {
          extra: c.extra.map((e) => ({
            ...e,
            values: e.values.subarray(0, n),
            valid: e.valid ? e.valid.subarray(0, n) : null,
          })),
        }
      : {}),
  };
}

/** Value of context column e at row r: number, string, or null. */
export function extraAt(e: ExtraColumn, r: number): number | string | null {
  if (e.valid && e.valid[r] === 0) return null;
  const v = e.values[r] as number;
  return e.kind === "str" ? (e.dict[v] ?? null) : v;
}

/** Row r of a batch as an SvRow (allocates; for tests, export and small tools). */
export function rowAt(c: RecordColumns, r: number): SvRow {
  return {
    svID: c.names[c.stream[r] as number] as string,
    appid: c.appid[r] as number,
    iteration: c.iteration[r] as number,
    smpCnt: c.smpCnt[r] as number,
    t: c.t.map((col, p) => {
      const v = c.valid[p];
      return v && v[r] === 0 ? null : (col[r] as bigint);
    }),
  };
}

/** Every row of a batch as SvRows. */
export function* rowsOf(c: RecordColumns): Generator<SvRow> {
  for (let r = 0; r < c.length; r++) yield rowAt(c, r);
}

/** Build a columnar batch from rows (all with `points` timestamps). */
export function columnsFromRows(rows: SvRow[], points: number): RecordColumns {
  const n = rows.length;
  const names: string[] = [];
  const index = new Map<string, number>();
  const c = emptyColumns(n, points, names);
  for (let r = 0; r < n; r++) {
    const row = rows[r] as SvRow;
    let s = index.get(row.svID);
    if (s === undefined) {
      s = names.length;
      names.push(row.svID);
      index.set(row.svID, s);
    }
    c.stream[r] = s;
    c.appid[r] = row.appid;
    c.iteration[r] = row.iteration;
    c.smpCnt[r] = row.smpCnt;
    for (let p = 0; p < points; p++) {
      const v = row.t[p];
      if (v === null || v === undefined) {
        let valid = c.valid[p];
        if (!valid) {
          valid = new Uint8Array(n).fill(1);
          c.valid[p] = valid;
        }
        valid[r] = 0;
      } else (c.t[p] as BigInt64Array)[r] = v;
    }
  }
  return c;
}
