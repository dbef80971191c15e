/**
 * Record writer: `openRecordWriter(path, format, meta)` returns a writer that takes one SvRow at a time
 * (or columnar batches) and writes them as an Arrow IPC stream, CSV or the original `results` file.
 * Rows are flushed as one batch at least every second (and every `maxBatchRows` rows), straight to the file,
 * so a killed run keeps all but its last batch.
 */
import { closeSync, openSync, writeFileSync } from "node:fs";
import { ArrowRecordSink } from "./arrow-writer.js";
import type { RecordColumns } from "./columns.js";
import { CsvRecordSink } from "./csv-writer.js";
import { LegacyRecordSink } from "./legacy-writer.js";
import { RowBuffer } from "./row-buffer.js";
import { contextColumns, type RecordFormat, type RecordMeta, type SvRow } from "./schema.js";

export interface RecordWriterOptions {
  /** longest time rows wait in memory before they reach the file (default 1000 ms) */
  flushIntervalMs?: number;
  /** rows per batch at most (default 65536) */
  maxBatchRows?: number;
}

export interface RecordWriter {
  readonly path: string;
  readonly format: RecordFormat;
  /** rows appended so far */
  readonly rows: number;
  /** batches written to the file so far */
  readonly batches: number;
  append(row: SvRow): void;
  appendColumns(batch: RecordColumns): void;
  /** write what is buffered now */
  flush(): void;
  /**
   * flush, end the stream and close the file; `finalMeta` (the metadata with what is known only at the end,
   * the tracer's cost) replaces the start's metadata in an Arrow file, and goes to `<file>.meta.json` for CSV
   * (which has no metadata); the legacy file has neither
   */
  close(finalMeta?: RecordMeta): Promise<void>;
}

interface Sink {
  writeBatch(c: RecordColumns): void;
  finish(meta?: RecordMeta): void;
}

export const RECORD_FORMATS: readonly RecordFormat[] = ["arrow", "csv", "legacy"];

export function openRecordWriter(
  path: string,
  format: RecordFormat,
  meta: RecordMeta,
  opts: RecordWriterOptions = {},
): RecordWriter {
  if (!RECORD_FORMATS.includes(format))
    throw new Error(`unknown record format "${format}" (use ${RECORD_FORMATS.join(", ")})`);
  const fd = openSync(path, "w");
  let sink: Sink;
  try {
    sink =
      format === "arrow"
        ? new ArrowRecordSink(fd, meta, path)
        : format === "csv"
          ? new CsvRecordSink(fd, meta)
          : new LegacyRecordSink(fd, meta);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  const maxRows = opts.maxBatchRows ?? 65536;
  const buffer = new RowBuffer(meta.points.length, Math.min(maxRows, 4096), contextColumns(meta));
  let rows = 0;
  let batches = 0;
  let closed = false;
  let pendingError: unknown = null;

  const flush = (): void => {
    if (buffer.length === 0) return;
    sink.writeBatch(buffer.take());
    batches++;
  };
  const timer = setInterval(() => {
    try {
      flush();
    } catch (e) {
      pendingError ??= e;
    }
  }, opts.flushIntervalMs ?? 1000);
  timer.unref();
  const check = (): void => {
    if (closed) throw new Error(`record writer for ${path} is closed`);
    if (pendingError) throw pendingError;
  };

  return {
    path,
    format,
    get rows() {
      return rows;
    },
    get batches() {
      return batches;
    },
    append(row: SvRow): void {
      check();
      buffer.append(row);
      rows++;
      if (buffer.length >= maxRows) flush();
    },
    appendColumns(batch: RecordColumns): void {
      check();
      if (buffer.length + batch.length > maxRows) flush();
      buffer.appendColumns(batch);
      rows += batch.length;
      if (buffer.length >= maxRows) flush();
    },
    flush(): void {
      check();
      flush();
    },
    async close(finalMeta?: RecordMeta): Promise<void> {
      if (closed) return;
      clearInterval(timer);
      try {
        if (pendingError) throw pendingError;
        flush();
        sink.finish(finalMeta);
        if (finalMeta && format === "csv")
          writeFileSync(`${path}.meta.json`, `${JSON.stringify(finalMeta, null, 2)}\n`);
      } finally {
        closed = true;
        closeSync(fd);
      }
    },
  };
}
