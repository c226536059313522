/**
 * random: a uniformly random candidate (seeded routing stream).
 * Source: GIE `random-picker` without scorers; Vidur `random`. No parameters.
 */
import type { Request } from "../../sim/request.ts";
import { picked } from "../common.ts";
import type { RouteResult, Router, RoutingContext } from "../types.ts";

export class RandomRouter implements Router {
  readonly name = "random";
  route(_req: Request, ctx: RoutingContext): RouteResult {
    const eps = ctx.endpoints;
    if (eps.length === 0) return { refused: true, status: 503, reason: "no endpoint serves the model" };
    return picked(eps[ctx.rng.int(eps.length)]!.index);
  }
}
