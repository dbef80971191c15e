/**
 * One traced run, as `svtrace live`, `svtrace record` and `svtrace demo` do it: start the trace session, feed
 * its rows and counters into the live model (and the record writer), show the model every second (screen,
 * plain lines or JSON), serve it to Prometheus, and end cleanly on --duration, SIGINT/SIGTERM, an abort
 * signal or bpftrace exiting: every row already received is kept and the record file is closed.
 */
import { fail } from "../errors.js";
import { type MetricsServer, parseListenAddress, startMetricsServer } from "../metrics/prometheus.js";
import { multicastFilterState, multicastFilterWarning } from "../net/multicast-filter.js";
import type { RecordFormat } from "../record/schema.js";
import { openRecordWriter, type RecordWriter } from "../record/writer.js";
import { startTrace } from "../trace/session.js";
import type { TraceOptions, TraceSession, TraceSummary, TraceWarning } from "../trace/session-types.js";
import { type DisplayMode, LiveDisplay } from "./display.js";
import { LiveModel, type LiveSnapshot } from "./model.js";

export interface TraceRunOptions {
  trace: TraceOptions;
  /** e.g. "lab (bridge)" */
  title: string;
  thresholdUs: number;
  /** seconds from the moment every probe is attached; undefined = until a signal */
  durationS?: number;
  display: DisplayMode;
  /** [HOST:]PORT for the Prometheus endpoint */
  prometheus?: string;
  record?: { path: string; format: RecordFormat };
  /** called once every probe is attached (record prints its "recording" line here) */
  onReady?: (session: TraceSession, metrics?: MetricsServer) => void;
  /** warnings as one-line messages (default: stderr, unless the screen is drawn) */
  onWarning?: (w: TraceWarning) => void;
  /** stop the run from outside (demo: publisher finished, Ctrl-C handled by the caller) */
  signal?: AbortSignal;
  /** handle SIGINT/SIGTERM here (default true) */
  handleSignals?: boolean;
  /** display refresh interval (default 1000 ms) */
  intervalMs?: number;
}

export type StopReason = "duration" | "signal" | "abort" | "bpftrace-exit";

export interface TraceRunResult {
  summary: TraceSummary;
  /** the last snapshot, after every row was delivered */
  snapshot: LiveSnapshot;
  model: LiveModel;
  stoppedBy: StopReason;
  record?: { path: string; format: RecordFormat; rows: number; batches: number };
  metricsUrl?: string;
  warnings: TraceWarning[];
}

export async function runTrace(opts: TraceRunOptions): Promise<TraceRunResult> {
  if (opts.prometheus) parseListenAddress(opts.prometheus); // a bad address fails before bpftrace starts
  const session = await startTrace(opts.trace);
  const model = new LiveModel({
    points: session.meta.points,
    thresholdUs: opts.thresholdUs,
    profile: session.meta.profile,
    clock: session.meta.clock,
  });
  const warnings: TraceWarning[] = [];
  const display = new LiveDisplay(
    opts.display,
    process.stdout,
    `${opts.title ? `${opts.title} ` : ""}[${session.backend}]`,
  );
  const onWarning =
    opts.onWarning ??
    ((w: TraceWarning) => {
      if (opts.display !== "screen") process.stderr.write(`svtrace: warning: ${w.message}\n`);
    });
  let writer: RecordWriter | undefined;
  let metrics: MetricsServer | undefined;
  let writeError: Error | undefined;
  session.on("columns", (batch) => {
    model.addColumns(batch);
    if (writer && !writeError) {
      try {
        writer.appendColumns(batch);
      } catch (e) {
        writeError = e as Error;
      }
    }
  });
  session.on("stats", (s) => model.setStats(s));
  // before every probe is attached, warnings are held back: if bpftrace fails to start they become the
  // one-line error instead of a screenful of compiler output
  let isReady = false;
  const early: TraceWarning[] = [];
  session.on("warning", (w) => {
    warnings.push(w);
    if (warnings.length > 200) warnings.shift();
    model.noteWarning(w.message);
    if (isReady) onWarning(w);
    else early.push(w);
  });

  let stopResolve: (r: StopReason) => void = () => {};
  const stopped = new Promise<StopReason>((res) => {
    stopResolve = res;
  });
  session.on("exit", () => stopResolve("bpftrace-exit"));
  const onSignal = (): void => stopResolve("signal");
  const handleSignals = opts.handleSignals ?? true;
  if (handleSignals) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  const onAbort = (): void => stopResolve("abort");
  opts.signal?.addEventListener("abort", onAbort);
  if (opts.signal?.aborted) stopResolve("abort");

  const timers: NodeJS.Timeout[] = [];
  let stoppedBy: StopReason = "signal";
  try {
    try {
      if (opts.record) writer = openRecordWriter(opts.record.path, opts.record.format, session.meta);
    } catch (e) {
      fail(
        `cannot write ${opts.record?.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; check the --out path`,
      );
    }
    if (opts.prometheus) metrics = await startMetricsServer(model, opts.prometheus);
    const ready = await Promise.race([session.ready.then(() => "ready" as const), stopped]);
    if (ready === "bpftrace-exit") {
      const reason = await session.ready.then(
        () => undefined,
        (e: Error) => e.message,
      );
      fail(
        `bpftrace could not start the trace: ${startError(early) ?? reason ?? "it exited before attaching its probes"}`,
      );
    }
    if (ready !== "ready") {
      stoppedBy = ready;
    } else {
      isReady = true;
      for (const w of early) onWarning(w);
      early.length = 0;
      const mc = multicastWarning(opts.trace);
      if (mc) {
        warnings.push(mc);
        model.noteWarning(mc.message);
        onWarning(mc);
      }
      opts.onReady?.(session, metrics);
      if (opts.durationS !== undefined)
        timers.push(setTimeout(() => stopResolve("duration"), Math.max(0, opts.durationS * 1000)));
      timers.push(setInterval(() => display.update(model.snapshot()), opts.intervalMs ?? 1000));
      stoppedBy = await stopped;
    }
  } catch (e) {
    await session.stop().catch(() => undefined);
    await writer?.close().catch(() => undefined);
    await metrics?.close();
    if (e instanceof Error && e.name !== "UserError") {
      const why = early.length > 0 ? startError(early) : undefined;
      fail(why ? `bpftrace could not start the trace: ${why}` : e.message.split("\n")[0]);
    }
    throw e;
  } finally {
    for (const t of timers) clearTimeout(t);
    opts.signal?.removeEventListener("abort", onAbort);
  }
  // the SIGINT/SIGTERM handlers stay until the file is closed: a second Ctrl-C while stopping is ignored
  try {
    return await finish();
  } finally {
    if (handleSignals) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  }

  async function finish(): Promise<TraceRunResult> {
    const summary: TraceSummary = await session.stop();
    model.setStats(summary.stats);
    if (stoppedBy === "bpftrace-exit" && summary.exitCode !== 0) {
      await writer?.close({ ...session.meta, tracer: summary.tracer });
      await metrics?.close();
      display.done();
      fail(
        `bpftrace ended unexpectedly (${summary.exitCode ?? summary.exitSignal}); ${summary.rows} SVs were kept${opts.record ? ` in ${opts.record.path}` : ""}`,
      );
    }
    await writer?.close({ ...session.meta, tracer: summary.tracer });
    await metrics?.close();
    if (writeError) fail(`writing ${opts.record?.path} failed: ${writeError.message}`);
    const snapshot = model.snapshot();
    display.update(snapshot);
    display.done();
    return {
      summary,
      snapshot,
      model,
      stoppedBy,
      record:
        opts.record && writer ? { ...opts.record, rows: writer.rows, batches: writer.batches } : undefined,
      metricsUrl: metrics?.url,
      warnings,
    };
  }
}

/** A warning when the traced NIC of a hypervisor/vm trace drops multicast and nothing opened its filter. */
function multicastWarning(t: TraceOptions): TraceWarning | undefined {
  if (!t.iface || (t.profile !== "hypervisor" && t.profile !== "vm")) return undefined;
  const message = multicastFilterWarning(multicastFilterState(t.iface));
  return message ? { kind: "multicast-filter", message } : undefined;
}

/** The first bpftrace error line among start-up warnings ("ERROR: ..."), without the file position. */
function startError(ws: TraceWarning[]): string | undefined {
  for (const w of ws) {
    const m = /ERROR:\s*(.*)$/.exec(w.message);
    if (m) return m[1].trim();
  }
  const attach = ws.find((w) => w.kind === "attach-failed");
  return attach?.message;
}
