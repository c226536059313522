/**
 * round-robin: cycles through the candidates in index order, blind to load and cache.
 * Source: the default of most load balancers; BLIS `round-robin` (CLI default), Vidur `round_robin`,
 * vLLM production-stack `roundrobin`. No parameters.
 */
import type { Request } from "../../sim/request.ts";
import { picked } from "../common.ts";
import type { RouteResult, Router, RoutingContext } from "../types.ts";

export class RoundRobinRouter implements Router {
  readonly name = "round-robin";
  private counter = 0;
  route(_req: Request, ctx: RoutingContext): RouteResult {
    const eps = ctx.endpoints;
    if (eps.length === 0) return { refused: true, status: 503, reason: "no endpoint serves the model" };
    const ep = eps[this.counter++ % eps.length]!;
    return picked(ep.index);
  }
}
