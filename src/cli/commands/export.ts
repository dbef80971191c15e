/**
 * `svtrace export FILE --csv [--out F]`: turn a record (Arrow IPC stream, or CSV) into CSV whose header is the
 * column names (svID,appid,iteration,smpCnt,t0_ns,...), empty field = null. Streams batch by batch; to a file
 * through the record writer, to stdout with backpressure (stdout may be a pipe or a socket).
 */
import type { Command } from "@commander-js/extra-typings";
import { fail } from "../../errors.js";
import type { RecordColumns } from "../../record/columns.js";
import { csvField } from "../../record/csv-writer.js";
import { openRecordFile } from "../../record/open.js";
import { csvHeader } from "../../record/schema.js";
import { openRecordWriter } from "../../record/writer.js";

function csvLines(c: RecordColumns): string {
  const names = c.names.map(csvField);
  let out = "";
  for (let r = 0; r < c.length; r++) {
    out += `${names[c.stream[r]]},${c.appid[r]},${c.iteration[r]},${c.smpCnt[r]}`;
    for (let p = 0; p < c.t.length; p++) {
      const v = c.valid[p];
      out += v && v[r] === 0 ? "," : `,${c.t[p][r]}`;
    }
    out += "\n";
  }
  return out;
}

function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = process.stdout.write(text, (err) => {
      if (err) reject(err);
    });
    if (ok) resolve();
    else process.stdout.once("drain", () => resolve());
  });
}

export function register(program: Command): void {
  program
    .command("export")
    .description("convert a record file to CSV (header = the column names)")
    .argument("<file>", "record file (svtrace record: Arrow IPC stream or CSV)")
    .option("--csv", "write CSV (the only export format; the default)")
    .option("--out <file>", "write here instead of stdout")
    .addHelpText(
      "after",
      "\nA record truncated by a killed run is exported up to its last complete batch (a warning says so).\n\n" +
        "Examples:\n  svtrace export run.arrow --csv > run.csv\n  svtrace export run.arrow --csv --out run.csv\n",
    )
    .action(async (file, o) => {
      const input = openRecordFile(file);
      try {
        if (!input.identity)
          fail(
            `${file} is an original svtrace results file (latencies only): there are no columns to export`,
          );
        let rows = 0;
        if (o.out) {
          let writer: ReturnType<typeof openRecordWriter>;
          try {
            writer = openRecordWriter(o.out, "csv", input.meta);
          } catch (e) {
            fail(`cannot write ${o.out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
          }
          for (const batch of input.batches()) writer.appendColumns(batch);
          await writer.close();
          rows = writer.rows;
        } else {
          await write(`${csvHeader(input.meta.points)}\n`);
          for (const batch of input.batches()) {
            await write(csvLines(batch));
            rows += batch.length;
          }
        }
        for (const w of input.warnings) process.stderr.write(`svtrace: warning: ${file}: ${w}\n`);
        if (o.out) process.stderr.write(`svtrace: wrote ${rows} rows to ${o.out}\n`);
      } finally {
        input.close();
      }
    });
}
