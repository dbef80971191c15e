/**
 * The event lines of the path program (../bpftrace/generate-path.ts) parsed and grouped per SV by identity
 * (svID, smpCnt), which follows an SV across skb clones and copies; only the first N SVs (per stream or in
 * total) are kept. Pure: lines in, SV paths out (routes: ../analysis/path-routes.ts).
 */

export interface PathEventLine {
  event: string;
  /** CLOCK_MONOTONIC ns */
  ns: bigint;
  cpu: number;
  tid: number;
  comm: string;
  /** "" when the skb had no device */
  dev: string;
  netns: number;
  skb: string;
  smpCnt: number;
  appid: number;
  /** kfree_skb's drop reason, else 0 */
  extra: number;
  svID: string;
}

/** Parse one "E\t..." line; undefined for anything else. */
export function parsePathLine(line: string): PathEventLine | undefined {
  if (!line.startsWith("E\t")) return undefined;
  const f = line.split("\t");
  if (f.length < 13) return undefined;
  const [, event, ns, cpu, tid, comm, dev, netns, skb, smp, appid, extra] = f;
  if (!/^\d+$/.test(ns)) return undefined;
  return {
    event,
    ns: BigInt(ns),
    cpu: Number(cpu),
    tid: Number(tid),
    comm,
    dev,
    netns: Number(netns),
    skb,
    smpCnt: Number(smp),
    appid: Number(appid),
    extra: Number(extra),
    svID: f.slice(12).join("\t"),
  };
}

/** What kind of thread ran an event (a softirq runs in whatever task it interrupted: shown as that task). */
export type ThreadKind = "ksoftirqd" | "switch" | "forwarder" | "kworker" | "irq" | "app";

export function threadKind(comm: string): ThreadKind {
  if (comm.startsWith("ksoftirqd/")) return "ksoftirqd";
  if (/^(ovs-vswitchd|handler\d+|revalidator\d+|pmd-|urcu\d+)/.test(comm)) return "switch";
  if (comm.startsWith("vhost-")) return "forwarder";
  if (comm.startsWith("kworker/")) return "kworker";
  if (comm.startsWith("irq/")) return "irq";
  return "app";
}

export interface SvPathEvent extends Omit<PathEventLine, "svID" | "smpCnt" | "appid" | "ns"> {
  /** ns since the SV's first event */
  rel: number;
  kind: ThreadKind;
}

export interface SvPath {
  svID: string;
  smpCnt: number;
  appid: number;
  /** CLOCK_MONOTONIC ns of the first event */
  start: bigint;
  /** first to last event, ns */
  spanNs: number;
  events: SvPathEvent[];
}

export interface CollectorOptions {
  /** SVs to keep: per stream when perStream, else in total */
  count: number;
  perStream: boolean;
  /** SVs first seen before this time may have been caught half-way: skipped (ns, monotonic; see startAt) */
  notBefore?: bigint;
  /** events an SV may be first seen at (others: it was already in flight when tracing began); default any */
  entry?: (event: string) => boolean;
  /** events of a known SV later than this after its first event belong to the next smpCnt iteration */
  iterationWindowNs?: bigint;
}

/** Collects the first `count` SVs' events. */
export class PathCollector {
  private readonly svs = new Map<
    string,
    { svID: string; smpCnt: number; appid: number; lines: PathEventLine[] }
  >();
  private readonly perStream = new Map<string, number>();
  private total = 0;
  /** keys first seen too early or half-way: in flight when tracing began, their later events are ignored too */
  private readonly inFlight = new Set<string>();
  skippedEarly = 0;
  private notBefore: bigint;
  constructor(private readonly opts: CollectorOptions) {
    this.notBefore = opts.notBefore ?? 0n;
  }

  /** Skip SVs first seen before this time (the probes attached at `ns` - the skip time). */
  startAt(ns: bigint): void {
    this.notBefore = ns;
  }

  /** true once every stream (or the total) has its count */
  get full(): boolean {
    if (!this.opts.perStream) return this.total >= this.opts.count;
    return this.perStream.size > 0 && [...this.perStream.values()].every((n) => n >= this.opts.count);
  }

  /** SVs kept so far */
  get size(): number {
    return this.svs.size;
  }

  add(e: PathEventLine): void {
    const key = `${e.svID}\u0000${e.smpCnt}`;
    const known = this.svs.get(key);
    if (known) {
      const first = known.lines[0].ns;
      const win = this.opts.iterationWindowNs ?? 500_000_000n;
      if (e.ns - first > win || first - e.ns > win) return;
      known.lines.push(e);
      if (e.ns < first) known.lines.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
      return;
    }
    if (this.inFlight.has(key)) return;
    if (e.ns < this.notBefore || (this.opts.entry && !this.opts.entry(e.event))) {
      this.skippedEarly++;
      if (this.inFlight.size < 100_000) this.inFlight.add(key);
      return;
    }
    const n = this.opts.perStream ? (this.perStream.get(e.svID) ?? 0) : this.total;
    if (n >= this.opts.count) return;
    this.perStream.set(e.svID, n + 1);
    this.total++;
    this.svs.set(key, { svID: e.svID, smpCnt: e.smpCnt, appid: e.appid, lines: [e] });
  }

  /** The SVs kept, by first event time, each with its events in time order. */
  paths(): SvPath[] {
    const out: SvPath[] = [];
    for (const sv of this.svs.values()) {
      const lines = [...sv.lines].sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
      const start = lines[0].ns;
      out.push({
        svID: sv.svID,
        smpCnt: sv.smpCnt,
        appid: sv.appid,
        start,
        spanNs: Number(lines[lines.length - 1].ns - start),
        events: lines.map(({ svID: _s, smpCnt: _c, appid: _a, ns, ...rest }) => ({
          ...rest,
          rel: Number(ns - start),
          kind: threadKind(rest.comm),
        })),
      });
    }
    return out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  }
}
