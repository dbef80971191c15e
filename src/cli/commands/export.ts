/**
 * `svtrace export FILE --csv [--out F]`: turn a record (Arrow IPC stream, or CSV) into CSV whose header is the
 * column names (svID,appid,iteration,smpCnt,t0_ns,...), empty field = null. Streams batch by batch; to a file
 * through the record writer, to stdout with backpressure (stdout may be a pipe or a socket).
 * `svtrace export FILE --perfetto OUT.json [--svs ...]`: the selected SVs as trace-event JSON (../../report/perfetto.ts).
 */
import { writeFileSync } from "node:fs";
import type { Command } from "@commander-js/extra-typings";
import { fail } from "../../errors.js";
import { extraAt, type RecordColumns } from "../../record/columns.js";
import { csvField } from "../../record/csv-writer.js";
import { openRecordFile } from "../../record/open.js";
import { contextColumns, csvHeader } from "../../record/schema.js";
import { openRecordWriter } from "../../record/writer.js";
import { perfettoEvents, perfettoJson, selectSvs } from "../../report/perfetto.js";

/** "--svs all" or "slowest=N,sample=M" (either part may be left out). */
export function parseSvs(v: string): { all: boolean; slowest: number; sample: number } {
  if (v === "all") return { all: true, slowest: 0, sample: 0 };
  const out = { all: false, slowest: 1000, sample: 200 };
  for (const part of v.split(",")) {
    const m = /^(slowest|sample)=(\d+)$/.exec(part.trim());
    if (!m) fail(`bad --svs "${v}": give all, or slowest=N,sample=M`);
    out[m[1] as "slowest" | "sample"] = Number(m[2]);
  }
  return out;
}

function csvLines(c: RecordColumns, extras: number): string {
  const names = c.names.map(csvField);
  let out = "";
  for (let r = 0; r < c.length; r++) {
    out += `${names[c.stream[r]]},${c.appid[r]},${c.iteration[r]},${c.smpCnt[r]}`;
    for (let p = 0; p < c.t.length; p++) {
      const v = c.valid[p];
      out += v && v[r] === 0 ? "," : `,${c.t[p][r]}`;
    }
    // record --context: the context columns the header names
    for (let e = 0; e < extras; e++) {
      const x = c.extra?.[e];
      const v = x ? extraAt(x, r) : null;
      out += v === null ? "," : `,${typeof v === "string" ? csvField(v) : v}`;
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
    .option(
      "--perfetto <out.json>",
      "write Chrome/Perfetto trace-event JSON instead (ui.perfetto.dev, chrome://tracing)",
    )
    .option("--svs <which>", "--perfetto: all, or slowest=N,sample=M", "slowest=1000,sample=200")
    .option(
      "--threshold-us <us>",
      "--perfetto: SVs slower than this (first to last point) are marked slow",
      "200",
    )
    .addHelpText(
      "after",
      "\nA record truncated by a killed run is exported up to its last complete batch (a warning says so).\n\n" +
        "--perfetto: an X slice per segment (a track per point pair), an instant at the last point, one flow\n" +
        "per SV through its points; SVs over --threshold-us are named SLOW and have cat sv,slow. A record made\n" +
        "with --context adds a track per thread and per CPU, with a mark where each ran a point, and the flow\n" +
        "goes from thread to thread. Default: the 1000 slowest SVs and 200 others at random.\n\n" +
        "Examples:\n  svtrace export run.arrow --csv > run.csv\n  svtrace export run.arrow --csv --out run.csv\n" +
        "  svtrace export run.arrow --perfetto run.json --svs slowest=500,sample=100\n",
    )
    .action(async (file, o) => {
      const input = openRecordFile(file);
      try {
        if (!input.identity)
          fail(
            `${file} is an original svtrace results file (latencies only): there are no columns to export`,
          );
        if (o.perfetto) {
          const svs = parseSvs(o.svs);
          const thresholdUs = Number(o.thresholdUs);
          if (!(thresholdUs > 0)) fail(`bad --threshold-us "${o.thresholdUs}": give a number > 0`);
          const opts = { ...svs, thresholdUs };
          const picked = selectSvs(input.batches(), input.meta, opts);
          const events = perfettoEvents(picked, input.meta, opts);
          try {
            writeFileSync(o.perfetto, perfettoJson(events, input.meta));
          } catch (e) {
            fail(`cannot write ${o.perfetto}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
          }
          process.stderr.write(
            `svtrace: wrote ${picked.length} SVs (${events.length} events) to ${o.perfetto}\n`,
          );
          return;
        }
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
          const extras = contextColumns(input.meta);
          await write(`${csvHeader(input.meta.points, extras)}\n`);
          for (const batch of input.batches()) {
            await write(csvLines(batch, extras.length));
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
