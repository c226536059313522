/**
 * Clients that retry: on a 429 or 503 answer a client waits and sends the request again, up to `max_retries` times.
 * Delay of retry k (k = 1, 2, …): d = min(backoff_s × multiplier^(k−1), max_backoff_s), jittered uniformly in
 * [d(1 − jitter), d(1 + jitter)] (draws from the `retry-jitter` stream), and at least the server's Retry-After when
 * `honor_retry_after`. An aggressive client is `backoff_s: 0` (or small), `multiplier: 1`, `jitter: 0`,
 * `honor_retry_after: false`. A retry keeps the request's first arrival time (TTFT is measured from it).
 *
 * Policies are keyed by workload component name (`source`), then SLO class, then `default`; a request with none
 * does not retry.
 */
import type { Request } from "../../sim/request.ts";
import type { Rng } from "../../sim/rng.ts";
import type { ClientsConfig, RetryPolicyConfig } from "./schema.ts";

export class RetryPolicies {
  private readonly byName: ReadonlyMap<string, RetryPolicyConfig>;
  private readonly dflt: RetryPolicyConfig | undefined;

  constructor(cfg: ClientsConfig) {
    this.byName = new Map(Object.entries(cfg));
    this.dflt = cfg.default;
  }

  policyFor(req: Request): RetryPolicyConfig | undefined {
    return (
      (req.source !== undefined ? this.byName.get(req.source) : undefined) ??
      (req.sloClass !== undefined ? this.byName.get(req.sloClass) : undefined) ??
      this.dflt
    );
  }
}

/**
 * Delay before retry number `retry` (1-based) of a request refused with `status`, or -1 when the client gives up
 * (status not retried, or retries exhausted). `retryAfterS` < 0: the answer carried no Retry-After.
 */
export function retryDelay(
  p: RetryPolicyConfig | undefined,
  retry: number,
  status: number,
  retryAfterS: number,
  rng: Rng,
): number {
  if (p === undefined || retry > p.max_retries) return -1;
  if (!(p.retry_on as readonly number[]).includes(status)) return -1;
  let d = Math.min(p.backoff_s * p.multiplier ** (retry - 1), p.max_backoff_s);
  if (p.jitter > 0) d *= 1 - p.jitter + 2 * p.jitter * rng.next();
  if (p.honor_retry_after && retryAfterS > d) d = retryAfterS;
  return d;
}
