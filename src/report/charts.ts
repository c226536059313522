/**
 * Charts as vega-lite specs (data inlined), rendered headless: vega-lite → vega → SVG with the `none` renderer (no
 * canvas; text widths are estimated), SVG → PNG with resvg. Both outputs are byte-identical across runs.
 *
 * vega and vega-lite cost ~0.7 s to import, so they are loaded on first render only; building specs is free.
 *
 * Compare charts: TTFT CDF per policy, p95 TTFT over time with bursts marked, per-replica load and KV usage over time,
 * hit rate per policy. Sweep charts: Pareto front of two metrics, heatmap of a metric over two parameters (or a line
 * over one).
 */
import { join } from "node:path";
import type { TopLevelSpec } from "vega-lite";
import type { TimeSeries } from "../cluster/engine.ts";
import { burstSpans, niceWindow, type Span, ttftSortedMs, windowStats } from "../metrics/windows.ts";
import { quantileSorted } from "../sim/quantile.ts";
import { writeFileAtomic } from "./atomic.ts";
import { type CompareOutput, runLabels } from "./compare.ts";
import { fmtNum } from "./table.ts";

export interface Chart {
  /** File stem (`ttft-cdf` → ttft-cdf.svg, ttft-cdf.png). */
  readonly name: string;
  readonly title: string;
  readonly spec: TopLevelSpec;
}

export const FONT = "DejaVu Sans";
const WIDTH = 600;

/** Shared look: one font (DejaVu ships with the base image and resvg finds it), white background. */
export const CHART_CONFIG = {
  font: FONT,
  background: "white",
  view: { stroke: "#ddd" },
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: "#eee" },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14, anchor: "start" as const, offset: 10 },
};

/** Rounds to 4 significant digits: smaller specs, and stable text. */
export function r4(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  return Number(x.toPrecision(4));
}

function top(spec: Record<string, unknown>): TopLevelSpec {
  return { $schema: "https://vega.github.io/schema/vega-lite/v6.json", config: CHART_CONFIG, ...spec } as TopLevelSpec;
}

// ---------------------------------------------------------------------------------------------------------------
// Compare charts

/** CDF points at fixed probabilities (fine in the tail): the chart stays small whatever the request count. */
const CDF_PROBS: readonly number[] = (() => {
  const ps: number[] = [];
  for (let i = 0; i <= 180; i++) ps.push(i / 200);
  for (let i = 0; i <= 90; i++) ps.push(0.9 + i / 1000);
  for (let i = 1; i <= 10; i++) ps.push(0.99 + i / 1000);
  return [...new Set(ps.map((p) => Number(p.toFixed(4))))];
})();

export function ttftCdfSpec(series: readonly { label: string; ttftSortedMs: Float64Array }[], sloMs?: number) {
  const values: { policy: string; ttft_ms: number; fraction: number }[] = [];
  for (const s of series) {
    if (s.ttftSortedMs.length === 0) continue;
    for (const p of CDF_PROBS)
      values.push({ policy: s.label, ttft_ms: r4(Math.max(quantileSorted(s.ttftSortedMs, p), 0.01)), fraction: p });
  }
  const layers: unknown[] = [
    {
      mark: { type: "line", interpolate: "step-after", strokeWidth: 2 },
      encoding: {
        x: {
          field: "ttft_ms",
          type: "quantitative",
          scale: { type: "log", nice: false },
          title: "TTFT (ms, log scale)",
        },
        y: { field: "fraction", type: "quantitative", title: "fraction of requests", scale: { domain: [0, 1] } },
        color: { field: "policy", type: "nominal", title: "policy", sort: series.map((s) => s.label) },
      },
    },
  ];
  if (sloMs !== undefined) layers.push(...sloRule("x", sloMs, `SLO ${sloMs} ms`));
  return top({
    title: "TTFT distribution per policy (CDF)",
    width: WIDTH,
    height: 300,
    data: { values },
    layer: layers,
  });
}

/** A dashed SLO line with its label; `axis` "x" draws a vertical rule, "y" a horizontal one. */
function sloRule(axis: "x" | "y", value: number, text: string, height = 300): unknown[] {
  const enc =
    axis === "x" ? { x: { datum: value, type: "quantitative" } } : { y: { datum: value, type: "quantitative" } };
  return [
    {
      data: { values: [{}] },
      mark: { type: "rule", color: "#d62728", strokeDash: [6, 4], strokeWidth: 1.5 },
      encoding: enc,
    },
    {
      data: { values: [{}] },
      mark: {
        type: "text",
        color: "#d62728",
        align: axis === "x" ? "left" : "right",
        baseline: "bottom",
        dx: axis === "x" ? 4 : 0,
        dy: axis === "x" ? 0 : -3,
        fontSize: 11,
        text,
      },
      encoding: axis === "x" ? { ...enc, y: { value: height - 4 } } : { ...enc, x: { value: WIDTH - 4 } },
    },
  ];
}

/** Shaded bursts with a label at the top. */
function spanLayers(spans: readonly Span[]): unknown[] {
  if (spans.length === 0) return [];
  const values = spans.map((s) => ({ start: r4(s.start), end: r4(s.end), label: s.label }));
  return [
    {
      data: { values },
      mark: { type: "rect", color: "#ff7f0e", opacity: 0.13 },
      encoding: { x: { field: "start", type: "quantitative" }, x2: { field: "end" } },
    },
    {
      data: { values: values.length <= 12 ? values : [] },
      mark: { type: "text", color: "#b35806", align: "left", baseline: "top", dx: 3, dy: 3, fontSize: 10 },
      encoding: { x: { field: "start", type: "quantitative" }, y: { value: 0 }, text: { field: "label" } },
    },
  ];
}

export interface TimePoint {
  readonly policy: string;
  readonly t: number;
  readonly ttft_p95_ms: number;
}

export function ttftOverTimeSpec(
  points: readonly TimePoint[],
  spans: readonly Span[],
  windowS: number,
  policies: readonly string[],
  sloMs?: number,
) {
  const layers: unknown[] = [
    ...spanLayers(spans),
    {
      data: { values: points.map((p) => ({ ...p, t: r4(p.t), ttft_p95_ms: r4(p.ttft_p95_ms) })) },
      mark: { type: "line", point: { size: 14 }, strokeWidth: 1.5 },
      encoding: {
        x: { field: "t", type: "quantitative", title: "time (s, by request arrival)" },
        y: { field: "ttft_p95_ms", type: "quantitative", title: "p95 TTFT (ms, log scale)", scale: { type: "log" } },
        color: { field: "policy", type: "nominal", title: "policy", sort: policies },
      },
    },
  ];
  if (sloMs !== undefined) layers.push(...sloRule("y", sloMs, `SLO ${sloMs} ms`));
  const marked =
    spans.length === 0 ? "" : spans[0]!.label === "burst" ? " · shaded: arrival bursts" : " · shaded: spikes";
  return top({
    title: { text: "p95 TTFT over time", subtitle: `windows of ${fmtNum(windowS)} s${marked}` },
    width: WIDTH,
    height: 280,
    layer: layers,
  });
}

/** Averages samples in buckets so that a series has at most `max` points. */
export function downsample(time: readonly number[], ys: readonly number[], max = 240): [number[], number[]] {
  const n = Math.min(time.length, ys.length);
  const b = Math.max(1, Math.ceil(n / max));
  const tx: number[] = [];
  const vy: number[] = [];
  for (let i = 0; i < n; i += b) {
    let s = 0;
    let c = 0;
    for (let j = i; j < Math.min(n, i + b); j++) {
      s += ys[j]!;
      c++;
    }
    tx.push(time[i]!);
    vy.push(s / c);
  }
  return [tx, vy];
}

export interface ReplicaSeries {
  readonly policy: string;
  readonly replicas: readonly string[];
  readonly series: TimeSeries;
}

/** Per-replica load (waiting + running requests) or KV-cache usage over time, one panel per policy. */
export function replicaSeriesSpec(kind: "load" | "kv", runs: readonly ReplicaSeries[], spans: readonly Span[]) {
  const field = kind === "load" ? "requests" : "kv_usage";
  const panels = runs.map((run) => {
    const values: Record<string, number | string>[] = [];
    run.replicas.forEach((name, r) => {
      const s = run.series;
      const ys =
        kind === "load" ? s.waiting[r]!.map((w, k) => w + (s.running[r]![k] ?? 0)) : s.kvUsage[r]!.map((u) => u);
      const [tx, vy] = downsample(s.time, ys);
      for (let k = 0; k < tx.length; k++) values.push({ replica: name, t: r4(tx[k]!), [field]: r4(vy[k]!) });
    });
    return {
      title: { text: run.policy, fontSize: 12, offset: 4 },
      width: WIDTH,
      height: 110,
      layer: [
        ...spanLayers(spans).slice(0, 1),
        {
          data: { values },
          mark: { type: "line", strokeWidth: 1.2, interpolate: "step-after" },
          encoding: {
            x: { field: "t", type: "quantitative", title: "time (s)" },
            y: {
              field,
              type: "quantitative",
              title: kind === "load" ? "waiting + running" : "KV usage",
              ...(kind === "kv" ? { axis: { format: ".0%" }, scale: { domain: [0, 1] } } : {}),
            },
            color: { field: "replica", type: "nominal", title: "replica" },
          },
        },
      ],
    };
  });
  return top({
    title: {
      text:
        kind === "load" ? "Requests per replica over time (waiting + running)" : "KV-cache usage per replica over time",
      subtitle: "one panel per policy",
    },
    vconcat: panels,
    resolve: { scale: { color: "shared", y: "shared" } },
  });
}

export function hitRateSpec(rows: readonly { policy: string; hit_rate: number }[]) {
  return top({
    title: "Prefix-cache hit rate per policy (tokens)",
    width: WIDTH,
    height: Math.max(80, rows.length * 32),
    data: { values: rows.map((r) => ({ policy: r.policy, hit_rate: r4(r.hit_rate) })) },
    encoding: {
      y: { field: "policy", type: "nominal", sort: rows.map((r) => r.policy), title: null },
      x: {
        field: "hit_rate",
        type: "quantitative",
        title: "hit rate",
        axis: { format: ".0%" },
        scale: { domain: [0, 1] },
      },
    },
    layer: [
      {
        mark: { type: "bar", height: 20 },
        encoding: { color: { field: "policy", type: "nominal", legend: null, sort: rows.map((r) => r.policy) } },
      },
      {
        mark: { type: "text", align: "left", dx: 4, fontSize: 11 },
        encoding: { text: { field: "hit_rate", format: ".1%" } },
      },
    ],
  });
}

/** The charts of a comparison. */
export function compareCharts(c: CompareOutput, o: { windowS?: number; spans?: readonly Span[] } = {}): Chart[] {
  const labels = runLabels(c);
  const slo = c.config.slos.ttft_p95_ms;
  const lastArrival = Math.max(
    0,
    ...c.runs.map((r) => {
      const rec = r.result.records;
      let m = 0;
      for (let i = 0; i < rec.size; i++) if (rec.arrival[i]! > m) m = rec.arrival[i]!;
      return m;
    }),
  );
  const w = o.windowS ?? niceWindow(lastArrival);
  const windows = c.runs.map((r) => windowStats(r.result.records, w));
  const spans = o.spans ?? burstSpans(c.config, windows[0] ?? []);
  const points: TimePoint[] = [];
  windows.forEach((ws, i) => {
    for (const x of ws) {
      if (x.ttft_p95_ms !== null)
        points.push({ policy: labels[i]!, t: (x.start + x.end) / 2, ttft_p95_ms: x.ttft_p95_ms });
    }
  });
  const reps: ReplicaSeries[] = c.runs.map((r, i) => ({
    policy: labels[i]!,
    replicas: r.result.replicas.map((x) => x.name),
    series: r.result.series,
  }));
  return [
    {
      name: "ttft-cdf",
      title: "TTFT CDF per policy",
      spec: ttftCdfSpec(
        c.runs.map((r, i) => ({ label: labels[i]!, ttftSortedMs: ttftSortedMs(r.result.records) })),
        slo,
      ),
    },
    { name: "ttft-p95-over-time", title: "p95 TTFT over time", spec: ttftOverTimeSpec(points, spans, w, labels, slo) },
    { name: "replica-load", title: "Per-replica load over time", spec: replicaSeriesSpec("load", reps, spans) },
    { name: "replica-kv-usage", title: "Per-replica KV usage over time", spec: replicaSeriesSpec("kv", reps, spans) },
    {
      name: "hit-rate",
      title: "Prefix-cache hit rate per policy",
      spec: hitRateSpec(c.metrics.map((m, i) => ({ policy: labels[i]!, hit_rate: m.hit_rate }))),
    },
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Sweep charts

export interface SweepChartPoint {
  readonly id: number;
  /** Parameter values by parameter name. */
  readonly values: Readonly<Record<string, number | string | boolean>>;
  readonly metrics: Readonly<Record<string, number>>;
  readonly slos_ok: boolean;
}

/** Parameters that take more than one value among the points (a fixed one says nothing on a chart). */
export function varyingParams(points: readonly SweepChartPoint[]): string[] {
  const names = Object.keys(points[0]?.values ?? {});
  return names.filter((n) => new Set(points.map((p) => String(p.values[n]))).size > 1);
}

/** A point's values of `names` as a tuple, "(2, 1)", in parameter order (the chart's subtitle names the order). */
function pointLabel(p: SweepChartPoint, names: readonly string[]): string {
  const vs = names.map((n) => p.values[n]);
  return vs.length === 1 ? String(vs[0]) : `(${vs.join(", ")})`;
}

/** Log scale when the values span more than a factor `ratio` (one slow outlier would flatten the rest). */
function spread(values: readonly number[], ratio = 10): boolean {
  const pos = values.filter((v) => Number.isFinite(v) && v > 0);
  if (pos.length !== values.length || pos.length === 0) return false;
  return Math.max(...pos) / Math.min(...pos) > ratio;
}

/** Scatter of two metrics; the Pareto front joined and labelled, the best point under the SLOs ringed. */
export function paretoSpec(
  points: readonly SweepChartPoint[],
  x: { key: string; label: string },
  y: { key: string; label: string },
  front: ReadonlySet<number>,
  best: number | undefined,
) {
  const names = varyingParams(points);
  const values = points.map((p) => ({
    id: p.id,
    label: pointLabel(p, names),
    x: r4(p.metrics[x.key] ?? Number.NaN),
    y: r4(p.metrics[y.key] ?? Number.NaN),
    set: front.has(p.id) ? "Pareto front" : "dominated",
    slo: p.slos_ok ? "meets SLOs" : "violates SLOs",
    best: p.id === best,
  }));
  const frontVals = values
    .filter((v) => v.set === "Pareto front")
    .sort((a, b) => a.x - b.x || a.y - b.y || a.id - b.id);
  // One label per position: points with equal metrics share it ("(2, 1) +2 more").
  const byPos = new Map<string, { x: number; y: number; labels: string[] }>();
  for (const v of frontVals) {
    const k = `${v.x},${v.y}`;
    const cur = byPos.get(k);
    if (cur) cur.labels.push(v.label);
    else byPos.set(k, { x: v.x, y: v.y, labels: [v.label] });
  }
  const labels = [...byPos.values()].map((g) => ({
    x: g.x,
    y: g.y,
    text: g.labels.length > 1 ? `${g.labels[0]} +${g.labels.length - 1} more` : g.labels[0]!,
  }));
  const logX = spread(values.map((v) => v.x));
  const logY = spread(values.map((v) => v.y));
  const order =
    names.length > 1 ? ` · labels: (${names.join(", ")})` : names.length === 1 ? ` · labels: ${names[0]}` : "";
  return top({
    title: { text: "Sweep: Pareto front", subtitle: `${x.label} vs ${y.label}${order}` },
    width: WIDTH,
    height: 340,
    layer: [
      {
        data: { values: frontVals },
        mark: { type: "line", color: "#1f77b4", strokeDash: [4, 3] },
        encoding: {
          x: { field: "x", type: "quantitative" },
          y: { field: "y", type: "quantitative" },
          order: { field: "x" },
        },
      },
      {
        data: { values },
        mark: { type: "point", filled: true, size: 60, opacity: 0.85 },
        encoding: {
          x: {
            field: "x",
            type: "quantitative",
            title: logX ? `${x.label}, log scale` : x.label,
            scale: logX ? { type: "log", nice: false, padding: 16 } : { zero: false, padding: 16 },
          },
          y: {
            field: "y",
            type: "quantitative",
            title: logY ? `${y.label}, log scale` : y.label,
            scale: logY ? { type: "log", nice: false, padding: 16 } : { zero: false, padding: 16 },
          },
          color: {
            field: "set",
            type: "nominal",
            title: null,
            scale: { domain: ["Pareto front", "dominated"], range: ["#1f77b4", "#bbbbbb"] },
          },
          shape: {
            field: "slo",
            type: "nominal",
            title: null,
            scale: { domain: ["meets SLOs", "violates SLOs"], range: ["circle", "cross"] },
          },
          tooltip: [{ field: "label" }, { field: "x", title: x.label }, { field: "y", title: y.label }],
        },
      },
      {
        data: { values: labels.length <= 15 ? labels : [] },
        mark: { type: "text", align: "left", dx: 7, dy: -7, fontSize: 10, color: "#333" },
        encoding: {
          x: { field: "x", type: "quantitative" },
          y: { field: "y", type: "quantitative" },
          text: { field: "text" },
        },
      },
      {
        data: { values: values.filter((v) => v.best) },
        mark: { type: "point", size: 260, strokeWidth: 2, color: "#2ca02c", filled: false },
        encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
      },
    ],
  });
}

/**
 * A metric over two parameters (the best value over any other parameters at each cell, by the metric's direction).
 */
export function heatmapSpec(
  points: readonly SweepChartPoint[],
  px: string,
  py: string,
  metric: { key: string; label: string; better: "lower" | "higher" | "none" },
) {
  // `id`: the point behind the cell (the report's explorer opens it on click).
  const cells = new Map<string, { x: string; y: string; v: number; id: number }>();
  for (const p of points) {
    const v = p.metrics[metric.key];
    if (v === undefined || !Number.isFinite(v)) continue;
    const xs = String(p.values[px]);
    const ys = String(p.values[py]);
    const k = `${xs}\u0000${ys}`;
    const cur = cells.get(k);
    const better = metric.better === "higher" ? v > (cur?.v ?? -Infinity) : v < (cur?.v ?? Infinity);
    if (!cur || better) cells.set(k, { x: xs, y: ys, v: r4(v), id: p.id });
  }
  const order = (name: string) => {
    const vs = [...new Set(points.map((p) => p.values[name]))];
    vs.sort((a, b) => (typeof a === "number" && typeof b === "number" ? a - b : String(a) < String(b) ? -1 : 1));
    return vs.map(String);
  };
  const values = [...cells.values()];
  const xs = order(px);
  const ys = order(py);
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const c of values) {
    lo = Math.min(lo, c.v);
    hi = Math.max(hi, c.v);
  }
  const mid = (lo + hi) / 2;
  // viridis is light (yellow) at the good end: dark text there, white text on the dark end.
  // One outlier (a config that misses the SLO by far) would paint every other cell the same: color by rank then.
  const ranked = hi > 0 && lo > 0 && hi / lo > 5;
  const light = ranked
    ? `datum.v ${metric.better === "higher" ? ">" : "<"}= ${quantileOf(
        values.map((c) => c.v),
        metric.better === "higher" ? 0.5 : 0.5,
      )}`
    : metric.better === "higher"
      ? `datum.v > ${mid}`
      : `datum.v < ${mid}`;
  // The plot fills the canvas: at least 360 × 240 px (long parameter names in the titles and subtitle would
  // otherwise make the canvas far larger than a small grid), axis titles cut at the plot's size.
  const width = Math.min(WIDTH, Math.max(360, xs.length * 80));
  const height = Math.min(400, Math.max(240, ys.length * 48));
  return top({
    title: {
      text: `Sweep: ${metric.label}`,
      subtitle: [`x: ${px}`, `y: ${py}`, ...(ranked ? ["colour by rank, yellow = best"] : [])],
      subtitleLimit: width + 160,
    },
    width,
    height,
    data: { values },
    encoding: {
      x: { field: "x", type: "ordinal", title: px, sort: xs, axis: { grid: false, labelAngle: 0, titleLimit: width } },
      y: { field: "y", type: "ordinal", title: py, sort: [...ys].reverse(), axis: { grid: false, titleLimit: height } },
    },
    layer: [
      {
        mark: "rect",
        encoding: {
          color: {
            field: "v",
            type: "quantitative",
            title: metric.label,
            scale: ranked
              ? { type: "quantile", scheme: { name: "viridis", count: 7 }, reverse: metric.better === "lower" }
              : { scheme: "viridis", reverse: metric.better === "lower" },
            legend: ranked ? null : { titleLimit: 260 },
          },
        },
      },
      {
        mark: { type: "text", fontSize: 10 },
        encoding: {
          text: { field: "v", type: "quantitative", format: ".4~r" },
          color: { condition: { test: light, value: "#222" }, value: "white" },
        },
      },
    ],
  });
}

function quantileOf(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  return quantileSorted(s, p);
}

/** A metric against one parameter. */
export function sweepLineSpec(points: readonly SweepChartPoint[], p: string, metric: { key: string; label: string }) {
  const numeric = points.every((x) => typeof x.values[p] === "number");
  const values = points.map((x) => ({
    x: x.values[p],
    v: r4(x.metrics[metric.key] ?? Number.NaN),
    slo: x.slos_ok ? "meets SLOs" : "violates SLOs",
  }));
  return top({
    title: { text: `Sweep: ${metric.label}`, subtitle: `against ${p}` },
    width: WIDTH,
    height: 280,
    data: { values },
    encoding: {
      x: { field: "x", type: numeric ? "quantitative" : "ordinal", title: p },
      y: { field: "v", type: "quantitative", title: metric.label, scale: { zero: false } },
    },
    layer: [
      { mark: { type: "line", color: "#1f77b4" } },
      {
        mark: { type: "point", filled: true, size: 60 },
        encoding: {
          shape: {
            field: "slo",
            type: "nominal",
            title: null,
            scale: { domain: ["meets SLOs", "violates SLOs"], range: ["circle", "cross"] },
          },
        },
      },
    ],
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

/**
 * vega numbers gradient and clip ids with a process-wide counter (`gradient_0`, `gradient_1`, … across renders), so
 * the same chart rendered second in a process would differ: renumber them per SVG, in order of appearance.
 */
export function normalizeSvgIds(svg: string): string {
  const map = new Map<string, string>();
  const next = new Map<string, number>();
  for (const m of svg.matchAll(/\bid="([A-Za-z_-]+?)(\d+)"/g)) {
    const old = `${m[1]}${m[2]}`;
    if (map.has(old)) continue;
    const k = next.get(m[1]!) ?? 0;
    next.set(m[1]!, k + 1);
    map.set(old, `${m[1]}${k}`);
  }
  if (map.size === 0) return svg;
  return svg.replace(/\bid="([A-Za-z_-]+?\d+)"|url\(#([A-Za-z_-]+?\d+)\)/g, (all, id?: string, ref?: string) => {
    if (id !== undefined) return map.has(id) ? `id="${map.get(id)}"` : all;
    return ref !== undefined && map.has(ref) ? `url(#${map.get(ref)})` : all;
  });
}

/** Renders a vega-lite spec to SVG, headless (vega `renderer: "none"`). Loads vega on first use. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import("vega"), import("vega-lite")]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  try {
    return normalizeSvgIds(await view.toSVG());
  } finally {
    view.finalize();
  }
}

/** Rasterizes an SVG to PNG at `zoom` (2 = crisp on screens). */
export async function svgToPng(svg: string, zoom = 2): Promise<Uint8Array> {
  const { Resvg } = await import("@resvg/resvg-js");
  const r = new Resvg(svg, {
    fitTo: { mode: "zoom", value: zoom },
    background: "white",
    font: { loadSystemFonts: true, defaultFontFamily: FONT },
  });
  return r.render().asPng();
}

/** Writes `<name>.svg` and `<name>.png` for each chart (atomically); returns the paths written. */
export async function writeCharts(dir: string, charts: readonly Chart[], o: { png?: boolean } = {}): Promise<string[]> {
  const paths: string[] = [];
  for (const c of charts) {
    const svg = await renderSvg(c.spec);
    const svgPath = join(dir, `${c.name}.svg`);
    writeFileAtomic(svgPath, svg);
    paths.push(svgPath);
    if (o.png !== false) {
      const pngPath = join(dir, `${c.name}.png`);
      writeFileAtomic(pngPath, await svgToPng(svg));
      paths.push(pngPath);
    }
  }
  return paths;
}
