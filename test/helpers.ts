/**
 * Shared test plumbing: where the repository, the shared captures and the compiled CLI are,
 * and a way to run the CLI exactly as a user does (a child process, no shell).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

/** <outDir>/test/helpers.js -> repository root */
export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
/** ../shared/captures beside the checkout (CI lays it out the same way) */
export const capturesDir = resolve(repoRoot, "../shared/captures");
/** the compiled CLI entry that sits beside this compiled test */
export const cliMain = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

export function capture(name: string): string {
  const p = resolve(capturesDir, name);
  if (!existsSync(p))
    throw new Error(`test capture missing: ${p} (tests read ../shared/captures beside the checkout)`);
  return p;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `svtrace ARGS...` to completion. */
export function runCli(
  args: string[],
  opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  const r = spawnSync(process.execPath, [cliMain, ...args], {
    encoding: "utf8",
    input: opts.input,
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 512 * 1024 * 1024,
    env: { ...process.env, ...opts.env },
  });
  if (r.error) throw r.error;
  return { code: r.status ?? (r.signal ? 128 : 1), stdout: r.stdout, stderr: r.stderr };
}

/** Run `svtrace ARGS...` without blocking the test's event loop (for long-running commands). */
export function runCliAsync(
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; onStderr?: (chunk: string) => void } = {},
): { child: ReturnType<typeof spawn>; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [cliMain, ...args], { env: { ...process.env, ...opts.env } });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
    opts.onStderr?.(c);
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 180_000);
  const done = new Promise<CliResult>((res) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      res({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
  return { child, done };
}

/** Tests that need root say so loudly instead of skipping. */
export function assertRoot(what: string): void {
  if (process.getuid?.() !== 0)
    throw new Error(`${what} needs root (CI runs as root); run the suite as root`);
}

/** The fields of `svtrace decode --json`, in order: the names of the tshark reference decodes (issue 2). */
export const REF_RECORD_KEYS = [
  "frame",
  "time_epoch",
  "src",
  "dst",
  "vlan_id",
  "vlan_pri",
  "appid",
  "length",
  "simulate",
  "noASDU",
  "asdu_index",
  "svID",
  "datSet",
  "smpCnt",
  "confRev",
  "refrTm",
  "smpSynch",
  "smpRate",
  "smpMod",
  "gmIdentity",
  "seqData_hex",
  "values",
  "qualities",
] as const;

/**
 * The fields of `svtrace decode --json`: the reference names, then `warning` (not in the references: null on a
 * clean frame, else what is wrong with a frame whose ASDUs still decode).
 */
export const DECODE_JSON_KEYS = [...REF_RECORD_KEYS, "warning"] as const;

/** The tshark reference decode `<dir>/<stem>.ref.jsonl.gz`: one object per ASDU (or per undecodable frame). */
export function loadReferenceRecords(dir: string, stem: string): Record<string, unknown>[] {
  return gunzipSync(readFileSync(resolve(dir, `${stem}.ref.jsonl.gz`)))
    .toString("utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
