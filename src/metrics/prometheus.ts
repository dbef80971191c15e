/**
 * `--prometheus [HOST:]PORT`: a /metrics endpoint (prom-client) fed at scrape time from the live model, never
 * per sample (DEPENDENCIES.md §10): per-stream counters (received, complete, missed, lost in path, dropped,
 * duplicates, rows), tracer-wide lost events and map fill, and per stream and segment a latency histogram in
 * seconds with buckets fine between 10 and 500 µs (../metrics/buckets.ts), counted exactly by the model.
 * Bound to 127.0.0.1 unless a host is given.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  Counter,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValueWithName,
  Registry,
} from "prom-client";
import { fail } from "../errors.js";
import type { LiveModel, StreamModel } from "../live/model.js";
import { LATENCY_BUCKETS_NS } from "./buckets.js";

export interface ListenAddress {
  host: string;
  port: number;
}

/** "9184" -> 127.0.0.1:9184; "0.0.0.0:9184"; "[::1]:9184". */
export function parseListenAddress(spec: string): ListenAddress {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(spec.trim());
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535)
    fail(`bad --prometheus "${spec}": give PORT or HOST:PORT (e.g. 9184 or 0.0.0.0:9184), port 0-65535`);
  const host = m[1] ? m[1].replace(/^\[|\]$/g, "") : "127.0.0.1";
  return { host, port };
}

type CounterField = "received" | "complete" | "missed" | "lostInPath" | "dropped" | "duplicates";

const STREAM_COUNTERS: { name: string; help: string; get: (s: StreamModel) => number }[] = [
  ...(
    [
      ["received", "received", "SVs seen at one trace point or more"],
      ["complete", "complete", "SVs seen at every trace point"],
      ["missed", "missed", "SVs seen at a point but not at an earlier one"],
      ["lost_in_path", "lostInPath", "SVs that entered at the first point but never reached the last"],
      ["dropped", "dropped", "smpCnt gaps at the first point (never seen by this host)"],
      ["duplicates", "duplicates", "the same SV seen twice at a point"],
    ] as [string, CounterField, string][]
  ).map(([name, field, help]) => ({
    name: `svtrace_sv_${name}_total`,
    help,
    get: (s: StreamModel) => s.counters?.[field] ?? 0,
  })),
  {
    name: "svtrace_sv_rows_total",
    help: "SVs delivered by the tracer (one record row each)",
    get: (s) => s.rows,
  },
];

/**
 * A Prometheus histogram whose buckets are read from the live model at scrape time (exact counts kept by the
 * model), instead of prom-client's per-sample observe().
 */
type HistLabel = "svid" | "segment" | "alias" | "le";

class ModelLatencyHistogram extends Histogram<HistLabel> {
  constructor(
    private readonly model: LiveModel,
    registry: Registry,
  ) {
    super({
      name: "svtrace_latency_seconds",
      help: "SV latency per stream and segment (consecutive trace points, and total = first to last point)",
      labelNames: ["svid", "segment", "alias"],
      buckets: LATENCY_BUCKETS_NS.map((ns) => ns / 1e9),
      registers: [registry],
    });
  }

  private values(): MetricValueWithName<HistLabel>[] {
    const out: MetricValueWithName<HistLabel>[] = [];
    for (const s of this.model.sortedStreams()) {
      this.model.defs.forEach((def, i) => {
        const seg = s.segments[i];
        const labels = { svid: s.svID, segment: def.name, alias: def.alias ?? "" };
        let acc = 0;
        LATENCY_BUCKETS_NS.forEach((ns, b) => {
          acc += seg.promBuckets[b];
          out.push({
            metricName: "svtrace_latency_seconds_bucket",
            labels: { ...labels, le: ns / 1e9 },
            value: acc,
          });
        });
        out.push({
          metricName: "svtrace_latency_seconds_bucket",
          labels: { ...labels, le: "+Inf" },
          value: seg.hist.count,
        });
        out.push({
          metricName: "svtrace_latency_seconds_sum",
          labels,
          value: seg.hist.count ? seg.hist.sum / 1e9 : 0,
        });
        out.push({ metricName: "svtrace_latency_seconds_count", labels, value: seg.hist.count });
      });
    }
    return out;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<HistLabel>>> {
    return {
      name: "svtrace_latency_seconds",
      help: "SV latency per stream and segment (consecutive trace points, and total = first to last point)",
      type: "histogram" as unknown as MetricObjectWithValues<MetricValueWithName<HistLabel>>["type"],
      aggregator: "sum",
      collect: () => undefined,
      values: this.values(),
    };
  }

  /** prom-client's text exposition calls this one when it exists. */
  async getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<HistLabel>>> {
    return this.get();
  }
}

/** A registry whose metrics all read `model` when scraped. */
export function buildRegistry(model: LiveModel): Registry {
  const registry = new Registry();
  for (const c of STREAM_COUNTERS) {
    new Counter({
      name: c.name,
      help: c.help,
      labelNames: ["svid"],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of model.sortedStreams()) this.inc({ svid: s.svID }, c.get(s));
      },
    });
  }
  new Counter({
    name: "svtrace_latency_over_threshold_total",
    help: "SVs whose latency in the segment was above --threshold-us",
    labelNames: ["svid", "segment"],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of model.sortedStreams())
        model.defs.forEach((d, i) => {
          this.inc({ svid: s.svID, segment: d.name }, s.segments[i].over);
        });
    },
  });
  new Counter({
    name: "svtrace_lost_events_total",
    help: 'bpftrace "Lost N events" (output the tracer could not deliver)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(model.lostEvents);
    },
  });
  new Gauge({
    name: "svtrace_map_entries",
    help: "pending SVs in the in-kernel matching map",
    registers: [registry],
    collect() {
      this.set(model.mapEntries);
    },
  });
  new Gauge({
    name: "svtrace_map_capacity",
    help: "capacity of the in-kernel matching map (BPFTRACE_MAP_KEYS_MAX, SV_BUFFER_SIZE)",
    registers: [registry],
    collect() {
      this.set(model.mapCapacity);
    },
  });
  new Gauge({
    name: "svtrace_latency_threshold_seconds",
    help: "the --threshold-us in use",
    registers: [registry],
    collect() {
      this.set(model.thresholdNs / 1e9);
    },
  });
  new ModelLatencyHistogram(model, registry);
  return registry;
}

export interface MetricsServer {
  /** http://HOST:PORT/metrics */
  url: string;
  address: ListenAddress;
  close(): Promise<void>;
}

/** Serve the model's metrics on GET /metrics (and / for a pointer). */
export async function startMetricsServer(model: LiveModel, spec: string): Promise<MetricsServer> {
  const address = parseListenAddress(spec);
  const registry = buildRegistry(model);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405).end();
      return;
    }
    if (path === "/metrics") {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { "Content-Type": registry.contentType }).end(text);
        },
        (err: Error) => {
          res.writeHead(500, { "Content-Type": "text/plain" }).end(`svtrace: ${err.message}\n`);
        },
      );
      return;
    }
    res
      .writeHead(path === "/" ? 200 : 404, { "Content-Type": "text/plain" })
      .end("svtrace metrics: GET /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      reject(err);
    });
    server.listen(address.port, address.host, () => resolve());
  }).catch((err: NodeJS.ErrnoException) => {
    fail(
      `cannot serve --prometheus on ${address.host}:${address.port}: ${err.code ?? err.message}; pick another port`,
    );
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${host}:${bound.port}/metrics`,
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
