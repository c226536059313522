/**
 * The `gateway:` section of a scenario, and the router it builds.
 *
 * ```yaml
 * gateway:
 *   policy: gie-default            # a name from `gatelab policies` (default round-robin)
 *   scrape_interval_ms: 50         # metrics scrape period (GIE/llm-d --refresh-metrics-interval, 50 ms)
 *   kv_event_delay_ms: 50          # KV-event delivery delay for precise-prefix / Dynamo (BLIS --cache-signal-delay)
 *   epp_config: epp/my-config.yaml # or an inline EndpointPickerConfig mapping; replaces `policy`
 *   params:                        # overrides for sweeps
 *     prefix-cache-scorer.weight: 5
 *     prefix-cache-affinity-filter.affinityThreshold: 0.6
 * ```
 * Defaults: `scrape_interval_ms` 50 — GIE v1.0 `--refresh-metrics-interval` and AIBrix
 * `AIBRIX_POD_METRIC_REFRESH_INTERVAL_MS` (docs/reference.md#signals-and-freshness); `kv_event_delay_ms` 50 — BLIS's
 * `--cache-signal-delay` default, the lab's stand-in for ZMQ/NATS propagation of vLLM KV events. 0 for either
 * means "immediate" (an oracle gateway). `params` keys: see `registry.ts` and `epp/config.ts` `applyEppOverrides`.
 */
import { basename, resolve } from "node:path";
import { z } from "zod";
import { InputError, readTextInput } from "../errors.ts";
import {
  applyEppOverrides,
  type EppConfig,
  eppConfigToObject,
  loadEppConfig,
  normalizeEppConfig,
} from "./epp/config.ts";
import { createRouterFromEpp } from "./epp/pipeline.ts";
import { DEFAULT_EPP_VARIANT, EPP_VARIANTS } from "./epp/variants.ts";
import { POLICIES, policyNames } from "./registry.ts";
import type { Router, RouterInit } from "./types.ts";

export const DEFAULT_POLICY = "round-robin";

export const GatewaySchema = z
  .strictObject({
    policy: z
      .string()
      .refine((n) => POLICIES.has(n), {
        error: (iss) => `unknown policy "${String(iss.input)}"; accepted: ${policyNames().join(", ")}`,
      })
      .optional(),
    scrape_interval_ms: z.number().min(0).default(50),
    kv_event_delay_ms: z.number().min(0).default(50),
    epp_config: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
    /** Router semantics the Endpoint Picker runs with (`src/policies/epp/variants.ts`; default today's router). */
    epp_variant: z
      .enum(EPP_VARIANTS, { error: `expected one of ${EPP_VARIANTS.join(", ")}` })
      .default(DEFAULT_EPP_VARIANT),
    params: z.record(z.string(), z.unknown()).default({}),
  })
  .refine((g) => !(g.policy !== undefined && g.epp_config !== undefined), {
    message: "give either policy or epp_config, not both",
    path: ["epp_config"],
  });

export type GatewayConfig = z.output<typeof GatewaySchema>;

/**
 * Builds the router of a scenario's gateway. `epp_config` (a path relative to `baseDir`, or an inline mapping) wins
 * over `policy`; `params` are applied to either. Throws `InputError` for an unreadable or invalid config, an unknown
 * policy or a bad override.
 */
export function createRouter(gw: GatewayConfig, init: RouterInit, baseDir: string): Router {
  const params = gw.params ?? {};
  if (gw.epp_config !== undefined) {
    let cfg: EppConfig;
    let name: string;
    if (typeof gw.epp_config === "string") {
      const path = resolve(baseDir, gw.epp_config);
      let text: string;
      try {
        text = readTextInput(path, "EndpointPickerConfig", undefined, `"${gw.epp_config}"`);
      } catch (e) {
        throw new InputError(`gateway.epp_config: ${(e as Error).message}`);
      }
      cfg = loadEppConfig(text, gw.epp_config, gw.epp_variant);
      name = basename(gw.epp_config);
    } else {
      cfg = normalizeEppConfig(gw.epp_config, "gateway.epp_config", undefined, gw.epp_variant);
      name = "epp-config";
    }
    return createRouterFromEpp(applyEppOverrides(cfg, params), init, { name });
  }
  const policy = gw.policy ?? DEFAULT_POLICY;
  const entry = POLICIES.get(policy);
  if (entry === undefined) {
    throw new InputError(`gateway.policy: unknown policy "${policy}"; accepted: ${policyNames().join(", ")}`);
  }
  if (entry.epp !== undefined && gw.epp_variant !== entry.epp.variant) {
    // An EPP preset under other router semantics: reloaded with that variant's loader and defaults.
    const cfg = normalizeEppConfig(eppConfigToObject(entry.epp), `preset ${policy}`, undefined, gw.epp_variant);
    return createRouterFromEpp(applyEppOverrides(cfg, params), init, { name: policy });
  }
  if (Object.keys(params).length > 0 && entry.createWithParams !== undefined) {
    return entry.createWithParams(init, params, "gateway.params");
  }
  return entry.create(init);
}
