/**
 * The set of plots a report shows, as named ECharts options: per segment a histogram and a latency-over-time
 * chart, and one exceedance curve with every segment. Shared by the HTML page and the PNG files.
 */
import type { EChartsOption } from "echarts";
import type { LatencyHistogram } from "../analysis/histogram.js";
import type { ReportSummary } from "../analysis/summary.js";
import { exceedanceOption, histogramOption, timeSeriesOption } from "./charts.js";
import { count } from "./format.js";

export interface Plot {
  /** file-name friendly id, e.g. "histogram-T1-T2" */
  id: string;
  title: string;
  option: EChartsOption;
}

/** Segment names worth plotting: every consecutive pair, and total when it differs from the only pair. */
export function plottedSegments(summary: ReportSummary): string[] {
  const names = summary.segmentNames;
  return names.length === 2 ? names.slice(0, 1) : names;
}

export function segmentTitle(summary: ReportSummary, name: string): string {
  const s = summary.all.segments[name];
  const alias = s?.alias ? ` (${s.alias})` : "";
  if (name === "total") return `total: first point -> ${s?.to ?? ""}${alias}`;
  return `${name}${alias}`;
}

export function buildPlots(
  summary: ReportSummary,
  histograms: Record<string, LatencyHistogram>,
  limitsUs: Record<string, number>,
): Plot[] {
  const plots: Plot[] = [];
  const segs = plottedSegments(summary);
  for (const name of segs) {
    const hist = histograms[name];
    if (!hist) continue;
    const title = segmentTitle(summary, name);
    plots.push({
      id: `histogram-${name}`,
      title: `Latency histogram, ${title}`,
      option: histogramOption(
        `Latency histogram, ${title}: ${count(hist.count)} SVs`,
        [{ label: title, hist }],
        summary.thresholds_us,
        limitsUs[name],
      ),
    });
  }
  for (const name of segs) {
    const title = segmentTitle(summary, name);
    plots.push({
      id: `time-${name}`,
      title: `Latency over time, ${title}`,
      option: timeSeriesOption(
        `Latency over time, ${title}`,
        summary.series[name] ?? [],
        summary.spikes,
        name,
        limitsUs[name],
      ),
    });
  }
  plots.push({
    id: "exceedance",
    title: "Exceedance: fraction of SVs above x",
    option: exceedanceOption(
      "Exceedance: fraction of SVs above x",
      segs
        .filter((n) => histograms[n])
        .map((n) => ({ label: segmentTitle(summary, n), hist: histograms[n] as LatencyHistogram })),
    ),
  });
  return plots;
}
