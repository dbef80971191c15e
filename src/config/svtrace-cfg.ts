/**
 * The original svtrace's configuration file (`svtrace.cfg`, read there with Python's configparser):
 *
 *     [DEFAULT]
 *     SV_INTERFACE=enp7s0
 *     SV_BUFFER_SIZE=100000
 *
 * SV_INTERFACE is the SV interface (T1 on a hypervisor, T3 in a VM); SV_BUFFER_SIZE is the size of the
 * in-kernel pending-SV map (BPFTRACE_MAP_KEYS_MAX). Parsed like configparser: `key=value` or `key: value`,
 * keys case-insensitive, `#`/`;` comment lines, indented continuation lines, [DEFAULT] values inherited by
 * every section. Command-line flags override what the file says.
 */
import { readFileSync } from "node:fs";
import { fail } from "../errors.js";

export interface SvtraceCfg {
  /** SV_INTERFACE */
  iface?: string;
  /** SV_BUFFER_SIZE */
  bufferSize?: number;
  /** every key of [DEFAULT] (lower-cased), for messages and future keys */
  raw: Record<string, string>;
}

export class CfgSyntaxError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
    this.name = "CfgSyntaxError";
  }
}

/** Parse INI text into sections of lower-cased keys. [DEFAULT] values are inherited by the other sections. */
export function parseIni(text: string, file = "svtrace.cfg"): Map<string, Record<string, string>> {
  const sections = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  let lastKey: string | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) {
      if (trimmed === "") lastKey = undefined;
      continue;
    }
    if (/^\s/.test(line) && current && lastKey !== undefined) {
      current[lastKey] = `${current[lastKey]}\n${trimmed}`; // continuation line
      continue;
    }
    const section = /^\[([^\]]+)\]\s*$/.exec(trimmed);
    if (section) {
      const name = section[1].trim();
      current = sections.get(name) ?? {};
      sections.set(name, current);
      lastKey = undefined;
      continue;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(trimmed);
    if (!kv) throw new CfgSyntaxError(file, i + 1, `expected "KEY=VALUE" or "[SECTION]", got "${trimmed}"`);
    if (!current)
      throw new CfgSyntaxError(file, i + 1, "key before any [SECTION] header (start with [DEFAULT])");
    lastKey = kv[1].toLowerCase();
    current[lastKey] = kv[2];
  }
  const defaults = sections.get("DEFAULT") ?? {};
  for (const [name, values] of sections) {
    if (name !== "DEFAULT") sections.set(name, { ...defaults, ...values });
  }
  return sections;
}

/** Parse svtrace.cfg text; `file` is only used in messages. */
export function parseSvtraceCfg(text: string, file = "svtrace.cfg"): SvtraceCfg {
  const sections = parseIni(text, file);
  const raw = sections.get("DEFAULT") ?? {};
  const cfg: SvtraceCfg = { raw };
  const iface = raw.sv_interface?.trim();
  if (iface) cfg.iface = iface;
  const size = raw.sv_buffer_size?.trim();
  if (size !== undefined && size !== "") {
    if (!/^\d+$/.test(size) || Number(size) < 1)
      throw new CfgSyntaxError(
        file,
        lineOf(text, "sv_buffer_size"),
        `SV_BUFFER_SIZE must be a positive integer, got "${size}"`,
      );
    cfg.bufferSize = Number(size);
  }
  return cfg;
}

function lineOf(text: string, key: string): number {
  const lines = text.split(/\r?\n/);
  const i = lines.findIndex((l) => l.trim().toLowerCase().startsWith(key));
  return i < 0 ? 0 : i + 1;
}

/** Read and parse a svtrace.cfg file; problems become one-line user errors. */
export function readSvtraceCfg(path: string): SvtraceCfg {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    fail(`cannot read config ${path}: ${code === "ENOENT" ? "no such file" : code}; check the --conf path`);
  }
  try {
    return parseSvtraceCfg(text, path);
  } catch (err) {
    if (err instanceof CfgSyntaxError) fail(`bad config ${err.message}`);
    throw err;
  }
}
