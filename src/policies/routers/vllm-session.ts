/**
 * vllm-session: vLLM production-stack router, `--routing-logic session`.
 *
 * Source: vllm-project/production-stack `src/vllm_router/routers/routing_logic.py` (SessionRouter)
 * (docs/reference.md#other-routers): a consistent-hash ring (the uhashring library) over the endpoints, keyed by the request's
 * session key (header or body field; gatelab: the request's `session`); a request without a key goes to the endpoint
 * with the lowest QPS (sliding-window request rate from the router's request stats).
 * Parameters (gatelab names): `vnodes` 160 virtual nodes per endpoint (uhashring's ring density is not reproduced
 * bit for bit — the ring's hash here is gatelab's own), `qpsWindowSecs` 60 (production-stack
 * `--request-stats-window`, [unverified] default). Ties in QPS → the first endpoint. QPS counts the requests this
 * router dispatched to each endpoint in the window.
 * Trace: `scores` = windowed request count per candidate (for keyless requests).
 */
import { z } from "zod";
import { hashString } from "../../sim/hash.ts";
import type { Request } from "../../sim/request.ts";
import { HashRing, NO_CANDIDATES, picked } from "../common.ts";
import type { RouteResult, Router, RouterInit, RoutingContext } from "../types.ts";

export const vllmSessionParams = z.strictObject({
  vnodes: z.number().int().positive().default(160),
  qpsWindowSecs: z.number().positive().default(60),
});
export type VllmSessionParams = z.output<typeof vllmSessionParams>;

export class VllmSessionRouter implements Router {
  readonly name = "vllm-session";
  private readonly ring: HashRing;
  private readonly window: number;
  private readonly trace: boolean;
  /** Per endpoint: dispatch times in the window (a queue with a head index). */
  private readonly times: number[][];
  private readonly heads: Int32Array;

  constructor(init: RouterInit, params: VllmSessionParams = vllmSessionParams.parse({})) {
    this.ring = new HashRing(params.vnodes);
    this.window = params.qpsWindowSecs;
    this.trace = init.traceDecisions === true;
    this.times = Array.from({ length: init.replicas }, () => []);
    this.heads = new Int32Array(init.replicas);
  }

  private count(r: number, now: number): number {
    const q = this.times[r]!;
    let h = this.heads[r]!;
    while (h < q.length && q[h]! <= now - this.window) h++;
    if (h > 1024 && h * 2 > q.length) {
      q.splice(0, h);
      h = 0;
    }
    this.heads[r] = h;
    return q.length - h;
  }

  route(req: Request, ctx: RoutingContext): RouteResult {
    const eps = ctx.endpoints;
    if (eps.length === 0) return NO_CANDIDATES;
    if (req.session !== undefined) return picked(this.ring.lookup(eps, hashString(req.session)));
    let best = eps[0]!;
    let bestCount = Number.POSITIVE_INFINITY;
    const scores = this.trace ? new Map<number, number>() : undefined;
    for (const ep of eps) {
      const c = this.count(ep.index, ctx.now);
      scores?.set(ep.index, c);
      if (c < bestCount) {
        bestCount = c;
        best = ep;
      }
    }
    return scores ? { replica: best.index, scores } : picked(best.index);
  }

  onDispatch(_req: Request, replica: number, now: number): void {
    this.times[replica]?.push(now);
  }
}
