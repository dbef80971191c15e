/**
 * contrib/grafana/svtrace-dashboard.json: a Grafana 10+ dashboard model whose every panel and variable query,
 * with the Grafana variables replaced by concrete values, is accepted by a real Prometheus (its query endpoint is
 * the parser), returns series from a stand-in host (the real exporter), and names only metrics svtrace serves
 * (read from the exporter's /metrics) or the shipped recording rules record.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import {
  DASHBOARD,
  type FakeHost,
  RULES,
  type RunningPrometheus,
  recordedNames,
  startFakeHost,
  startPrometheus,
  until,
} from "./metrics-prometheus-support.js";

interface Target {
  expr?: string;
  refId: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
  repeat?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
}
interface Dashboard {
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dash = JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;

/** Grafana's variables and macros as a concrete query would have them. */
function substitute(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "5s")
    .replaceAll("$__range", "30s")
    .replaceAll("$host", ".*")
    .replaceAll("$stream", ".*")
    .replaceAll("$segment", "total");
}

/** Metric names in a PromQL expression: identifiers outside strings, label braces, ranges and label lists. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const keywords = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"]);
  const out: string[] = [];
  for (const m of bare.matchAll(/(\d+(?:\.\d+)?(?:e[+-]?\d+)?)|([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    if (m[1] || m[3] || keywords.has(m[2])) continue; // a number, a function, a keyword
    out.push(m[2]);
  }
  return out;
}

/** Every query of the dashboard: panels' targets and query variables (label_values(SELECTOR, label)). */
function queries(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of dash.panels)
    for (const t of p.targets ?? [])
      if (t.expr) out.push({ where: `panel ${p.id} "${p.title}" ${t.refId}`, expr: t.expr });
  for (const v of dash.templating.list) {
    if (v.type !== "query") continue;
    const q = typeof v.query === "string" ? v.query : v.query.query;
    const m = /^label_values\((.*),\s*(\w+)\)$/.exec(q);
    assert.ok(m, `variable ${v.name}: label_values(SELECTOR, LABEL), not ${q}`);
    out.push({ where: `variable ${v.name}`, expr: m[1] });
  }
  return out;
}

let prom: RunningPrometheus | undefined;
let host: FakeHost;
let served: Set<string>;

before(async () => {
  host = await startFakeHost("bad");
  prom = await startPrometheus([host.target], { forS: 1, rangeS: 5 });
  // the names the exporter serves, from its own /metrics (histograms as _bucket, _sum, _count)
  const text = await (await fetch(`http://${host.target}/metrics`)).text();
  served = new Set([...text.matchAll(/^([a-z_:][\w:]*)(?:\{| )/gm)].map((m) => m[1]));
  for (const r of recordedNames(readFileSync(RULES, "utf8"))) served.add(r);
  served.add("up"); // Prometheus' own per-target series
});
after(async () => {
  await prom?.stop();
  await host?.stop();
});

test("the dashboard is a Grafana 10+ model: schema, unique ids, a datasource variable, host/stream variables", () => {
  assert.ok(dash.schemaVersion >= 38, `schemaVersion ${dash.schemaVersion}`);
  assert.ok(dash.uid && dash.title);
  const ids = dash.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, "panel ids unique");
  const vars = dash.templating.list.map((v) => `${v.name}:${v.type}`);
  for (const v of ["datasource:datasource", "host:query", "stream:query"]) assert.ok(vars.includes(v), v);
  const types = new Set(dash.panels.map((p) => p.type));
  for (const t of ["timeseries", "heatmap", "stat", "row"]) assert.ok(types.has(t), `a ${t} panel`);
  for (const p of dash.panels.filter((x) => x.type !== "row"))
    assert.deepEqual(p.datasource, { type: "prometheus", uid: `\${datasource}` }, `panel ${p.id} datasource`);
  assert.ok(
    dash.panels.some((p) => p.type === "row" && p.repeat === "segment"),
    "a row repeated per segment",
  );
});

test("every panel and variable query parses, returns series and names only served metrics", {
  timeout: 120_000,
}, async () => {
  const p = prom as RunningPrometheus;
  // recording rules and 1 s scrapes need a few evaluations before every query has data
  await until("the p99 recording rule has data", 60_000, async () =>
    (await p.query("instance_svid_segment:svtrace_latency_seconds:p99_1m")).length > 0 ? true : undefined,
  );
  const all = queries();
  assert.ok(all.length >= 15, `${all.length} queries`);
  for (const { where, expr } of all) {
    const names = metricNames(expr);
    assert.ok(names.length > 0, `${where}: names a metric`);
    for (const n of names) assert.ok(served.has(n), `${where}: ${n} is not served by svtrace (${expr})`);
    const concrete = substitute(expr);
    assert.doesNotMatch(concrete, /\$/, `${where}: every variable substituted`);
    const res = await until(`${where} returns series`, 30_000, async () => {
      const r = await p.query(concrete); // throws on a parse error
      return r.length > 0 ? r : undefined;
    });
    assert.ok(res.length > 0);
  }
});

test("a query with a typo is rejected by the same check (the parser is real)", async () => {
  const p = prom as RunningPrometheus;
  await assert.rejects(
    p.query(substitute('sum by (le (rate(svtrace_latency_seconds_bucket{svid=~"$stream"}[5s]))')),
    /bad_data/,
  );
  assert.deepEqual(metricNames('sum by (le) (rate(svtrace_latency_secs_bucket{segment="total"}[1m]))'), [
    "svtrace_latency_secs_bucket",
  ]);
  assert.ok(!served.has("svtrace_latency_secs_bucket"));
});
