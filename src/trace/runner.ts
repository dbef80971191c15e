/**
 * Runs one bpftrace program as a child process (no shell): the program from a temporary file, the sizing
 * environment, stdout parsed line by line as it streams, stderr sorted into harmless (the RLIMIT_MEMLOCK
 * warning), attach failures and other messages. Readiness is the READY line printed in BEGIN (bpftrace
 * attaches every probe before BEGIN runs). stop() sends SIGINT so bpftrace runs END and flushes; every line
 * already printed is still delivered before `closed` resolves.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type OutputEvent, parseLine } from "../bpftrace/output.js";

export type StderrKind = "ignored" | "attach-failed" | "error" | "warning";

/** Sort one stderr line of bpftrace. */
export function classifyStderr(line: string): StderrKind {
  if (line.trim() === "") return "ignored";
  if (/couldn't set RLIMIT_MEMLOCK/.test(line)) return "ignored";
  if (
    /Error attaching probe|tracepoint not found|Could not attach|failed to attach|not traceable/i.test(line)
  )
    return "attach-failed";
  if (/^WARNING/i.test(line)) return "warning";
  return "error";
}

export interface RunnerOptions {
  binary: string;
  program: string;
  /** bpftrace options before the program file (BPFTRACE_ARGS for generated programs) */
  args?: string[];
  env: Record<string, string>;
  pointCount: number;
  onEvent: (ev: OutputEvent) => void;
  onStderr: (line: string, kind: StderrKind) => void;
}

export interface RunnerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stderr lines that were not ignored (for error messages) */
  stderr: string[];
}

export class BpftraceRunner {
  readonly child: ChildProcess;
  /** resolves with the READY time; rejects when bpftrace ends before BEGIN ran */
  readonly ready: Promise<bigint>;
  /** resolves after bpftrace exited and its stdout was fully read */
  readonly closed: Promise<RunnerExit>;
  readonly programPath: string;
  private isReady = false;
  private stopping = false;

  constructor(opts: RunnerOptions) {
    const dir = mkdtempSync(join(tmpdir(), "svtrace-bt-"));
    this.programPath = join(dir, "svtrace.bt");
    writeFileSync(this.programPath, opts.program);
    const stderrLines: string[] = [];
    this.child = spawn(opts.binary, [...(opts.args ?? []), this.programPath], {
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let readyResolve: (t: bigint) => void = () => {};
    let readyReject: (e: Error) => void = () => {};
    this.ready = new Promise<bigint>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.ready.catch(() => {}); // observed through closed/session as well

    const out = createInterface({
      input: this.child.stdout as NodeJS.ReadableStream,
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    out.on("line", (line) => {
      const ev = parseLine(line, opts.pointCount);
      if (ev.kind === "ready" && !this.isReady) {
        this.isReady = true;
        readyResolve(ev.time);
      }
      opts.onEvent(ev);
    });
    const err = createInterface({
      input: this.child.stderr as NodeJS.ReadableStream,
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    err.on("line", (line) => {
      const kind = classifyStderr(line);
      if (kind !== "ignored") stderrLines.push(line);
      opts.onStderr(line, kind);
    });
    const outDone = new Promise<void>((res) => out.once("close", () => res()));
    const errDone = new Promise<void>((res) => err.once("close", () => res()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
      this.child.once("error", (e) => {
        stderrLines.push(`cannot run ${opts.binary}: ${e.message}`);
        res({ code: null, signal: null });
      });
      this.child.once("exit", (code, signal) => res({ code, signal }));
    });
    this.closed = (async () => {
      const x = await exited;
      await Promise.race([Promise.all([outDone, errDone]), new Promise((r) => setTimeout(r, 2000))]);
      if (!this.isReady) {
        const why =
          stderrLines.filter((l) => classifyStderr(l) !== "warning").join(" | ") ||
          `exit ${x.code ?? x.signal}`;
        readyReject(new Error(why));
      }
      rmSync(dir, { recursive: true, force: true });
      return { ...x, stderr: stderrLines };
    })();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** SIGINT (bpftrace runs END and prints the leftovers); SIGKILL after `graceMs` if it has not exited. */
  async stop(graceMs = 30_000): Promise<RunnerExit> {
    if (!this.stopping && this.child.exitCode === null && this.child.signalCode === null) {
      this.stopping = true;
      this.child.kill("SIGINT");
      const timer = setTimeout(() => {
        if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
      }, graceMs);
      const r = await this.closed;
      clearTimeout(timer);
      return r;
    }
    return this.closed;
  }
}
