/**
 * Measured beside predicted: reads two folders of inference-perf lifecycle reports (a real run, and gatelab's
 * `--report inference-perf` output, either format) and sets them side by side per stage and metric, with the relative
 * error; plus the charts inference-perf users look at (latency and throughput against the request rate, as in
 * inference-perf's `--analyze` plots), measured and simulated on one plot.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { TopLevelSpec } from "vega-lite";
import { InputError } from "../errors.ts";
import { CHART_CONFIG, type Chart, r4 } from "./charts.ts";
import { fmtNum, renderTable } from "./table.ts";

/** The per-stage numbers compared (seconds and per-second rates, as in the reports). */
export interface IpStageMetrics {
  readonly stage: number;
  readonly requested_rate: number;
  readonly achieved_rate: number;
  readonly count: number;
  readonly requests_per_sec: number;
  readonly input_tokens_per_sec: number;
  readonly output_tokens_per_sec: number;
  readonly total_tokens_per_sec: number;
  readonly ttft_p50: number | undefined;
  readonly ttft_p90: number | undefined;
  readonly ttft_p95: number | undefined;
  readonly tpot_p50: number | undefined;
  readonly ntpot_p50: number | undefined;
  readonly itl_p50: number | undefined;
  readonly latency_p50: number | undefined;
  readonly latency_p90: number | undefined;
  readonly schedule_delay_p50: number | undefined;
}

export const COMPARED: readonly { key: keyof IpStageMetrics; label: string; unit: "s" | "rate" }[] = [
  { key: "requested_rate", label: "requested rate (req/s)", unit: "rate" },
  { key: "achieved_rate", label: "achieved rate (req/s)", unit: "rate" },
  { key: "requests_per_sec", label: "throughput (req/s)", unit: "rate" },
  { key: "output_tokens_per_sec", label: "output tok/s", unit: "rate" },
  { key: "total_tokens_per_sec", label: "total tok/s", unit: "rate" },
  { key: "ttft_p50", label: "TTFT p50 (s)", unit: "s" },
  { key: "ttft_p90", label: "TTFT p90 (s)", unit: "s" },
  { key: "tpot_p50", label: "TPOT p50 (s)", unit: "s" },
  { key: "ntpot_p50", label: "NTPOT p50 (s)", unit: "s" },
  { key: "latency_p50", label: "latency p50 (s)", unit: "s" },
  { key: "latency_p90", label: "latency p90 (s)", unit: "s" },
  { key: "schedule_delay_p50", label: "schedule delay p50 (s)", unit: "s" },
];

type Json = Record<string, unknown>;
const obj = (x: unknown): Json => (typeof x === "object" && x !== null ? (x as Json) : {});
const num = (x: unknown): number | undefined => (typeof x === "number" && Number.isFinite(x) ? x : undefined);

function metricsOf(stage: number, rep: Json, file: string): IpStageMetrics {
  const load = obj(rep.load_summary);
  const ok = obj(rep.successes);
  const lat = obj(ok.latency);
  const thr = obj(ok.throughput);
  const count = num(load.count);
  if (count === undefined || Object.keys(thr).length === 0)
    throw new InputError(`${file}: not an inference-perf lifecycle report (expected load_summary.count and successes)`);
  return {
    stage,
    requested_rate: num(load.requested_rate) ?? Number.NaN,
    achieved_rate: num(load.achieved_rate) ?? Number.NaN,
    count,
    requests_per_sec: num(thr.requests_per_sec) ?? 0,
    input_tokens_per_sec: num(thr.input_tokens_per_sec) ?? 0,
    output_tokens_per_sec: num(thr.output_tokens_per_sec) ?? 0,
    total_tokens_per_sec: num(thr.total_tokens_per_sec) ?? 0,
    ttft_p50: num(obj(lat.time_to_first_token).median),
    ttft_p90: num(obj(lat.time_to_first_token).p90),
    ttft_p95: num(obj(lat.time_to_first_token).p95),
    tpot_p50: num(obj(lat.time_per_output_token).median),
    ntpot_p50: num(obj(lat.normalized_time_per_output_token).median),
    itl_p50: num(obj(lat.inter_token_latency).median),
    latency_p50: num(obj(lat.request_latency).median),
    latency_p90: num(obj(lat.request_latency).p90),
    schedule_delay_p50: num(obj(load.schedule_delay).median),
  };
}

/**
 * Stage reports of a run: `where` is a folder holding `stage_<N>_lifecycle_metrics.json`, a file-name prefix (a
 * folder plus the start of the names, e.g. `reports/inference-perf__demos__kubecon-na-2025__vllm__results__`), or
 * one of the stage reports (its run's prefix).
 */
export function readStageReports(where: string): IpStageMetrics[] {
  let dir = where;
  let prefix = "";
  if (!(existsSync(where) && statSync(where).isDirectory())) {
    dir = dirname(where);
    prefix = basename(where);
    // One of the run's stage reports named: the run is every stage with the same prefix.
    const stageFile = /^(.*)stage_\d+_lifecycle_metrics\.json$/.exec(prefix);
    if (stageFile) prefix = stageFile[1]!;
  }
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new InputError(`${where}: no such folder of inference-perf reports`);
  }
  const out: IpStageMetrics[] = [];
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const m = /^stage_(\d+)_lifecycle_metrics\.json$/.exec(n.slice(prefix.length));
    if (!m) continue;
    const file = join(dir, n);
    let rep: unknown;
    try {
      rep = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new InputError(`${file}: cannot read JSON (${(e as Error).message})`);
    }
    out.push(metricsOf(Number(m[1]), obj(rep), file));
  }
  if (out.length === 0) throw new InputError(`${where}: no stage_<N>_lifecycle_metrics.json reports found`);
  return out.sort((a, b) => a.stage - b.stage);
}

export interface IpComparisonRow {
  readonly stage: number;
  readonly metric: string;
  readonly measured: number | undefined;
  readonly predicted: number | undefined;
  /** (predicted − measured) / measured; undefined when either is missing or measured is 0. */
  readonly error: number | undefined;
}

export function compareStages(measured: readonly IpStageMetrics[], predicted: readonly IpStageMetrics[]) {
  const rows: IpComparisonRow[] = [];
  const byStage = new Map(predicted.map((p) => [p.stage, p]));
  for (const m of measured) {
    const p = byStage.get(m.stage);
    for (const c of COMPARED) {
      const a = m[c.key] as number | undefined;
      const b = p?.[c.key] as number | undefined;
      const ok = a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && a !== 0;
      rows.push({ stage: m.stage, metric: c.label, measured: a, predicted: b, error: ok ? (b - a) / a : undefined });
    }
  }
  return rows;
}

/** Median of |error| per metric over the stages (a one-line verdict per metric). */
export function errorSummary(rows: readonly IpComparisonRow[]): { metric: string; medianAbsError: number }[] {
  const by = new Map<string, number[]>();
  for (const r of rows) if (r.error !== undefined) by.set(r.metric, [...(by.get(r.metric) ?? []), Math.abs(r.error)]);
  return [...by].map(([metric, es]) => {
    es.sort((a, b) => a - b);
    const k = es.length;
    return { metric, medianAbsError: k % 2 ? es[(k - 1) / 2]! : (es[k / 2 - 1]! + es[k / 2]!) / 2 };
  });
}

const fmtErr = (e: number | undefined) => (e === undefined ? "" : `${e >= 0 ? "+" : ""}${(e * 100).toFixed(1)}%`);
const fmtV = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "—" : fmtNum(x));

export function formatStageComparison(rows: readonly IpComparisonRow[]): string {
  const table = renderTable(
    ["stage", "metric", "measured", "predicted", "error"],
    rows.map((r) => [String(r.stage), r.metric, fmtV(r.measured), fmtV(r.predicted), fmtErr(r.error)]),
  );
  const sum = renderTable(
    ["metric", "median |error| over stages"],
    errorSummary(rows).map((s) => [s.metric, `${(s.medianAbsError * 100).toFixed(1)}%`]),
  );
  return `${table}\n\n${sum}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Charts: latency and throughput against the request rate, measured and predicted.

const PANELS: readonly { key: keyof IpStageMetrics; label: string }[] = [
  { key: "ttft_p50", label: "TTFT p50 (s)" },
  { key: "tpot_p50", label: "TPOT p50 (s)" },
  { key: "latency_p50", label: "request latency p50 (s)" },
  { key: "output_tokens_per_sec", label: "output tokens/s" },
];

export function rateChartSpec(
  measured: readonly IpStageMetrics[],
  predicted: readonly IpStageMetrics[],
  labels: { measured: string; predicted: string } = { measured: "measured", predicted: "gatelab" },
): TopLevelSpec {
  const values: { run: string; rate: number; metric: string; v: number }[] = [];
  for (const [run, xs] of [
    [labels.measured, measured],
    [labels.predicted, predicted],
  ] as const)
    for (const s of xs)
      for (const p of PANELS) {
        const v = s[p.key] as number | undefined;
        if (v !== undefined && Number.isFinite(v) && Number.isFinite(s.requested_rate))
          values.push({ run, rate: r4(s.requested_rate), metric: p.label, v: r4(v) });
      }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config: CHART_CONFIG,
    title: {
      text: "Latency and throughput against request rate",
      subtitle: `${labels.measured} and ${labels.predicted}`,
    },
    data: { values },
    facet: { field: "metric", type: "nominal", title: null, sort: PANELS.map((p) => p.label) },
    columns: 2,
    resolve: { scale: { y: "independent" } },
    spec: {
      width: 300,
      height: 200,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "rate", type: "quantitative", title: "requested rate (req/s)" },
        y: { field: "v", type: "quantitative", title: null },
        color: { field: "run", type: "nominal", title: null },
        strokeDash: { field: "run", type: "nominal", title: null },
      },
    },
  } as TopLevelSpec;
}

export function rateCharts(measured: readonly IpStageMetrics[], predicted: readonly IpStageMetrics[]): Chart[] {
  return [
    {
      name: "inference-perf-vs-rate",
      title: "Latency and throughput against request rate",
      spec: rateChartSpec(measured, predicted),
    },
  ];
}

/**
 * Knee of a run from its stage reports, by the lab's rule (report/inference-perf-stages.ts): the highest requested
 * rate up to which every stage, in rate order, has TTFT p95 ≤ `ttftP95S` and an achieved rate ≥ 95 % of the requested.
 */
export function kneeFromReports(stages: readonly IpStageMetrics[], ttftP95S: number): number | null {
  const byRate = [...stages]
    .filter((s) => Number.isFinite(s.requested_rate))
    .sort((a, b) => a.requested_rate - b.requested_rate);
  let knee: number | null = null;
  for (const s of byRate) {
    const ok = s.ttft_p95 !== undefined && s.ttft_p95 <= ttftP95S && s.achieved_rate >= 0.95 * s.requested_rate;
    if (!ok) break;
    knee = s.requested_rate;
  }
  return knee;
}
