/**
 * power-of-two: draw two distinct candidates uniformly at random and send the request to the less loaded one (ties →
 * the first drawn). Source: Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing" (2001); SGLang
 * router `power_of_two.rs`, Ray Serve's default request router, Llumnix `--power-of-k-choice`
 * (docs/reference.md#other-routers).
 * Parameter `load` (gatelab): `in-flight` (default; the router's own fresh count of requests dispatched and not
 * finished, as SGLang's router-side load) or `queue` (scraped `waiting + running`, stale between scrapes, as a
 * router that reads engine metrics would).
 */
import { z } from "zod";
import type { Request } from "../../sim/request.ts";
import { NO_CANDIDATES, picked } from "../common.ts";
import type { EndpointView, RouteResult, Router, RoutingContext } from "../types.ts";

export const powerOfTwoParams = z.strictObject({ load: z.enum(["in-flight", "queue"]).default("in-flight") });
export type PowerOfTwoParams = z.output<typeof powerOfTwoParams>;

export class PowerOfTwoRouter implements Router {
  readonly name = "power-of-two";
  private readonly queue: boolean;
  private readonly trace: boolean;

  constructor(params: PowerOfTwoParams = powerOfTwoParams.parse({}), traceDecisions = false) {
    this.queue = params.load === "queue";
    this.trace = traceDecisions;
  }

  private load(ep: EndpointView, ctx: RoutingContext): number {
    return this.queue ? ep.waiting + ep.running : ctx.local.inFlight[ep.index]!;
  }

  route(_req: Request, ctx: RoutingContext): RouteResult {
    const eps = ctx.endpoints;
    const n = eps.length;
    if (n === 0) return NO_CANDIDATES;
    if (n === 1) return picked(eps[0]!.index);
    const i = ctx.rng.int(n);
    let j = ctx.rng.int(n - 1);
    if (j >= i) j++;
    const a = eps[i]!;
    const b = eps[j]!;
    const la = this.load(a, ctx);
    const lb = this.load(b, ctx);
    const pick = lb < la ? b : a;
    if (!this.trace) return picked(pick.index);
    return {
      replica: pick.index,
      scores: new Map([
        [a.index, la],
        [b.index, lb],
      ]),
    };
  }
}
