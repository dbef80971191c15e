/**
 * `svtrace report FILES... [--pub F --hyp F --sub F]`: latency statistics of a record (or joined records, or
 * sv_timestamp_logger files) per stream and segment, the CI verdict, JSON/JUnit/HTML/PNG outputs.
 * Thin layer over src/report/run-report.ts.
 */
import { type Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { runReport } from "../../report/run-report.js";

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError("expected a positive number of microseconds");
  return n;
}

function collectNumber(v: string, prev: number[]): number[] {
  return [...prev, positiveNumber(v)];
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number");
  return n;
}

export function register(program: Command): void {
  program
    .command("report")
    .description("latency statistics, plots and a CI verdict from records or sv_timestamp_logger files")
    .argument("[files...]", "svtrace records (Arrow or CSV), or an original svtrace results file")
    .option("--pub <file>", "sv_timestamp_logger file of the publisher (point T0)")
    .option("--hyp <file>", "sv_timestamp_logger file of the hypervisor (point T1)")
    .option("--sub <file>", "sv_timestamp_logger file of the subscriber, VM userspace (point T4)")
    .option(
      "--threshold-us <us>",
      "count SVs above this latency too (repeatable; 100, 200, 250 always)",
      collectNumber,
      [],
    )
    .option(
      "--max-latency-us <us>",
      "FAIL when any total latency (first to last point) is above this",
      positiveNumber,
    )
    .option(
      "--limit <seg=us>",
      "FAIL when a segment is above a limit, e.g. Thyp=100, Ttot=200, T3-T4=80 (repeatable)",
      collect,
      [],
    )
    .option("--top <n>", "how many spikes to list", positiveInt, 10)
    .option("--json", "print the whole summary as one JSON object (latencies in ns)")
    .option("--junit <file>", "write JUnit XML (one test case per limit, and min latency > 0)")
    .option("--html <file>", "write a self-contained HTML page with the plots and tables")
    .option("--png <dir>", "write the plots as PNG files into this directory")
    .option(
      "--join-window <samples>",
      "samples an input may move past an SV in a join before it counts as missing there (20000)",
      positiveInt,
    )
    .addHelpText(
      "after",
      `
Segments are named after their points (T1-T2, ...) and svtrace-ansible's names: Tnet T0-T1, Thyp T1-T2,
Ttrans T2-T3, Tsub T3-T4, Tseapath T1-T4, Ttot T0-T4; "total" is first to last point. Several record files with
the same points are read as one; with different points (hypervisor + VM) they are joined per SV on
(svID, iteration, smpCnt). Exit status: 0, or 1 when a limit FAILs (or on an error).

Examples:
  svtrace report run.arrow
  svtrace report run.arrow --limit Thyp=100 --limit Tsub=100 --limit Ttot=200 --junit latency.xml
  svtrace report run.arrow --html report.html --png plots/
  svtrace report hyp.arrow vm.arrow --json > summary.json
  svtrace report --pub ts_pub.txt --hyp ts_hyp.txt --sub ts_vm.txt --max-latency-us 250
  svtrace report /tmp/results          # the original svtrace's results file
`,
    )
    .action(async (files, o) => {
      const r = await runReport({
        files,
        pub: o.pub,
        hyp: o.hyp,
        sub: o.sub,
        thresholdsUs: o.thresholdUs,
        maxLatencyUs: o.maxLatencyUs,
        limits: o.limit,
        top: o.top,
        json: o.json,
        junit: o.junit,
        html: o.html,
        png: o.png,
        joinWindow: o.joinWindow,
      });
      process.exitCode = r.exitCode;
    });
}
