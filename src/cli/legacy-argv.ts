/**
 * The original svtrace.py command line, as svtrace-ansible runs it:
 *   svtrace.py [--live | --record] --machine {hypervisor,VM} --conf FILE [--out DIR (default /tmp/)]
 * mapped onto `svtrace live` / `svtrace record` before commander parses it. `--record` writes `<out>results`
 * (the original's string concatenation: DIR/results for a directory) in the legacy format on SIGINT, and the
 * full record beside it as `<out>results.arrow`. `--live` is the default; the original ignores --out there.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { fail } from "../errors.js";

const LEGACY_FIRST = new Set(["--record", "--live", "--machine", "--conf", "--out"]);

/** True when `args` (process.argv without node and the script) is the original tool's form. */
export function isLegacyArgv(args: string[]): boolean {
  const first = args[0]?.split("=")[0];
  return first !== undefined && LEGACY_FIRST.has(first);
}

/** Where `--out P` puts the results file: P/results for a directory (or P ending in /), else P + "results". */
export function legacyResultsPath(out: string): string {
  if (out.endsWith("/")) return `${out}results`;
  try {
    if (statSync(out).isDirectory()) return join(out, "results");
  } catch {
    // not an existing path: the original concatenates
  }
  return `${out}results`;
}

/** The original argv mapped to svtrace's own (`args` without node and the script). */
export function mapLegacyArgv(args: string[]): string[] {
  let record = false;
  let live = false;
  let out = "/tmp/";
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [name, inline] =
      a.startsWith("--") && a.includes("=")
        ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
        : [a, undefined];
    if (name === "--record") record = true;
    else if (name === "--live") live = true;
    else if (name === "--out") {
      const v = inline ?? args[++i];
      if (v === undefined || v === "") fail("--out needs a directory (the original default is /tmp/)");
      out = v;
    } else rest.push(a);
  }
  if (record && live) fail("give either --live or --record, not both (as the original svtrace.py)");
  if (!record) return ["live", ...rest];
  const results = legacyResultsPath(out);
  return ["record", ...rest, "--out", `${results}.arrow`, "--legacy-results", results];
}
