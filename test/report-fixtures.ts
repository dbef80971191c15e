/**
 * Shared fixtures for the record/analysis/report tests: deterministic random rows with heavy tails, ties,
 * missing points, drops, duplicates and negative latencies; an in-memory RecordInput; a temp directory; and
 * the straightforward exact computations (BigInt subtraction and sorting) the statistics are checked against.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { columnsFromRows, type RecordColumns } from "../src/record/columns.js";
import type { RecordInput } from "../src/record/input.js";
import type { PointMeta, RecordMeta, SvRow } from "../src/record/schema.js";
import { mulberry32 as prng } from "../src/util/prng.js";

export function tempDir(prefix = "svtrace-h7-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function meta(pointNames: string[], extra: Partial<RecordMeta> = {}): RecordMeta {
  return {
    svtraceVersion: "test",
    host: "testhost",
    kernel: "6.18-test",
    bpftrace: "v0.17.0",
    profile: "lab",
    points: pointNames.map(
      (name): PointMeta => ({ name, label: `${name.toUpperCase()} test point`, probe: `probe of ${name}` }),
    ),
    clock: "tai",
    iface: "hyp-in",
    start: "2026-11-26T00:00:00.000Z",
    ...extra,
  };
}

export interface RowOptions {
  streams: string[];
  perStream: number;
  points: number;
  seed: number;
  /** fraction of rows missing one intermediate or last point */
  nullFraction?: number;
  /** smpCnt positions skipped (drops) per stream */
  dropEvery?: number;
  /** a duplicate row every N rows */
  duplicateEvery?: number;
  /** stream index whose T1-T2 is sometimes negative (clock problem) */
  negativeStream?: number;
  rate?: number;
  modulus?: number;
}

const BASE_NS = 1_795_000_000_000_000_000n; // 2026-11-18

/** Heavy-tailed latency in ns, with many ties. */
export function latency(r: () => number): number {
  const u = r();
  if (u < 0.00005) return 1_000_000 + Math.floor(r() * 2_000_000);
  if (u < 0.002) return 100_000 + Math.floor(r() * 160_000);
  if (u < 0.02) return Math.floor(20_000 / (1 - r()) ** 1.3); // Pareto
  if (u < 0.1) return 12_000; // ties
  const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return Math.max(500, Math.round(12_000 + 2_500 * g));
}

/** Rows interleaved across streams, in time order, with the requested defects. */
export function makeRows(o: RowOptions): SvRow[] {
  const r = prng(o.seed);
  const rate = o.rate ?? 4000;
  const mod = o.modulus ?? rate;
  const rows: SvRow[] = [];
  const stepNs = BigInt(Math.round(1e9 / rate));
  for (let k = 0; k < o.perStream; k++) {
    o.streams.forEach((svID, s) => {
      if (o.dropEvery && k % o.dropEvery === o.dropEvery - 1) return; // never seen: a drop
      const t: (bigint | null)[] = [];
      let ts = BASE_NS + BigInt(k) * stepNs + BigInt(s * 1000);
      for (let p = 0; p < o.points; p++) {
        if (p > 0) {
          let d = latency(r);
          if (p === 1 && o.negativeStream === s && r() < 0.01) d = -Math.floor(r() * 5000) - 1;
          ts += BigInt(d);
        }
        t.push(ts);
      }
      if (o.nullFraction && r() < o.nullFraction) {
        const p = 1 + Math.floor(r() * (o.points - 1));
        t[p] = null;
      }
      const row: SvRow = { svID, appid: 0x4000 + s, iteration: Math.floor(k / mod), smpCnt: k % mod, t };
      rows.push(row);
      if (o.duplicateEvery && k % o.duplicateEvery === 5) rows.push({ ...row, t: [...row.t] });
    });
  }
  return rows;
}

/** A RecordInput over rows held in memory, in batches of `batch` rows. */
export class MemoryInput implements RecordInput {
  readonly kind = "arrow" as const;
  readonly hasMeta = true;
  readonly warnings: string[] = [];
  readonly path = "memory";
  private read = 0;
  constructor(
    readonly meta: RecordMeta,
    private readonly data: SvRow[],
    private readonly batch = 1000,
    readonly identity = true,
  ) {}
  get size(): number {
    return this.data.length;
  }
  get bytesRead(): number {
    return this.read;
  }
  get rows(): number {
    return this.read;
  }
  *batches(): Generator<RecordColumns> {
    const names: string[] = [];
    for (let i = 0; i < this.data.length; i += this.batch) {
      const c = columnsFromRows(this.data.slice(i, i + this.batch), this.meta.points.length);
      // one name table for the whole input, as readers do
      const stream = new Uint32Array(c.length);
      for (let k = 0; k < c.length; k++) {
        const name = c.names[c.stream[k] as number] as string;
        let idx = names.indexOf(name);
        if (idx < 0) idx = names.push(name) - 1;
        stream[k] = idx;
      }
      this.read += c.length;
      yield { ...c, names, stream };
    }
  }
  close(): void {}
}

/** nearest-rank quantile of sorted values */
export function exactQuantile(sorted: number[], q: number): number {
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length - 1e-9)));
  return sorted[rank - 1] as number;
}

/** latency of a segment for a row (BigInt, exact), or null */
export function exactSegment(row: SvRow, from: number, to: number): number | null {
  const b = row.t[to];
  let a: bigint | null | undefined;
  if (from >= 0) a = row.t[from];
  else for (let i = 0; i < to && (a === null || a === undefined); i++) a = row.t[i];
  if (a === null || a === undefined || b === null || b === undefined) return null;
  return Number(b - a);
}

export function assertClose(got: number | null, want: number, what: string, tol = 0.001): void {
  if (got === null) throw new Error(`${what}: got null, want ${want}`);
  const err = want === 0 ? Math.abs(got) : Math.abs(got - want) / Math.abs(want);
  if (!(err <= tol))
    throw new Error(`${what}: got ${got}, exact ${want} (relative error ${(err * 100).toFixed(4)} %)`);
}

/** The statistics of every segment in `report --json`, as issue 5 lists them (kept apart from src on purpose). */
export const REPORT_STAT_KEYS = [
  "count",
  "min",
  "mean",
  "stddev",
  "p50",
  "p90",
  "p99",
  "p99.9",
  "p99.99",
  "p99.999",
  "max",
] as const;
