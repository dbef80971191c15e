/**
 * Every svtrace sub-command, in the order `svtrace --help` lists them.
 * A command module exports `register(program)`; the CLI stays a thin layer over the library modules.
 */
import type { Command } from "@commander-js/extra-typings";

export type Register = (program: Command) => void;

export const commands: Register[] = [];
