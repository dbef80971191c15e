/**
 * Loads and runs bpf/svtrace.bpf.c (compiled to dist/bpf/svtrace.bpf.o) through libbpf: the points' filters,
 * the stream mode and the clock go into the object's read-only `.rodata.cfg` before load, the svID list into
 * the `streams` map after; one raw tracepoint per attach point in use. Rows come from the BPF ring buffer,
 * read straight from its memory (./ring.ts) every POLL_MS on the main thread (the BPF side submits without
 * wakeups): runs of rows as columnar batches (./raw-rows.ts, `onRows`), every other record as the same typed
 * event the bpftrace parser produces (../bpftrace/output.ts), in ring order.
 * Everything up to attach is synchronous and throws a UserError (one line) when it fails.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import koffi from "koffi";
import type { OutputEvent } from "../bpftrace/output.js";
import { fail, UserError } from "../errors.js";
import type { AttachName, ProbePoint } from "../probes/catalogue.js";
import { type Libbpf, loadLibbpf, type Ptr } from "./libbpf.js";
import { POINT_CTX_WORDS, RawRows } from "./raw-rows.js";
import { BpfRing } from "./ring.js";

/** Layout constants shared with bpf/svtrace.bpf.c. */
export const BPF_MAX_POINTS = 8;
const MAX_TIDS = 8;
const MAX_SVID = 64;
/** Byte offsets of struct point_cfg's fields (checked against the object's BTF in test/libbpf-layout.test.ts). */
export const POINT_CFG_OFFSETS = {
  attach: 0,
  netns_via: 4,
  netns: 8,
  has_dev: 16,
  comm_mode: 20,
  comm_len: 24,
  n_tids: 28,
  dev: 32,
  comm: 48,
  tids: 64,
} as const;
/** Sizes of the C structs the loader reads or writes (checked against the object's BTF too). */
export const STRUCT_SIZES = {
  point_cfg: 96,
  config: 16 + BPF_MAX_POINTS * 96 + 8,
  event: 96,
  point_ctx: 64,
  event_ctx: 96 + BPF_MAX_POINTS * 64,
  slot_key: 24,
  slot: 8 * BPF_MAX_POINTS,
  svid_key: 4 + 64,
  stream_event: 8 + 4 + 64,
} as const;
const POINT_CFG_SIZE = STRUCT_SIZES.point_cfg;
const CONFIG_SIZE = STRUCT_SIZES.config;
const EVENT_SIZE = STRUCT_SIZES.event;
const SLOT_KEY_SIZE = STRUCT_SIZES.slot_key;
const SLOT_SIZE = STRUCT_SIZES.slot;
const E_ROW = 1;
const E_INCOMPLETE = 2;
const E_GAP = 3;
const E_DUP = 4;
const E_STREAM = 5;
/** How often the ring buffer is consumed. */
export const POLL_MS = 20;

/** Attach point -> (raw tracepoint, BPF program name, attach id in the C source). */
export const RAW_TRACEPOINTS: Partial<Record<AttachName, { tp: string; id: number }>> = {
  "tracepoint:net:netif_receive_skb": { tp: "netif_receive_skb", id: 1 },
  "tracepoint:net:netif_rx": { tp: "netif_rx", id: 2 },
  "tracepoint:net:net_dev_queue": { tp: "net_dev_queue", id: 3 },
  "tracepoint:net:net_dev_start_xmit": { tp: "net_dev_start_xmit", id: 4 },
  "tracepoint:net:napi_gro_receive_entry": { tp: "napi_gro_receive_entry", id: 5 },
  "tracepoint:skb:skb_copy_datagram_iovec": { tp: "skb_copy_datagram_iovec", id: 6 },
  "tracepoint:skb:consume_skb": { tp: "consume_skb", id: 7 },
};
/** The scheduler programs of the wait analysis (record --context). */
const SCHED_PROGRAMS = ["sched_switch", "sched_wakeup"];
const ALL_PROGRAMS = [...Object.values(RAW_TRACEPOINTS).map((r) => r?.tp ?? ""), ...SCHED_PROGRAMS, "empty"];
/** struct config: offset of `context` and of `wait_ns` */
const CONTEXT_OFFSET = 12;
const WAIT_NS_OFFSET = 16 + BPF_MAX_POINTS * 96;
const EVENT_CTX_SIZE = STRUCT_SIZES.event_ctx;

const EAGAIN = 11;
/** A load interrupted by a signal (EAGAIN from the verifier): worth another try. */
class LoadAgain extends UserError {}

/** What a failed bpf_object__load means, by its error number. */
export function loadFailure(errno: number): string {
  // EAGAIN: the verifier stops when a signal is pending and libbpf gives up after a few retries; a profiler's
  // timer signal (node --cpu-prof sends SIGPROF about every millisecond) keeps one pending
  if (errno === EAGAIN)
    return "the verifier was interrupted by signals again and again (a profiler such as node --cpu-prof?): run without it";
  return "the kernel refused it (BTF, ring buffers or the verifier; SVTRACE_LIBBPF_DEBUG=1 shows why)";
}

/** Where the compiled object is: SVTRACE_BPF_OBJECT, else dist/bpf/svtrace.bpf.o beside this file's tree. */
export function bpfObjectPath(): string {
  if (process.env.SVTRACE_BPF_OBJECT) return process.env.SVTRACE_BPF_OBJECT;
  // dist/src/libbpf/runner.js -> dist/bpf/svtrace.bpf.o
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bpf", "svtrace.bpf.o");
}

/** The BPF C source shipped beside the object (for --show-program). */
export function bpfSource(): string {
  const p = bpfObjectPath().replace(/\.o$/, ".c");
  return existsSync(p) ? readFileSync(p, "utf8") : `(source not found beside ${bpfObjectPath()})\n`;
}

/** Why a point cannot run on this backend, or undefined. */
export function unsupportedPoint(p: ProbePoint): string | undefined {
  if (!RAW_TRACEPOINTS[p.attach]) return `${p.name} attaches to ${p.attach}, which the libbpf backend lacks`;
  const f = p.filter;
  if (f.tids && f.tids.length > MAX_TIDS) return `${p.name} filters on more than ${MAX_TIDS} thread ids`;
  return undefined;
}

export interface LibbpfRunnerOptions {
  points: ProbePoint[];
  /** exact svIDs; undefined: every stream, numbered by the program on first sight */
  streams?: string[];
  /** stamp with bpf_ktime_get_tai_ns (else CLOCK_MONOTONIC) */
  tai: boolean;
  /** entries of the pending-SV map */
  pendingKeys: number;
  /** record --context: rows carry each point's CPU and thread; waitNs > 0 adds the wait analysis */
  context?: { waitNs: number };
  onEvent: (ev: OutputEvent) => void;
  /** rows (E_ROW, E_INCOMPLETE) in batches; the batch is reused once this returns */
  onRows: (rows: RawRows) => void;
  /** called for anything worth a warning */
  onStderr: (line: string) => void;
}

export interface LibbpfExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string[];
}

function cString(buf: Buffer, off: number, s: string, max: number): void {
  const b = Buffer.from(s, "latin1");
  if (b.length >= max) fail(`"${s}" is longer than ${max - 1} bytes`);
  b.copy(buf, off);
}

/** The `.rodata.cfg` image (struct config in the C source). */
export function configImage(
  points: ProbePoint[],
  allStreams: boolean,
  tai: boolean,
  context?: { waitNs: number },
): Buffer {
  const buf = Buffer.alloc(CONFIG_SIZE);
  buf.writeUInt32LE(points.length, 0);
  buf.writeUInt32LE(allStreams ? 1 : 0, 4);
  buf.writeUInt32LE(tai ? 1 : 0, 8);
  buf.writeUInt32LE(context ? 1 : 0, CONTEXT_OFFSET);
  buf.writeBigUInt64LE(BigInt(Math.round(context?.waitNs ?? 0)), WAIT_NS_OFFSET);
  points.forEach((p, i) => {
    const o = 16 + i * POINT_CFG_SIZE;
    const rt = RAW_TRACEPOINTS[p.attach];
    if (!rt) fail(`point ${p.name}: ${p.attach} is not available with the libbpf backend`);
    const f = p.filter;
    const at = POINT_CFG_OFFSETS;
    buf.writeUInt32LE(rt.id, o + at.attach);
    buf.writeUInt32LE(f.netns ? (f.netns.via === "task" ? 2 : 1) : 0, o + at.netns_via);
    buf.writeBigUInt64LE(BigInt(f.netns?.inode ?? 0), o + at.netns);
    buf.writeUInt32LE(f.dev !== undefined ? 1 : 0, o + at.has_dev);
    const comm = f.comm ?? f.commPrefix;
    buf.writeUInt32LE(f.comm !== undefined ? 1 : f.commPrefix !== undefined ? 2 : 0, o + at.comm_mode);
    buf.writeUInt32LE(comm?.length ?? 0, o + at.comm_len);
    buf.writeUInt32LE(f.tids?.length ?? 0, o + at.n_tids);
    if (f.dev !== undefined) cString(buf, o + at.dev, f.dev, 16);
    if (comm !== undefined) cString(buf, o + at.comm, comm, 16);
    (f.tids ?? []).forEach((t, j) => {
      buf.writeUInt32LE(t, o + at.tids + 4 * j);
    });
  });
  return buf;
}

/** The read-only configuration as text (for --show-program). */
export function describeConfig(
  points: ProbePoint[],
  streams: string[] | undefined,
  tai: boolean,
  context?: { waitNs: number },
): string {
  const lines = [
    "/* .rodata.cfg, set by svtrace before load: */",
    `/* n_points = ${points.length}, all_streams = ${streams ? 0 : 1}, use_tai = ${tai ? 1 : 0}` +
      `${context ? `, context = 1, wait_ns = ${Math.round(context.waitNs)}` : ""} */`,
  ];
  points.forEach((p, i) => {
    const f = p.filter;
    const rt = RAW_TRACEPOINTS[p.attach];
    lines.push(
      `/* pt[${i}] ${p.name}: attach = ${rt?.id ?? "?"} (raw_tracepoint/${rt?.tp ?? p.attach})` +
        `${f.dev !== undefined ? `, dev = "${f.dev}"` : ""}` +
        `${f.netns ? `, netns = ${f.netns.inode} via ${f.netns.via}` : ""}` +
        `${f.comm !== undefined ? `, comm = "${f.comm}"` : ""}${f.commPrefix !== undefined ? `, comm prefix = "${f.commPrefix}"` : ""}` +
        `${f.tids?.length ? `, tids = ${f.tids.join(",")}` : ""} */`,
    );
  });
  lines.push(
    `/* streams map (svID -> number): ${streams ? streams.map((s, i) => `${i + 1}=${s}`).join(" ") : "filled by the program on first sight"} */`,
  );
  return `${lines.join("\n")}\n`;
}

export class LibbpfRunner {
  readonly ready: Promise<bigint>;
  readonly closed: Promise<LibbpfExit>;
  readonly pid = process.pid;
  private readonly lib: Libbpf;
  private obj: Ptr = null;
  private links: Ptr[] = [];
  /** attach point ("tracepoint:net:netif_receive_skb") -> fd of the program loaded for it (for its run-time stats) */
  readonly programFds = new Map<string, number>();
  private ring: BpfRing | null = null;
  private readonly raw: RawRows;
  private bss: Ptr = null;
  private pendingMap: Ptr = null;
  private timers: NodeJS.Timeout[] = [];
  private lostSeen = 0n;
  private closeResolve: (x: LibbpfExit) => void = () => {};
  private stopped = false;
  private readonly n: number;

  constructor(private readonly opts: LibbpfRunnerOptions) {
    this.n = opts.points.length;
    if (this.n === 0) fail("no trace points to load");
    this.raw = new RawRows(this.n, 4096, opts.context !== undefined);
    if (this.n > BPF_MAX_POINTS) fail(`at most ${BPF_MAX_POINTS} trace points, got ${this.n}`);
    for (const p of opts.points) {
      const why = unsupportedPoint(p);
      if (why) fail(`${why}: use --backend bpftrace`);
    }
    const path = bpfObjectPath();
    if (!existsSync(path))
      fail(`BPF object ${path} not found: build it (npm run build:bpf) or use --backend bpftrace`);
    this.lib = loadLibbpf();
    this.closed = new Promise<LibbpfExit>((res) => {
      this.closeResolve = res;
    });
    // the verifier gives up with EAGAIN when a signal (e.g. SIGCHLD of a child svtrace started) arrives while it
    // checks the program (libbpf's own retries can meet the same signal): load again, up to 3 times
    for (let attempt = 1; ; attempt++) {
      try {
        this.load(path);
        break;
      } catch (e) {
        this.release();
        if (!(e instanceof LoadAgain) || attempt >= 3) throw e;
      }
    }
    const t = process.hrtime.bigint();
    // attached already, but ready is announced on the next turn of the event loop, as bpftrace's READY line
    // is: whoever started the trace has attached its listeners by then
    this.ready = new Promise<bigint>((res) =>
      setImmediate(() => {
        opts.onEvent({ kind: "ready", time: t });
        res(t);
      }),
    );
    this.timers.push(setInterval(() => this.poll(), POLL_MS));
    this.timers.push(setInterval(() => this.counters(), 1000));
  }

  private load(path: string): void {
    const L = this.lib;
    const o = this.opts;
    const errno = () => koffi.errno();
    if (!process.env.SVTRACE_LIBBPF_DEBUG) L.setPrint(null);
    this.obj = L.openFile(path, null);
    if (!this.obj) fail(`libbpf cannot open ${path} (errno ${errno()}): rebuild it (npm run build:bpf)`);
    const used = new Set(o.points.map((p) => RAW_TRACEPOINTS[p.attach]?.tp));
    if (o.context && o.context.waitNs > 0) for (const p of SCHED_PROGRAMS) used.add(p);
    const progs = new Map<string, Ptr>();
    for (const name of ALL_PROGRAMS) {
      const prog = L.findProgram(this.obj, name);
      if (!prog) fail(`BPF object ${path} has no program ${name}: rebuild it (npm run build:bpf)`);
      L.setAutoload(prog, used.has(name));
      progs.set(name, prog);
    }
    const cfgMap = L.findMap(this.obj, ".rodata.cfg");
    if (!cfgMap) fail(`BPF object ${path} has no .rodata.cfg: rebuild it (npm run build:bpf)`);
    const size = [0];
    const init = L.initialValue(cfgMap, size);
    if (!init || size[0] < CONFIG_SIZE)
      fail(`BPF object ${path}: .rodata.cfg is ${size[0]} bytes, expected ${CONFIG_SIZE}`);
    const image = configImage(o.points, !o.streams, o.tai, o.context);
    Buffer.from(koffi.view(init, CONFIG_SIZE)).set(image);
    this.pendingMap = L.findMap(this.obj, "pending");
    L.setMaxEntries(this.pendingMap, Math.max(1024, o.pendingKeys));
    // the points' context waits beside the pending SV: as many entries, or one when there is no context
    L.setMaxEntries(L.findMap(this.obj, "ctx_pending"), o.context ? Math.max(1024, o.pendingKeys) : 1);
    const rc = L.load(this.obj);
    if (rc === -EAGAIN)
      throw new LoadAgain(`libbpf could not load ${path} (error ${EAGAIN}): ${loadFailure(EAGAIN)}`);
    if (rc !== 0) fail(`libbpf could not load ${path} (error ${-rc}): ${loadFailure(-rc)}`);
    if (o.streams) {
      const map = L.findMap(this.obj, "streams");
      o.streams.forEach((id, i) => {
        const key = Buffer.alloc(4 + MAX_SVID);
        const b = Buffer.from(id, "latin1");
        if (b.length >= MAX_SVID) fail(`svID "${id.slice(0, 20)}..." is longer than ${MAX_SVID - 1} bytes`);
        key.writeUInt32LE(b.length, 0);
        b.copy(key, 4);
        const v = Buffer.alloc(8);
        v.writeBigUInt64LE(BigInt(i + 1));
        const r = L.mapUpdate(map, key, key.length, v, 8, 0n);
        if (r !== 0) fail(`cannot store svID ${id} in the streams map (error ${-r})`);
      });
    }
    this.bss = L.findMap(this.obj, ".bss");
    const rings = L.findMap(this.obj, "rows");
    this.ring = new BpfRing(L.mapFd(rings), L.mapMaxEntries(rings));
    for (const tp of used) {
      if (!tp) continue;
      const link = L.attachRawTracepoint(progs.get(tp), tp);
      if (!link) fail(`cannot attach raw_tracepoint/${tp} (errno ${errno()}): use --backend bpftrace`);
      this.links.push(link);
      const attach = Object.entries(RAW_TRACEPOINTS).find(([, r]) => r?.tp === tp)?.[0];
      if (attach) this.programFds.set(attach, L.programFd(progs.get(tp)));
    }
  }

  /** One ring-buffer record (struct event or struct stream_event), its data from word `at` of `u`. */
  private readonly onRecord = (u: Uint32Array, at: number, len: number): void => {
    const type = u[at] as number;
    if (type === E_ROW || type === E_INCOMPLETE) {
      if (len < EVENT_SIZE) return;
      const b = this.raw;
      const n = this.n;
      const r = b.length++;
      b.stream[r] = u[at + 1] as number;
      b.smpCnt[r] = u[at + 2] as number;
      b.appid[r] = u[at + 3] as number;
      b.iteration[r] = (u[at + 4] as number) + (u[at + 5] as number) * 4294967296;
      b.complete[r] = type === E_ROW ? 1 : 0;
      b.refrTm[2 * r] = u[at + 6] as number;
      b.refrTm[2 * r + 1] = u[at + 7] as number;
      const o = 2 * r * n;
      for (let k = 0; k < 2 * n; k++) b.t[o + k] = u[at + 8 + k] as number;
      if (type === E_INCOMPLETE) {
        b.t[o + 2 * n - 2] = 0;
        b.t[o + 2 * n - 1] = 0;
      }
      if (b.ctx) {
        const w = POINT_CTX_WORDS;
        const co = r * n * w;
        if (type === E_ROW && len >= EVENT_CTX_SIZE)
          for (let k = 0; k < n * w; k++) b.ctx[co + k] = u[at + EVENT_SIZE / 4 + k] as number;
        else b.ctx.fill(0, co, co + n * w);
      }
      if (b.length === b.capacity) this.deliverRows();
      return;
    }
    // anything else comes after the rows before it
    this.deliverRows();
    const v = new DataView(u.buffer, u.byteOffset + 4 * at, len);
    const stream = String(v.getUint32(4, true));
    if (type === E_STREAM) {
      const slen = v.getUint32(8, true);
      const bytes = new Uint8Array(v.buffer, v.byteOffset + 12, Math.min(slen, MAX_SVID));
      this.opts.onEvent({ kind: "stream", stream, svID: Buffer.from(bytes).toString("latin1") });
      return;
    }
    if (len < EVENT_SIZE) return;
    const smpCnt = v.getUint32(8, true);
    const it = v.getBigUint64(16, true);
    if (type === E_GAP) {
      this.opts.onEvent({ kind: "gap", expected: Number(it), got: smpCnt, stream });
    } else if (type === E_DUP) {
      this.opts.onEvent({ kind: "duplicate", point: Number(it), smpCnt, stream });
    }
  };

  private deliverRows(): void {
    if (this.raw.length === 0) return;
    try {
      this.opts.onRows(this.raw);
    } finally {
      this.raw.length = 0;
    }
  }

  private poll(): void {
    if (!this.ring) return;
    try {
      this.ring.consume(this.onRecord);
      this.deliverRows();
    } catch (e) {
      this.raw.length = 0;
      this.opts.onStderr(`ring-buffer records could not be handled: ${(e as Error).message}`);
    }
  }

  /** .bss: struct { s64 pend; u64 lost; u64 next_stream; } as the C source declares them */
  private readBss(): { pend: bigint; lost: bigint } {
    const size = [0];
    const p = this.lib.initialValue(this.bss, size);
    if (!p || size[0] < 16) return { pend: 0n, lost: 0n };
    const v = new DataView(koffi.view(p, 16));
    return { pend: v.getBigInt64(0, true), lost: v.getBigUint64(8, true) };
  }

  private counters(): void {
    const c = this.readBss();
    this.opts.onEvent({ kind: "mapEntries", count: Math.max(0, Number(c.pend)) });
    if (c.lost > this.lostSeen) {
      this.opts.onEvent({ kind: "lost", count: Number(c.lost - this.lostSeen) });
      this.lostSeen = c.lost;
    }
  }

  /** SVs still waiting at exit: pending-map entries as `pending` events. */
  private dumpPending(): void {
    const L = this.lib;
    const key = Buffer.alloc(SLOT_KEY_SIZE);
    const next = Buffer.alloc(SLOT_KEY_SIZE);
    const val = Buffer.alloc(SLOT_SIZE);
    let cur: Buffer | null = null;
    const seen = new Set<string>();
    while (L.mapNextKey(this.pendingMap, cur, next, SLOT_KEY_SIZE) === 0) {
      next.copy(key);
      cur = key;
      const k = key.toString("hex");
      if (seen.has(k)) break;
      seen.add(k);
      if (L.mapLookup(this.pendingMap, key, SLOT_KEY_SIZE, val, SLOT_SIZE, 0n) !== 0) continue;
      const times: bigint[] = [];
      for (let j = 0; j < this.n - 1; j++) times.push(val.readBigUInt64LE(8 + 8 * j));
      this.opts.onEvent({
        kind: "pending",
        stream: String(key.readBigUInt64LE(0)),
        smpCnt: Number(key.readBigUInt64LE(8)),
        iteration: Number(val.readBigUInt64LE(0)),
        times,
      });
    }
  }

  private release(): void {
    const L = this.lib;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const l of this.links) L.linkDestroy(l);
    this.links = [];
    this.ring?.close();
    this.ring = null;
    if (this.obj) L.close(this.obj);
    this.obj = null;
  }

  /** Detach, deliver every row still in the ring buffer and every SV still pending, free everything. */
  async stop(): Promise<LibbpfExit> {
    if (!this.stopped) {
      this.stopped = true;
      for (const l of this.links) this.lib.linkDestroy(l);
      this.links = [];
      this.poll();
      this.counters();
      this.opts.onEvent({ kind: "end" });
      if (this.n > 1) this.dumpPending();
      this.release();
      this.closeResolve({ code: 0, signal: null, stderr: [] });
    }
    return this.closed;
  }
}

/**
 * The object's `empty` program attached to these raw tracepoints (the bench's floor: what a raw tracepoint
 * costs with a program that does nothing). Returns the function that detaches it.
 */
export function attachEmptyFloor(tracepoints: string[]): () => void {
  const L = loadLibbpf();
  const path = bpfObjectPath();
  if (!existsSync(path)) fail(`BPF object ${path} not found: build it (npm run build:bpf)`);
  if (!process.env.SVTRACE_LIBBPF_DEBUG) L.setPrint(null);
  const obj = L.openFile(path, null);
  if (!obj) fail(`libbpf cannot open ${path} (errno ${koffi.errno()})`);
  for (const name of ALL_PROGRAMS) L.setAutoload(L.findProgram(obj, name), name === "empty");
  const rc = L.load(obj);
  if (rc !== 0) {
    L.close(obj);
    fail(`libbpf could not load ${path} (error ${-rc}): ${loadFailure(-rc)}`);
  }
  const prog = L.findProgram(obj, "empty");
  const links = tracepoints.map((tp) => {
    const link = L.attachRawTracepoint(prog, tp);
    if (!link) fail(`cannot attach the empty program to raw_tracepoint/${tp} (errno ${koffi.errno()})`);
    return link;
  });
  return () => {
    for (const l of links) L.linkDestroy(l);
    L.close(obj);
  };
}
