/**
 * `svtrace export FILE --csv [--out F]`: turn a record (Arrow IPC stream, or CSV) into CSV whose header is the
 * column names (svID,appid,iteration,smpCnt,t0_ns,...), empty field = null. Streams batch by batch.
 */
import type { Command } from "@commander-js/extra-typings";
import { openRecordFile } from "../../record/open.js";
import { openRecordWriter } from "../../record/writer.js";
import { fail } from "../errors.js";

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
        const out = o.out ?? "/dev/stdout";
        let writer: ReturnType<typeof openRecordWriter>;
        try {
          writer = openRecordWriter(out, "csv", input.meta);
        } catch (e) {
          fail(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        for (const batch of input.batches()) writer.appendColumns(batch);
        await writer.close();
        for (const w of input.warnings) process.stderr.write(`svtrace: warning: ${file}: ${w}\n`);
        if (o.out) process.stderr.write(`svtrace: wrote ${writer.rows} rows to ${o.out}\n`);
      } finally {
        input.close();
      }
    });
}
