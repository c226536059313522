/**
 * The load and LoRA scorers of the Endpoint Picker and llm-d (docs/reference.md#endpoint-picker-scorers).
 *
 * - `queue-scorer` (GIE v1.0 `.../scorer/queue.go`): min-max on `vllm:num_requests_waiting` over the candidates,
 *   `(max − q)/(max − min)`, all equal → 1.
 * - `kv-cache-utilization-scorer` (alias `kv-cache-scorer` ≤ v0.5; `.../scorer/kvcache_utilization.go`):
 *   `1 − kvUsage`, absolute.
 * - `running-requests-size-scorer` (GIE ≥ v1.3): min-max on `vllm:num_requests_running`, all equal → 1.
 * - `lora-affinity-scorer` (GIE ≥ v1.0, `.../scorer/lora_affinity.go`): 1.0 adapter running; 0.8 free slot
 *   (`|running| + |waiting| < max_lora`); 0.6 adapter waiting; else 0.
 * - `load-aware-scorer` (llm-d `pkg/plugins/scorer/load_aware.go`, `threshold` 128): 0.5 when nothing waits, else
 *   `0.5·(1 − min(q, T)/T)`.
 * - `active-request-scorer` (llm-d; `idleThreshold` 0, `maxBusyScore` 1.0; `requestTimeout` deprecated and
 *   ignored): router-local in-flight counts; `1` when `count ≤ idleThreshold`, else
 *   `(maxCount − count)/maxCount · maxBusyScore`.
 * None of these allocate per request.
 */
import { clamp01 } from "../common.ts";
import type { EndpointColumns, EndpointView } from "../types.ts";
import type { ColumnTerm, Cycle, Scorer } from "./framework.ts";

/** [min, max] of `value(ep)` over `eps` (one scratch pair: no allocation per decision). */
const range = new Float64Array(2);
function rangeOf(eps: readonly EndpointView[], value: (ep: EndpointView) => number): void {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < eps.length; i++) {
    const v = value(eps[i]!);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  range[0] = lo;
  range[1] = hi;
}

/** Min-max score `(max − v)/(max − min)` of `value(ep)` over `eps`; all equal → 1. */
function minMaxLowIsBetter(eps: readonly EndpointView[], out: Float64Array, value: (ep: EndpointView) => number): void {
  const n = eps.length;
  if (n === 0) return;
  rangeOf(eps, value);
  const lo = range[0]!;
  const hi = range[1]!;
  if (hi === lo) {
    out.fill(1, 0, n);
    return;
  }
  const span = hi - lo;
  for (let i = 0; i < n; i++) out[i] = (hi - value(eps[i]!)) / span;
}

/** `totals[i] += clamp01(minMaxLowIsBetter score) × weight`, the same arithmetic as `score` + the framework's sum. */
function addMinMaxLowIsBetter(
  eps: readonly EndpointView[],
  totals: Float64Array,
  weight: number,
  value: (ep: EndpointView) => number,
): void {
  const n = eps.length;
  if (n === 0) return;
  rangeOf(eps, value);
  const lo = range[0]!;
  const hi = range[1]!;
  if (hi === lo) {
    const w = clamp01(1) * weight;
    for (let i = 0; i < n; i++) totals[i]! += w;
    return;
  }
  const span = hi - lo;
  for (let i = 0; i < n; i++) totals[i]! += clamp01((hi - value(eps[i]!)) / span) * weight;
}

/** [min, max] of `col[0..n)` into `out` (NaN skipped; +∞, −∞ when n = 0), as `rangeOf` finds them over views. */
export function columnRange(col: Float64Array, n: number, out: Float64Array): void {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const v = col[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  out[0] = lo;
  out[1] = hi;
}

/** What a min-max (low is better) scorer adds for value `v` over [lo, hi]: `addMinMaxLowIsBetter`'s arithmetic. */
export function minMaxLowTerm(v: number, lo: number, hi: number, weight: number): number {
  return hi === lo ? clamp01(1) * weight : clamp01((hi - v) / (hi - lo)) * weight;
}

/** What the KV-utilisation scorer adds for usage `u`. */
export function oneMinusTerm(u: number, weight: number): number {
  return clamp01(1 - u) * weight;
}

/** The same as `addMinMaxLowIsBetter` on a column (`EndpointColumns`): the same comparisons and arithmetic. */
function addMinMaxLowIsBetterColumn(col: Float64Array, n: number, totals: Float64Array, weight: number): void {
  if (n === 0) return;
  columnRange(col, n, range);
  const lo = range[0]!;
  const hi = range[1]!;
  for (let i = 0; i < n; i++) totals[i]! += minMaxLowTerm(col[i]!, lo, hi, weight);
}

/** The candidates' columns when `eps` is the context's candidate list and the engine keeps them (else undefined). */
export function columnsOf(cycle: Cycle, eps: readonly EndpointView[]): EndpointColumns | undefined {
  const ctx = cycle.ctx;
  return eps === ctx.endpoints ? ctx.columns : undefined;
}

const waitingOf = (ep: EndpointView): number => ep.waiting;
const runningOf = (ep: EndpointView): number => ep.running;

export class QueueScorer implements Scorer {
  readonly type = "queue-scorer";
  readonly column: ColumnTerm = { kind: "min-max-low", field: "waiting" };
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  score(_cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void {
    minMaxLowIsBetter(eps, out, waitingOf);
  }
  addWeighted(cycle: Cycle, eps: readonly EndpointView[], totals: Float64Array, weight: number): void {
    const cols = columnsOf(cycle, eps);
    if (cols !== undefined) addMinMaxLowIsBetterColumn(cols.waiting, eps.length, totals, weight);
    else addMinMaxLowIsBetter(eps, totals, weight, waitingOf);
  }
}

export class RunningRequestsSizeScorer implements Scorer {
  readonly type = "running-requests-size-scorer";
  readonly column: ColumnTerm = { kind: "min-max-low", field: "running" };
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  score(_cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void {
    minMaxLowIsBetter(eps, out, runningOf);
  }
  addWeighted(cycle: Cycle, eps: readonly EndpointView[], totals: Float64Array, weight: number): void {
    const cols = columnsOf(cycle, eps);
    if (cols !== undefined) addMinMaxLowIsBetterColumn(cols.running, eps.length, totals, weight);
    else addMinMaxLowIsBetter(eps, totals, weight, runningOf);
  }
}

export class KvCacheUtilizationScorer implements Scorer {
  readonly type = "kv-cache-utilization-scorer";
  readonly column: ColumnTerm = { kind: "one-minus", field: "kvCacheUsage" };
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  score(_cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void {
    for (let i = 0; i < eps.length; i++) out[i] = 1 - eps[i]!.kvCacheUsage;
  }
  addWeighted(cycle: Cycle, eps: readonly EndpointView[], totals: Float64Array, weight: number): void {
    const cols = columnsOf(cycle, eps);
    if (cols !== undefined) {
      const usage = cols.kvCacheUsage;
      for (let i = 0; i < eps.length; i++) totals[i]! += oneMinusTerm(usage[i]!, weight);
    } else for (let i = 0; i < eps.length; i++) totals[i]! += oneMinusTerm(eps[i]!.kvCacheUsage, weight);
  }
}

/** The adapter a request targets: its LoRA adapter, else its model name (GIE: the model after any rewrite). */
export function targetAdapter(adapter: string | undefined, model: string | undefined): string {
  return adapter ?? model ?? "";
}

export class LoraAffinityScorer implements Scorer {
  readonly type = "lora-affinity-scorer";
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  score(cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void {
    const target = targetAdapter(cycle.req.adapter, cycle.req.model);
    for (let i = 0; i < eps.length; i++) {
      const ep = eps[i]!;
      if (ep.runningAdapters.has(target)) out[i] = 1;
      else if (ep.runningAdapters.size + ep.waitingAdapters.size < ep.maxLora) out[i] = 0.8;
      else if (ep.waitingAdapters.has(target)) out[i] = 0.6;
      else out[i] = 0;
    }
  }
}

export class LoadAwareScorer implements Scorer {
  readonly type = "load-aware-scorer";
  readonly name: string;
  private readonly threshold: number;
  constructor(name: string, params: { threshold: number }) {
    this.name = name;
    this.threshold = params.threshold;
  }
  score(_cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void {
    const t = this.threshold;
    for (let i = 0; i < eps.length; i++) {
      const q = eps[i]!.waiting;
      out[i] = q <= 0 ? 0.5 : 0.5 * (1 - Math.min(q, t) / t);
    }
  }
}

export class ActiveRequestScorer implements Scorer {
  readonly type = "active-request-scorer";
  readonly name: string;
  private readonly idle: number;
  private readonly maxBusy: number;
  constructor(name: string, params: { idleThreshold: number; maxBusyScore: number }) {
    this.name = name;
    this.idle = params.idleThreshold;
    this.maxBusy = params.maxBusyScore;
  }
  score(cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void {
    const inFlight = cycle.ctx.local.inFlight;
    let max = 0;
    for (const ep of eps) max = Math.max(max, inFlight[ep.index]!);
    for (let i = 0; i < eps.length; i++) {
      const c = inFlight[eps[i]!.index]!;
      out[i] = c <= this.idle || max <= 0 ? 1 : ((max - c) / max) * this.maxBusy;
    }
  }
}
