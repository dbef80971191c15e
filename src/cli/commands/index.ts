/**
 * Every svtrace sub-command, in the order `svtrace --help` lists them.
 * A command module exports `register(program)`; the CLI stays a thin layer over the library modules.
 * Modules are loaded on demand so a command does not pay the start-up cost of the others' imports.
 */
import type { Command } from "@commander-js/extra-typings";

export type Register = (program: Command) => void;

type Loader = () => Promise<{ register: Register }>;

export const commandLoaders: ReadonlyArray<readonly [name: string, load: Loader]> = [
  ["demo", () => import("./demo.js")],
  ["decode", () => import("./decode.js")],
  ["streams", () => import("./streams.js")],
  ["detect", () => import("./detect.js")],
  ["lab", () => import("./lab.js")],
  ["live", () => import("./live.js")],
  ["path", () => import("./path.js")],
  ["record", () => import("./record.js")],
  ["join", () => import("./join.js")],
  ["export", () => import("./export.js")],
  ["report", () => import("./report.js")],
  ["compare", () => import("./compare.js")],
  ["pcap", () => import("./pcap.js")],
  ["publish", () => import("./publish.js")],
  ["subscribe", () => import("./subscribe.js")],
  ["selfcheck", () => import("./selfcheck.js")],
];

/** The register functions to load for this command line: only the named command's when the first argument
 * names one, none for --version, every command's otherwise (help, unknown commands). */
export async function commandsFor(argv: readonly string[]): Promise<Register[]> {
  const first = argv[2];
  if (first === "--version" || first === "-V") return [];
  const only = commandLoaders.filter(([name]) => name === first);
  const chosen = only.length > 0 ? only : commandLoaders;
  const mods = await Promise.all(chosen.map(([, load]) => load()));
  return mods.map((m) => m.register);
}
