/**
 * `svtrace demo`: the main job in one command (lab up, tracer, subscriber, publisher, live view, summary,
 * record path, report, lab down). Thin layer over src/demo/.
 */
import { type Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { defaultRecordPath, formatDemoSummary, runDemo } from "../../demo/demo.js";
import { runQemuDemo } from "../../demo/qemu-demo.js";
import { runDemoReport } from "../../demo/report.js";
import { LAB_MODES } from "../../lab/names.js";
import { displayModeFor } from "../../live/display.js";
import { RECORD_FORMATS } from "../../record/writer.js";

function number(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`give a number ${min}..${max}`);
    return n;
  };
}

export function register(program: Command): void {
  program
    .command("demo")
    .description(
      "the main job: a virtual substation host, 4 SV streams traced live through it, then a report",
    )
    .addOption(
      new Option("--switch <mode>", "lab switch between hyp-in and the VM (qemu: a real guest)")
        .choices(LAB_MODES)
        .default("bridge"),
    )
    .addOption(
      new Option(
        "--backend <tracer>",
        "tracer backend: libbpf, bpftrace, or auto (libbpf where it loads; default, or SVTRACE_BACKEND)",
      ).choices(["auto", "libbpf", "bpftrace"] as const),
    )
    .option("--duration <s>", "seconds of traffic", number(1, 86400), 15)
    .option("--streams <n>", "SV streams (4000 SV/s each)", number(1, 64), 4)
    .option("--out <file>", "record file (default /tmp/svtrace-demo-<time>.arrow)")
    .addOption(new Option("--format <format>", "record format").choices(RECORD_FORMATS).default("arrow"))
    .option("--threshold-us <us>", "latency threshold for the counts over it (µs)", number(1, 1e9), 200)
    .option("--prometheus <[host:]port>", "serve /metrics for Prometheus while it runs")
    .option("--json", "live JSON snapshots on stdout instead of the screen")
    .option("--html <file>", "HTML report of the run (default: beside the record, .html)")
    .option("--no-html", "no HTML report")
    .addHelpText(
      "after",
      `
Steps: preflight (root, bpftrace, BTF, tracefs, ip; OVS for --switch ovs) -> svtrace lab up -> tracer attached
at T1 hyp-in, T2 hyp-out (tap: vnet0), T3 vm0, T4 the subscriber's read, recording -> svtrace subscribe in the VM
namespace (thread svt-sub) -> svtrace publish in the publisher namespace (thread svt-pub, --t0: refrTm = send
time, so T0 is known) -> the live screen every second -> summary, record path and report -> lab down.
The lab comes down on Ctrl-C and on errors too (a lab that was already up before the demo is left up).
Namespace names follow SVTRACE_LAB_PREFIX (default "svt-").

Examples:
  svtrace demo
  svtrace demo --switch tap --duration 30
  svtrace demo --switch qemu --duration 10 --streams 2   # a Debian 6.1 guest under QEMU, two kernels, two clocks
  ./run demo --switch ovs --duration 10
`,
    )
    .action(async (o) => {
      if (o.switch === "qemu") {
        await runQemuDemo({
          durationS: o.duration,
          streams: o.streams,
          out: o.out ?? defaultRecordPath(),
          backend: o.backend,
          thresholdUs: o.thresholdUs,
          html: o.html === false ? null : typeof o.html === "string" ? o.html : undefined,
          out_: process.stdout,
        });
        return;
      }
      const r = await runDemo({
        switch: o.switch,
        backend: o.backend,
        durationS: o.duration,
        streams: o.streams,
        out: o.out,
        format: o.format,
        thresholdUs: o.thresholdUs,
        display: displayModeFor(Boolean(o.json)),
        prometheus: o.prometheus,
      });
      const out = o.json ? process.stderr : process.stdout;
      out.write(`\n${formatDemoSummary(r)}\n`);
      await runDemoReport(r, {
        thresholdUs: o.thresholdUs,
        out,
        html: o.html === false ? null : typeof o.html === "string" ? o.html : undefined,
      });
    });
}
