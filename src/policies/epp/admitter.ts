/**
 * `probabilistic-admitter` (llm-d/llm-d-router `pkg/epp/framework/plugins/requestcontrol/admitter/
 * probabilisticadmitter/plugin.go` at `ebab6879`, registered in `cmd/epp/runner/runner.go` L676): an Admit plugin
 * the director runs on the candidate endpoints before scheduling (`pkg/epp/requestcontrol/director.go` L330–L345).
 * Only sheddable requests (priority < 0) are judged: saturation = mean over the candidates of
 * max(waiting / queueDepthThreshold, KV usage / kvCacheUtilThreshold); the request is refused with probability
 * min(saturation^power · k, 1) (one uniform draw per sheddable request, from the routing RNG stream), answered as
 * ResourceExhausted → 429. Defaults queueDepthThreshold 5, kvCacheUtilThreshold 0.8, power 5, k 300 (plugin.go
 * L35–L38); every parameter must be > 0 (L71–L82).
 */
import { z } from "zod";
import type { Cycle, Plugin } from "./framework.ts";

export const probabilisticAdmitterParams = z.strictObject({
  queueDepthThreshold: z.number().int().positive().default(5),
  kvCacheUtilThreshold: z.number().positive().default(0.8),
  power: z.number().positive().default(5),
  k: z.number().positive().default(300),
});
export type ProbabilisticAdmitterParams = z.output<typeof probabilisticAdmitterParams>;

/** A request-control plugin that may refuse a request before scheduling. */
export interface Admitter extends Plugin {
  /** undefined: admit; else the reason for a 429. */
  admit(cycle: Cycle): string | undefined;
}

export class ProbabilisticAdmitter implements Admitter {
  readonly type = "probabilistic-admitter";
  readonly name: string;
  private readonly p: ProbabilisticAdmitterParams;

  constructor(name: string, params: ProbabilisticAdmitterParams) {
    this.name = name;
    this.p = params;
  }

  /** avg over candidates of max(waiting / queue threshold, KV usage / KV threshold). */
  saturation(cycle: Cycle): number {
    const eps = cycle.ctx.endpoints;
    let total = 0;
    for (let i = 0; i < eps.length; i++) {
      const e = eps[i]!;
      total += Math.max(e.waiting / this.p.queueDepthThreshold, e.kvCacheUsage / this.p.kvCacheUtilThreshold);
    }
    return total / eps.length;
  }

  admit(cycle: Cycle): string | undefined {
    if ((cycle.req.priority ?? 0) >= 0 || cycle.ctx.endpoints.length === 0) return undefined;
    const prob = Math.min(this.saturation(cycle) ** this.p.power * this.p.k, 1);
    return cycle.ctx.rng.next() < prob ? "probabilistic-admitter: sheddable request rejected" : undefined;
  }
}

export function isAdmitter(p: Plugin): p is Admitter {
  return typeof (p as Partial<Admitter>).admit === "function";
}
