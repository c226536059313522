/**
 * Degradation tiers (the field's playbook for overload: serve worse rather than not at all). Each rule names an SLO
 * class, a condition (`saturated`: the gateway's saturation detector says the class's pool has no capacity) and an
 * action: `route_to_pool` (send the request to a smaller-model pool) or `max_output_tokens` (cap its answer). Rules
 * are checked on every attempt, in order; every matching rule applies. Counts per rule are reported.
 */
import { InputError } from "../errors.ts";
import type { Request } from "../sim/request.ts";
import type { DegradationRule } from "./flow-control/schema.ts";

export interface PoolRef {
  readonly name: string;
  readonly model: string;
}

export interface CompiledRule {
  readonly index: number;
  readonly cls: string;
  /** Target pool (route_to_pool) or undefined. */
  readonly pool: PoolRef | undefined;
  /** Output cap (max_output_tokens) or 0. */
  readonly maxOutput: number;
  /** Label in reports, e.g. `batch: max_output_tokens 128`. */
  readonly label: string;
  count: number;
}

/** Validates the rules against the pools (InputError naming the field). */
export function compileDegradation(
  rules: readonly DegradationRule[],
  pools: readonly PoolRef[],
  where = "gateway.degradation",
): CompiledRule[] {
  return rules.map((r, i) => {
    if ("route_to_pool" in r.action) {
      const name = r.action.route_to_pool;
      const pool = pools.find((p) => p.name === name);
      if (pool === undefined) {
        throw new InputError(
          `${where}.${i}.action.route_to_pool: no pool named "${name}"; pools: ${pools.map((p) => p.name).join(", ")}`,
        );
      }
      return { index: i, cls: r.class, pool, maxOutput: 0, label: `${r.class}: route_to_pool ${name}`, count: 0 };
    }
    const cap = r.action.max_output_tokens;
    return {
      index: i,
      cls: r.class,
      pool: undefined,
      maxOutput: cap,
      label: `${r.class}: max_output_tokens ${cap}`,
      count: 0,
    };
  });
}

/** The request as degraded by `rule` (a new object; the original is kept for the client). */
export function degrade(req: Request, rule: CompiledRule): Request {
  if (rule.pool !== undefined) return { ...req, model: rule.pool.model };
  return req.outputTokens > rule.maxOutput ? { ...req, outputTokens: rule.maxOutput } : req;
}
