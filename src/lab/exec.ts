/**
 * Runs the external programs the lab needs (ip, sysctl, ovs-*) without a shell, with argument arrays,
 * and turns their failures into one-line messages. Also finds programs on PATH for the preflight checks.
 */
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly stderr: string,
    readonly code: number | string | null,
  ) {
    const firstLine = stderr.trim().split("\n").filter(Boolean).pop() ?? `exit status ${code}`;
    super(`\`${argv.join(" ")}\` failed: ${firstLine}`);
    this.name = "CommandError";
  }
}

/** Absolute path of a program found on PATH, or undefined. */
export function which(program: string, path = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, program);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Run a program to completion and return its stdout; reject with a CommandError naming the command. */
export function run(
  program: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      program,
      args,
      {
        encoding: "utf8",
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        timeout: opts.timeoutMs ?? 30_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err) {
          const code = (err as NodeJS.ErrnoException).code ?? null;
          reject(new CommandError([program, ...args], stderr || err.message, code));
        } else resolve(stdout);
      },
    );
  });
}

/** `ip ARGS...` */
export function ip(args: string[]): Promise<string> {
  return run("ip", args);
}

/** `ip -n NS ARGS...` */
export function ipIn(ns: string, args: string[]): Promise<string> {
  return run("ip", ["-n", ns, ...args]);
}

/** Run a program inside a named network namespace (`ip netns exec NS PROGRAM ARGS...`). */
export function runIn(
  ns: string,
  program: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  return run("ip", ["netns", "exec", ns, program, ...args], opts);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
