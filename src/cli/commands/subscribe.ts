/**
 * `svtrace subscribe`: receive SV on an interface in a thread named svt-sub and report per-stream continuity,
 * inter-arrival and refrTm latency (see src/subscribe/).
 */
import type { Command } from "@commander-js/extra-typings";
import { fail } from "../../errors.js";
import { checkSvId, parseNumberOption } from "../../gen/plan.js";
import { formatSubscribeSummary, startSubscriber } from "../../subscribe/subscriber.js";

export function register(program: Command): void {
  program
    .command("subscribe")
    .summary("receive SV: continuity, inter-arrival, refrTm latency (thread svt-sub)")
    .description(
      "Receive SV on an interface (the 'user application', T4): a receive thread named svt-sub with kernel " +
        "timestamps; per stream: received, missing (smpCnt gaps across the wrap), duplicates, out of order, " +
        "inter-arrival, and end-to-end latency from refrTm when the publisher used --t0. " +
        "Prints 'listening on IF' to stderr once the socket is bound; ends at --duration or Ctrl-C/SIGTERM.",
    )
    .requiredOption("--iface <if>", "interface to receive on")
    .option("--netns <name>", "run inside this network namespace (/run/netns/NAME)")
    .option("--duration <s>", "stop after this many seconds (default: until Ctrl-C/SIGTERM)")
    .option("--json", "print the summary as one JSON object")
    .option("--log <file>", "write sv_timestamp_logger lines iteration:svID:smpCnt:timestamp_us")
    .option("--only-cnt0", "log only SVs with smpCnt 0 (sv_timestamp_logger -l)")
    .option(
      "--log-kernel-ts",
      "log the kernel receive time instead of the userspace time the frame is handled",
    )
    .option("--log-kernel-ns", "log the kernel receive time in nanoseconds (SO_TIMESTAMPNS, CLOCK_REALTIME)")
    .option("--t0-clock <clock>", "clock the publisher stamped refrTm from: realtime (default) or tai")
    .option("--svid <id>", "only this stream (others are counted as ignored)")
    .addHelpText(
      "after",
      `
JSON (--json): {"received": frames, "samples", "missing", "duplicates", "out_of_order" (totals),
  "streams": [{"svID","appid","src","dst","vlan","received","samples","missing","gaps","duplicates",
  "out_of_order","wraps","modulus","interarrival":{count,min_us,p50_us,p99_us,p999_us,max_us,mean_us},
  "gap_error":{...,"period_us"},"latency":{...,"clock"}|null}], "timestamps", "duration_s", "stopped_by", ...}
Log lines (--log) follow seapath's sv_timestamp_logger: iteration = wraps of the stream's smpCnt so far,
timestamp = CLOCK_REALTIME µs when the frame was handled (or the kernel receive time with --log-kernel-ts).

Examples:
  svtrace subscribe --iface vm0 --netns svt-vm --duration 10 --json
  svtrace subscribe --iface vm0 --netns svt-vm --log /tmp/ts_vm.txt --only-cnt0
  svtrace subscribe --iface eth1 --svid svID0000`,
    )
    .action(async (o) => {
      const durationS =
        o.duration === undefined ? undefined : parseNumberOption("--duration", o.duration, 0.001, 31_536_000);
      const t0Clock = o.t0Clock ?? "realtime";
      if (t0Clock !== "realtime" && t0Clock !== "tai")
        fail(`--t0-clock must be realtime or tai, got "${t0Clock}"`);
      if (o.svid !== undefined) checkSvId(o.svid);
      if (o.onlyCnt0 && !o.log) fail("--only-cnt0 needs --log FILE");
      const handle = startSubscriber({
        iface: o.iface,
        netns: o.netns,
        durationS,
        logFile: o.log,
        onlyCnt0: o.onlyCnt0 ?? false,
        logTimestamps: o.logKernelNs ? "kernel-ns" : o.logKernelTs ? "kernel" : "user",
        t0Clock,
        svID: o.svid,
      });
      const onSignal = () => handle.stop();
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      handle.listening.then(
        () => process.stderr.write(`listening on ${o.iface}${o.netns ? ` (netns ${o.netns})` : ""}\n`),
        () => {},
      );
      try {
        const summary = await handle.done;
        process.stdout.write(
          o.json ? `${JSON.stringify(summary)}\n` : `${formatSubscribeSummary(summary)}\n`,
        );
        // the summary and the --log file hold what arrived before; the error line says why it stopped
        if (summary.interface_gone) fail(summary.error ?? `${o.iface} went away`);
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
