import { basename, resolve } from "node:path";
import { z } from "zod";
import { InputError, readTextInput } from "../errors.ts";
import { applyEppOverrides, type EppConfig, loadEppConfig, normalizeEppConfig } from "./epp/config.ts";
import { createRouterFromEpp } from "./epp/pipeline.ts";
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
      cfg = loadEppConfig(text, gw.epp_config);
      name = basename(gw.epp_config);
    } else {
      cfg = normalizeEppConfig(gw.epp_config, "gateway.epp_config");
      name = "epp-config";
    }
    return createRouterFromEpp(applyEppOverrides(cfg, params), init, { name });
  }
  const policy = gw.policy ?? DEFAULT_POLICY;
  const entry = POLICIES.get(policy);
  if (entry === undefined) {
    throw new InputError(`gateway.policy: unknown policy "${policy}"; accepted: ${policyNames().join(", ")}`);
  }
  if (Object.keys(params).length > 0 && entry.createWithParams !== undefined) {
    return entry.createWithParams(init, params, "gateway.params");
  }
  return entry.create(init);
}
