/**
 * Tenant quotas at the gateway (the governance hook platform teams add in front of the Endpoint Picker, e.g. an
 * Envoy rate-limit filter or an API-management layer), enforced before routing and before flow control:
 * - a model allowlist per tenant: a request for a model not in `models` gets 403 (for a request to a LoRA adapter, the
 *   adapter's name is checked: it is what the client puts in the OpenAI `model` field);
 * - a request-rate limit and a prompt-token-rate limit, each a token bucket (capacity `burst_*`, refilled at the
 *   rate): a request takes 1 request token and `inputTokens` prompt tokens; when either bucket lacks them it gets
 *   429 with Retry-After = the time until both would suffice (capped at `max_retry_after_s`). A refused request
 *   takes nothing. The token cost is the prompt, as BLIS's `token-bucket` admission (docs/reference.md#blis-inference-sim-facts),
 *   since the output length is unknown at the gateway.
 * Every attempt (retries included) is checked and counted per tenant.
 */
import type { Request } from "../sim/request.ts";
import type { QuotasConfig, TenantQuota } from "./flow-control/schema.ts";

export interface QuotaVerdict {
  /** 0 = admitted, else the HTTP status (429 rate, 403 model not allowed). */
  readonly status: 0 | 429 | 403;
  readonly reason: string;
  /** Seconds (429 only; else -1). */
  readonly retryAfterS: number;
}

export interface TenantQuotaStats {
  admitted: number;
  /** 429 from the request-rate bucket, from the token-rate bucket, and 403 from the allowlist. */
  rateLimited: number;
  tokenLimited: number;
  forbidden: number;
}

const ADMITTED: QuotaVerdict = { status: 0, reason: "", retryAfterS: -1 };

class Bucket {
  readonly rate: number;
  readonly capacity: number;
  private level: number;
  private last = 0;
  constructor(rate: number, capacity: number) {
    this.rate = rate;
    this.capacity = capacity;
    this.level = capacity;
  }
  refill(now: number): void {
    if (now > this.last) {
      this.level = Math.min(this.capacity, this.level + (now - this.last) * this.rate);
      this.last = now;
    }
  }
  /** Seconds until `n` tokens are available (0 if now; Infinity if n > capacity). */
  wait(n: number): number {
    if (this.level >= n) return 0;
    if (n > this.capacity) return Number.POSITIVE_INFINITY;
    return (n - this.level) / this.rate;
  }
  take(n: number): void {
    this.level -= n;
  }
}

class TenantState {
  readonly requests: Bucket | undefined;
  readonly tokens: Bucket | undefined;
  readonly models: ReadonlySet<string> | undefined;
  readonly stats: TenantQuotaStats = { admitted: 0, rateLimited: 0, tokenLimited: 0, forbidden: 0 };
  constructor(q: TenantQuota) {
    if (q.requests_per_s !== undefined)
      this.requests = new Bucket(q.requests_per_s, q.burst_requests ?? Math.max(1, q.requests_per_s));
    if (q.tokens_per_s !== undefined) this.tokens = new Bucket(q.tokens_per_s, q.burst_tokens ?? q.tokens_per_s);
    if (q.models !== undefined) this.models = new Set(q.models);
  }
}

export class TenantQuotas {
  private readonly cfg: QuotasConfig;
  private readonly states = new Map<string, TenantState>();
  /** Per-tenant counters (tenants seen), in first-seen order. */
  readonly stats = new Map<string, TenantQuotaStats>();

  constructor(cfg: QuotasConfig) {
    this.cfg = cfg;
  }

  private state(tenant: string): TenantState | undefined {
    let s = this.states.get(tenant);
    if (s === undefined) {
      const q = this.cfg.tenants[tenant] ?? this.cfg.default;
      if (q === undefined) return undefined;
      s = new TenantState(q);
      this.states.set(tenant, s);
      this.stats.set(tenant, s.stats);
    }
    return s;
  }

  /** Checks (and on success charges) one attempt of `req` at `now`; `model` = the base model it asks for. */
  check(req: Request, model: string, now: number): QuotaVerdict {
    const tenant = req.tenant ?? "default";
    const s = this.state(tenant);
    if (s === undefined) return ADMITTED;
    // The name a client calls: the adapter when it asks for one (the OpenAI `model` field names the adapter).
    const target = req.adapter ?? model;
    if (s.models !== undefined && !s.models.has(target)) {
      s.stats.forbidden++;
      return { status: 403, reason: `tenant ${tenant} may not call ${target}`, retryAfterS: -1 };
    }
    s.requests?.refill(now);
    s.tokens?.refill(now);
    const wr = s.requests?.wait(1) ?? 0;
    const wt = s.tokens?.wait(req.inputTokens) ?? 0;
    if (wr > 0 || wt > 0) {
      const tokensBind = wt >= wr;
      if (tokensBind) s.stats.tokenLimited++;
      else s.stats.rateLimited++;
      return {
        status: 429,
        reason: tokensBind ? `tenant ${tenant} over its token rate` : `tenant ${tenant} over its request rate`,
        retryAfterS: Math.min(Math.max(wr, wt), this.cfg.max_retry_after_s),
      };
    }
    s.requests?.take(1);
    s.tokens?.take(req.inputTokens);
    s.stats.admitted++;
    return ADMITTED;
  }
}
