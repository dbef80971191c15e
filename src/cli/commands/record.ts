/**
 * `svtrace record`: trace SVs in the kernel and write one row per SV (svID, appid, iteration, smpCnt, one ns
 * timestamp per point) to an Arrow IPC stream (default), CSV or the original `results` file. Prints a line
 * with "recording" on stderr once every probe is attached; SIGINT/SIGTERM/--duration end it with a summary.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { type Command, Option } from "@commander-js/extra-typings";
import { resolveSelection } from "../../config/selection.js";
import { fail } from "../../errors.js";
import { labStatus } from "../../lab/index.js";
import { recordQemuLab } from "../../live/qemu-record.js";
import { formatSummary } from "../../live/summary.js";
import { runTrace } from "../../live/trace-run.js";
import { writeLegacyResultsFrom } from "../../record/legacy-writer.js";
import type { RecordFormat } from "../../record/schema.js";
import { RECORD_FORMATS } from "../../record/writer.js";
import { showProgram } from "../../trace/session.js";
import { type RunFlags, runOptions, selectionOptions } from "../trace-options.js";
import { SELECTION_HELP } from "./live.js";

const HELP = `
Record file (one row per SV): svID, appid, iteration (smpCnt wraps so far), smpCnt, then t0_ns (refrTm: the
publisher's send time when it used --t0) and one nanosecond timestamp column per trace point (t1_ns, ...), empty
(null) where a point did not see the SV. With --lab the CSV header is exactly
  svID,appid,iteration,smpCnt,t0_ns,t1_ns,t2_ns,t3_ns,t4_ns
  arrow   Apache Arrow IPC stream (default), batches of at most one second: a killed run keeps all but the last
          batch; schema metadata "svtrace" holds host, kernel, bpftrace version, profile, points, clock, start
  csv     the same columns, header = the column names
  legacy  the original svtrace "results" file: one latency (first to last point) in whole µs per line
Scripts can wait for the line containing "recording" on stderr. Read it with svtrace report FILE, or
svtrace export FILE --csv.`;

export function register(program: Command): void {
  const cmd = program
    .command("record")
    .description("trace SVs in the kernel and write one row per SV with a timestamp per point");
  for (const o of selectionOptions()) cmd.addOption(o);
  for (const o of runOptions()) cmd.addOption(o);
  cmd
    .option("--out <file>", "record file to write (required unless --show-program)")
    .option(
      "--show-program",
      "print the tracer program this run would load (BPF C source and its configuration with libbpf, else the bpftrace program) and exit",
    )
    .addOption(new Option("--format <format>", "record format").choices(RECORD_FORMATS).default("arrow"))
    .option("--live", "also draw the live screen (TTY) while recording")
    .addOption(
      new Option(
        "--legacy-results <file>",
        "also write the original results file here at the end",
      ).hideHelp(),
    )
    .option("--json", "at the end, print the final snapshot (the svtrace live --json shape) on stdout")
    .addHelpText(
      "after",
      `${HELP}\n${SELECTION_HELP}\n\nExamples:\n` +
        "  svtrace record --lab --out run.arrow --duration 30\n" +
        "  svtrace record --lab --switch tap --show-program    # the in-kernel program, not loaded\n" +
        "  svtrace record --lab --switch tap --format csv --out run.csv\n" +
        "  svtrace record --machine hypervisor --conf /etc/svtrace.cfg --out /tmp/hyp.arrow --prometheus 9184\n" +
        "  svtrace record --machine VM --iface eth1 --format legacy --out /tmp/results\n",
    )
    .action(async (_o, c) => {
      const f = c.opts() as unknown as RunFlags & {
        out?: string;
        format: RecordFormat;
        live?: boolean;
        showProgram?: boolean;
        legacyResults?: string;
      };
      const lab = f.lab && !f.switch ? await labStatus().catch(() => undefined) : undefined;
      if (lab?.mode === "qemu" && !f.showProgram) {
        if (f.out === undefined || f.out === "") fail("say where to write the joined record: --out FILE");
        if (f.format === "legacy")
          fail("record --lab on a qemu lab writes arrow or csv (the join needs SV identity)");
        const out = f.out;
        const r = await recordQemuLab({
          out,
          format: f.format,
          durationS: f.duration,
          backend: f.backend,
          streams: f.stream,
          onReady: (hp, gp) =>
            process.stderr.write(
              `svtrace: recording qemu lab: host ${hp} (hypervisor netns) and guest ${gp} (through the agent); joined into ${out}; Ctrl-C stops\n`,
            ),
        });
        process.stderr.write(
          `svtrace: joined ${r.rows} SVs into ${r.out} (host record ${r.hostRecord}, guest record ${r.guestRecord})\n`,
        );
        if (f.json)
          process.stdout.write(
            `${JSON.stringify({ record: r.out, rows: r.rows, host: r.hostRecord, guest: r.guestRecord, crossClock: r.crossClock })}\n`,
          );
        return;
      }
      const sel = resolveSelection(f, lab?.mode);
      if (f.context) sel.trace.context = { thresholdUs: f.thresholdUs };
      if (f.showProgram) {
        process.stdout.write(showProgram(sel.trace));
        return;
      }
      if (f.out === undefined) fail("say where to write the record: --out FILE (e.g. --out run.arrow)");
      if (f.out === "") fail("--out needs a file name");
      if (isDirectory(f.out)) {
        // the original's --out DIR: DIR/results (legacy) and the full record beside it
        f.legacyResults = join(f.out, "results");
        f.out = `${f.legacyResults}.arrow`;
        f.format = "arrow";
      } else if (f.legacyResults && f.format !== "arrow") fail("--legacy-results needs --format arrow");
      const out = f.out;
      let cpuAttachedS = 0;
      const r = await runTrace({
        trace: sel.trace,
        title: sel.title,
        thresholdUs: f.thresholdUs,
        durationS: f.duration,
        display: f.live && process.stdout.isTTY ? "screen" : "none",
        prometheus: f.prometheus,
        record: { path: out, format: f.format },
        onReady: (s, m) => {
          const u = process.cpuUsage();
          cpuAttachedS = (u.user + u.system) / 1e6;
          process.stderr.write(
            `svtrace: recording ${sel.title} (${s.meta.points.map((p) => p.name).join(",")}, ${s.backend}) to ${out}` +
              `${m ? `; metrics on ${m.url}` : ""}; Ctrl-C stops\n`,
          );
        },
      });
      process.stderr.write(`${formatSummary(r)}\n`);
      if (f.legacyResults) {
        const n = writeLegacyResultsFrom(f.out, f.legacyResults);
        process.stderr.write(`Results saved to ${f.legacyResults} (${n} latencies; full record ${f.out})\n`);
      }
      if (f.json) {
        // this process's CPU (the libbpf backend runs in it; bpftrace's child is not counted)
        const u = process.cpuUsage();
        const cpu_s = Math.round((u.user + u.system) / 1e3) / 1e3;
        // CPU until every probe was attached (start-up: node, compile/load), the rest is the run's
        const cpu_attached_s = Math.round(cpuAttachedS * 1e3) / 1e3;
        process.stdout.write(
          `${JSON.stringify({ ...r.snapshot, record: r.record, stopped_by: r.stoppedBy, cpu_s, cpu_attached_s })}\n`,
        );
      }
    });
}

function isDirectory(path: string): boolean {
  try {
    return path.endsWith("/") || statSync(path).isDirectory();
  } catch {
    return false;
  }
}
