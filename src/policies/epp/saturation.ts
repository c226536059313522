/**
 * Saturation detection: the Endpoint Picker's `utilization-detector` and `concurrency-detector`, usable as filters
 * (when referenced in a profile), by `prefix-cache-affinity-filter` (gatelab's `saturationDetectorRef`), and by the
 * admission layer through `isSaturated(endpoints, now)`.
 *
 * Source: GIE v1.0 `pkg/epp/saturationdetector/` (env `SD_QUEUE_DEPTH_THRESHOLD` 5, `SD_KV_CACHE_UTIL_THRESHOLD` 0.8,
 * `SD_METRICS_STALENESS_THRESHOLD` 200 ms); GIE last / llm-d `utilization-detector`, `concurrency-detector`
 * (docs/reference.md#endpoint-picker-filters-and-saturation-detectors).
 * - Staleness: metrics older than `metricsStalenessThreshold` ("200ms") — `now − scrapeTime` — count as no capacity
 *   (saturation 1.0).
 * - Roofline (current): `saturation(E) = mean_e (stale ? 1 : max(waiting/5, kvUsage/0.8))`, empty list → 1.0; the
 *   legacy admission sheds sheddable traffic when it is ≥ 1.
 * - v1.0: saturated iff no fresh pod has `waiting ≤ 5 and kvUsage ≤ 0.8` (no pods → saturated).
 * - Filter: keep e if fresh and `waiting < 5(1+h)` and `kvUsage < 0.8(1+h)` (`headroom` h, default 0); if every
 *   endpoint would be removed, keep them all (fail open).
 * - `concurrency-detector` (`concurrencyMode` requests|tokens, `maxConcurrency` 100, `maxTokenConcurrency`
 *   1,000,000, `headroom` 0): saturation = Σ in-flight / Σ capacity over the candidates (router-local counters,
 *   `LocalLoad.inFlight` or `LocalLoad.inFlightTokens`); the filter drops endpoints with in-flight ≥ capacity·(1+h).
 */
import { z } from "zod";
import type { EndpointView, LocalLoad } from "../types.ts";
import type { Cycle, Filter } from "./framework.ts";
import { duration, nonNeg, pos, posInt } from "./params.ts";

export interface UtilizationSettings {
  readonly queueDepthThreshold: number;
  readonly kvCacheUtilThreshold: number;
  /** Seconds. */
  readonly metricsStalenessThreshold: number;
  readonly headroom: number;
}

export const DEFAULT_UTILIZATION: UtilizationSettings = {
  queueDepthThreshold: 5,
  kvCacheUtilThreshold: 0.8,
  metricsStalenessThreshold: 0.2,
  headroom: 0,
};

export const utilizationParams = z.strictObject({
  queueDepthThreshold: pos.default(5),
  kvCacheUtilThreshold: z.number().gt(0).max(1).default(0.8),
  metricsStalenessThreshold: duration.prefault("200ms"),
  headroom: nonNeg.default(0),
});

/** True when the endpoint's metrics are older than `threshold` seconds (or were never scraped). */
export function isStale(ep: EndpointView, now: number, threshold: number): boolean {
  return !(now - ep.scrapeTime <= threshold);
}

/** Roofline saturation of one endpoint: 1 when stale, else `max(waiting/q, kv/k)`. */
export function endpointSaturation(
  ep: EndpointView,
  now: number,
  s: UtilizationSettings = DEFAULT_UTILIZATION,
): number {
  if (isStale(ep, now, s.metricsStalenessThreshold)) return 1;
  return Math.max(ep.waiting / s.queueDepthThreshold, ep.kvCacheUsage / s.kvCacheUtilThreshold);
}

/** Mean roofline saturation over `eps` (empty → 1). */
export function utilizationSaturation(
  eps: readonly EndpointView[],
  now: number,
  s: UtilizationSettings = DEFAULT_UTILIZATION,
): number {
  if (eps.length === 0) return 1;
  let sum = 0;
  for (const ep of eps) sum += endpointSaturation(ep, now, s);
  return sum / eps.length;
}

/** Filter rule: fresh and below both thresholds scaled by `1 + headroom`. */
export function hasCapacity(ep: EndpointView, now: number, s: UtilizationSettings = DEFAULT_UTILIZATION): boolean {
  if (isStale(ep, now, s.metricsStalenessThreshold)) return false;
  const f = 1 + s.headroom;
  return ep.waiting < s.queueDepthThreshold * f && ep.kvCacheUsage < s.kvCacheUtilThreshold * f;
}

export interface SaturationOptions extends Partial<UtilizationSettings> {
  /** `roofline` (GIE last / llm-d, default): mean saturation ≥ 1. `v1.0`: no fresh pod with headroom. */
  readonly mode?: "roofline" | "v1.0";
}

/**
 * Whether the pool is saturated (the admission check for sheddable requests, priority < 0). Default: the current
 * roofline rule with 5 / 0.8 / 200 ms; `mode: "v1.0"` gives GIE v1.0's "no pod below both thresholds".
 */
export function isSaturated(eps: readonly EndpointView[], now: number, opts: SaturationOptions = {}): boolean {
  const s: UtilizationSettings = { ...DEFAULT_UTILIZATION, ...stripMode(opts) };
  if (opts.mode === "v1.0") {
    for (const ep of eps) {
      if (isStale(ep, now, s.metricsStalenessThreshold)) continue;
      if (ep.waiting > s.queueDepthThreshold || ep.kvCacheUsage > s.kvCacheUtilThreshold) continue;
      return false;
    }
    return true;
  }
  return utilizationSaturation(eps, now, s) >= 1;
}

function stripMode(o: SaturationOptions): Partial<UtilizationSettings> {
  const { mode: _mode, ...rest } = o;
  return rest;
}

/** A detector usable by the affinity filter: is this endpoint saturated now? */
export interface EndpointSaturation {
  saturated(cycle: Cycle, ep: EndpointView): boolean;
}

export class UtilizationDetector implements Filter, EndpointSaturation {
  readonly type = "utilization-detector";
  readonly name: string;
  readonly settings: UtilizationSettings;
  constructor(name: string, settings: UtilizationSettings) {
    this.name = name;
    this.settings = settings;
  }
  saturated(cycle: Cycle, ep: EndpointView): boolean {
    return !hasCapacity(ep, cycle.ctx.now, this.settings);
  }
  saturation(eps: readonly EndpointView[], now: number): number {
    return utilizationSaturation(eps, now, this.settings);
  }
  filter(cycle: Cycle, eps: readonly EndpointView[]): readonly EndpointView[] {
    const now = cycle.ctx.now;
    let n = 0;
    for (const ep of eps) if (hasCapacity(ep, now, this.settings)) n++;
    if (n === 0) return eps;
    const kept = cycle.buffer(n);
    let k = 0;
    for (const ep of eps) if (hasCapacity(ep, now, this.settings)) kept[k++] = ep;
    return kept;
  }
}

export const concurrencyParams = z.strictObject({
  concurrencyMode: z.enum(["requests", "tokens"]).default("requests"),
  maxConcurrency: posInt.default(100),
  maxTokenConcurrency: posInt.default(1_000_000),
  headroom: nonNeg.default(0),
});
export type ConcurrencySettings = z.output<typeof concurrencyParams>;

/** Σ in-flight / Σ capacity over `eps` (empty → 1). */
export function concurrencySaturation(eps: readonly EndpointView[], local: LocalLoad, s: ConcurrencySettings): number {
  if (eps.length === 0) return 1;
  const tokens = s.concurrencyMode === "tokens";
  const cap = tokens ? s.maxTokenConcurrency : s.maxConcurrency;
  let used = 0;
  for (const ep of eps) used += tokens ? local.inFlightTokens[ep.index]! : local.inFlight[ep.index]!;
  return used / (cap * eps.length);
}

export class ConcurrencyDetector implements Filter, EndpointSaturation {
  readonly type = "concurrency-detector";
  readonly name: string;
  readonly settings: ConcurrencySettings;
  constructor(name: string, settings: ConcurrencySettings) {
    this.name = name;
    this.settings = settings;
  }
  saturated(cycle: Cycle, ep: EndpointView): boolean {
    const s = this.settings;
    const tokens = s.concurrencyMode === "tokens";
    const used = tokens ? cycle.ctx.local.inFlightTokens[ep.index]! : cycle.ctx.local.inFlight[ep.index]!;
    return used >= (tokens ? s.maxTokenConcurrency : s.maxConcurrency) * (1 + s.headroom);
  }
  filter(cycle: Cycle, eps: readonly EndpointView[]): readonly EndpointView[] {
    let n = 0;
    for (const ep of eps) if (!this.saturated(cycle, ep)) n++;
    if (n === 0) return eps;
    const kept = cycle.buffer(n);
    let k = 0;
    for (const ep of eps) if (!this.saturated(cycle, ep)) kept[k++] = ep;
    return kept;
  }
}
