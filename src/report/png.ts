/**
 * PNG files of the report's plots: each SVG rendered by resvg (an optional dependency; system fonts).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fail } from "../errors.js";
import { CHART_HEIGHT, CHART_WIDTH, renderSvg } from "./charts.js";
import type { Plot } from "./plots.js";

interface ResvgModule {
  Resvg: new (
    svg: string,
    opts?: {
      fitTo?: { mode: "width"; value: number };
      font?: { loadSystemFonts?: boolean; defaultFontFamily?: string };
    },
  ) => { render(): { asPng(): Uint8Array } };
}

async function loadResvg(): Promise<ResvgModule> {
  try {
    return (await import("@resvg/resvg-js")) as unknown as ResvgModule;
  } catch {
    return fail(
      "--png needs the optional package @resvg/resvg-js; install it with `npm install @resvg/resvg-js`",
    );
  }
}

export async function svgToPng(svg: string, width = CHART_WIDTH * 1.5): Promise<Uint8Array> {
  const { Resvg } = await loadResvg();
  const r = new Resvg(svg, {
    fitTo: { mode: "width", value: Math.round(width) },
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  });
  return r.render().asPng();
}

/** Write every plot as DIR/<id>.png; returns the paths. */
export async function writePngs(dir: string, plots: Plot[], prefix = ""): Promise<string[]> {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    fail(`cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const paths: string[] = [];
  for (const p of plots) {
    const svg = await renderSvg(p.option, CHART_WIDTH, CHART_HEIGHT);
    const file = join(dir, `${prefix}${p.id.replace(/[^A-Za-z0-9_.-]/g, "_")}.png`);
    writeFileSync(file, await svgToPng(svg));
    paths.push(file);
  }
  return paths;
}
