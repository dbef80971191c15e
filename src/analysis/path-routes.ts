/**
 * `svtrace path` routes: each distinct ordered list of (event, device, thread kind) the SVs took, with its
 * count and latency statistics (first to last event). Pure.
 */
import type { SvPath, ThreadKind } from "../trace/path-events.js";

export interface RouteStep {
  event: string;
  dev: string;
  kind: ThreadKind;
  /** the thread names seen at this step (the first few) */
  comms: string[];
}

export interface LatencyStats {
  min: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export interface Route {
  steps: RouteStep[];
  count: number;
  /** first to last event, µs */
  latencyUs: LatencyStats;
  /** the SVs on it, "svID/smpCnt" (the first 20) */
  examples: string[];
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function latencyStats(values: number[]): LatencyStats {
  const s = [...values].sort((a, b) => a - b);
  return {
    min: s[0],
    p50: quantile(s, 0.5),
    p99: quantile(s, 0.99),
    max: s[s.length - 1],
    mean: s.reduce((a, b) => a + b, 0) / s.length,
  };
}

/** The distinct routes, most taken first. */
export function routesOf(paths: SvPath[]): Route[] {
  const by = new Map<string, { steps: RouteStep[]; lat: number[]; examples: string[] }>();
  for (const p of paths) {
    const key = p.events.map((e) => `${e.event}|${e.dev}|${e.kind}`).join(";");
    let r = by.get(key);
    if (!r) {
      r = {
        steps: p.events.map((e) => ({ event: e.event, dev: e.dev, kind: e.kind, comms: [] })),
        lat: [],
        examples: [],
      };
      by.set(key, r);
    }
    p.events.forEach((e, i) => {
      const c = r.steps[i].comms;
      if (!c.includes(e.comm) && c.length < 4) c.push(e.comm);
    });
    r.lat.push(p.spanNs / 1000);
    if (r.examples.length < 20) r.examples.push(`${p.svID}/${p.smpCnt}`);
  }
  return [...by.values()]
    .map((r) => ({
      steps: r.steps,
      count: r.lat.length,
      latencyUs: latencyStats(r.lat),
      examples: r.examples,
    }))
    .sort((a, b) => b.count - a.count);
}
