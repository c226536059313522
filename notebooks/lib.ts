/**
 * Notebook helpers (Deno Jupyter kernel): show a gatelab chart as a PNG (what nbconvert keeps and GitHub renders)
 * together with its vega-lite spec (interactive in JupyterLab and VS Code), and show plain text.
 */
import { Buffer } from "node:buffer";
import { type Chart, renderSvg, svgToPng } from "../src/report/charts.ts";

declare const Deno: {
  jupyter: { display(data: Record<string, unknown>, opts: { raw: boolean }): Promise<void> };
};

/** Specs larger than this (data-heavy time series) are shown as PNG only, to keep the committed notebooks small. */
const MAX_SPEC_CHARS = 60_000;

/** Displays a chart: PNG (zoom 1.5) plus, when small, the vega-lite spec. */
export async function show(chart: Chart | undefined): Promise<void> {
  if (!chart) throw new Error("no such chart");
  const png = await svgToPng(await renderSvg(chart.spec), 1.5);
  const small = JSON.stringify(chart.spec).length <= MAX_SPEC_CHARS;
  await Deno.jupyter.display(
    {
      "image/png": Buffer.from(png).toString("base64"),
      ...(small ? { "application/vnd.vegalite.v5+json": chart.spec } : {}),
      "text/plain": chart.title,
    },
    { raw: true },
  );
}

/** Displays preformatted text (tables) without console noise. */
export async function text(s: string): Promise<void> {
  await Deno.jupyter.display({ "text/plain": s }, { raw: true });
}
