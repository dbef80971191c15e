/**
 * Shared plumbing for the lab tests: run `svtrace lab` with a test-only namespace prefix, and check that
 * nothing of that prefix (namespace, state file, run directory, process) is left behind.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { type CliResult, runCli } from "../helpers.js";

export function labCli(prefix: string, args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  return runCli(["lab", ...args], { env: { SVTRACE_LAB_PREFIX: prefix, ...env }, timeoutMs: 60_000 });
}

/** Namespaces whose name starts with the prefix. */
export function namespacesWith(prefix: string): string[] {
  if (!existsSync("/run/netns")) return [];
  return readdirSync("/run/netns").filter((n) => n.startsWith(prefix));
}

/** PIDs of processes whose command line mentions the lab's run directory. */
export function processesOf(prefix: string): number[] {
  const runDir = `/run/svtrace/lab-${prefix}`;
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmd.includes(runDir)) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** Always-run cleanup: `lab down`, then assert nothing of the prefix is left. */
export function downAndAssertClean(prefix: string): void {
  const r = labCli(prefix, ["down"]);
  assert.equal(r.code, 0, `lab down failed: ${r.stderr}`);
  assertClean(prefix);
}

export function assertClean(prefix: string): void {
  assert.deepEqual(namespacesWith(prefix), [], "namespaces left behind");
  assert.equal(existsSync(`/run/svtrace/lab-${prefix}.json`), false, "state file left behind");
  assert.equal(existsSync(`/run/svtrace/lab-${prefix}`), false, "run directory left behind");
  assert.deepEqual(processesOf(prefix), [], "processes left behind");
}

/**
 * Once the host has received 1000 frames more than `rx0` (`hostRx()`: hyp-in's receive counter), stop process
 * `pid` with SIGSTOP for `ms`, then continue it (also on failure). Resolves to the frames that reached the host
 * while it was stopped. Run it beside a probe: it stands for a lab process the machine descheduled.
 */
export async function stallWhileFlowing(
  pid: number,
  ms: number,
  hostRx: () => Promise<number>,
  rx0: number,
): Promise<number> {
  const pause = (t: number) => new Promise((res) => setTimeout(res, t));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (await hostRx()) < rx0 + 1000) await pause(2);
  const before = await hostRx();
  process.kill(pid, "SIGSTOP");
  try {
    await pause(ms);
    return (await hostRx()) - before;
  } finally {
    process.kill(pid, "SIGCONT");
  }
}
