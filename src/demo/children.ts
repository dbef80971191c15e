/**
 * The demo's helper processes: `svtrace publish` and `svtrace subscribe` run as children of the CLI (node, the
 * same CLI entry, argument arrays, no shell). Output is collected; stop() ends a child by its PID (SIGTERM, then
 * SIGKILL after a grace period) and waits for it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The CLI entry beside this module (dist/src/cli/main.js). */
export const CLI_MAIN = fileURLToPath(new URL("../cli/main.js", import.meta.url));

export interface ChildResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

let fifoOk: boolean | undefined;
/** Whether `chrt -f` works here (root with CAP_SYS_NICE and util-linux's chrt installed). */
export function canRunFifo(): boolean {
  if (fifoOk === undefined) {
    const r = spawnSync("chrt", ["-f", "1", "true"], { stdio: "ignore" });
    fifoOk = r.status === 0;
  }
  return fifoOk;
}

export class SvtraceChild {
  readonly proc: ChildProcess;
  stdout = "";
  stderr = "";
  readonly done: Promise<ChildResult>;
  private exited = false;

  /**
   * `fifoPriority`: run the child SCHED_FIFO at this priority through chrt, when chrt works here. `wrap`: a
   * command line the CLI runs under (e.g. ["ip", "netns", "exec", NS]).
   */
  constructor(
    readonly name: string,
    args: string[],
    fifoPriority?: number,
    wrap: string[] = [],
    env?: NodeJS.ProcessEnv,
  ) {
    const argv = [...wrap, process.execPath, CLI_MAIN, ...args];
    const cmd =
      fifoPriority !== undefined && canRunFifo() ? ["chrt", "-f", String(fifoPriority), ...argv] : argv;
    this.proc = spawn(cmd[0], cmd.slice(1), {
      stdio: ["ignore", "pipe", "pipe"],
      env: env ? { ...process.env, ...env } : process.env,
    });
    this.proc.stdout?.setEncoding("utf8").on("data", (c: string) => {
      this.stdout += c;
    });
    this.proc.stderr?.setEncoding("utf8").on("data", (c: string) => {
      this.stderr += c;
    });
    this.done = new Promise<ChildResult>((resolve) => {
      this.proc.on("error", (err) => {
        this.exited = true;
        resolve({ code: null, signal: null, stdout: this.stdout, stderr: `${this.stderr}${err.message}\n` });
      });
      this.proc.on("close", (code, signal) => {
        this.exited = true;
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  get running(): boolean {
    return !this.exited;
  }

  /** Resolve when stderr contains `text` (true), or the child exits / `timeoutMs` passes first (false). */
  waitForStderr(text: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.stderr.includes(text)) return resolve(true);
      const timer = setTimeout(() => finish(false), timeoutMs);
      const onData = (): void => {
        if (this.stderr.includes(text)) finish(true);
      };
      const finish = (v: boolean): void => {
        clearTimeout(timer);
        this.proc.stderr?.off("data", onData);
        resolve(v);
      };
      this.proc.stderr?.on("data", onData);
      void this.done.then(() => finish(this.stderr.includes(text)));
    });
  }

  /** SIGTERM (the svtrace commands stop cleanly and print their summary), SIGKILL after `graceMs`. */
  async stop(graceMs = 5000, signal: NodeJS.Signals = "SIGTERM"): Promise<ChildResult> {
    if (this.running && this.proc.pid !== undefined) {
      this.proc.kill(signal);
      const timer = setTimeout(() => {
        if (this.running) this.proc.kill("SIGKILL");
      }, graceMs);
      const r = await this.done;
      clearTimeout(timer);
      return r;
    }
    return this.done;
  }
}

/** Parse the last JSON object a child printed on stdout (its --json summary), or undefined. */
export function lastJson<T>(stdout: string): T | undefined {
  const text = stdout.trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    const lines = text.split("\n");
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        return JSON.parse(lines[i]) as T;
      } catch {
        /* keep looking */
      }
    }
    return undefined;
  }
}
