/**
 * `svtrace live`: trace SVs in the kernel and show, every second, per stream the counters and per segment the
 * latency statistics and a log2 histogram (screen on a TTY, plain lines on a pipe, JSON with --json).
 * Thin layer over src/live/trace-run.ts.
 */
import { type Command, Option } from "@commander-js/extra-typings";
import { resolveSelection } from "../../config/selection.js";
import { fail } from "../../errors.js";
import { labStatus } from "../../lab/index.js";
import { displayModeFor } from "../../live/display.js";
import { formatSummary } from "../../live/summary.js";
import { runTrace } from "../../live/trace-run.js";
import type { RecordFormat } from "../../record/schema.js";
import { RECORD_FORMATS } from "../../record/writer.js";
import { showProgram } from "../../trace/session.js";
import { type RunFlags, runOptions, selectionOptions } from "../trace-options.js";

export const SNAPSHOT_HELP = `
JSON snapshot (--json: one object per line, every second, and a last one after the trace stopped):
  {"time": ISO, "elapsed_s", "profile", "clock", "points": [{"name","label"}], "threshold_us",
   "lost_events", "map": {"entries","capacity","fill"}, "rate": SV/s,
   "streams": [{"svID", "appid", "rows" (SVs delivered = rows in a record of the same run), "complete_rows",
                "received", "complete", "missed", "lost_in_path", "dropped", "duplicates",
                "segments": {"T1-T2": {"alias": "Thyp", "count", "min", "mean", "p50", "p99", "p99.9", "max",
                                       "over_threshold", "non_positive"}, ..., "total": {...}}}],
   "all": {same segments, every stream together},
   "warnings": [the last tracer warnings],
   "histogram": {"segment": "total", "bins": [[lo_us, hi_us|null, count], ...]}}
  Latencies are nanoseconds (null when count is 0); counters are cumulative since the start. Segments are the
  consecutive point pairs (T0-T1 when the publisher stamped refrTm with --t0) and "total" = first point that
  saw the SV to the last point.`;

export const SELECTION_HELP = `
What to trace:
  --lab                      the svtrace lab (svtrace lab up): T1 hyp-in receive, T2 hyp-out transmit (tap: vnet0),
                             T3 vm0 receive, T4 the svt-sub subscriber's read; t0 = refrTm when the publisher used --t0
  --machine hypervisor|VM    a real host: T1 on --iface (or SV_INTERFACE from --conf svtrace.cfg) ...; vm: T3, T4
  --stream SVID              only these streams (exact svID; svID0001/svID0010/svID0100 are three streams)
Flags override --conf; --buffer-size overrides SV_BUFFER_SIZE.`;

export function register(program: Command): void {
  const cmd = program
    .command("live")
    .description("trace SVs in the kernel and show latencies per stream and segment, refreshed every second");
  for (const o of selectionOptions()) cmd.addOption(o);
  for (const o of runOptions()) cmd.addOption(o);
  cmd
    .option("--json", "print one JSON snapshot per second instead of the screen")
    .option(
      "--show-program",
      "print the tracer program this run would load (BPF C source and its configuration with libbpf, else the bpftrace program) and exit",
    )
    .option("--out <file>", "also record every SV to this file (as svtrace record does)")
    .addOption(
      new Option("--format <format>", "record format with --out").choices(RECORD_FORMATS).default("arrow"),
    )
    .addHelpText(
      "after",
      `${SELECTION_HELP}\n${SNAPSHOT_HELP}\n\nExamples:\n` +
        "  svtrace live --lab\n" +
        "  svtrace live --machine vm --iface eth0 --show-program    # the in-kernel program, not loaded\n" +
        "  svtrace live --lab --switch tap --stream svID0001 --threshold-us 100\n" +
        "  svtrace live --machine hypervisor --iface enp7s0 --prometheus 9184\n" +
        "  svtrace live --machine VM --conf /etc/svtrace.cfg\n" +
        "  svtrace live --lab --json --duration 10 > snapshots.jsonl\n" +
        "  svtrace live --lab --out run.arrow      # the screen, and a record of the same run\n",
    )
    .action(async (_o, c) => {
      const f = c.opts() as unknown as RunFlags & {
        out?: string;
        format: RecordFormat;
        showProgram?: boolean;
      };
      const lab = f.lab && !f.switch ? await labStatus().catch(() => undefined) : undefined;
      const sel = resolveSelection(f, lab?.mode);
      if (f.context) sel.trace.context = { thresholdUs: f.thresholdUs };
      if (f.showProgram) {
        process.stdout.write(showProgram(sel.trace));
        return;
      }
      if (f.context && !f.out)
        fail(
          "--context adds columns to the record: give --out FILE too (then svtrace report FILE attributes the slow SVs)",
        );
      const display = displayModeFor(Boolean(f.json));
      const r = await runTrace({
        trace: sel.trace,
        title: sel.title,
        thresholdUs: f.thresholdUs,
        durationS: f.duration,
        display,
        prometheus: f.prometheus,
        record: f.out ? { path: f.out, format: f.format } : undefined,
        onReady: (_s, m) => {
          process.stderr.write(
            `svtrace: tracing ${sel.title}${m ? `; metrics on ${m.url}` : ""}; Ctrl-C stops\n`,
          );
        },
      });
      process.stderr.write(`${formatSummary(r)}\n`);
    });
}
