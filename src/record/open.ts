/**
 * Opens what a user hands to `svtrace report`: record files (Arrow IPC stream, CSV, the original `results`
 * file; the format is sniffed from the first bytes) and sv_timestamp_logger files given as --pub/--hyp/--sub.
 * Several inputs become one: files with the same points are read one after the other (parts of one record),
 * files with different points are joined per SV (see ./join.ts).
 */
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { ArrowRecordReader } from "./arrow-reader.js";
import type { RecordColumns } from "./columns.js";
import { CsvRecordReader } from "./csv-reader.js";
import { badInput, RecordFormatError, type RecordInput } from "./input.js";
import { JoinedRecords, type JoinOptions } from "./join.js";
import { LegacyResultsReader } from "./legacy-reader.js";
import { LineReader } from "./line-reader.js";
import { looksLikeLoggerLine, TimestampLoggerReader } from "./logger-reader.js";
import type { PointMeta, RecordMeta } from "./schema.js";

export type SniffedFormat = "arrow" | "csv" | "legacy" | "logger";

/** The format of a record file, from its first bytes. */
export function sniffFormat(path: string): SniffedFormat {
  if (!existsSync(path)) throw new RecordFormatError(`${path}: no such file; check the path`);
  if (statSync(path).isDirectory())
    throw new RecordFormatError(`${path}: is a directory, expected a record file`);
  const fd = openSync(path, "r");
  const head = new Uint8Array(8);
  let got: number;
  try {
    got = readSync(fd, head, 0, 8, 0);
  } finally {
    closeSync(fd);
  }
  if (got === 0) badInput(path, "line 1", "empty file");
  if (got >= 4 && head[0] === 0xff && head[1] === 0xff && head[2] === 0xff && head[3] === 0xff)
    return "arrow";
  if (new TextDecoder().decode(head.subarray(0, 6)) === "ARROW1")
    badInput(
      path,
      "start",
      "this is an Arrow IPC *file*; svtrace reads Arrow IPC streams (as `svtrace record` writes them)",
    );
  const first = LineReader.firstLine(path).trim();
  if (first.startsWith("svID,")) return "csv";
  if (/^-?\d+$/.test(first) || first.startsWith("Attaching")) return "legacy";
  if (looksLikeLoggerLine(first)) return "logger";
  return badInput(
    path,
    "line 1",
    `unknown format ("${first.slice(0, 50)}"); expected an svtrace record (Arrow or CSV), an svtrace results file or an sv_timestamp_logger file`,
  );
}

/** Open one record file of any format (a logger file here is a one-point record at point `t1`). */
export function openRecordFile(path: string): RecordInput {
  const format = sniffFormat(path);
  switch (format) {
    case "arrow":
      return new ArrowRecordReader(path);
    case "csv":
      return new CsvRecordReader(path);
    case "legacy":
      return new LegacyResultsReader(path);
    case "logger":
      return new TimestampLoggerReader(path, { name: "t1", label: "T1 sv_timestamp_logger", probe: path });
  }
}

/** sv_timestamp_logger roles: publisher = T0, hypervisor = T1, subscriber (VM userspace) = T4. */
export const LOGGER_POINTS: Record<"pub" | "hyp" | "sub", PointMeta> = {
  pub: { name: "t0", label: "T0 publisher (sv_timestamp_logger)", probe: "sv_timestamp_logger --pub" },
  hyp: { name: "t1", label: "T1 hypervisor (sv_timestamp_logger)", probe: "sv_timestamp_logger --hyp" },
  sub: { name: "t4", label: "T4 subscriber (sv_timestamp_logger)", probe: "sv_timestamp_logger --sub" },
};

export interface InputSpec {
  files: string[];
  pub?: string;
  hyp?: string;
  sub?: string;
  join?: JoinOptions;
}

/** Records with the same points read back to back as one. */
class ConcatenatedRecords implements RecordInput {
  readonly kind;
  readonly identity;
  readonly hasMeta;
  readonly meta: RecordMeta;
  readonly path: string;
  private nRows = 0;
  constructor(readonly inputs: RecordInput[]) {
    const first = inputs[0] as RecordInput;
    this.kind = first.kind;
    this.identity = inputs.every((i) => i.identity);
    this.hasMeta = first.hasMeta;
    this.meta = first.meta;
    this.path = inputs.map((i) => i.path).join(" + ");
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
    // batches from different files use different name tables: re-index onto the first one's
    const names: string[] = [];
    const index = new Map<string, number>();
    for (const input of this.inputs) {
      for (const b of input.batches()) {
        const map = b.names.map((s) => {
          let i = index.get(s);
          if (i === undefined) {
            i = names.length;
            names.push(s);
            index.set(s, i);
          }
          return i;
        });
        const stream = new Uint32Array(b.length);
        for (let r = 0; r < b.length; r++) stream[r] = map[b.stream[r] as number] as number;
        this.nRows += b.length;
        yield { ...b, names, stream };
      }
    }
  }
  close(): void {
    for (const i of this.inputs) i.close();
  }
}

const samePoints = (a: RecordInput, b: RecordInput): boolean =>
  a.meta.points.length === b.meta.points.length &&
  a.meta.points.every((p, i) => p.name === b.meta.points[i]?.name);

/** Open every input of a report as one RecordInput. */
export function openInputs(spec: InputSpec): RecordInput {
  const opened: RecordInput[] = [];
  try {
    for (const f of spec.files) opened.push(openRecordFile(f));
    for (const role of ["pub", "hyp", "sub"] as const) {
      const f = spec[role];
      if (!f) continue;
      sniffFormat(f); // existence and a readable first line
      opened.push(new TimestampLoggerReader(f, LOGGER_POINTS[role]));
    }
  } catch (e) {
    for (const o of opened) o.close();
    throw e;
  }
  if (opened.length === 0)
    throw new RecordFormatError("no input: give record files, or --pub/--hyp/--sub logger files");
  if (opened.length === 1) return opened[0] as RecordInput;
  const first = opened[0] as RecordInput;
  if (opened.every((o) => samePoints(o, first) && o.kind !== "logger"))
    return new ConcatenatedRecords(opened);
  if (opened.some((o) => !o.identity))
    throw new RecordFormatError(
      "an original svtrace results file has no SV identity and cannot be joined with other files; report it alone",
    );
  return new JoinedRecords(opened, spec.join);
}
