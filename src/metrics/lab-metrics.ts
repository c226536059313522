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

import type { RequestTable } from "../sim/records.ts";
import { meetsTargets, type TargetsFor } from "./slo.ts";
import type { RunOutput } from "./summary.ts";
import { summarizeRows } from "./summary.ts";

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
