/**
 * consistent-hash: session affinity by consistent hashing of the session id onto a ring of the endpoints.
 *
 * Source: SGLang router `consistent_hash` policy (160 virtual nodes) (docs/reference.md#other-routers); the same idea as
 * Envoy's ring-hash / Maglev session affinity. The session is the request's `session`; a ring keeps most sessions on
 * their endpoint when endpoints come and go. Parameters: `vnodes` 160. Requests without a session go to a uniformly
 * random endpoint (gatelab's choice: SGLang hashes a routing header that every client sends).
 * Load- and cache-blind: a heavy session stays where the ring puts it.
 */
import { z } from "zod";
import { hashString } from "../../sim/hash.ts";
import type { Request } from "../../sim/request.ts";
import { HashRing, NO_CANDIDATES, picked } from "../common.ts";
import type { RouteResult, Router, RoutingContext } from "../types.ts";

export const consistentHashParams = z.strictObject({ vnodes: z.number().int().positive().default(160) });
export type ConsistentHashParams = z.output<typeof consistentHashParams>;

export class ConsistentHashRouter implements Router {
  readonly name = "consistent-hash";
  private readonly ring: HashRing;

  constructor(params: ConsistentHashParams = consistentHashParams.parse({})) {
    this.ring = new HashRing(params.vnodes);
  }

  route(req: Request, ctx: RoutingContext): RouteResult {
    const eps = ctx.endpoints;
    if (eps.length === 0) return NO_CANDIDATES;
    if (req.session === undefined) return picked(eps[ctx.rng.int(eps.length)]!.index);
    return picked(this.ring.lookup(eps, hashString(req.session)));
  }
}
