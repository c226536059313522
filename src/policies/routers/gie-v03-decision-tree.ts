/**
 * gie-v0.3-decision-tree: the Gateway API Inference Extension's original hard-coded scheduler (before plugins).
 *
 * Source: kubernetes-sigs/gateway-api-inference-extension @ v0.3.0 `pkg/epp/scheduling/{filter.go,scheduler.go}`
 * (docs/reference.md#endpoint-picker-filters-and-saturation-detectors). Thresholds (env-configurable there): `KV_CACHE_THRESHOLD` 0.8,
 * `QUEUE_THRESHOLD_CRITICAL` 5, `QUEUING_THRESHOLD_LORA` 128, `LORA_AFFINITY_THRESHOLD` 0.999.
 * ```
 * if request is Critical (gatelab: priority > 0):
 *    waiting < 128 somewhere ? loraAffinity → leastQueue → leastKV : leastQueue → loraAffinity → leastKV
 * else:
 *    hasCapacity = pods with waiting ≤ 5 and kvUsage ≤ 0.8
 *    some → leastQueue → loraAffinity → leastKV;  none → DROP (HTTP 429)
 * pick uniformly at random among the survivors
 * ```
 * Each step after the first is "next on success or failure": an empty result continues with the unfiltered list.
 * v0.3 LoRA affinity: "affinity" = adapter active (running), "available" = active count < max_lora; affinity with
 * probability 0.999 when both exist.
 */
import { z } from "zod";
import type { Request } from "../../sim/request.ts";
import { NO_CANDIDATES, picked } from "../common.ts";
import { leastKvCache, leastQueue, loraAffinity } from "../epp/filters.ts";
import { targetAdapter } from "../epp/scorers.ts";
import type { EndpointView, RouteResult, Router, RoutingContext } from "../types.ts";

export const gieV03Params = z.strictObject({
  kvCacheThreshold: z.number().min(0).max(1).default(0.8),
  queueThresholdCritical: z.number().min(0).default(5),
  queueingThresholdLora: z.number().min(0).default(128),
  loraAffinityThreshold: z.number().min(0).max(1).default(0.999),
});
export type GieV03Params = z.output<typeof gieV03Params>;

type Step = (eps: readonly EndpointView[]) => readonly EndpointView[];

export class GieV03DecisionTreeRouter implements Router {
  readonly name = "gie-v0.3-decision-tree";
  private readonly p: GieV03Params;

  constructor(params: GieV03Params = gieV03Params.parse({})) {
    this.p = params;
  }

  route(req: Request, ctx: RoutingContext): RouteResult {
    const eps = ctx.endpoints;
    if (eps.length === 0) return NO_CANDIDATES;
    const p = this.p;
    const target = targetAdapter(req.adapter, req.model);
    const lora: Step = (l) => loraAffinity(l, target, p.loraAffinityThreshold, ctx.rng, true);
    // "next on success or failure": an empty step result falls back to its input.
    const chain = (l: readonly EndpointView[], steps: Step[]): readonly EndpointView[] => {
      let cur = l;
      for (const s of steps) {
        const out = s(cur);
        if (out.length > 0) cur = out;
      }
      return cur;
    };
    let survivors: readonly EndpointView[];
    if ((req.priority ?? 0) > 0) {
      const low = eps.filter((ep) => ep.waiting < p.queueingThresholdLora);
      survivors =
        low.length > 0 ? chain(low, [lora, leastQueue, leastKvCache]) : chain(eps, [leastQueue, lora, leastKvCache]);
    } else {
      const cap = eps.filter((ep) => ep.waiting <= p.queueThresholdCritical && ep.kvCacheUsage <= p.kvCacheThreshold);
      if (cap.length === 0) {
        return {
          refused: true,
          status: 429,
          reason: "no capacity for a non-critical request (GIE v0.3 decision tree)",
        };
      }
      survivors = chain(cap, [leastQueue, lora, leastKvCache]);
    }
    return picked(survivors[ctx.rng.int(survivors.length)]!.index);
  }
}
