/**
 * `svtrace path` output: per SV its events in pwru-like columns, then the routes with count and latency; or,
 * for --json, one object per SV and a last object with the routes.
 */
import type { Route } from "../analysis/path-routes.js";
import type { SvPath, SvPathEvent } from "../trace/path-events.js";

export interface PathNames {
  netns: Map<number, string>;
  dropReasons: Map<number, string>;
}

function nsName(names: PathNames, inode: number): string {
  return names.netns.get(inode) ?? String(inode);
}

function extraText(e: SvPathEvent, names: PathNames): string {
  if (e.event !== "kfree_skb") return "";
  return `reason=${names.dropReasons.get(e.extra) ?? e.extra}`;
}

const us = (ns: number) => (ns / 1000).toFixed(3);

/** One SV: a header line, then one line per event. */
export function formatSvPath(p: SvPath, names: PathNames): string {
  const head = `SV ${p.svID} smpCnt ${p.smpCnt} appid 0x${p.appid.toString(16).padStart(4, "0")}: ${p.events.length} events over ${us(p.spanNs)} µs`;
  const cols = `${"+µs".padStart(10)}  ${"CPU".padStart(3)}  ${"TID".padStart(7)}  ${"COMM".padEnd(16)}${"EVENT".padEnd(25)}${"DEVICE".padEnd(10)}${"NETNS".padEnd(12)}${"SKB".padEnd(18)}`;
  const lines = p.events.map((e) =>
    `${us(e.rel).padStart(10)}  ${String(e.cpu).padStart(3)}  ${String(e.tid).padStart(7)}  ${e.comm.padEnd(16)}${e.event.padEnd(25)}${(e.dev || "-").padEnd(10)}${nsName(names, e.netns).padEnd(12)}${e.skb.padEnd(18)}${extraText(e, names)}`.trimEnd(),
  );
  return [head, cols, ...lines].join("\n");
}

const f1 = (v: number) => v.toFixed(1);

export function formatRoutes(routes: Route[]): string {
  const total = routes.reduce((a, r) => a + r.count, 0);
  const out = [`${routes.length} route${routes.length === 1 ? "" : "s"} for ${total} SVs:`];
  routes.forEach((r, i) => {
    const l = r.latencyUs;
    out.push(
      `route ${i + 1}: ${r.count} SVs (${((100 * r.count) / total).toFixed(0)} %), first to last event µs min ${f1(l.min)} p50 ${f1(l.p50)} p99 ${f1(l.p99)} max ${f1(l.max)}`,
    );
    r.steps.forEach((s, k) => {
      out.push(
        `  ${String(k + 1).padStart(2)}. ${s.event.padEnd(25)}${(s.dev || "-").padEnd(10)}${s.kind} (${s.comms.join(", ")})`,
      );
    });
  });
  return out.join("\n");
}

/** The JSON object of one SV (one line of --json output). */
export function svPathJson(p: SvPath, names: PathNames): object {
  return {
    svID: p.svID,
    smpCnt: p.smpCnt,
    appid: p.appid,
    start_ns: p.start.toString(),
    span_ns: p.spanNs,
    events: p.events.map((e) => ({
      event: e.event,
      rel_ns: e.rel,
      cpu: e.cpu,
      tid: e.tid,
      comm: e.comm,
      thread_kind: e.kind,
      dev: e.dev === "" ? null : e.dev,
      netns: e.netns,
      netns_name: names.netns.get(e.netns) ?? null,
      skb: e.skb,
      ...(e.event === "kfree_skb"
        ? { drop_reason: e.extra, drop_reason_name: names.dropReasons.get(e.extra) ?? null }
        : {}),
    })),
  };
}

export function routesJson(routes: Route[]): object {
  return {
    routes: routes.map((r) => ({
      count: r.count,
      steps: r.steps.map((s) => ({
        event: s.event,
        dev: s.dev === "" ? null : s.dev,
        thread_kind: s.kind,
        comms: s.comms,
      })),
      latency_us: r.latencyUs,
      examples: r.examples,
    })),
  };
}
