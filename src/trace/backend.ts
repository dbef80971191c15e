/**
 * Which tracer backend runs a trace: libbpf (bpf/svtrace.bpf.c on raw tracepoints, ring buffer) wherever it
 * loads, else bpftrace; `--backend` (TraceOptions.backend) or SVTRACE_BACKEND forces one. `auto` says why it
 * fell back. Both runners hand the session the same typed events and stop the same way.
 */
import { existsSync } from "node:fs";
import { fail, UserError } from "../errors.js";
import { loadLibbpf } from "../libbpf/libbpf.js";
import { bpfObjectPath, unsupportedPoint } from "../libbpf/runner.js";
import type { ProbePoint } from "../probes/catalogue.js";

export type TracerBackend = "libbpf" | "bpftrace";
export type BackendChoice = TracerBackend | "auto";
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "libbpf", "bpftrace"];

/** What a runner offers the session (BpftraceRunner and LibbpfRunner). */
export interface TracerRunner {
  readonly ready: Promise<bigint>;
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string[] }>;
  readonly pid: number | undefined;
  /** attach point -> fd (in `pid`) of its BPF program, where the runner knows it (libbpf); else programs are
   * told apart by load order */
  readonly programFds?: Map<string, number>;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string[] }>;
}

/** The backend asked for: the option, else SVTRACE_BACKEND, else auto. */
export function wantedBackend(option?: string): BackendChoice {
  const v = option ?? process.env.SVTRACE_BACKEND ?? "auto";
  if (!(BACKEND_CHOICES as readonly string[]).includes(v))
    fail(`unknown tracer backend "${v}": use ${BACKEND_CHOICES.join(", ")}`);
  return v as BackendChoice;
}

/** Why the libbpf backend cannot run these points here (without loading anything), or undefined. */
export function libbpfUnavailable(points: ProbePoint[]): string | undefined {
  for (const p of points) {
    const why = unsupportedPoint(p);
    if (why) return why;
  }
  const obj = bpfObjectPath();
  if (!existsSync(obj)) return `BPF object ${obj} not found (npm run build:bpf builds it)`;
  try {
    loadLibbpf();
  } catch (e) {
    if (e instanceof UserError) return e.message;
    throw e;
  }
  return undefined;
}

/**
 * The backend to try first: libbpf unless bpftrace is asked for or libbpf cannot run these points here
 * (then `note` says why; with `--backend libbpf` that is an error).
 */
export function chooseBackend(
  wanted: BackendChoice,
  points: ProbePoint[],
): { backend: TracerBackend; note?: string } {
  if (wanted === "bpftrace") return { backend: "bpftrace" };
  const why = libbpfUnavailable(points);
  if (why === undefined) return { backend: "libbpf" };
  if (wanted === "libbpf") fail(`libbpf backend: ${why}; use --backend bpftrace`);
  return { backend: "bpftrace", note: `libbpf backend not used: ${why}; tracing with bpftrace` };
}
