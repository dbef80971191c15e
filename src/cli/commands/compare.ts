/**
 * `svtrace compare A B`: two runs side by side with the absolute and relative change of every statistic and
 * threshold count. Thin layer over src/report/compare.ts.
 */
import { type Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { runCompare } from "../../report/compare.js";

function collectNumber(v: string, prev: number[]): number[] {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError("expected a positive number of microseconds");
  return [...prev, n];
}

export function register(program: Command): void {
  program
    .command("compare")
    .description("compare two runs: every statistic and threshold count with its change (A -> B)")
    .argument("<a>", "run A: a record (Arrow, CSV, results) or a `svtrace report --json` summary")
    .argument("<b>", "run B: the same kinds")
    .option(
      "--threshold-us <us>",
      "compare the count above this latency too (repeatable; 100, 200, 250 always)",
      collectNumber,
      [],
    )
    .option("--json", "print the comparison as one JSON object")
    .option("--html <file>", "write an HTML page with both runs' histograms and exceedance curves overlaid")
    .addHelpText(
      "after",
      `
Changes are B - A: "352 533 -> 512, -99.8 %" for counts, "+1.2 µs, +4.1 %" for latencies.

Examples:
  svtrace compare before.arrow after.arrow
  svtrace compare before.arrow after.arrow --html compare.html
  svtrace report run1.arrow --json > run1.json && svtrace compare run1.json run2.arrow --json
`,
    )
    .action(async (a, b, o) => {
      await runCompare({ a, b, thresholdsUs: o.thresholdUs, json: o.json, html: o.html });
    });
}
