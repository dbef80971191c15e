/**
 * `svtrace publish`: send SV streams on an interface from a paced sender thread (see src/publish/).
 */
import type { Command } from "@commander-js/extra-typings";
import { fail } from "../../errors.js";
import { buildPlan, parseIntOption, parseNumberOption } from "../../gen/plan.js";
import { genOptionsFromValues, type StreamValues } from "../../gen/stream-options.js";
import { formatPublishSummary, startPublisher } from "../../publish/publisher.js";
import type { T0Clock } from "../../publish/types.js";
import { STREAM_FLAGS } from "../stream-flags.js";

interface PublishCliValues extends StreamValues {
  iface?: string;
  netns?: string;
  duration?: string;
  count?: string;
  t0?: boolean;
  t0Clock?: string;
  align?: boolean;
  skipSmpcnt?: string;
  json?: boolean;
  priority?: string;
  cpu?: string;
  spinUs?: string;
  stagger?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command("publish")
    .summary("publish paced SV streams on an interface (thread svt-pub)")
    .description(
      "Publish IEC 61850-9-2LE SV streams on an interface (AF_PACKET) from a sender thread named svt-pub, " +
        "paced on absolute deadlines (sleep, then spin). Prints a summary at the end (or on Ctrl-C).",
    )
    .requiredOption("--iface <if>", "interface to send on")
    .option("--netns <name>", "run inside this network namespace (/run/netns/NAME)")
    .option("--duration <s>", "send for this many seconds")
    .option("--count <n>", "send this many frames per stream (default: until Ctrl-C)")
    .option("--svids <id,id,...>", "explicit svIDs, one stream each (instead of --streams/--svid-prefix)")
    .option("--t0", "write the send time into each ASDU's refrTm (end-to-end latency at the subscriber)")
    .option(
      "--t0-clock <clock>",
      "clock for --t0: realtime or tai (default realtime; TAI-REALTIME is measured)",
    )
    .option(
      "--align",
      "smpCnt 0 at the top of each wall-clock second (like a time-synchronised merging unit)",
    )
    .option("--skip-smpcnt <n,n,...>", "never send these smpCnt values (every second): drop tests")
    .option("--priority <p>", "run the sender thread SCHED_FIFO at this priority (1..99)")
    .option("--cpu <n>", "pin the sender thread to this CPU")
    .option(
      "--spin-us <us>",
      "sleep until this long before each deadline, then spin (default 60; grows by itself, up to 90 % of a period, when wake-ups come late)",
    )
    .option(
      "--stagger",
      "spread the streams over the period (stream s goes out s/N of a period after stream 0), like separate merging units, instead of all at each deadline",
    )
    .option("--json", "print the summary as one JSON object");
  for (const [flags, desc] of STREAM_FLAGS) cmd.option(flags, desc);
  cmd
    .addHelpText(
      "after",
      `
JSON (--json): {"sent": total frames, "samples", "skipped", "streams": [{"svID","appid","sent","skipped"}],
  "deadlines_missed", "gap"/"gap_error"/"lateness": {count,min_us,p50_us,p99_us,p999_us,max_us,mean_us},
  "t0_clock": "realtime"|"tai"|null, "tai_minus_realtime_ns", "started_at", "duration_s", "stopped_by", ...}

Examples:
  svtrace publish --iface pub0 --netns svt-pub --streams 8 --duration 10
  svtrace publish --iface pub0 --netns svt-pub --t0 --align --priority 50 --json
  svtrace publish --iface eth1 --svids MU01,MU02 --vlan 0 --prio 4 --count 4000
  svtrace publish --iface pub0 --netns svt-pub --count 4000 --skip-smpcnt 100,2000`,
    )
    .action(async (raw) => {
      const v = raw as unknown as PublishCliValues;
      const gen = genOptionsFromValues(v);
      const plan = buildPlan(gen);
      if (v.duration !== undefined && v.count !== undefined)
        fail("give either --duration or --count, not both");
      let count: number | undefined;
      if (v.count !== undefined) count = parseIntOption("--count", v.count, 1, 1_000_000_000);
      if (v.duration !== undefined) {
        const d = parseNumberOption("--duration", v.duration, 0.001, 31_536_000);
        count = Math.max(1, Math.round(d * plan.rate.framesPerSecond));
      }
      let t0: T0Clock | undefined;
      if (v.t0Clock !== undefined && !v.t0) fail("--t0-clock needs --t0");
      if (v.t0) {
        const c = v.t0Clock ?? "realtime";
        if (c !== "realtime" && c !== "tai") fail(`--t0-clock must be realtime or tai, got "${c}"`);
        t0 = c;
      }
      const skip: number[] = [];
      if (v.skipSmpcnt !== undefined) {
        for (const part of v.skipSmpcnt.split(","))
          skip.push(parseIntOption("--skip-smpcnt", part, 0, plan.rate.sampleRate - 1));
      }
      const handle = startPublisher({
        iface: v.iface ?? fail("--iface is required"),
        netns: v.netns,
        gen,
        count,
        t0,
        align: v.align ?? false,
        skipSmpCnt: skip,
        priority: v.priority === undefined ? undefined : parseIntOption("--priority", v.priority, 1, 99),
        cpu: v.cpu === undefined ? undefined : parseIntOption("--cpu", v.cpu, 0, 1023),
        spinNs:
          v.spinUs === undefined ? undefined : parseIntOption("--spin-us", v.spinUs, 0, 1_000_000) * 1000,
        stagger: v.stagger ?? false,
      });
      const onSignal = () => handle.stop();
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      try {
        const summary = await handle.done;
        process.stdout.write(v.json ? `${JSON.stringify(summary)}\n` : `${formatPublishSummary(summary)}\n`);
        // the summary counts what went out before; the error line says why it stopped
        if (summary.interface_gone) fail(summary.error ?? `${v.iface} went away`);
        if (summary.send_errors > 0) process.exitCode = 1;
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
