/**
 * inference-perf's report files, written from a simulated run (`--report inference-perf`): per stage and for the
 * whole run, `*_lifecycle_metrics.json` (what its client measures) and `*_prometheus_metrics.json` (what it scrapes from
 * vLLM). Formulas and keys follow kubernetes-sigs/inference-perf `inference_perf/reportgen/base.py` at 7de5ef2
 * (summarize_requests :462-720, summarize :168-179, summarize_prometheus_metrics :417-459; SCHEMA.md §9-10). The
 * `legacy` format is the one of its 2025 releases (commit 7ff8150, the KubeCon demo files): `prompt_len` instead of
 * `prompt_tokens`, no `benchmark_time_seconds`, no image/video/audio blocks, and the older Prometheus key set.
 *
 * Per request: start = when the client sent it (after any schedule delay), scheduled = its planned time, end =
 * completion, first token as the client saw it. TPOT = (end − first token)/(output − 1) (base.py:574-581); NTPOT =
 * (end − start)/output; ITL pools every token gap — the simulator keeps one mean gap per request, so each request
 * contributes output − 1 gaps equal to its TPOT (its real gaps vary around that mean). TTFT, TPOT and ITL only exist
 * for streamed requests (`api.streaming`).
 */
import { join } from "node:path";
import { InputError } from "../errors.ts";
import type { RunOutput } from "../metrics/summary.ts";
import { quantileSorted } from "../sim/quantile.ts";
import { Outcome } from "../sim/request.ts";
import { WorkloadStream } from "../workloads/index.ts";
import { InferencePerfGen, type IpStageRun } from "../workloads/inference-perf.ts";
import { writeFileAtomic } from "./atomic.ts";
import { OutputWriteError } from "./openmetrics-cli.ts";

export type IpReportFormat = "current" | "legacy";

/** One request as inference-perf's client records it. */
export interface IpRow {
  readonly id: number;
  readonly stage: number;
  readonly scheduled: number;
  readonly start: number;
  readonly end: number;
  /** Client-side first-token time; −1 when none. */
  readonly firstToken: number;
  readonly input: number;
  readonly output: number;
  readonly cached: number;
  readonly ok: boolean;
  /** HTTP-like status of a failure. */
  readonly status: number;
}

export interface IpRunLog {
  readonly gen: InferencePerfGen;
  readonly stages: readonly IpStageRun[];
  readonly rows: readonly IpRow[];
}

/** The inference-perf client behind a run, or undefined when the run's workload is not `type: inference-perf`. */
export function inferencePerfGenOf(run: RunOutput): InferencePerfGen | undefined {
  const src = run.source;
  if (!(src instanceof WorkloadStream)) return undefined;
  const g = src.component;
  return g instanceof InferencePerfGen ? g : undefined;
}

/** Per-request rows (sent order) and the stage log of an inference-perf run. */
export function inferencePerfLog(run: RunOutput): IpRunLog | undefined {
  const gen = inferencePerfGenOf(run);
  if (gen === undefined) return undefined;
  const r = run.result.records;
  const rows: IpRow[] = [];
  for (const s of gen.sent) {
    const id = s.draft.id;
    if (id < 0 || id >= r.size) continue;
    const end = r.completion[id]! >= 0 ? r.completion[id]! : run.result.endTime;
    rows.push({
      id,
      stage: s.stage,
      scheduled: s.scheduled,
      start: r.arrival[id]!,
      end,
      firstToken: r.firstToken[id]!,
      input: r.input[id]!,
      output: r.outcome[id] === Outcome.Completed ? r.output[id]! : 0,
      cached: r.cached[id]!,
      ok: r.outcome[id] === Outcome.Completed,
      status: r.status[id]!,
    });
  }
  return { gen, stages: gen.stages, rows };
}

// ---------------------------------------------------------------------------------------------------------------

/** Percentile key as inference-perf writes it: `median` for 50, else `p<value:g>`. */
export function pctKey(p: number): string {
  return p === 50 ? "median" : `p${String(p)}`;
}

/** `summarize`: mean, min, max and the percentiles (numpy linear); null for an empty list. */
export function statBlock(
  values: ArrayLike<number>,
  percentiles: readonly number[],
  format: IpReportFormat = "current",
): Record<string, number> | null {
  const n = values.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  const out: Record<string, number> = { mean: sum / n, min: sorted[0]! };
  if (format === "current") out.max = sorted[n - 1]!;
  for (const p of percentiles) out[pctKey(p)] = quantileSorted(sorted, p / 100);
  if (format === "legacy") out.max = sorted[n - 1]!;
  return out;
}

/** inference-perf's failure labels (reportgen/base.py:49-157) for the simulator's statuses. */
function failureLabel(status: number): string {
  if (status === 429) return "429 - Rate Limit";
  if (status === 503) return "503 - Service Unavailable";
  if (status === 504) return "504 - Gateway Timeout";
  if (status === 413 || status === 400) return `${status} - Bad Request`;
  if (status === 403) return "403 - Forbidden";
  return `${status} - Error`;
}

export interface IpLifecycleOptions {
  readonly percentiles: readonly number[];
  readonly streaming: boolean;
  readonly format: IpReportFormat;
  /** Stage reports: the stage (adds send_duration, requested_rate, achieved_rate). */
  readonly stage?: IpStageRun | undefined;
}

/** `summarize_requests` over `rows` (one stage, or all stages ≥ 0 for the summary). */
export function lifecycleReport(rows: readonly IpRow[], o: IpLifecycleOptions): Record<string, unknown> {
  const P = o.percentiles;
  const f = o.format;
  const block = (v: ArrayLike<number>) => statBlock(v, P, f);
  let minStart = Number.POSITIVE_INFINITY;
  let maxStart = Number.NEGATIVE_INFINITY;
  let maxEnd = Number.NEGATIVE_INFINITY;
  const delays: number[] = [];
  for (const r of rows) {
    if (r.start < minStart) minStart = r.start;
    if (r.start > maxStart) maxStart = r.start;
    if (r.end > maxEnd) maxEnd = r.end;
    delays.push(r.start - r.scheduled);
  }
  const total = rows.length > 0 ? maxEnd - minStart : 0;
  const sendDuration = rows.length > 0 ? maxStart - minStart : 0;
  const load: Record<string, unknown> = { count: rows.length, schedule_delay: block(delays) };
  if (o.stage !== undefined) {
    load.send_duration = sendDuration;
    load.requested_rate = o.stage.rate;
    load.achieved_rate = sendDuration > 0 ? rows.length / sendDuration : 0;
    if (o.stage.concurrency !== undefined) load.concurrency = o.stage.concurrency;
  }
  const ok = rows.filter((r) => r.ok);
  const bad = rows.filter((r) => !r.ok);
  const latency: number[] = [];
  const ntpot: number[] = [];
  const tpot: number[] = [];
  const ttft: number[] = [];
  let itlN = 0;
  let inTok = 0;
  let outTok = 0;
  for (const r of ok) {
    const e2e = r.end - r.start;
    latency.push(e2e);
    ntpot.push(r.output > 0 ? e2e / r.output : 0);
    inTok += r.input;
    outTok += r.output;
    if (o.streaming && r.firstToken >= 0) {
      ttft.push(r.firstToken - r.start);
      if (r.output > 1) {
        tpot.push((r.end - r.firstToken) / (r.output - 1));
        itlN += r.output - 1;
      }
    }
  }
  const itl = new Float64Array(itlN);
  if (itlN > 0) {
    let k = 0;
    for (const r of ok)
      if (r.firstToken >= 0 && r.output > 1) {
        const g = (r.end - r.firstToken) / (r.output - 1);
        itl.fill(g, k, k + r.output - 1);
        k += r.output - 1;
      }
  }
  const per = (x: number) => (total > 0 ? x / total : 0);
  const throughput: Record<string, number> = {
    input_tokens_per_sec: per(inTok),
    output_tokens_per_sec: per(outTok),
    total_tokens_per_sec: per(inTok + outTok),
    requests_per_sec: per(ok.length),
  };
  const lat = {
    request_latency: block(latency),
    normalized_time_per_output_token: block(ntpot),
    time_per_output_token: block(tpot),
    time_to_first_token: block(ttft),
    inter_token_latency: block(itl),
  };
  if (f === "legacy") {
    return {
      load_summary: load,
      successes: {
        count: ok.length,
        latency: lat,
        throughput,
        prompt_len: block(ok.map((r) => r.input)),
        output_len: block(ok.map((r) => r.output)),
      },
      failures: {
        count: bad.length,
        request_latency: block(bad.map((r) => r.end - r.start)),
        prompt_len: block(bad.map((r) => r.input)),
      },
    };
  }
  throughput.images_per_sec = 0;
  throughput.videos_per_sec = 0;
  throughput.audios_per_sec = 0;
  const zeros = new Float64Array(ok.length);
  const promptTokens = (xs: readonly IpRow[]) => {
    let t = 0;
    let c = 0;
    for (const r of xs) {
      t += r.input;
      c += Math.min(r.cached, r.input);
    }
    return { total: t, cached: c, uncached: Math.max(t - c, 0), ...(block(xs.map((r) => r.input)) ?? {}) };
  };
  const byLabel: Record<string, { count: number; messages: { message: string }[] }> = {};
  for (const r of bad) {
    const l = failureLabel(r.status);
    const e = (byLabel[l] ??= { count: 0, messages: [] });
    e.count++;
  }
  for (const [l, e] of Object.entries(byLabel)) e.messages.push({ message: `${l} (simulated)` });
  return {
    benchmark_time_seconds: total,
    load_summary: load,
    successes: {
      count: ok.length,
      latency: lat,
      throughput,
      // The request body's size is not simulated.
      request_size_bytes: null,
      image: { count: block(zeros), pixels: null, bytes: null, aspect_ratio: null },
      video: { count: block(zeros), frames: null, pixels: null, bytes: null, aspect_ratio: null },
      audio: { count: block(zeros), seconds: null, bytes: null },
      prompt_tokens: promptTokens(ok),
      output_len: block(ok.map((r) => r.output)),
      output_tokens: { total: outTok, ...(block(ok.map((r) => r.output)) ?? {}) },
      token_count_mismatches: 0,
    },
    failures: {
      count: bad.length,
      request_latency: block(bad.map((r) => r.end - r.start)),
      prompt_tokens: promptTokens(bad),
      by_label: byLabel,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Prometheus: vLLM's gauges and histograms over a window, as inference-perf queries them.

/** inference-perf's default Prometheus scrape interval (config/client/server_metrics/config.py), added to the window. */
const SCRAPE_INTERVAL_S = 15;

export interface IpGauges {
  /** Time-averaged vllm:num_requests_waiting per replica. */
  readonly waiting: number;
  readonly running: number;
  /** vllm:gpu_cache_usage_perc samples (0–1) across replicas and time. */
  readonly kvUsage: readonly number[];
}

/** Time averages of the sampled replica gauges over [t0, t1] (per replica, then averaged over replicas). */
export function gaugesOver(run: RunOutput, t0: number, t1: number): IpGauges {
  const s = run.result.series;
  let w = 0;
  let ru = 0;
  let n = 0;
  const kv: number[] = [];
  const R = s.waiting.length;
  for (let k = 0; k < s.time.length; k++) {
    const t = s.time[k]!;
    if (t < t0 || t > t1) continue;
    n++;
    for (let r = 0; r < R; r++) {
      w += s.waiting[r]![k]!;
      ru += s.running[r]![k]!;
      kv.push(s.kvUsage[r]![k]!);
    }
  }
  return n > 0 && R > 0
    ? { waiting: w / n / R, running: ru / n / R, kvUsage: kv }
    : { waiting: 0, running: 0, kvUsage: [] };
}

function pctBlock(values: readonly number[]): Record<string, number> {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return { mean: 0, median: 0, p90: 0, p99: 0 };
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    mean: sum / sorted.length,
    median: quantileSorted(sorted, 0.5),
    p90: quantileSorted(sorted, 0.9),
    p99: quantileSorted(sorted, 0.99),
  };
}

/** `summarize_prometheus_metrics` from the simulated vLLM over a window (requests completing inside it). */
export function prometheusReport(
  run: RunOutput,
  rows: readonly IpRow[],
  t0: number,
  t1: number,
  format: IpReportFormat,
): Record<string, unknown> {
  const win = rows.filter((r) => r.ok && r.end >= t0 && r.end <= t1);
  const span = Math.max(t1 - t0, 1e-9);
  let inTok = 0;
  let outTok = 0;
  let cached = 0;
  for (const r of win) {
    inTok += r.input;
    outTok += r.output;
    cached += Math.min(r.cached, r.input);
  }
  const g = gaugesOver(run, t0, t1);
  const e2e = win.map((r) => r.end - r.start);
  const ttft = win.filter((r) => r.firstToken >= 0).map((r) => r.firstToken - r.start);
  const tpot = win.filter((r) => r.firstToken >= 0 && r.output > 1).map((r) => (r.end - r.firstToken) / (r.output - 1));
  let preempt = 0;
  const rec = run.result.records;
  for (const r of win) preempt += rec.preemptions[r.id]!;
  const successes: Record<string, unknown> = {
    count: win.length,
    rate: win.length / span,
    // vLLM counters: prompt/generation tokens per completed request and per second.
    prompt_len: { mean: win.length > 0 ? inTok / win.length : 0, rate: inTok / span },
    output_len: { mean: win.length > 0 ? outTok / win.length : 0, rate: outTok / span },
    queue_len: { mean: g.waiting },
    request_latency: pctBlock(e2e),
    time_to_first_token: pctBlock(ttft),
    time_per_output_token: pctBlock(tpot),
    kv_cache_usage_percentage: pctBlock(g.kvUsage.map((x) => x * 100)),
    num_requests_swapped: { mean: 0 },
    num_preemptions_total: { mean: preempt },
    prefix_cache_hit_percent: { mean: inTok > 0 ? (cached / inTok) * 100 : 0 },
  };
  if (format === "current") {
    successes.inter_token_latency = pctBlock(tpot);
    successes.num_requests_running = { mean: g.running };
    successes.prompt_tokens_cached = cached;
    successes.request_success_count = win.length;
  }
  return format === "current"
    ? { benchmark_time_seconds: 0, load_summary: {}, successes, failures: {} }
    : { load_summary: {}, successes, failures: {} };
}

// ---------------------------------------------------------------------------------------------------------------

/** Writes a run's inference-perf reports into `dir`; returns the files written. */
export function writeInferencePerfReports(dir: string, run: RunOutput, format: IpReportFormat = "current"): string[] {
  const log = inferencePerfLog(run);
  if (log === undefined) return [];
  const plan = log.gen.plan;
  const files: string[] = [];
  const put = (name: string, obj: unknown) => {
    const p = join(dir, name);
    try {
      writeFileAtomic(p, `${JSON.stringify(obj, null, 2)}\n`);
    } catch (e) {
      throw new OutputWriteError(`${p}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    files.push(p);
  };
  const opts = { percentiles: plan.percentiles, streaming: plan.streaming, format };
  // The probe (stage −1) is left out of every report (reportgen/base.py:768-771).
  const main = log.rows.filter((r) => r.stage >= 0);
  if (main.length > 0) put("summary_lifecycle_metrics.json", lifecycleReport(main, opts));
  const stages = log.stages.filter((s) => s.id >= 0);
  for (const st of stages) {
    const rows = main.filter((r) => r.stage === st.id);
    if (rows.length === 0) continue;
    put(`stage_${st.id}_lifecycle_metrics.json`, lifecycleReport(rows, { ...opts, stage: st }));
  }
  if (stages.length > 0) {
    const first = stages[0]!;
    const last = stages[stages.length - 1]!;
    put(
      "summary_prometheus_metrics.json",
      prometheusReport(run, main, first.begin, (last.end ?? run.result.endTime) + SCRAPE_INTERVAL_S, format),
    );
    for (const st of stages) {
      if (st.count === 0) continue;
      // Per-stage query window: stage start → stage end + scrape interval (prometheus_client/base.py:89-95).
      put(
        `stage_${st.id}_prometheus_metrics.json`,
        prometheusReport(run, main, st.begin, (st.end ?? run.result.endTime) + SCRAPE_INTERVAL_S, format),
      );
    }
  }
  return files;
}

/** `--report` values. */
export const REPORT_FORMATS: Record<string, IpReportFormat> = {
  "inference-perf": "current",
  "inference-perf-legacy": "legacy",
};

/** Parses `--report`; throws InputError for anything else. */
export function parseReportFormat(v: string): IpReportFormat {
  const f = REPORT_FORMATS[v];
  if (f === undefined)
    throw new InputError(`--report: expected one of ${Object.keys(REPORT_FORMATS).join(", ")}, got "${v}"`);
  return f;
}

/** Writes `DIR/inference-perf/<policy>/…` for every run; InputError if the workload is not inference-perf. */
export function writeInferencePerfOutputs(
  dir: string,
  runs: readonly RunOutput[],
  format: IpReportFormat,
): { dir: string; files: string[] }[] {
  const seen = new Map<string, number>();
  const out: { dir: string; files: string[] }[] = [];
  for (const run of runs) {
    if (inferencePerfGenOf(run) === undefined)
      throw new InputError("--report inference-perf: the scenario's workload must be `type: inference-perf`");
    const k = (seen.get(run.policy) ?? 0) + 1;
    seen.set(run.policy, k);
    const name = (k > 1 ? `${run.policy}-${k}` : run.policy).replace(/[^A-Za-z0-9._-]/g, "_");
    const d = join(dir, "inference-perf", name);
    out.push({ dir: d, files: writeInferencePerfReports(d, run, format) });
  }
  return out;
}

/** Checks, before running, that `--report inference-perf` can be honoured. */
export function assertInferencePerfScenario(loaded: { scenario: { workload: unknown } }): void {
  const w = loaded.scenario.workload as { type?: unknown };
  if (w.type !== "inference-perf")
    throw new InputError("--report inference-perf: the scenario's workload must be `type: inference-perf`");
}
