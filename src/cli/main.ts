/**
 * svtrace: how long IEC 61850-9-2 Sampled Values take to cross a virtualized protection host.
 * This file only wires the sub-commands together; each lives in ./commands/.
 */
import { readFileSync } from "node:fs";
import { Command } from "@commander-js/extra-typings";
import { commandsFor, type Register } from "./commands/index.js";
import { reportError } from "./errors.js";
import { isLegacyArgv, mapLegacyArgv } from "./legacy-argv.js";

const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

export function buildProgram(commands: Register[]): Command {
  const program = new Command("svtrace")
    .description(
      "Trace IEC 61850-9-2 Sampled Values (SV) through a Linux host: decode captures, publish and subscribe, " +
        "build a one-machine lab, timestamp every SV in the kernel (BPF through libbpf, or bpftrace), and report latencies.",
    )
    .version(pkg.version, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ outputError: (str, write) => write(`svtrace: ${str.replace(/^error: /, "")}`) });
  for (const register of commands) register(program);
  return program;
}

process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
});

try {
  // the original svtrace.py form (svtrace --record --machine hypervisor --conf FILE) becomes record/live
  const args = process.argv.slice(2);
  const argv = isLegacyArgv(args) ? [...process.argv.slice(0, 2), ...mapLegacyArgv(args)] : process.argv;
  await buildProgram(await commandsFor(argv)).parseAsync(argv);
} catch (err) {
  process.exitCode = reportError(err);
}
