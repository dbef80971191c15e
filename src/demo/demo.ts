/**
 * `svtrace demo`: the one-command main job. Preflight (root, bpftrace, BTF, tracefs, ip, OVS for --switch ovs),
 * lab up, the tracer attached at T1..T4 (recording to a file), then the subscriber (svt-vm; SCHED_FIFO 40 via
 * chrt when allowed) and the publisher (svt-pub, 4 streams, --t0; not real-time, so bpftrace keeps up) as
 * child processes of the CLI, the live view for the duration, a summary, the record path and the report of the
 * run, and lab down: also on Ctrl-C and on errors.
 */
import { fail } from "../errors.js";
import { type LabUpResult, labDown, labUp } from "../lab/index.js";
import { labNames, type SwitchMode } from "../lab/names.js";
import { preflight as labPreflight } from "../lab/preflight.js";
import type { DisplayMode } from "../live/display.js";
import { formatSummary } from "../live/summary.js";
import { runTrace, type TraceRunResult } from "../live/trace-run.js";
import type { RecordFormat } from "../record/schema.js";
import { tracingPreflight } from "../trace/preflight.js";
import { lastJson, SvtraceChild } from "./children.js";

export interface DemoOptions {
  switch: SwitchMode;
  /** tracer backend (libbpf, bpftrace, auto; default: SVTRACE_BACKEND, else auto) */
  backend?: string;
  /** seconds of traffic */
  durationS: number;
  streams: number;
  /** record file (default /tmp/svtrace-demo-<time>.arrow) */
  out?: string;
  format: RecordFormat;
  thresholdUs: number;
  display: DisplayMode;
  prometheus?: string;
  /** write progress lines (stderr by default) */
  log?: (line: string) => void;
}

export interface PublishSummary {
  sent: number;
  streams: { svID: string; sent: number }[];
}
export interface SubscribeSummary {
  received: number;
  missing: number;
  duplicates: number;
  streams: {
    svID: string;
    received: number;
    missing: number;
    latency?: { p50_us?: number; p99_us?: number } | null;
  }[];
}

export interface DemoResult {
  run: TraceRunResult;
  publisher?: PublishSummary;
  subscriber?: SubscribeSummary;
  recordPath: string;
  labWasUp: boolean;
}

export function defaultRecordPath(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[:.]/g, "-")
    .replace(/-\d+Z$/, "Z");
  return `/tmp/svtrace-demo-${stamp}.arrow`;
}

function preflight(mode: SwitchMode): void {
  tracingPreflight();
  labPreflight(mode, "svtrace demo");
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  preflight(opts.switch);
  const names = labNames();
  const recordPath = opts.out ?? defaultRecordPath();
  let lab: LabUpResult | undefined;
  let pub: SvtraceChild | undefined;
  let sub: SvtraceChild | undefined;
  const abort = new AbortController();
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    lab = await labUp({ mode: opts.switch });
    log(
      lab.alreadyUp
        ? `svtrace demo: lab (${opts.switch}, prefix ${names.prefix}) was already up: using it, and leaving it up`
        : `svtrace demo: lab up (${opts.switch}) in ${lab.setupMs.toFixed(0)} ms: ${names.pub}/pub0 -> ${names.hyp}/hyp-in -> ${opts.switch} -> ${names.vm}/vm0`,
    );
    if (interrupted) fail("interrupted");
    let trafficError: string | undefined;
    const startTraffic = async (): Promise<void> => {
      sub = new SvtraceChild(
        "subscriber",
        [
          ...["subscribe", "--iface", names.vmIf, "--netns", names.vm],
          ...["--duration", String(opts.durationS + 4), "--json"],
        ],
        40,
      );
      if (!(await sub.waitForStderr("listening", 15_000))) {
        trafficError = `the subscriber did not start: ${sub.stderr.trim().split("\n").pop() ?? "no output"}`;
        abort.abort();
        return;
      }
      pub = new SvtraceChild("publisher", [
        ...["publish", "--iface", names.pubIf, "--netns", names.pub],
        ...["--streams", String(opts.streams), "--t0", "--duration", String(opts.durationS), "--json"],
      ]);
      log(
        `svtrace demo: publishing ${opts.streams} streams x 4000 SV/s for ${opts.durationS} s (svt-pub, refrTm = send time); subscriber svt-sub in ${names.vm}`,
      );
      const r = await pub.done;
      if (r.code !== 0 && !interrupted)
        trafficError = `the publisher failed: ${r.stderr.trim().split("\n").pop() ?? `exit ${r.code}`}`;
      // let the last SVs reach the subscriber, then stop tracing
      setTimeout(() => abort.abort(), 700).unref();
    };
    const run = await runTrace({
      // perf buffers sized for at least 32 000 SV/s: bursts after a scheduling hiccup stay lossless
      trace: {
        profile: "lab",
        labSwitch: opts.switch,
        expectedRate: Math.max(32_000, opts.streams * 4000),
        backend: opts.backend,
      },
      title: `demo, lab (${opts.switch})`,
      thresholdUs: opts.thresholdUs,
      display: opts.display,
      prometheus: opts.prometheus,
      record: { path: recordPath, format: opts.format },
      signal: abort.signal,
      handleSignals: false,
      durationS: opts.durationS + 30, // a safety net: normally the publisher's end stops the trace
      onReady: (_s, m) => {
        log(
          `svtrace demo: tracer attached at T1..T4, recording to ${recordPath}${m ? `; metrics on ${m.url}` : ""}`,
        );
        void startTraffic();
      },
    });
    const subResult = sub ? await (sub as SvtraceChild).stop(8000) : undefined;
    const pubResult = pub ? await (pub as SvtraceChild).stop(5000) : undefined;
    if (trafficError) fail(trafficError);
    if (interrupted) log("svtrace demo: interrupted: stopping");
    return {
      run,
      publisher: pubResult ? lastJson<PublishSummary>(pubResult.stdout) : undefined,
      subscriber: subResult ? lastJson<SubscribeSummary>(subResult.stdout) : undefined,
      recordPath,
      labWasUp: lab.alreadyUp,
    };
  } finally {
    // Ctrl-C again while cleaning up must not leave the lab behind
    const ignore = (): void => {};
    process.on("SIGINT", ignore);
    process.on("SIGTERM", ignore);
    await (sub as SvtraceChild | undefined)?.stop(3000);
    await (pub as SvtraceChild | undefined)?.stop(3000);
    if (lab && !lab.alreadyUp) {
      try {
        await labDown();
        log("svtrace demo: lab down");
      } catch (e) {
        log(`svtrace demo: lab down failed: ${(e as Error).message}; run svtrace lab down`);
      }
    }
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", ignore);
    process.off("SIGTERM", ignore);
  }
}

/** The demo's closing text: the trace summary plus what the publisher sent and the subscriber received. */
export function formatDemoSummary(r: DemoResult): string {
  const lines = [formatSummary(r.run)];
  if (r.publisher) lines.push(`  publisher: sent ${r.publisher.sent} SVs`);
  if (r.subscriber)
    lines.push(
      `  subscriber: received ${r.subscriber.received}, missing ${r.subscriber.missing}, duplicates ${r.subscriber.duplicates}`,
    );
  return lines.join("\n");
}
