/**
 * The report's plots as ECharts options, rendered server-side to SVG (no DOM; echarts is imported lazily so
 * `report --json` does not pay for it): the latency histogram per segment (log y, thresholds and limits drawn),
 * latency over time (per-second max and p99, spikes marked) and the exceedance curve (fraction of SVs above
 * x, log-log). Several runs can be overlaid (`svtrace compare`).
 */
import type { EChartsOption } from "echarts";
import type { LatencyHistogram } from "../analysis/histogram.js";
import type { SeriesPoint } from "../analysis/per-second.js";
import type { Spike } from "../analysis/spikes.js";

export const CHART_WIDTH = 1000;
export const CHART_HEIGHT = 380;
const COLORS = ["#1f6feb", "#d4580f", "#2da44e", "#8250df", "#bf3989", "#6e7781"];
const BASE = {
  animation: false,
  backgroundColor: "#ffffff",
  color: COLORS,
  textStyle: { fontFamily: "DejaVu Sans, Helvetica, Arial, sans-serif" },
};

export interface NamedHistogram {
  label: string;
  hist: LatencyHistogram;
}

/** Render an option to an SVG string. Always disposes the chart (or the process never exits). */
export async function renderSvg(
  option: EChartsOption,
  width = CHART_WIDTH,
  height = CHART_HEIGHT,
): Promise<string> {
  const echarts = await import("echarts");
  const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width, height });
  try {
    chart.setOption(option);
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/** log-axis tick: 0.001 -> "1e-3", 0.5 -> "0.5" */
function fractionTick(v: number): string {
  if (v >= 0.01) return String(Number(v.toPrecision(2)));
  const e = Math.round(Math.log10(v));
  return Math.abs(v - 10 ** e) / v < 1e-6 ? `1e${e}` : v.toExponential(0);
}

/** µs tick without float noise */
function usTick(v: number): string {
  return v >= 1 ? String(Math.round(v * 100) / 100) : String(Number(v.toPrecision(2)));
}

const usLabel = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/**
 * Histogram of one segment, log-binned (20 bins per decade, shared by every run drawn) with a log y axis;
 * dashed lines at the thresholds, a red line at the limit.
 */
export function histogramOption(
  title: string,
  runs: NamedHistogram[],
  thresholdsUs: number[],
  limitUs?: number,
): EChartsOption {
  const perDecade = 20;
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const r of runs) {
    if (r.hist.count === 0) continue;
    lo = Math.min(lo, Math.max(1, r.hist.min));
    hi = Math.max(hi, r.hist.max);
  }
  if (!Number.isFinite(lo)) return emptyOption(title, "no latencies in this segment");
  for (const t of [...thresholdsUs, ...(limitUs ? [limitUs] : [])]) hi = Math.max(hi, t * 1000 * 1.05);
  const first = Math.floor(Math.log10(lo) * perDecade);
  const last = Math.floor(Math.log10(Math.max(hi, lo + 1)) * perDecade);
  const edges: number[] = [];
  for (let b = first; b <= last + 1; b++) edges.push(10 ** (b / perDecade));
  const labels = edges.slice(0, -1).map((e) => usLabel(e / 1000));
  const binOf = (ns: number): number =>
    Math.min(labels.length - 1, Math.max(0, Math.floor(Math.log10(Math.max(ns, 1)) * perDecade) - first));
  const series = runs.map((r, i) => {
    const counts = new Array<number>(labels.length).fill(0);
    for (const b of r.hist.buckets()) {
      if (b.lo < 0) continue; // negative latencies are reported as a clock problem, not drawn on a log axis
      const k = binOf(b.lo);
      counts[k] = (counts[k] as number) + b.count;
    }
    const marks = [
      ...thresholdsUs.map((t) => ({
        xAxis: labels[binOf(t * 1000)] as string,
        label: { formatter: `${t} µs`, color: "#57606a", fontSize: 10, position: "insideEndTop" as const },
        lineStyle: { color: "#8c959f", type: "dashed" as const, width: 1 },
      })),
      ...(limitUs
        ? [
            {
              xAxis: labels[binOf(limitUs * 1000)] as string,
              label: {
                formatter: `limit ${limitUs} µs`,
                color: "#cf222e",
                fontSize: 11,
                position: "end" as const,
              },
              lineStyle: { color: "#cf222e", type: "solid" as const, width: 2 },
            },
          ]
        : []),
    ];
    return {
      type: "bar" as const,
      name: r.label,
      data: counts.map((c) => (c > 0 ? c : null)),
      barGap: "0%",
      barCategoryGap: runs.length > 1 ? "10%" : "2%",
      itemStyle: { opacity: runs.length > 1 ? 0.75 : 1, color: COLORS[i % COLORS.length] },
      markLine: i === 0 && marks.length > 0 ? { symbol: "none", silent: true, data: marks } : undefined,
    };
  });
  return {
    ...BASE,
    title: { text: title, left: "center", textStyle: { fontSize: 14 } },
    legend: runs.length > 1 ? { top: 28 } : undefined,
    grid: { left: 100, right: 30, top: runs.length > 1 ? 80 : 60, bottom: 55 },
    xAxis: {
      type: "category",
      data: labels,
      name: "latency (µs, log bins)",
      nameLocation: "middle",
      nameGap: 32,
      axisLabel: { interval: Math.max(0, Math.floor(labels.length / 14) - 1) },
    },
    yAxis: { type: "log", name: "SVs", min: 1, logBase: 10 },
    series,
  };
}

/** Keep at most `max` points: each bucket of consecutive seconds keeps its max of max and max of p99. */
export function downsampleSeries(points: SeriesPoint[], max = 1500): SeriesPoint[] {
  if (points.length <= max) return points;
  const per = Math.ceil(points.length / max);
  const out: SeriesPoint[] = [];
  for (let i = 0; i < points.length; i += per) {
    const group = points.slice(i, i + per);
    out.push({
      t: (group[0] as SeriesPoint).t,
      count: group.reduce((a, p) => a + p.count, 0),
      max: Math.max(...group.map((p) => p.max)),
      p99: Math.max(...group.map((p) => p.p99)),
    });
  }
  return out;
}

/** Per-second max and p99 of a segment over time, spikes marked; log y (µs). */
export function timeSeriesOption(
  title: string,
  points: SeriesPoint[],
  spikes: Spike[],
  segment: string,
  limitUs?: number,
): EChartsOption {
  if (points.length === 0) return emptyOption(title, "no time information in this input");
  const pts = downsampleSeries(points);
  const spikeData = spikes
    .filter((s) => s.t_ns !== null && s.segments[segment] !== null && s.segments[segment] !== undefined)
    .map((s) => [
      Number(BigInt(s.t_ns as string) / 1_000_000n),
      ((s.segments[segment] as number) / 1000).toFixed(1),
    ]);
  return {
    ...BASE,
    title: { text: title, left: "center", textStyle: { fontSize: 14 } },
    legend: { top: 28, data: ["max per second", "p99 per second", "top spikes"] },
    grid: { left: 70, right: 90, top: 80, bottom: 45 },
    xAxis: {
      type: "time",
      name: "time (UTC)",
      nameLocation: "middle",
      nameGap: 28,
      axisLabel: { formatter: "{HH}:{mm}:{ss}" },
    },
    yAxis: {
      type: "log",
      name: "latency (µs)",
      logBase: 10,
      axisLabel: { formatter: usTick },
      // keep the limit line in view
      max: limitUs
        ? (v: { max: number }) => 10 ** Math.ceil(Math.log10(Math.max(v.max, limitUs * 1.1)))
        : undefined,
    },
    series: [
      {
        type: "line",
        name: "max per second",
        showSymbol: false,
        lineStyle: { width: 1 },
        data: pts.map((p) => [p.t * 1000, Math.max(p.max / 1000, 0.001)]),
        markLine: limitUs
          ? {
              symbol: "none",
              silent: true,
              data: [
                {
                  yAxis: limitUs,
                  label: { formatter: `limit ${limitUs} µs` },
                  lineStyle: { color: "#cf222e" },
                },
              ],
            }
          : undefined,
      },
      {
        type: "line",
        name: "p99 per second",
        showSymbol: false,
        lineStyle: { width: 1 },
        data: pts.map((p) => [p.t * 1000, Math.max(p.p99 / 1000, 0.001)]),
      },
      {
        type: "scatter",
        name: "top spikes",
        symbol: "triangle",
        symbolSize: 9,
        itemStyle: { color: "#cf222e" },
        data: spikeData,
      },
    ],
  };
}

/** Fraction of SVs above x for each run/segment, log-log. */
export function exceedanceOption(title: string, runs: NamedHistogram[], limitUs?: number): EChartsOption {
  const series = runs
    .filter((r) => r.hist.count > 0)
    .map((r) => {
      const n = r.hist.count;
      const data: [number, number][] = [];
      let above = n;
      for (const b of r.hist.logBuckets(50)) {
        if (b.lo <= 0) {
          above -= b.count;
          continue;
        }
        data.push([b.lo / 1000, above / n]);
        above -= b.count;
      }
      const last = data[data.length - 1];
      data.push([r.hist.max / 1000, 1 / n]);
      if (last && last[0] === r.hist.max / 1000) data.pop();
      return { type: "line" as const, name: r.label, step: "end" as const, showSymbol: false, data };
    });
  if (series.length === 0) return emptyOption(title, "no latencies");
  return {
    ...BASE,
    title: { text: title, left: "center", textStyle: { fontSize: 14 } },
    legend: { top: 28 },
    grid: { left: 80, right: 30, top: 80, bottom: 45 },
    xAxis: {
      type: "log",
      name: "latency x (µs)",
      nameLocation: "middle",
      nameGap: 28,
      logBase: 10,
      axisLabel: { formatter: usTick },
    },
    yAxis: {
      type: "log",
      name: "fraction of SVs above x",
      logBase: 10,
      axisLabel: { formatter: fractionTick },
    },
    series: limitUs
      ? [
          ...series,
          {
            type: "line" as const,
            name: `limit ${limitUs} µs`,
            data: [],
            markLine: {
              symbol: "none",
              silent: true,
              data: [{ xAxis: limitUs }],
              lineStyle: { color: "#cf222e" },
            },
          },
        ]
      : series,
  };
}

function emptyOption(title: string, text: string): EChartsOption {
  return {
    ...BASE,
    title: [
      { text: title, left: "center", textStyle: { fontSize: 14 } },
      { text, left: "center", top: "middle", textStyle: { fontSize: 13, color: "#57606a" } },
    ],
  };
}
