/**
 * What every record reader offers (Arrow, CSV, the original `results` file, sv_timestamp_logger joins):
 * the record's metadata up front, then its rows as columnar batches read one at a time, so memory does not
 * grow with the file. Malformed input raises RecordFormatError naming the file and the line or batch.
 */
import { UserError } from "../errors.js";
import type { RecordColumns } from "./columns.js";
import type { RecordMeta } from "./schema.js";

export type InputKind = "arrow" | "csv" | "legacy" | "logger" | "join";

export interface RecordInput {
  readonly path: string;
  readonly kind: InputKind;
  /** from the file (Arrow) or inferred from its columns (points named t0..tN, other fields "unknown") */
  readonly meta: RecordMeta;
  /** true when meta came from the file itself */
  readonly hasMeta: boolean;
  /** false for inputs whose rows carry no SV identity or time (the original `results` file) */
  readonly identity: boolean;
  /** bytes of input in total and read so far (for a progress bar) */
  readonly size: number;
  readonly bytesRead: number;
  /** rows read so far */
  readonly rows: number;
  /** problems that did not stop reading (truncated file, missing end-of-stream marker, ...) */
  readonly warnings: string[];
  /**
   * The rows, batch by batch. A batch's arrays may be views into the reader's buffer: use (or copy) them before
   * asking for the next batch of the same input. `names` is shared by all batches and only grows.
   */
  batches(): Generator<RecordColumns>;
  close(): void;
}

export class RecordFormatError extends UserError {}

/** Throw a RecordFormatError: "FILE: line N: what is wrong". */
export function badInput(path: string, where: string, what: string): never {
  throw new RecordFormatError(`${path}: ${where}: ${what}`);
}

/** Metadata for a record whose file carries none. */
export function inferredMeta(pointNames: string[], profile: string): RecordMeta {
  return {
    svtraceVersion: "unknown",
    host: "unknown",
    kernel: "unknown",
    bpftrace: "unknown",
    profile,
    points: pointNames.map((name) => ({ name, label: name.toUpperCase(), probe: "unknown" })),
    clock: "realtime",
    start: "",
  };
}

/** Maps svIDs to stable indices for the `names`/`stream` columns of a reader's batches. */
export class NameTable {
  readonly names: string[] = [];
  private readonly index = new Map<string, number>();
  indexOf(svID: string): number {
    let i = this.index.get(svID);
    if (i === undefined) {
      i = this.names.length;
      this.names.push(svID);
      this.index.set(svID, i);
    }
    return i;
  }
}

const UTF8 = new TextDecoder("utf-8");

/** FNV-1a hash of buf[from..to) (for NameBytes). */
export function fnv1a(buf: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let k = from; k < to; k++) h = Math.imul(h ^ (buf[k] as number), 16777619);
  return h;
}

/** svIDs already seen, found from their bytes without making a string (hash, then a byte compare). */
export class NameBytes {
  private readonly byHash = new Map<number, { bytes: Uint8Array; index: number }>();
  constructor(private readonly table: NameTable) {}

  /** index of the svID in buf[from..to); hash: FNV-1a of those bytes (see fnv1a) */
  indexOf(buf: Uint8Array, from: number, to: number, hash: number): number {
    const e = this.byHash.get(hash);
    if (e !== undefined) {
      const b = e.bytes;
      if (b.length === to - from) {
        let k = 0;
        while (k < b.length && b[k] === buf[from + k]) k++;
        if (k === b.length) return e.index;
      }
    }
    const index = this.table.indexOf(UTF8.decode(buf.subarray(from, to)));
    if (e === undefined) this.byHash.set(hash, { bytes: buf.slice(from, to), index });
    return index;
  }
}
