/**
 * The lab's flat metrics of a run: the numbers compare, sweep, check and the charts talk about, one name each
 * (snake_case, unit in the name), computed from the run summary and the per-request records.
 *
 * - goodput: requests completed within their SLO targets (`slo.ts`), per second of run and as a share of requests;
 * - shed: requests answered 429 (saturation, flow control); unavailable: 503 (no endpoint); too_long: 413;
 * - gpu_hours: Σ over pools of replicas × tp × run duration; usd_per_mtok: dollars per million output tokens at the
 *   pools' `gpu_hour_usd`; prefill_tokens: prompt tokens computed (cache misses + recompute), recomputed_tokens: the
 *   part preemption caused.
 */
import type { RequestTable } from "../metrics/records.ts";
import { summarizeRows } from "../metrics/summary.ts";
import { fmtNum, fmtPct } from "../report/table.ts";
import { Outcome } from "../sim/request.ts";
import type { RunOutput } from "./run.ts";
import { meetsTargets, type TargetsFor } from "./slo.ts";

export interface LabMetrics {
  requests: number;
  completed: number;
  shed: number;
  unavailable: number;
  too_long: number;
  ttft_p50_ms: number;
  ttft_p95_ms: number;
  ttft_p99_ms: number;
  e2e_p95_ms: number;
  tpot_mean_ms: number;
  tpot_p95_ms: number;
  itl_p95_ms: number;
  queue_p95_ms: number;
  hit_rate: number;
  throughput_rps: number;
  output_tps: number;
  goodput_rps: number;
  goodput_fraction: number;
  load_skew: number;
  preemptions: number;
  prefill_tokens: number;
  recomputed_tokens: number;
  gpu_hours: number;
  usd_per_mtok: number;
  duration_s: number;
}

export type MetricKey = keyof LabMetrics;

export interface MetricInfo {
  readonly key: MetricKey;
  readonly label: string;
  /** Which way is better; "none" for counts that only describe the run. */
  readonly better: "lower" | "higher" | "none";
  readonly fmt: (x: number) => string;
  /** Smallest change that counts as a change for `check` (absolute, in the metric's unit). */
  readonly floor: number;
}

const n = (x: number) => fmtNum(x);
const usd = (x: number) => x.toFixed(x >= 100 ? 1 : x >= 1 ? 2 : 4);

/** Every metric, in display order. */
export const METRICS: readonly MetricInfo[] = [
  { key: "ttft_p50_ms", label: "TTFT p50 (ms)", better: "lower", fmt: n, floor: 1 },
  { key: "ttft_p95_ms", label: "TTFT p95 (ms)", better: "lower", fmt: n, floor: 1 },
  { key: "ttft_p99_ms", label: "TTFT p99 (ms)", better: "lower", fmt: n, floor: 1 },
  { key: "e2e_p95_ms", label: "E2E p95 (ms)", better: "lower", fmt: n, floor: 1 },
  { key: "tpot_mean_ms", label: "TPOT mean (ms)", better: "lower", fmt: n, floor: 0.1 },
  { key: "tpot_p95_ms", label: "TPOT p95 (ms)", better: "lower", fmt: n, floor: 0.1 },
  { key: "itl_p95_ms", label: "ITL p95 (ms)", better: "lower", fmt: n, floor: 0.1 },
  { key: "queue_p95_ms", label: "queue p95 (ms)", better: "lower", fmt: n, floor: 1 },
  { key: "hit_rate", label: "prefix-cache hit rate", better: "higher", fmt: fmtPct, floor: 0.005 },
  { key: "throughput_rps", label: "throughput (req/s)", better: "higher", fmt: n, floor: 0.01 },
  { key: "output_tps", label: "output tok/s", better: "higher", fmt: n, floor: 1 },
  { key: "goodput_rps", label: "goodput (req/s in SLO)", better: "higher", fmt: n, floor: 0.01 },
  { key: "goodput_fraction", label: "goodput share", better: "higher", fmt: fmtPct, floor: 0.005 },
  { key: "requests", label: "requests", better: "none", fmt: n, floor: 0 },
  { key: "completed", label: "completed", better: "higher", fmt: n, floor: 1 },
  { key: "shed", label: "shed (429)", better: "lower", fmt: n, floor: 1 },
  { key: "unavailable", label: "unavailable (503)", better: "lower", fmt: n, floor: 1 },
  { key: "too_long", label: "too long (413)", better: "lower", fmt: n, floor: 1 },
  { key: "load_skew", label: "load skew (max/min)", better: "lower", fmt: n, floor: 0.01 },
  { key: "preemptions", label: "preemptions", better: "lower", fmt: n, floor: 1 },
  { key: "prefill_tokens", label: "prefill tokens computed", better: "lower", fmt: n, floor: 1 },
  { key: "recomputed_tokens", label: "prefill tokens recomputed", better: "lower", fmt: n, floor: 1 },
  { key: "gpu_hours", label: "GPU-hours", better: "lower", fmt: (x) => x.toFixed(3), floor: 0.001 },
  { key: "usd_per_mtok", label: "$ per M output tokens", better: "lower", fmt: usd, floor: 0.0001 },
  { key: "duration_s", label: "duration (s)", better: "none", fmt: n, floor: 0 },
];

export const METRIC_BY_KEY: ReadonlyMap<string, MetricInfo> = new Map(METRICS.map((m) => [m.key, m]));

/** Looks up a metric by key; undefined when unknown. */
export function metricInfo(key: string): MetricInfo | undefined {
  return METRIC_BY_KEY.get(key);
}

function countStatus(rec: RequestTable, keep: (i: number) => boolean) {
  let shed = 0;
  let unavailable = 0;
  let tooLong = 0;
  for (let i = 0; i < rec.size; i++) {
    if (!keep(i)) continue;
    const s = rec.status[i];
    if (s === 429) shed++;
    else if (s === 503) unavailable++;
    else if (s === 413) tooLong++;
  }
  return { shed, unavailable, tooLong };
}

function goodCount(rec: RequestTable, keep: (i: number) => boolean, targets: TargetsFor): number {
  const classes = rec.classes.names;
  let good = 0;
  for (let i = 0; i < rec.size; i++) {
    if (!keep(i)) continue;
    if (meetsTargets(rec, i, targets(classes[rec.sloClass[i]!] ?? "default"))) good++;
  }
  return good;
}

/** The flat metrics of a whole run. */
export function labMetrics(run: RunOutput, targets: TargetsFor): LabMetrics {
  const s = run.summary;
  const rec = run.result.records;
  const all = () => true;
  const st = countStatus(rec, all);
  const good = goodCount(rec, all, targets);
  let gpuHours = 0;
  for (const p of run.result.pools) gpuHours += (p.replicas * p.tp * s.duration_s) / 3600;
  const total = s.requests.total;
  return {
    requests: total,
    completed: s.requests.completed,
    shed: st.shed,
    unavailable: st.unavailable,
    too_long: st.tooLong,
    ttft_p50_ms: s.ttft_ms.p50,
    ttft_p95_ms: s.ttft_ms.p95,
    ttft_p99_ms: s.ttft_ms.p99,
    e2e_p95_ms: s.e2e_ms.p95,
    tpot_mean_ms: s.tpot_ms.mean,
    tpot_p95_ms: s.tpot_ms.p95,
    itl_p95_ms: s.itl_ms.p95,
    queue_p95_ms: s.queue_ms.p95,
    hit_rate: s.prefix_cache_hit_rate,
    throughput_rps: s.throughput.requests_per_s,
    output_tps: s.throughput.output_tokens_per_s,
    // Per second of run, as the run summary's goodput.
    goodput_rps: s.duration_s > 0 ? good / s.duration_s : 0,
    goodput_fraction: total > 0 ? good / total : 0,
    load_skew: s.load_skew,
    preemptions: s.preemptions,
    prefill_tokens: s.prefill_tokens,
    recomputed_tokens: s.recomputed_tokens,
    gpu_hours: gpuHours,
    usd_per_mtok: s.usd_per_million_output_tokens,
    duration_s: s.duration_s,
  };
}

/** Metrics of one slice of the requests (an SLO class, a tenant). */
export interface GroupMetrics {
  requests: number;
  completed: number;
  shed: number;
  ttft_p50_ms: number;
  ttft_p95_ms: number;
  e2e_p95_ms: number;
  tpot_mean_ms: number;
  hit_rate: number;
  goodput_fraction: number;
}

export type GroupKey = "slo_class" | "tenant";

export interface GroupRow {
  readonly group: string;
  readonly metrics: GroupMetrics;
}

/** Metrics per SLO class or per tenant, groups sorted by name. */
export function groupMetrics(run: RunOutput, by: GroupKey, targets: TargetsFor): GroupRow[] {
  const rec = run.result.records;
  const interner = by === "slo_class" ? rec.classes : rec.tenants;
  const col = by === "slo_class" ? rec.sloClass : rec.tenant;
  const names = interner.names.map((name, id) => ({ name, id })).sort((a, b) => (a.name < b.name ? -1 : 1));
  return names.map(({ name, id }) => {
    const keep = (i: number) => col[i] === id;
    const s = summarizeRows(rec, keep, undefined);
    const st = countStatus(rec, keep);
    const good = goodCount(rec, keep, targets);
    return {
      group: name,
      metrics: {
        requests: s.requests.total,
        completed: s.requests.completed,
        shed: st.shed,
        ttft_p50_ms: s.ttft_ms.p50,
        ttft_p95_ms: s.ttft_ms.p95,
        e2e_p95_ms: s.e2e_ms.p95,
        tpot_mean_ms: s.tpot_ms.mean,
        hit_rate: s.prefix_cache_hit_rate,
        goodput_fraction: s.requests.total > 0 ? good / s.requests.total : 0,
      },
    };
  });
}

/** TTFT of every completed request, milliseconds, sorted ascending. */
export function ttftSortedMs(rec: RequestTable): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < rec.size; i++)
    if (rec.outcome[i] === Outcome.Completed) out.push((rec.firstToken[i]! - rec.arrival[i]!) * 1000);
  return Float64Array.from(out).sort();
}
