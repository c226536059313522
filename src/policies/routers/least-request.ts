/**
 * least-request: the candidate with the fewest requests in flight from this gateway (fresh, router-local count),
 * ties broken uniformly at random. Source: Envoy `LEAST_REQUEST` (in-flight counts), Vidur `lor`
 * (least outstanding requests), BLIS `least-loaded` (which also adds scraped queue depth and batch size;
 * here only the fresh in-flight count is used, as Envoy does). No parameters.
 */
import type { Request } from "../../sim/request.ts";
import { picked } from "../common.ts";
import type { RouteResult, Router, RoutingContext } from "../types.ts";

export class LeastRequestRouter implements Router {
  readonly name = "least-request";
  route(_req: Request, ctx: RoutingContext): RouteResult {
    const eps = ctx.endpoints;
    if (eps.length === 0) return { refused: true, status: 503, reason: "no endpoint serves the model" };
    const inFlight = ctx.local.inFlight;
    let best = Number.POSITIVE_INFINITY;
    let ties = 0;
    let pick = -1;
    for (const ep of eps) {
      const n = inFlight[ep.index]!;
      if (n < best) {
        best = n;
        ties = 1;
        pick = ep.index;
      } else if (n === best) {
        // Reservoir sampling over the tied candidates: each is kept with probability 1/ties.
        ties++;
        if (ctx.rng.int(ties) === 0) pick = ep.index;
      }
    }
    return picked(pick);
  }
}
