/**
 * `svtrace pcap generate OUT.pcap`: write a pcap of realistic 9-2LE SV traffic (see src/gen/).
 */
import type { Command } from "@commander-js/extra-typings";
import cliProgress from "cli-progress";
import { fail } from "../../errors.js";
import { DEFAULT_START_NS, generatePcap, parseStartTime } from "../../gen/pcap-generate.js";
import { buildPlan, parseIntOption } from "../../gen/plan.js";
import { genOptionsFromValues, type StreamValues } from "../../gen/stream-options.js";
import { STREAM_FLAGS } from "../stream-flags.js";

export function register(program: Command): void {
  const pcap = program
    .command("pcap")
    .description("SV capture files: generate test traffic")
    .addHelpText(
      "after",
      `
Examples:
  svtrace pcap generate sv.pcap --streams 8 --count 40000
  svtrace pcap generate --help`,
    );
  const gen = pcap
    .command("generate")
    .summary("write a pcap of realistic 9-2LE SV streams")
    .description(
      "Write a pcap of IEC 61850-9-2LE SV streams: three-phase sines, IN/UN derived, smpCnt aligned to the " +
        "second, frames stamped at their real sample times (ns pcap). Same options = same bytes.",
    )
    .argument("<out>", "output pcap file")
    .option("--count <n>", "frames per stream (default 4000 = 1 s at 50 Hz)");
  for (const [flags, desc] of STREAM_FLAGS) gen.option(flags, desc);
  gen
    .option("--start <iso>", "time of the first sample, ISO 8601 UTC or 'now' (default 2026-01-01T00:00:00Z)")
    .addHelpText(
      "after",
      `
Examples:
  svtrace pcap generate sv.pcap                                  1 stream, 1 s, 50 Hz, 80 samples/cycle
  svtrace pcap generate sv8.pcap --streams 8 --count 40000       8 streams for 10 s (tcpreplay --pps 32000)
  svtrace pcap generate le256.pcap --spc 256 --asdu 8 --vlan 100 --prio 4
  svtrace pcap generate seapath.pcap --streams 64 --freq 60 --svid-prefix svID --svid-digits 4 --appid 4000
  tcpreplay -i pub0 --pps 4000 sv.pcap                           replay it`,
    )
    .action(async (out, raw) => {
      const values = raw as unknown as StreamValues & { count?: string; start?: string };
      const plan = buildPlan(genOptionsFromValues(values));
      const count =
        values.count === undefined ? 4000 : parseIntOption("--count", values.count, 1, 100_000_000);
      let startNs = DEFAULT_START_NS;
      if (values.start !== undefined) {
        const s = parseStartTime(values.start);
        if (s === undefined || s <= 0n)
          fail(
            `--start must be an ISO 8601 time like 2026-01-01T00:00:00Z (or 'now'), got "${values.start}"`,
          );
        startNs = s;
      }
      const total = count * plan.streams.length;
      const bar =
        process.stderr.isTTY && total >= 200_000
          ? new cliProgress.SingleBar(
              { stream: process.stderr, format: "generating [{bar}] {percentage}% {value}/{total} frames" },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
      bar?.start(total, 0);
      let result: Awaited<ReturnType<typeof generatePcap>>;
      try {
        result = await generatePcap(plan, out, {
          count,
          startNs,
          onProgress: (n) => bar?.update(n),
        });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code && typeof err.path === "string")
          fail(`cannot write ${out}: ${err.code}; check the directory exists and is writable`);
        throw e;
      } finally {
        bar?.stop();
      }
      const r = plan.rate;
      process.stderr.write(
        `wrote ${out}: ${result.frames} frames, ${result.streams} stream(s) x ${count}, ${r.framesPerSecond} frames/s ` +
          `per stream (${r.sampleRate} samples/s, ${r.asdu} ASDU/frame), ` +
          `${new Date(Number(result.firstNs / 1_000_000n)).toISOString()} .. ${new Date(Number(result.lastNs / 1_000_000n)).toISOString()}\n`,
      );
    });
}
