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
