/**
 * A trace session: preflight, profile -> points, backend choice (./backend.ts: libbpf where it loads, else
 * bpftrace), program generation or configuration, the tracer run, and the stream of rows
 * (one SvRow per SV, times on the stated clock), counters about once a second, warnings (lost events, map
 * nearly full, attach failures, bpftrace messages) and the exit summary. The contract is ./session-types.ts.
 *
 * Row times: `t[0]` is refrTm (publisher send time when the publisher stamped it), then one entry per point
 * in path order, matching `meta.points`.
 */
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { hostname, release } from "node:os";
import type { BpftraceFeatures } from "../bpftrace/features.js";
import {
  BPFTRACE_ARGS,
  checkSvid,
  type GeneratedProgram,
  generateProgram,
  possibleCpus,
  RING_ROWS,
  sizeFor,
} from "../bpftrace/generate.js";
import { type OutputEvent, type RowEvent, refrTmToNs } from "../bpftrace/output.js";
import { fail, UserError } from "../errors.js";
import { POINT_CTX_WORDS, type RawRows } from "../libbpf/raw-rows.js";
import { bpfObjectPath, bpfSource, describeConfig, LibbpfRunner } from "../libbpf/runner.js";
import { describePoint, type ProbePoint } from "../probes/catalogue.js";
import { PROFILE_NAMES, type ProfileName, resolveProfile } from "../probes/profiles.js";
import { type RecordColumns, rowsOf } from "../record/columns.js";
import { addWords, refrTmWords, wordsOf } from "../record/ns64.js";
import { RowBuffer } from "../record/row-buffer.js";
import {
  type ClockName,
  type ContextMeta,
  contextColumns,
  type PointMeta,
  type RecordMeta,
  type TracerCost,
} from "../record/schema.js";
import { chooseBackend, type TracerBackend, type TracerRunner, wantedBackend } from "./backend.js";
import { enableBpfStats, type ProgStats, readProgStats, tracerCost } from "./bpf-cost.js";
import { ClockConverter, measureClockOffset } from "./clock.js";
import {
  checkBpftrace,
  checkBtf,
  checkInterface,
  checkRoot,
  checkTracepoints,
  ensureTracefs,
  tracingPreflight,
} from "./preflight.js";
import { BpftraceRunner, type StderrKind } from "./runner.js";
import type { TraceOptions, TraceSession, TraceStats, TraceSummary, TraceWarning } from "./session-types.js";
import { StreamState } from "./stream-state.js";

function svtraceVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/** Column metadata: t0 = refrTm, then one per point ("T2b" -> "t2b"). */
export function pointMetas(program: GeneratedProgram): PointMeta[] {
  return [
    { name: "t0", label: "T0 publisher send (refrTm)", probe: "refrTm (publisher --t0)" },
    ...program.points.map((p) => ({ name: p.name.toLowerCase(), label: p.label, probe: describePoint(p) })),
  ];
}

/** What a trace will run: the profile's points on this machine and the program generated for them. */
export interface TracePlan {
  profile: ProfileName;
  clock: ClockName;
  cpus: number;
  points: ProbePoint[];
  program: GeneratedProgram;
}

/** Resolve the profile to this machine's points, without attaching anything. */
export function resolvePoints(opts: TraceOptions): Omit<TracePlan, "program"> {
  const profile = opts.profile as ProfileName;
  if (!PROFILE_NAMES.includes(profile)) fail(`unknown profile "${opts.profile}": use lab, hypervisor or vm`);
  if (opts.iface !== undefined && profile !== "lab") checkInterface(opts.iface);
  const resolved = resolveProfile({
    profile,
    labSwitch: opts.labSwitch,
    labPrefix: opts.labPrefix,
    iface: opts.iface,
    tap: opts.tap,
    qemuPid: opts.qemuPid,
    appComm: opts.appComm,
    appTids: opts.appTids,
    kprobes: opts.kprobes,
    points: opts.points,
  });
  const clock: ClockName = opts.clock ?? "realtime";
  // one row ring per possible CPU: the program's drain probes and the map sizes must agree on the count
  const cpus = possibleCpus();
  return { profile, clock, cpus, points: resolved.points };
}

/** Resolve the profile and generate the bpftrace program, without attaching anything (also `--show-program`). */
export function planTrace(opts: TraceOptions, features: BpftraceFeatures): TracePlan {
  const r = resolvePoints(opts);
  const program = generateProgram({
    points: r.points,
    streams: opts.streams,
    features,
    clock: r.clock,
    profile: r.profile,
    cpus: r.cpus,
    context: opts.context !== undefined,
  });
  return { ...r, program };
}

/** bpf_ktime_get_tai_ns came with Linux 6.1. */
function kernelHasTaiHelper(): boolean {
  const [maj, min] = release()
    .split(".")
    .map((x) => Number.parseInt(x, 10));
  return maj > 6 || (maj === 6 && min >= 1);
}

/** The libbpf backend's "program": the BPF C source with the read-only configuration this trace sets. */
export function libbpfProgram(opts: TraceOptions, plan: Omit<TracePlan, "program">): GeneratedProgram {
  const streams = opts.streams && opts.streams.length > 0 ? [...opts.streams] : undefined;
  if (streams) {
    streams.forEach(checkSvid);
    if (new Set(streams).size !== streams.length) fail("a svID is listed twice in the stream list");
  }
  const tai = plan.clock === "tai" && kernelHasTaiHelper();
  const text = [
    `/* svtrace libbpf backend: ${bpfObjectPath()} (source below), profile ${plan.profile} */`,
    describeConfig(plan.points, streams, tai, libbpfContext(opts)),
    bpfSource(),
  ].join("\n");
  return { text, streams, timeSource: tai ? "tai" : "monotonic", points: plan.points };
}

/** The libbpf loader's context option for these trace options. */
function libbpfContext(opts: TraceOptions): { waitNs: number } | undefined {
  return opts.context ? { waitNs: opts.context.thresholdUs * 1000 } : undefined;
}

/** Why the bpftrace backend leaves the wait columns null. */
export const BPFTRACE_WAIT_NOTE =
  "wait analysis needs the libbpf backend (the bpftrace backend records the CPU and thread of each point only)";

/** Where the context columns of program point j (0-based) are among the record's extra columns. */
interface PointCtxCols {
  cpu: number;
  tid: number;
  comm: number;
  run: number;
  runnable: number;
  sleep: number;
  blockerPid: number;
  blockerComm: number;
}

/** The 16-byte comm at word `at` of `w`, decoded once per distinct value. */
class CommCache {
  private readonly byFirst = new Map<number, { w: number[]; s: string }[]>();
  get(w: Uint32Array, at: number): string {
    const a = w[at] as number;
    const list = this.byFirst.get(a);
    if (list)
      for (const e of list)
        if (e.w[1] === w[at + 1] && e.w[2] === w[at + 2] && e.w[3] === w[at + 3]) return e.s;
    const bytes = Buffer.from(w.buffer, w.byteOffset + 4 * at, 16);
    const nul = bytes.indexOf(0);
    const s = bytes.subarray(0, nul < 0 ? 16 : nul).toString("latin1");
    const entry = { w: [a, w[at + 1] as number, w[at + 2] as number, w[at + 3] as number], s };
    if (list) list.push(entry);
    else this.byFirst.set(a, [entry]);
    return s;
  }
}

/**
 * The program a trace with these options would run here, with the environment bpftrace gets, for
 * `--show-program`: needs bpftrace (for its version) and what the profile looks up, not root.
 */
export function showProgram(opts: TraceOptions): string {
  const wanted = wantedBackend(opts.backend);
  let note = "";
  if (wanted !== "bpftrace") {
    const r = resolvePoints(opts);
    const c = chooseBackend(wanted, r.points);
    if (c.backend === "libbpf") return libbpfProgram(opts, r).text;
    note = `// ${c.note}\n`;
  }
  const features = checkBpftrace(opts.bpftrace);
  const plan = planTrace(opts, features);
  const sizing = sizeFor(opts.expectedRate, opts.mapKeys, plan.cpus);
  const env = Object.entries(sizing.env)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return `${note}// run as: ${env} bpftrace ${BPFTRACE_ARGS.join(" ")} PROGRAM\n${plan.program.text}`;
}

class Session extends EventEmitter implements TraceSession {
  meta!: RecordMeta;
  program!: string;
  ready!: Promise<void>;
  backend!: TracerBackend;
  private runner!: TracerRunner;
  private gen!: GeneratedProgram;
  private conv!: ClockConverter;
  private readonly streams = new Map<string, StreamState>();
  /** rows not yet delivered, column-wise (t[0] refrTm, then one column per point) */
  private batch!: RowBuffer;
  /** the clock offset as words, for the libbpf backend's rows */
  private offLo = 0;
  private offHi = 0;
  /** stream number -> its state, once its svID is known (libbpf rows) */
  private byNumber: (StreamState | undefined)[] = [];
  private rowsDelivered = 0;
  private pendingNow = 0;
  /** record --context: each program point's extra columns (empty without context) */
  private ctxCols: PointCtxCols[] = [];
  /** bpftrace backend with context: C lines waiting for their row, by "stream smpCnt iteration" */
  private readonly ctxLines = new Map<string, ({ cpu: number; tid: number; comm: string } | undefined)[]>();
  private readonly comms = new CommCache();
  /** added to Date.now() for stats times on the session clock (TAI - REALTIME when the clock is TAI) */
  private statsClockOffsetNs = 0n;
  private lostEvents = 0;
  private lostSinceWarn = 0;
  private mapCapacity = 0;
  private lastMapWarn = 0;
  private mapEntriesMax = 0;
  private bpfStats: ReturnType<typeof enableBpfStats>;
  /** the programs' statistics, read just before the tracer is stopped */
  private progStats: ProgStats[] = [];
  private readonly warnings: TraceWarning[] = [];
  private timers: NodeJS.Timeout[] = [];
  private startMs = Date.now();
  private stopping = false;
  private done!: Promise<TraceSummary>;

  get pid(): number | undefined {
    return this.runner.pid;
  }

  start(opts: TraceOptions): void {
    const wanted = wantedBackend(opts.backend);
    let note: string | undefined;
    if (wanted !== "bpftrace") {
      checkRoot();
      checkBtf();
      const tracefs = ensureTracefs();
      const r = resolvePoints(opts);
      checkTracepoints(r.points, tracefs);
      const c = chooseBackend(wanted, r.points);
      note = c.note;
      if (c.backend === "libbpf") {
        try {
          this.startLibbpf(opts, r);
          return;
        } catch (e) {
          if (wanted === "libbpf" || !(e instanceof UserError)) throw e;
          note = `libbpf backend failed (${e.message}); tracing with bpftrace`;
        }
      }
    }
    this.startBpftrace(opts);
    if (note) {
      const msg = note;
      setImmediate(() => this.warn("stderr", msg));
    }
  }

  private startLibbpf(opts: TraceOptions, plan: Omit<TracePlan, "program">): void {
    this.gen = libbpfProgram(opts, plan);
    const sizing = sizeFor(opts.expectedRate, opts.mapKeys, plan.cpus);
    this.setup(opts, plan.profile, plan.clock, sizing.mapKeys, "libbpf", "none");
    const runner = new LibbpfRunner({
      points: plan.points,
      streams: this.gen.streams,
      tai: this.gen.timeSource === "tai",
      pendingKeys: sizing.mapKeys,
      context: libbpfContext(opts),
      onEvent: (ev) => this.onEvent(ev),
      onRows: (rows) => this.onRawRows(rows),
      onStderr: (line) => this.warn("stderr", `libbpf: ${line}`),
    });
    this.wire(opts, runner);
  }

  private startBpftrace(opts: TraceOptions): void {
    const { features, tracefs } = tracingPreflight({ bpftrace: opts.bpftrace });
    const plan = planTrace(opts, features);
    checkTracepoints(plan.points, tracefs);
    const { profile, clock, cpus } = plan;
    this.gen = plan.program;
    const sizing = sizeFor(opts.expectedRate, opts.mapKeys, cpus);
    this.setup(opts, profile, clock, sizing.mapKeys, "bpftrace", features.version);
    const n = this.gen.points.length;
    const runner = new BpftraceRunner({
      binary: features.binary,
      program: this.program,
      args: BPFTRACE_ARGS,
      env: sizing.env,
      pointCount: n,
      onEvent: (ev) => this.onEvent(ev),
      onStderr: (line, kind) => this.onStderr(line, kind),
    });
    this.wire(opts, runner);
  }

  /** State shared by both backends, once the program (this.gen) is known. */
  private setup(
    opts: TraceOptions,
    profile: ProfileName,
    clock: ClockName,
    mapCapacity: number,
    backend: TracerBackend,
    bpftraceVersion: string,
  ): void {
    this.backend = backend;
    this.program = this.gen.text;
    this.mapCapacity = mapCapacity;
    const offset = measureClockOffset(clock);
    this.statsClockOffsetNs = clock === "tai" ? offset.taiMinusRealtimeNs : 0n;
    this.conv = new ClockConverter(clock, this.gen.timeSource === "tai" ? 0n : offset.offsetNs);
    const w = wordsOf(this.conv.offsetNs);
    this.offLo = w.lo;
    this.offHi = w.hi;
    this.byNumber = [];
    this.startMs = Date.now();
    this.meta = {
      svtraceVersion: svtraceVersion(),
      host: hostname(),
      kernel: release(),
      bpftrace: bpftraceVersion,
      backend,
      profile: profile === "lab" ? `lab-${opts.labSwitch ?? "bridge"}` : profile,
      points: pointMetas(this.gen),
      clock,
      iface: opts.iface ?? (profile === "lab" ? "hyp-in" : undefined),
      start: new Date(this.startMs).toISOString(),
      clockOffsetNs: String(this.conv.offsetNs),
      clockOffsetRttNs: Number(offset.rttNs),
      tracer: null,
    };
    if (opts.context) {
      const c: ContextMeta = { thresholdUs: opts.context.thresholdUs, wait: backend === "libbpf" };
      if (backend !== "libbpf") c.waitNote = BPFTRACE_WAIT_NOTE;
      this.meta.context = c;
    }
    const extras = contextColumns(this.meta);
    this.batch = new RowBuffer(this.gen.points.length + 1, 8192, extras);
    this.ctxCols = this.gen.points.map((_, j) => {
      const at = (suffix: string): number =>
        extras.findIndex((x) => x.point === j + 1 && x.suffix === suffix);
      return {
        cpu: at("cpu"),
        tid: at("tid"),
        comm: at("comm"),
        run: at("wait_run_ns"),
        runnable: at("wait_runnable_ns"),
        sleep: at("wait_sleep_ns"),
        blockerPid: at("blocker_pid"),
        blockerComm: at("blocker_comm"),
      };
    });
    this.streams.clear();
    for (const id of this.gen.streams ?? []) this.streams.set(id, new StreamState(id));
  }

  /** Readiness, batching and exit for the runner of either backend. */
  private wire(opts: TraceOptions, runner: TracerRunner): void {
    this.runner = runner;
    this.bpfStats = enableBpfStats();
    const name = this.backend;
    const readyTimeout = opts.readyTimeoutMs ?? 60_000;
    this.ready = new Promise<void>((res, rej) => {
      const t = setTimeout(() => {
        rej(new Error(`${name} did not attach its probes within ${readyTimeout / 1000} s`));
        void (this.runner instanceof BpftraceRunner ? this.runner.stop(2000) : this.runner.stop());
      }, readyTimeout);
      this.runner.ready.then(
        () => {
          clearTimeout(t);
          this.emit("ready");
          res();
        },
        (e: Error) => {
          clearTimeout(t);
          rej(new Error(`${name} failed to start: ${e.message}`));
        },
      );
    });
    this.ready.catch(() => {});
    this.timers.push(setInterval(() => this.flush(), opts.batchMs ?? 200));
    this.timers.push(
      setInterval(() => {
        const st = this.stats();
        this.checkMissed(st);
        this.emit("stats", st);
      }, 1000),
    );
    for (const t of this.timers) t.unref();
    this.done = this.runner.closed.then((x) => {
      for (const t of this.timers) clearInterval(t);
      this.bpfStats?.restore();
      this.flushPending();
      this.flush();
      const summary = this.summary(x.code, x.signal);
      if (!this.stopping && x.code !== 0) {
        this.warn("stderr", `${name} ended unexpectedly (${x.code ?? x.signal}): ${x.stderr.join(" | ")}`);
      }
      this.emit("exit", summary);
      return summary;
    });
  }

  /** svID of each stream number the program announced with an S line (all-streams mode) */
  private svIdOf = new Map<string, string>();
  /** events of a stream number whose S line has not been read yet (per-CPU buffers are read in turn) */
  private waiting = new Map<string, OutputEvent[]>();

  /** The svID of a stream number, or undefined when its S line is still to come. */
  private svIdFor(stream: string): string | undefined {
    if (this.gen.streams) return this.gen.streams[Number(stream) - 1] ?? `#${stream}`;
    return this.svIdOf.get(stream);
  }

  private state(stream: string): StreamState {
    const id = this.svIdFor(stream) ?? `#${stream}`;
    let s = this.streams.get(id);
    if (!s) {
      s = new StreamState(id);
      this.streams.set(id, s);
    }
    return s;
  }

  private pushRow(
    st: StreamState,
    smp: number,
    kernelIteration: number,
    appid: number,
    refrTm: bigint,
    times: bigint[],
    complete: boolean,
    stream?: string,
  ): void {
    const iteration = st.row(smp, appid, times, complete, kernelIteration);
    if (iteration === undefined) return;
    const b = this.batch;
    const r = b.begin(st.counters.svID, appid || (st.counters.appid ?? 0), iteration, smp);
    b.setTime(0, r, refrTmToNs(refrTm));
    for (let j = 0; j < times.length; j++) b.setTime(j + 1, r, this.conv.convert(times[j] as bigint));
    if (stream !== undefined && this.ctxLines.size > 0) {
      const key = `${stream} ${smp} ${kernelIteration}`;
      const ctx = this.ctxLines.get(key);
      if (ctx) {
        this.ctxLines.delete(key);
        ctx.forEach((x, j) => {
          const c = this.ctxCols[j];
          if (!x || !c || c.cpu < 0) return;
          b.setExtra(c.cpu, r, x.cpu);
          b.setExtra(c.tid, r, x.tid);
          b.setExtraStr(c.comm, r, x.comm);
        });
      }
    }
    if (b.length >= 8192) this.flush();
  }

  /**
   * The libbpf backend's rows, straight from its columnar batch into this.batch: the same accounting and the
   * same rows as onEvent() on one RowEvent each, without an object or BigInt per row.
   */
  private onRawRows(raw: RawRows): void {
    const n = raw.points;
    const b = this.batch;
    for (let r = 0; r < raw.length; r++) {
      const num = raw.stream[r] as number;
      if (num === 0) {
        this.lostEvents++;
        continue;
      }
      let st = this.byNumber[num];
      if (st === undefined) {
        const key = String(num);
        if (!this.svIdFor(key)) {
          // its svID is still to come: the rare path, as an event
          this.onEvent({
            kind: "row",
            complete: raw.complete[r] === 1,
            smpCnt: raw.smpCnt[r] as number,
            iteration: raw.iteration[r] as number,
            appid: raw.appid[r] as number,
            refrTm: raw.refrTmOf(r),
            times: raw.times(r),
            stream: key,
          });
          continue;
        }
        st = this.state(key);
        this.byNumber[num] = st;
      }
      const t = raw.t;
      const o = 2 * r * n;
      let seen = 0;
      for (let j = 0; j < n; j++)
        if (((t[o + 2 * j] as number) | (t[o + 2 * j + 1] as number)) !== 0) seen |= 1 << j;
      const smp = raw.smpCnt[r] as number;
      const appid = raw.appid[r] as number;
      const iteration = st.rowSeen(
        smp,
        appid,
        seen,
        n,
        raw.complete[r] === 1,
        raw.iteration[r] as number,
        t[o + 2 * n - 2] as number,
        t[o + 2 * n - 1] as number,
      );
      if (iteration === undefined) continue;
      const row = b.begin(st.counters.svID, appid || (st.counters.appid ?? 0), iteration, smp);
      const w0 = b.wordsOf(0);
      if (refrTmWords(raw.refrTm[2 * r] as number, raw.refrTm[2 * r + 1] as number, w0, 2 * row))
        b.markSet(0, row);
      else b.setNull(0, row);
      for (let j = 0; j < n; j++) {
        if ((seen & (1 << j)) === 0) b.setNull(j + 1, row);
        else {
          addWords(
            t[o + 2 * j] as number,
            t[o + 2 * j + 1] as number,
            this.offLo,
            this.offHi,
            b.wordsOf(j + 1),
            2 * row,
          );
          b.markSet(j + 1, row);
        }
      }
      if (raw.ctx && this.meta.context) this.contextOf(raw.ctx, r, n, row);
      if (b.length >= 8192) this.flush();
    }
  }

  /** Row r's struct point_ctx words into row `row`'s context columns (null where a point has none). */
  private contextOf(cx: Uint32Array, r: number, n: number, row: number): void {
    const b = this.batch;
    for (let j = 0; j < n; j++) {
      const w = (r * n + j) * POINT_CTX_WORDS;
      const flags = cx[w + 14] as number;
      const c = this.ctxCols[j] as PointCtxCols;
      if ((flags & 1) === 0 || c.cpu < 0) continue;
      b.setExtra(c.cpu, row, cx[w] as number);
      b.setExtra(c.tid, row, cx[w + 1] as number);
      b.setExtraStr(c.comm, row, this.comms.get(cx, w + 2));
      if ((flags & 2) === 0 || c.run < 0) continue;
      b.setExtra(c.run, row, cx[w + 6] as number);
      b.setExtra(c.runnable, row, cx[w + 7] as number);
      b.setExtra(c.sleep, row, cx[w + 8] as number);
      if (cx[w + 9] !== 0) {
        b.setExtra(c.blockerPid, row, cx[w + 9] as number);
        b.setExtraStr(c.blockerComm, row, this.comms.get(cx, w + 10));
      }
    }
  }

  private pendingAtEnd = new Map<string, bigint[]>();

  private stagedRows = new Map<string, RowEvent>();
  private ringHeads = new Map<number, number>();
  private ringTails = new Map<number, number>();

  private onEvent(ev: OutputEvent): void {
    if (ev.kind === "row" && ev.stream === "0") {
      // a ring slot that was never written (its map insert failed): no SV behind it
      this.lostEvents++;
      return;
    }
    if ((ev.kind === "row" || ev.kind === "gap" || ev.kind === "duplicate") && !this.svIdFor(ev.stream)) {
      const q = this.waiting.get(ev.stream) ?? [];
      q.push(ev);
      this.waiting.set(ev.stream, q);
      return;
    }
    switch (ev.kind) {
      case "stream": {
        this.svIdOf.set(ev.stream, ev.svID);
        const q = this.waiting.get(ev.stream);
        this.waiting.delete(ev.stream);
        for (const e of q ?? []) this.onEvent(e);
        break;
      }
      case "staged":
        this.stagedRows.set(`${ev.cpu} ${ev.slot}`, ev.row);
        break;
      case "ringHead":
        this.ringHeads.set(ev.cpu, ev.index);
        break;
      case "ringTail":
        this.ringTails.set(ev.cpu, ev.index);
        break;
      case "overrun":
        this.lostEvents += ev.rows;
        this.warn(
          "stderr",
          `bpftrace's drain fell ${ev.rows} rows behind on CPU ${ev.cpu}: those SVs were lost (machine overloaded)`,
        );
        break;
      case "row":
        this.pushRow(
          this.state(ev.stream),
          ev.smpCnt,
          ev.iteration,
          ev.appid,
          ev.refrTm,
          ev.times,
          ev.complete,
          ev.stream,
        );
        break;
      case "context": {
        const key = `${ev.stream} ${ev.smpCnt} ${ev.iteration}`;
        let list = this.ctxLines.get(key);
        if (!list) {
          list = [];
          this.ctxLines.set(key, list);
          // SVs that never reach the last point leave their lines behind: keep the newest 200 000
          if (this.ctxLines.size > 200_000) {
            let drop = 20_000;
            for (const k of this.ctxLines.keys()) {
              this.ctxLines.delete(k);
              if (--drop === 0) break;
            }
          }
        }
        list[ev.point - 1] = { cpu: ev.cpu, tid: ev.tid, comm: ev.comm };
        break;
      }
      case "gap":
        this.state(ev.stream).gap(ev.expected, ev.got);
        break;
      case "duplicate":
        this.state(ev.stream).duplicate();
        break;
      case "mapEntries":
        this.pendingNow = ev.count;
        this.mapEntriesMax = Math.max(this.mapEntriesMax, ev.count);
        this.checkMapFill();
        break;
      case "lost":
        this.lostEvents += ev.count;
        this.lostSinceWarn += ev.count;
        break;
      case "pending": {
        this.pendingAtEnd.set(`${ev.smpCnt} ${ev.iteration} ${ev.stream}`, [...ev.times, 0n]);
        break;
      }
      case "end":
      case "ready":
      case "attaching":
      case "blank":
        break;
      case "other":
        this.warn("stderr", `bpftrace: ${ev.text}`);
        break;
    }
  }

  /** Entries still in the kernel maps at exit: rows still queued in the rings, SVs that never reached the last point. */
  private flushPending(): void {
    for (const [cpu, head] of this.ringHeads) {
      const drained = this.ringTails.get(cpu) ?? 0;
      const tail = Math.max(drained, head - RING_ROWS);
      // rows overwritten before the drain reached them (more than a ring behind at exit)
      this.lostEvents += tail - drained;
      for (let i = tail; i < head; i++) {
        const row = this.stagedRows.get(`${cpu} ${i % RING_ROWS}`);
        if (row) this.onEvent(row);
      }
    }
    this.ringHeads.clear();
    this.ringTails.clear();
    this.stagedRows.clear();
    for (const [stream, q] of this.waiting) {
      this.warn(
        "stderr",
        `bpftrace printed ${q.length} event(s) of stream number ${stream} but never its svID`,
      );
      this.svIdOf.set(stream, `#${stream}`);
      for (const e of q) this.onEvent(e);
    }
    this.waiting.clear();
    for (const [key, times] of this.pendingAtEnd) {
      const [smp, it] = key.split(" ", 2).map(Number);
      const st = this.state(key.slice(key.indexOf(" ", key.indexOf(" ") + 1) + 1));
      const iteration = st.pending(smp, times, it);
      const r = this.batch.begin(st.counters.svID, st.counters.appid ?? 0, iteration, smp);
      this.batch.setNull(0, r);
      for (let j = 0; j < times.length; j++)
        this.batch.setTime(j + 1, r, this.conv.convert(times[j] as bigint));
    }
    this.pendingAtEnd.clear();
  }

  private onStderr(line: string, kind: StderrKind): void {
    if (kind === "ignored") return;
    if (kind === "attach-failed") this.warn("attach-failed", line);
    else this.warn("stderr", `bpftrace: ${line}`);
  }

  private warn(kind: TraceWarning["kind"], message: string): void {
    const w = { kind, message };
    this.warnings.push(w);
    if (this.warnings.length > 1000) this.warnings.splice(0, this.warnings.length - 1000);
    this.emit("warning", w);
  }

  /** entries in the first point's in-kernel map, as the program counted them at the last interval */
  private mapEntries(): number {
    return this.pendingNow;
  }

  private checkMapFill(): void {
    const e = this.mapEntries();
    const now = Date.now();
    if (e >= this.mapCapacity * 0.9 && now - this.lastMapWarn > 10_000) {
      this.lastMapWarn = now;
      this.warn(
        "map-full",
        `in-kernel SV map ${e}/${this.mapCapacity} entries: new SVs are lost silently when it is full; raise --map-keys (SV_BUFFER_SIZE) or --rate`,
      );
    }
  }

  private lastMissed = 0;
  private lastReceived = 0;
  private lastMissedWarn = 0;

  /**
   * SVs that reach a later point without an earlier one, in numbers, mean the path takes longer than one
   * smpCnt period (e.g. a subscriber lagging by more than a second under overload): the first point has then
   * already replaced the entry, and (svID, smpCnt) matching is ambiguous. Say so instead of staying silent.
   */
  private checkMissed(st: TraceStats): void {
    const missed = st.streams.reduce((a, x) => a + x.missed, 0);
    const received = st.streams.reduce((a, x) => a + x.received, 0);
    const dm = missed - this.lastMissed;
    const dr = received - this.lastReceived;
    this.lastMissed = missed;
    this.lastReceived = received;
    const now = Date.now();
    if (dm > 10 && dm > dr / 100 && now - this.lastMissedWarn > 10_000) {
      this.lastMissedWarn = now;
      this.warn(
        "stale",
        `${dm} of ${dr} SVs in the last second reached a later point without the earlier ones: the path (or a lagging reader) takes longer than one smpCnt period, so matching by (svID, smpCnt) is ambiguous for them`,
      );
    }
  }

  private flush(): void {
    if (this.lostSinceWarn > 0) {
      this.warn(
        "lost-events",
        `${this.backend} lost ${this.lostSinceWarn} events (total ${this.lostEvents})`,
      );
      this.lostSinceWarn = 0;
    }
    if (this.batch.length === 0) return;
    const cols: RecordColumns = this.batch.take();
    this.rowsDelivered += cols.length;
    this.emit("columns", cols);
    // the row-object form, only for listeners that want it (tests, small tools)
    if (this.listenerCount("rows") > 0) this.emit("rows", [...rowsOf(cols)]);
  }

  stats(): TraceStats {
    const atNs = BigInt(Date.now()) * 1_000_000n + this.statsClockOffsetNs;
    return {
      atNs,
      streams: [...this.streams.values()].map((s) => ({ ...s.counters })),
      lostEvents: this.lostEvents,
      mapEntries: this.mapEntries(),
      mapCapacity: this.mapCapacity,
    };
  }

  private summary(code: number | null, signal: string | null): TraceSummary {
    return {
      stats: this.stats(),
      rows: this.rowsDelivered,
      durationMs: Date.now() - this.startMs,
      exitCode: code,
      exitSignal: signal,
      warnings: [...this.warnings],
      tracer: this.cost(),
    };
  }

  private cost(): TracerCost {
    return tracerCost({
      points: this.gen.points.map((p) => ({ name: p.name, attach: p.attach })),
      progs: this.progStats,
      fds: this.runner.programFds,
      svs: this.rowsDelivered,
      statsOn: this.bpfStats !== undefined && this.progStats.length > 0,
      lostEvents: this.lostEvents,
      mapCapacity: this.mapCapacity,
      mapEntriesMax: this.mapEntriesMax,
    });
  }

  async stop(): Promise<TraceSummary> {
    if (!this.stopping && this.runner.pid !== undefined) this.progStats = readProgStats(this.runner.pid);
    this.stopping = true;
    await this.runner.stop();
    return this.done;
  }
}

/**
 * Start tracing. Throws a UserError (one line) when a preflight check fails. The returned session emits
 * `ready` once every probe is attached (also `await session.ready`), then `rows`, `stats`, `warning`, `exit`.
 */
export async function startTrace(opts: TraceOptions): Promise<TraceSession> {
  const s = new Session();
  s.start(opts);
  return s;
}
