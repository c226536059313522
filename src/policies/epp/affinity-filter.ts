/**
 * `prefix-cache-affinity-filter` (GIE last / llm-d; the llm-d default since mid-2026) and gatelab's hot-node escape
 * hatch.
 *
 * Source: llm-d-router HEAD `filter/prefixcacheaffinity/*`, llm-d guides 2026, llm-d blog "sticky until saturated"
 * 2026-08-17 (docs/reference.md#endpoint-picker-filters-and-saturation-detectors). Defaults are HEAD's: `affinityThreshold` 0.80,
 * `explorationProbability` 0 (May-26: 0.01), `maxTTFTPenaltyMs` 18000, `ttftSource` prefillThroughput,
 * `peakPrefillThroughput` 15928 tokens/s (llm-d-router `ebab6879` `filter/prefixcacheaffinity/plugin.go` L93–L101).
 * The intermediate interface's `maxTokensInFlightPenalty` τ (tokens; 0 = off) is also accepted.
 *
 * ```
 * if |E| ≤ 1 or affinityThreshold ≤ 0: return E
 * with probability explorationProbability: return E                  (one draw from the routing stream when > 0)
 * sticky = {e : matchBlocks_e / totalBlocks ≥ affinityThreshold}; nonSticky = E − sticky
 * [gatelab] saturationDetectorRef set: sticky −= endpoints the detector calls saturated (they join nonSticky)
 * if sticky empty: return E
 * if maxTTFTPenaltyMs > 0 and nonSticky ≠ ∅:
 *   ttft(e) = inFlightTokens_e / peakPrefillThroughput · 1000 ms         (ttftSource prefillThroughput)
 *   ttft(e) = predicted TTFT of the predicted-latency-producer, +∞ without a prediction   (latencyPredictor;
 *             plugin.go L241–L266, the router chart's latencyPredictor default)
 *   if min_sticky ttft − min_nonSticky ttft > maxTTFTPenaltyMs: return E      ("saturation release")
 * if maxTokensInFlightPenalty > 0 and nonSticky ≠ ∅ and
 *   min_sticky inFlightTokens − min_nonSticky inFlightTokens > τ: return E
 * return sticky
 * ```
 * `inFlightTokens_e` is the `inflight-load-producer`'s token count (uncached prompt tokens not yet prefilled).
 *
 * The escape hatch (`saturationDetectorRef: <a utilization-detector>`): cache affinity holds until the replicas that
 * hold the prefix saturate (queue ≥ 5 or KV ≥ 0.8, or stale metrics), then every candidate goes back to the scorers
 * and queue depth wins. See the `sticky-until-saturated` preset.
 */
import { z } from "zod";
import type { EndpointView } from "../types.ts";
import type { Cycle, Filter, InflightTokens, PrefixMatchProvider } from "./framework.ts";
import { nonNeg, pos, unit } from "./params.ts";
import type { EndpointSaturation } from "./saturation.ts";

export const affinityFilterParams = z.strictObject({
  affinityThreshold: unit.default(0.8),
  explorationProbability: unit.default(0),
  maxTTFTPenaltyMs: nonNeg.default(18_000),
  ttftSource: z.enum(["prefillThroughput", "latencyPredictor"]).default("prefillThroughput"),
  peakPrefillThroughput: pos.default(15_928),
  maxTokensInFlightPenalty: nonNeg.default(0),
  saturationDetectorRef: z.string().min(1).optional(),
  latencyPredictionInfoProducerName: z.string().optional(),
});

/** What the latency-predictor TTFT source reads (the `predicted-latency-producer`'s per-replica predictions). */
export interface PredictedTtft {
  produce(cycle: Cycle): void;
  readonly has: Uint8Array;
  readonly ttftMs: Float64Array;
}
export type AffinityFilterParams = z.output<typeof affinityFilterParams>;

export class PrefixCacheAffinityFilter implements Filter {
  readonly type = "prefix-cache-affinity-filter";
  readonly name: string;
  private readonly p: AffinityFilterParams;
  private readonly prefix: PrefixMatchProvider;
  private readonly load: InflightTokens;
  private readonly detector: EndpointSaturation | undefined;
  private readonly predicted: PredictedTtft | undefined;
  /** Scratch: sticky flag per candidate position. */
  private flags = new Uint8Array(16);

  constructor(
    name: string,
    params: AffinityFilterParams,
    prefix: PrefixMatchProvider,
    load: InflightTokens,
    detector: EndpointSaturation | undefined,
    predicted?: PredictedTtft,
  ) {
    this.name = name;
    this.p = params;
    this.prefix = prefix;
    this.load = load;
    this.detector = detector;
    this.predicted = params.ttftSource === "latencyPredictor" ? predicted : undefined;
  }

  filter(cycle: Cycle, eps: readonly EndpointView[]): readonly EndpointView[] {
    const p = this.p;
    if (eps.length <= 1 || p.affinityThreshold <= 0) return eps;
    if (p.explorationProbability > 0 && cycle.ctx.rng.next() < p.explorationProbability) return eps;
    const m = this.prefix.match(cycle);
    const total = m.totalBlocks;
    if (total <= 0) return eps;
    // First pass: which candidates are sticky (flags by position), the smallest token loads on each side.
    if (this.flags.length < eps.length) this.flags = new Uint8Array(eps.length);
    const flags = this.flags;
    const loads = this.load.loads;
    const pred = this.predicted;
    if (pred !== undefined) pred.produce(cycle);
    let nSticky = 0;
    let minStickyTokens = Number.POSITIVE_INFINITY;
    let minOtherTokens = Number.POSITIVE_INFINITY;
    for (let i = 0; i < eps.length; i++) {
      const ep = eps[i]!;
      // Token load (prefillThroughput) or predicted TTFT in ms (latencyPredictor; none → +∞).
      const t =
        pred === undefined
          ? (loads[ep.index] ?? 0)
          : pred.has[ep.index] === 1
            ? pred.ttftMs[ep.index]!
            : Number.MAX_VALUE;
      const isSticky =
        m.matchBlocks[ep.index]! / total >= p.affinityThreshold &&
        (this.detector === undefined || !this.detector.saturated(cycle, ep));
      flags[i] = isSticky ? 1 : 0;
      if (isSticky) {
        nSticky++;
        minStickyTokens = Math.min(minStickyTokens, t);
      } else {
        minOtherTokens = Math.min(minOtherTokens, t);
      }
    }
    if (nSticky === 0) return eps;
    if (nSticky < eps.length) {
      if (p.maxTTFTPenaltyMs > 0) {
        const gapMs =
          pred === undefined
            ? ((minStickyTokens - minOtherTokens) / p.peakPrefillThroughput) * 1000
            : minStickyTokens - minOtherTokens;
        if (gapMs > p.maxTTFTPenaltyMs) return eps;
      }
      if (
        pred === undefined &&
        p.maxTokensInFlightPenalty > 0 &&
        minStickyTokens - minOtherTokens > p.maxTokensInFlightPenalty
      )
        return eps;
    }
    const sticky = cycle.buffer(nSticky);
    let k = 0;
    for (let i = 0; i < eps.length; i++) if (flags[i] === 1) sticky[k++] = eps[i]!;
    return sticky;
  }
}
