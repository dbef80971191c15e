/**
 * `svtrace selfcheck`: checks svtrace's own numbers against timestamps it did not make (thin layer over
 * src/selfcheck/run.ts). One PASS/FAIL line per check; exit 0 only when every check passes.
 */
import { type Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { formatChecks, runSelfcheck } from "../../selfcheck/run.js";

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 1 || n > 600) throw new InvalidArgumentError("seconds from 1 to 600");
  return n;
}

function delays(v: string): number[] {
  const l = v === "" ? [] : v.split(",").map(Number);
  if (l.some((n) => !Number.isInteger(n) || n <= 0 || n > 1_000_000))
    throw new InvalidArgumentError("a comma-separated list of whole µs, e.g. 50,200,1000");
  return l;
}

export function register(program: Command): void {
  program
    .command("selfcheck")
    .description("check svtrace's timestamps against independent ones and a known delay (needs root)")
    .addOption(
      new Option("--switch <mode>", "lab switch for the clock checks")
        .choices(["bridge", "tap"])
        .default("tap"),
    )
    .option("--duration <s>", "seconds of traffic per run (one stream, 4000 SV/s)", seconds, 3)
    .option("--delays <list>", "injected delays in µs (tap lab, one lab per delay)", delays, [50, 200, 1000])
    .option("--json", "print the checks as one JSON object")
    .addHelpText(
      "after",
      `
Builds the lab (refuses if one is up), traces one stream at T1..T4 and prints one line per check:
  ftrace Tn          svtrace vs the kernel's ring buffer (an ftrace instance per point, clock mono, no BPF):
                     every SV matched, >= 99.9 % within 1 µs, median within 0.2 µs
  SO_TIMESTAMPNS T3  svtrace's T3 vs the subscriber socket's kernel receive time, by (svID, smpCnt)
  segment sums       per SV the segments add up to first-to-last exactly; T0-T1's clock uncertainty
  tracer cost        the record's metadata has the BPF run time per point per SV
  delay N µs         lab up --switch tap --delay-us N moves T2b-T3's p50 by N (within 5 % or 1 µs)
Exit status 0 only when every check passes.

Examples:
  sudo svtrace selfcheck
  sudo svtrace selfcheck --switch bridge --duration 5 --json
`,
    )
    .action(async (o) => {
      const r = await runSelfcheck({
        switch: o.switch as "bridge" | "tap",
        durationS: o.duration,
        delaysUs: o.delays,
      });
      process.stdout.write(
        o.json
          ? `${JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? String(v) : v))}\n`
          : formatChecks(r),
      );
      if (!r.pass) process.exitCode = 1;
    });
}
