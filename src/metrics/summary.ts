/**
 * Summaries of a run, in the shape people already read (milliseconds; percentiles with numpy's default linear
 * interpolation: `sim/quantile.ts`).
 *
 * - TTFT = first token − first arrival at the gateway (client view: gateway queueing, retries and overheads included).
 * - E2E = last token (+ post-decode overhead) − first arrival.
 * - TPOT = (E2E − TTFT) / (output tokens − 1), per request with ≥ 2 output tokens (vLLM benchmark definition).
 * - ITL = every gap between consecutive tokens of a request (vLLM benchmark `itl`).
 * - queue = first scheduling at the replica − arrival at the gateway.
 * - prefix_cache_hit_rate = Σ cached prompt tokens / Σ prompt tokens looked up (vLLM `prefix_cache_hits /
 *   prefix_cache_queries`), over all admissions; for the cluster Σ over replicas, never a mean of per-replica rates.
 */

import type { SimResult } from "../cluster/engine.ts";
import type { GatewayStats } from "../policies/flow-control/gateway.ts";
import type { SloTargets } from "../policies/flow-control/options.ts";
import type { TenantQuotaStats } from "../policies/quotas.ts";
import { ExactSum, exactSum } from "../sim/fsum.ts";
import { DROP_REASONS } from "../sim/outcomes.ts";
import type { RequestTable, WeightedSamples } from "../sim/records.ts";
import { Outcome, type RequestSource } from "../sim/request.ts";
import { quantilesBySelection, weightedQuantilesBySelection } from "../sim/select.ts";
import { gatePercentile, gateSample } from "./gate.ts";
import type { IpLabSummary } from "./inference-perf-summary.ts";
import { type KvTransferSummary, pdSummary, type RoleSummary, replicaRoles } from "./pd.ts";
import { type RoutingHealth, routingHealth } from "./routing-health.ts";

export interface Dist {
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
}

export interface Summary {
  ttft_ms: Dist;
  e2e_ms: Dist;
  itl_ms: Dist;
  tpot_ms: Dist;
  queue_ms: Dist;
  prefix_cache_hit_rate: number;
  requests: { total: number; completed: number; rejected: number; dropped: number };
  throughput: { requests_per_s: number; output_tokens_per_s: number };
  preemptions: number;
}

export interface ReplicaSummary extends Summary {
  name: string;
  pool: string;
  /** Requests routed to this replica. */
  routed: number;
  prefix_cache_hit_rate_blocks: number;
  kv_blocks: number;
  busy_fraction: number;
  /** Prompt tokens this replica computed (cache misses and recompute). */
  prefill_tokens: number;
  /** Output tokens this replica decoded. */
  decode_tokens: number;
  /** LoRA counters of this replica (LoRA on only). */
  lora?: LoraSummary;
  /** P/D (pools with `llm-d.ai/role` labels): the replica's role, and the prefill legs it ran for other pods. */
  role?: string;
  prefill_requests?: number;
}

export interface RunSummary extends Summary {
  duration_s: number;
  /** Prefix-cache hit rate in full blocks (vLLM counts tokens; blocks are what BLIS reports). */
  prefix_cache_hit_rate_blocks: number;
  /** Prompt tokens computed again because preemption discarded their KV. */
  recomputed_tokens: number;
  /** Prompt tokens actually computed (cache misses + recompute). */
  prefill_tokens: number;
  output_tokens: number;
  /** Max / min requests routed per replica (1 = perfectly even; Infinity if a replica got none). */
  load_skew: number;
  /** Replica-hours of the pools over the run (replicas × duration). */
  gpu_hours: number;
  /** Dollars per million output tokens at the pools' `gpu_hour_usd`. */
  usd_per_million_output_tokens: number;
  rejections: Record<string, number>;
  replicas: ReplicaSummary[];
  /** Per SLO class (`default` for requests without one): its requests' summary, goodput, verdicts. */
  classes: Record<string, ClassSummary>;
  /** Per tenant (`default` for requests without one): its requests' summary, goodput, quota counters. */
  tenants: Record<string, TenantSummary>;
  /** Requests that completed within their class's per-request targets. */
  goodput: Goodput;
  /** How requests ended: completed, rejected by a replica (413), dropped by status and by cause. */
  outcomes: Outcomes;
  /** Admission layer: attempts, retries, refusals by status and cause, queue, degradation, quotas. */
  gateway: GatewayStats;
  /** LoRA over the cluster (Σ of the replicas). */
  lora: LoraSummary;
  /** Whether the router spread the load: starved replicas, per-window herding (`routing-health.ts`). */
  routing: RoutingHealth;
  /** What the router says about itself (Endpoint Picker plugins that run as no-ops, loader deprecations). */
  notes?: string[];
  /** P/D: per role (`llm-d.ai/role` of the pools), when the pools carry roles or a request was disaggregated. */
  roles?: Record<string, RoleSummary>;
  /** P/D: KV transfers from prefill to decode pods (same condition as `roles`). */
  kv_transfer?: KvTransferSummary;
  /** `type: inference-perf` workloads: per-stage rates, throughput, latencies, queue and the knee (computed by
   * report/inference-perf-stages.ts). */
  inference_perf?: IpLabSummary;
}

const EMPTY_DIST: Dist = { mean: 0, p50: 0, p90: 0, p95: 0, p99: 0 };

/** Distribution of a sample (any order); empty → zeros. Values in seconds are reported in ms by the caller. */
export function dist(values: Float64Array, scale = 1): Dist {
  return distInPlace(Float64Array.from(values), scale);
}

const DIST_PS = [0.5, 0.9, 0.95, 0.99];

/** `dist` of a sample the caller hands over: it is rearranged in place (no copy). */
function distInPlace(values: Float64Array, scale: number): Dist {
  if (values.length === 0) return { ...EMPTY_DIST };
  // The mean from an exactly rounded sum (`sim/fsum.ts`): independent of the samples' order, so the percentiles can
  // come from selection (`sim/select.ts`, the same numbers as numpy's linear method over the sorted sample).
  const sum = exactSum(values);
  const [p50, p90, p95, p99] = quantilesBySelection(values, DIST_PS);
  return {
    mean: (sum / values.length) * scale,
    p50: p50! * scale,
    p90: p90! * scale,
    p95: p95! * scale,
    p99: p99! * scale,
  };
}

/** Exactly rounded Σ value × count (order-free). */
function weightedSum(values: Float64Array, counts: Float64Array | Uint32Array): number {
  const s = new ExactSum();
  for (let i = 0; i < values.length; i++) s.addProduct(values[i]!, counts[i]!);
  return s.value();
}

/** Distribution of run-length weighted samples (the ITL store). */
export function weightedDist(w: WeightedSamples, scale = 1): Dist {
  if (w.total === 0) return { ...EMPTY_DIST };
  // Unsorted pairs: the mean's exact sum is order-free, and the percentiles come from selection (the same numbers as
  // `weightedQuantile` over the sorted pairs: `weightedQuantilesBySelection`).
  const { values: vs, counts: cs } = w.pairs();
  const mean = (weightedSum(vs, cs) / w.total) * scale;
  const [p50, p90, p95, p99] = weightedQuantilesBySelection(vs, cs, DIST_PS);
  return {
    // Σ value × count exactly rounded: the same multiset of gaps gives the same mean, whatever order the tokens
    // were recorded in (fast-forward records a stretch's tokens at its end).
    mean,
    p50: p50! * scale,
    p90: p90! * scale,
    p95: p95! * scale,
    p99: p99! * scale,
  };
}

const M_TTFT = 0;
const M_E2E = 1;
const M_TPOT = 2;
const M_QUEUE = 3;

/**
 * Fills `col` with metric `m` (seconds) of rows `rows` in order (undefined: every completed row); returns how many.
 * TPOT: rows with ≥ 2 output tokens.
 */
function fillMetric(rec: RequestTable, rows: Int32Array | undefined, m: number, col: Float64Array): number {
  let k = 0;
  const n = rows === undefined ? rec.size : rows.length;
  for (let j = 0; j < n; j++) {
    let i = j;
    if (rows !== undefined) i = rows[j]!;
    else if (rec.outcome[i] !== Outcome.Completed) continue;
    const arr = rec.arrival[i]!;
    if (m === M_TTFT) col[k++] = rec.firstToken[i]! - arr;
    else if (m === M_E2E) col[k++] = rec.completion[i]! - arr;
    else if (m === M_QUEUE) col[k++] = rec.admit[i]! - arr;
    else {
      const out = rec.output[i]!;
      if (out > 1) {
        const ft = rec.firstToken[i]! - arr;
        col[k++] = (rec.completion[i]! - arr - ft) / (out - 1);
      }
    }
  }
  return k;
}

/**
 * Latency distributions and counts over the rows where `keep(i)` is true (`all`: `keep` is true for every row).
 */
export function summarizeRows(
  rec: RequestTable,
  keep: (i: number) => boolean,
  itlMs: Dist | undefined,
  all = false,
): Summary {
  return summarizeRowsAnd(rec, keep, itlMs, all).summary;
}

/**
 * `summarizeRows`, and the ITL a subset's summary reports (`subsetItl`: the TPOT percentiles with the exact mean
 * gap), so that a group holding every row can take the all-rows summary with it (`groupSummaries`).
 */
function summarizeRowsAnd(
  rec: RequestTable,
  keep: (i: number) => boolean,
  itlMs: Dist | undefined,
  all: boolean,
): { summary: Summary; subsetItl: Dist } {
  const n = rec.size;
  let total = 0;
  let completed = 0;
  let rejected = 0;
  let dropped = 0;
  let outTokens = 0;
  let preemptions = 0;
  let cached = 0;
  let prompt = 0;
  let itlSum = 0;
  let itlCount = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  for (let i = 0; i < n; i++) {
    if (!keep(i)) continue;
    total++;
    const o = rec.outcome[i];
    if (o === Outcome.Rejected) rejected++;
    else if (o === Outcome.Dropped) dropped++;
    const arr = rec.arrival[i]!;
    if (arr < first) first = arr;
    if (o !== Outcome.Completed) continue;
    completed++;
    const ft = rec.firstToken[i]! - arr;
    const done = rec.completion[i]! - arr;
    if (rec.completion[i]! > last) last = rec.completion[i]!;
    const out = rec.output[i]!;
    outTokens += out;
    if (out > 1) {
      itlSum += done - ft;
      itlCount += out - 1;
    }
    preemptions += rec.preemptions[i]!;
    cached += rec.cached[i]!;
    prompt += rec.input[i]!;
  }
  // The completed rows' ids, then one metric at a time in one scratch column of the exact size, rearranged in place
  // by selection: at 1M requests 8 bytes a request at the end of a run, not 32 (subsets add 4 for their row ids).
  let rows: Int32Array | undefined;
  if (!all) {
    rows = new Int32Array(completed);
    for (let i = 0, k = 0; k < completed; i++) {
      if (rec.outcome[i] === Outcome.Completed && keep(i)) rows[k++] = i;
    }
  }
  const col = new Float64Array(completed);
  const metric = (m: number): Dist => distInPlace(col.subarray(0, fillMetric(rec, rows, m, col)), 1000);
  const span = last > first ? last - first : 0;
  const ttftMs = metric(M_TTFT);
  const e2eMs = metric(M_E2E);
  const tpotMs = metric(M_TPOT);
  const queueMs = metric(M_QUEUE);
  // Per-subset ITL: the mean is exact (Σ gaps / Σ gaps count); percentiles need the token-level store, which is
  // kept for the whole cluster only, so subsets report the per-request TPOT distribution's percentiles instead.
  const subsetItl = { ...tpotMs, mean: itlCount > 0 ? (itlSum / itlCount) * 1000 : 0 };
  const summary: Summary = {
    ttft_ms: ttftMs,
    e2e_ms: e2eMs,
    itl_ms: itlMs ?? subsetItl,
    tpot_ms: tpotMs,
    queue_ms: queueMs,
    prefix_cache_hit_rate: prompt > 0 ? cached / prompt : 0,
    requests: { total, completed, rejected, dropped },
    throughput: {
      requests_per_s: span > 0 ? completed / span : 0,
      output_tokens_per_s: span > 0 ? outTokens / span : 0,
    },
    preemptions,
  };
  return { summary, subsetItl };
}

/**
 * `summarizeRows` of every group at once: group g's summary covers the rows i with `group[i] === g` (rows with a
 * group outside [0, groups) belong to none), the same numbers as `summarizeRows(rec, (i) => group[i] === g,
 * undefined)`. Each column is read in one sequential pass and each metric scattered into one column grouped by g
 * (rows ascending within a group, so sums accumulate in the same order): gathering a group's rows one by one read
 * every column at rows spread over the whole table, a cache miss per column and row (5 % of the CPU of
 * `chat-1m 100000 1024`, by profile).
 */
export function summarizeGroups(rec: RequestTable, group: ArrayLike<number>, groups: number): Summary[] {
  const total = new Float64Array(groups);
  const completed = new Float64Array(groups);
  const rejected = new Float64Array(groups);
  const dropped = new Float64Array(groups);
  const outTokens = new Float64Array(groups);
  const preemptions = new Float64Array(groups);
  const cached = new Float64Array(groups);
  const prompt = new Float64Array(groups);
  const itlSum = new Float64Array(groups);
  const itlCount = new Float64Array(groups);
  const tpotCount = new Float64Array(groups);
  const first = new Float64Array(groups).fill(Number.POSITIVE_INFINITY);
  const last = new Float64Array(groups);
  const n = rec.size;
  for (let i = 0; i < n; i++) {
    const g = group[i]!;
    if (!(g >= 0 && g < groups)) continue;
    total[g]!++;
    const o = rec.outcome[i];
    if (o === Outcome.Rejected) rejected[g]!++;
    else if (o === Outcome.Dropped) dropped[g]!++;
    const arr = rec.arrival[i]!;
    if (arr < first[g]!) first[g] = arr;
    if (o !== Outcome.Completed) continue;
    completed[g]!++;
    const ft = rec.firstToken[i]! - arr;
    const done = rec.completion[i]! - arr;
    if (rec.completion[i]! > last[g]!) last[g] = rec.completion[i]!;
    const out = rec.output[i]!;
    outTokens[g]! += out;
    if (out > 1) {
      itlSum[g]! += done - ft;
      itlCount[g]! += out - 1;
      tpotCount[g]!++;
    }
    preemptions[g]! += rec.preemptions[i]!;
    cached[g]! += rec.cached[i]!;
    prompt[g]! += rec.input[i]!;
  }
  // Group g's completed rows take col[start[g] .. start[g] + completed[g]).
  const start = new Float64Array(groups + 1);
  for (let g = 0; g < groups; g++) start[g + 1] = start[g]! + completed[g]!;
  const col = new Float64Array(start[groups]!);
  const pos = new Float64Array(groups);
  const dists: Dist[][] = [];
  for (const m of [M_TTFT, M_E2E, M_TPOT, M_QUEUE]) {
    pos.set(start.subarray(0, groups));
    for (let i = 0; i < n; i++) {
      const g = group[i]!;
      if (!(g >= 0 && g < groups) || rec.outcome[i] !== Outcome.Completed) continue;
      const arr = rec.arrival[i]!;
      if (m === M_TTFT) col[pos[g]!++] = rec.firstToken[i]! - arr;
      else if (m === M_E2E) col[pos[g]!++] = rec.completion[i]! - arr;
      else if (m === M_QUEUE) col[pos[g]!++] = rec.admit[i]! - arr;
      else {
        const out = rec.output[i]!;
        if (out > 1) {
          const ft = rec.firstToken[i]! - arr;
          col[pos[g]!++] = (rec.completion[i]! - arr - ft) / (out - 1);
        }
      }
    }
    const d: Dist[] = new Array(groups);
    for (let g = 0; g < groups; g++) d[g] = distInPlace(col.subarray(start[g]!, pos[g]!), 1000);
    dists.push(d);
  }
  const out: Summary[] = new Array(groups);
  for (let g = 0; g < groups; g++) {
    const span = last[g]! > first[g]! ? last[g]! - first[g]! : 0;
    const tpotMs = dists[2]![g]!;
    const c = completed[g]!;
    out[g] = {
      ttft_ms: dists[0]![g]!,
      e2e_ms: dists[1]![g]!,
      itl_ms: { ...tpotMs, mean: itlCount[g]! > 0 ? (itlSum[g]! / itlCount[g]!) * 1000 : 0 },
      tpot_ms: tpotMs,
      queue_ms: dists[3]![g]!,
      prefix_cache_hit_rate: prompt[g]! > 0 ? cached[g]! / prompt[g]! : 0,
      requests: { total: total[g]!, completed: c, rejected: rejected[g]!, dropped: dropped[g]! },
      throughput: {
        requests_per_s: span > 0 ? c / span : 0,
        output_tokens_per_s: span > 0 ? outTokens[g]! / span : 0,
      },
      preemptions: preemptions[g]!,
    };
  }
  return out;
}

/** The summary of a whole run: cluster, then per replica. */
export function summarize(res: SimResult): RunSummary {
  const rec = res.records;
  const all = summarizeRowsAnd(rec, () => true, weightedDist(res.itl, 1000), true);
  const cluster = all.summary;
  let queries = 0;
  let hits = 0;
  let qBlocks = 0;
  let hBlocks = 0;
  let recomputed = 0;
  let prefill = 0;
  let output = 0;
  let preemptions = 0;
  const routed = new Array<number>(res.replicas.length).fill(0);
  for (let i = 0; i < rec.size; i++) {
    const r = rec.replica[i]!;
    if (r >= 0) routed[r]!++;
  }
  const roles = replicaRoles(res);
  const perReplica = summarizeGroups(rec, rec.replica, res.replicas.length);
  const replicas: ReplicaSummary[] = res.replicas.map((r) => {
    const c = r.counters;
    queries += c.prefixQueries;
    hits += c.prefixHits;
    qBlocks += c.prefixQueryBlocks;
    hBlocks += c.prefixHitBlocks;
    recomputed += c.recomputedTokens;
    prefill += c.prefillTokens;
    output += c.outputTokens;
    preemptions += c.preemptions;
    const s = perReplica[r.index]!;
    return {
      name: r.name,
      pool: r.pool,
      routed: routed[r.index]!,
      ...s,
      prefix_cache_hit_rate: c.prefixQueries > 0 ? c.prefixHits / c.prefixQueries : 0,
      prefix_cache_hit_rate_blocks: c.prefixQueryBlocks > 0 ? c.prefixHitBlocks / c.prefixQueryBlocks : 0,
      preemptions: c.preemptions,
      kv_blocks: r.cfg.numGpuBlocks,
      busy_fraction: res.endTime > 0 ? c.busyTime / res.endTime : 0,
      prefill_tokens: c.prefillTokens,
      decode_tokens: c.outputTokens,
      ...(r.lora !== undefined ? { lora: loraSummary([r.lora.counters]) } : {}),
      ...(roles !== undefined ? { role: roles[r.index]!, prefill_requests: res.pd.prefillLegs[r.index]! } : {}),
    };
  });
  let first = Number.POSITIVE_INFINITY;
  for (let i = 0; i < rec.size; i++) if (rec.arrival[i]! < first) first = rec.arrival[i]!;
  const duration = rec.size > 0 ? res.endTime - first : 0;
  const minRouted = Math.min(...routed);
  const maxRouted = Math.max(...routed);
  let gpuHours = 0;
  let usd = 0;
  for (const p of res.pools) {
    const h = (p.replicas * duration) / 3600;
    gpuHours += h;
    usd += h * p.gpuHourUsd;
  }
  return {
    ...cluster,
    prefix_cache_hit_rate: queries > 0 ? hits / queries : 0,
    preemptions,
    duration_s: duration,
    prefix_cache_hit_rate_blocks: qBlocks > 0 ? hBlocks / qBlocks : 0,
    recomputed_tokens: recomputed,
    prefill_tokens: prefill,
    output_tokens: output,
    load_skew: maxRouted === 0 ? 1 : minRouted === 0 ? Number.POSITIVE_INFINITY : maxRouted / minRouted,
    gpu_hours: gpuHours,
    usd_per_million_output_tokens: output > 0 ? (usd / output) * 1e6 : 0,
    rejections: Object.fromEntries([...res.rejectReasons].sort((a, b) => (a[0] < b[0] ? -1 : 1))),
    replicas,
    // P/D: a prefill pod's share of the work is the prefill legs it ran (requests are routed to decode pods).
    routing: routingHealth(res, res.pd.transfers > 0 ? routed.map((n, i) => n + res.pd.prefillLegs[i]!) : routed),
    ...groupSummaries(res, duration, { ...cluster, itl_ms: all.subsetItl }),
    ...pdSummary(res, routed),
  };
}

// SLO classes, tenants, goodput, outcomes, gateway and LoRA: what admission and multi-tenancy decided ---------------

export interface Goodput {
  /** Requests completed within their class's per-request targets. */
  requests: number;
  /** Those requests per second of the run (`duration_s`). */
  requests_per_s: number;
  /** Share of all the group's requests. */
  fraction: number;
}

/** Per-request targets of a class, ms (absent: no target on that latency). */
export interface ClassTargets {
  ttft_ms?: number;
  e2e_ms?: number;
  tpot_ms?: number;
}

export interface Verdict {
  target: number;
  actual: number;
  ok: boolean;
}

export interface Outcomes {
  completed: number;
  /** Rejected by a replica (prompt never fits: 413). */
  rejected: number;
  /** Dropped requests by final status ("429", "503", "403", …). */
  dropped_by_status: Record<string, number>;
  /** Dropped requests by cause (shed, saturated, timed_out, quota_rate, forbidden, no_endpoints, router). */
  dropped_by_cause: Record<string, number>;
  /** Retries over the group's requests (Σ attempts − requests). */
  retries: number;
}

export interface ClassSummary extends Summary {
  targets: ClassTargets;
  goodput: Goodput;
  outcomes: Outcomes;
  /** The class's percentile targets (`ttft_p95_ms`, …) against its summary. */
  slo: Record<string, Verdict>;
}

export interface TenantSummary extends Summary {
  goodput: Goodput;
  outcomes: Outcomes;
  /** Quota counters (when `gateway.quotas` covers the tenant). */
  quota?: TenantQuotaStats;
}

export interface LoraSummary {
  /** Adapter loads to the GPU, of which from disk; seconds of steps spent loading. */
  loads: number;
  disk_loads: number;
  load_time_s: number;
  /** Requests that waited for an adapter slot, and their total wait (s). */
  delayed_requests: number;
  wait_time_s: number;
  gpu_evictions: number;
  cpu_evictions: number;
}

export function loraSummary(
  cs: readonly {
    loads: number;
    diskLoads: number;
    loadTime: number;
    delayedRequests: number;
    waitTime: number;
    gpuEvictions: number;
    cpuEvictions: number;
  }[],
): LoraSummary {
  const s: LoraSummary = {
    loads: 0,
    disk_loads: 0,
    load_time_s: 0,
    delayed_requests: 0,
    wait_time_s: 0,
    gpu_evictions: 0,
    cpu_evictions: 0,
  };
  for (const c of cs) {
    s.loads += c.loads;
    s.disk_loads += c.diskLoads;
    s.load_time_s += c.loadTime;
    s.delayed_requests += c.delayedRequests;
    s.wait_time_s += c.waitTime;
    s.gpu_evictions += c.gpuEvictions;
    s.cpu_evictions += c.cpuEvictions;
  }
  return s;
}

/**
 * Per-request targets of SLO class `cls`: from `slos.classes[cls]` (`ttft_ms`, else its `ttft_p95_ms`, `_p99`,
 * `_p50`; `e2e_ms`, else `e2e_p95_ms`, `_p99`; `tpot_ms`, else `tpot_p95_ms`), else from the flat `slos` fields by
 * the same rule (as `src/metrics/slo.ts` `requestTargets`).
 */
export function classTargets(slo: SloTargets | undefined, cls: string): ClassTargets {
  if (slo === undefined) return {};
  const c = slo.classes?.[cls];
  const ttft = c
    ? (c.ttft_ms ?? c.ttft_p95_ms ?? c.ttft_p99_ms ?? c.ttft_p50_ms)
    : (slo.ttft_p95_ms ?? slo.ttft_p99_ms ?? slo.ttft_p50_ms);
  const e2e = c ? (c.e2e_ms ?? c.e2e_p95_ms ?? c.e2e_p99_ms) : (slo.e2e_p95_ms ?? slo.e2e_p99_ms);
  const tpot = c ? (c.tpot_ms ?? c.tpot_p95_ms) : slo.tpot_p95_ms;
  return {
    ...(ttft !== undefined ? { ttft_ms: ttft } : {}),
    ...(e2e !== undefined ? { e2e_ms: e2e } : {}),
    ...(tpot !== undefined ? { tpot_ms: tpot } : {}),
  };
}

/** Whether row `i` completed within `t`. */
export function meetsClassTargets(rec: RequestTable, i: number, t: ClassTargets): boolean {
  if (rec.outcome[i] !== Outcome.Completed) return false;
  const arr = rec.arrival[i]!;
  const ttft = (rec.firstToken[i]! - arr) * 1000;
  const e2e = (rec.completion[i]! - arr) * 1000;
  if (t.ttft_ms !== undefined && ttft > t.ttft_ms) return false;
  if (t.e2e_ms !== undefined && e2e > t.e2e_ms) return false;
  if (t.tpot_ms !== undefined) {
    const out = rec.output[i]!;
    if (out > 1 && (e2e - ttft) / (out - 1) > t.tpot_ms) return false;
  }
  return true;
}

function outcomesOf(rec: RequestTable, keep: (i: number) => boolean): Outcomes {
  const o: Outcomes = { completed: 0, rejected: 0, dropped_by_status: {}, dropped_by_cause: {}, retries: 0 };
  for (let i = 0; i < rec.size; i++) {
    if (!keep(i)) continue;
    o.retries += Math.max(0, rec.attempts[i]! - 1);
    const out = rec.outcome[i];
    if (out === Outcome.Completed) o.completed++;
    else if (out === Outcome.Rejected) o.rejected++;
    else if (out === Outcome.Dropped) {
      const st = String(rec.status[i]);
      o.dropped_by_status[st] = (o.dropped_by_status[st] ?? 0) + 1;
      const cause = DROP_REASONS[rec.dropReason[i]!] ?? "none";
      o.dropped_by_cause[cause] = (o.dropped_by_cause[cause] ?? 0) + 1;
    }
  }
  return o;
}

const PERCENTILE_TARGETS = [
  ["ttft_p50_ms", "ttft", 0.5],
  ["ttft_p95_ms", "ttft", 0.95],
  ["ttft_p99_ms", "ttft", 0.99],
  ["e2e_p95_ms", "e2e", 0.95],
  ["e2e_p99_ms", "e2e", 0.99],
  ["tpot_p95_ms", "tpot", 0.95],
] as const;

/**
 * Classes, tenants, goodput, outcomes, gateway and LoRA sections of the run summary. `allRows`: what `summarizeRows`
 * gives for a group holding every row (the all-rows summary with a subset's ITL), taken as it is for a class or
 * tenant that holds every row — the usual single `default` class and tenant, whose two summaries were a third of the
 * summary's time (the same completed rows in the same order, so the same numbers).
 */
function groupSummaries(
  res: SimResult,
  duration: number,
  allRows: Summary,
): Pick<RunSummary, "classes" | "tenants" | "goodput" | "outcomes" | "gateway" | "lora"> {
  const rec = res.records;
  const n = rec.size;
  const rowsOf = (group: ArrayLike<number>, g: number, keep: (i: number) => boolean): Summary => {
    let k = 0;
    for (let i = 0; i < n; i++) if (group[i] === g) k++;
    return k === n ? copySummary(allRows) : summarizeRows(rec, keep, undefined);
  };
  const classNames = rec.classes.names;
  const targets = classNames.map((c) => classTargets(res.slo, c));
  const good = new Uint8Array(n);
  let goodTotal = 0;
  for (let i = 0; i < n; i++) {
    if (meetsClassTargets(rec, i, targets[rec.sloClass[i]!] ?? {})) {
      good[i] = 1;
      goodTotal++;
    }
  }
  const goodput = (keep: (i: number) => boolean): Goodput => {
    let g = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (!keep(i)) continue;
      total++;
      g += good[i]!;
    }
    return { requests: g, requests_per_s: duration > 0 ? g / duration : 0, fraction: total > 0 ? g / total : 0 };
  };
  const classes: Record<string, ClassSummary> = {};
  classNames.forEach((name, c) => {
    const keep = (i: number) => rec.sloClass[i] === c;
    const sum = rowsOf(rec.sloClass, c, keep);
    const slo: Record<string, Verdict> = {};
    const cfg = res.slo?.classes?.[name];
    // Verdicts count the class's unserved requests as misses (src/metrics/gate.ts), unlike the distributions above,
    // which cover completed requests only.
    const g = cfg !== undefined ? gateSample(rec, keep) : undefined;
    for (const [field, metric, p] of PERCENTILE_TARGETS) {
      const target = cfg?.[field];
      if (target === undefined || g === undefined) continue;
      const actual = gatePercentile(g, metric, p) ?? Number.POSITIVE_INFINITY;
      slo[field] = { target, actual, ok: actual <= target };
    }
    classes[name] = { ...sum, targets: targets[c]!, goodput: goodput(keep), outcomes: outcomesOf(rec, keep), slo };
  });
  const tenants: Record<string, TenantSummary> = {};
  rec.tenants.names.forEach((name, t) => {
    const keep = (i: number) => rec.tenant[i] === t;
    const q = res.gateway.tenants[name];
    tenants[name] = {
      ...rowsOf(rec.tenant, t, keep),
      goodput: goodput(keep),
      outcomes: outcomesOf(rec, keep),
      ...(q !== undefined ? { quota: q } : {}),
    };
  });
  return {
    classes,
    tenants,
    goodput: {
      requests: goodTotal,
      requests_per_s: duration > 0 ? goodTotal / duration : 0,
      fraction: n > 0 ? goodTotal / n : 0,
    },
    outcomes: outcomesOf(rec, () => true),
    gateway: res.gateway,
    lora: loraSummary(res.replicas.flatMap((r) => (r.lora !== undefined ? [r.lora.counters] : []))),
  };
}

/** A summary with distributions of its own (groups taking the all-rows summary share no object with it). */
function copySummary(s: Summary): Summary {
  return {
    ...s,
    ttft_ms: { ...s.ttft_ms },
    e2e_ms: { ...s.e2e_ms },
    itl_ms: { ...s.itl_ms },
    tpot_ms: { ...s.tpot_ms },
    queue_ms: { ...s.queue_ms },
    requests: { ...s.requests },
    throughput: { ...s.throughput },
  };
}

/** One run of a scenario under one policy: the simulation's result and its summary. */
export interface RunOutput {
  readonly policy: string;
  readonly seed: number;
  readonly result: SimResult;
  readonly summary: RunSummary;
  /** The request stream the engine pulled (reports read an inference-perf client's stage log from it). */
  readonly source?: RequestSource;
}
