/**
 * Named routing policies (`--policy NAME`). Each entry builds a fresh router for one run: the simple routers, the
 * routers people compare against (one file each in `routers/`), and EndpointPickerConfig presets (`epp/presets.ts`)
 * run by the Endpoint Picker pipeline. A new router is one file plus one entry here.
 *
 * `createWithParams(init, params, where)` applies `gateway.params` overrides: for a router, keys
 * `<policy>.<parameter>` (e.g. `dynamo-kv.temperature`); for an EPP preset, `<plugin name>.weight` or
 * `<plugin name>.<parameter>` (e.g. `prefix-cache-scorer.weight`). Unknown keys are `InputError`s.
 */
import type { z } from "zod";
import { InputError, schemaIssueText } from "../errors.ts";
import { applyEppOverrides, type EppConfig, normalizeEppConfig } from "./epp/config.ts";
import { createRouterFromEpp } from "./epp/pipeline.ts";
import { EPP_PRESETS } from "./epp/presets.ts";
import { AibrixPrefixCacheRouter, aibrixParams } from "./routers/aibrix-prefix-cache.ts";
import { ConsistentHashRouter, consistentHashParams } from "./routers/consistent-hash.ts";
import { DynamoKvRouter, dynamoKvParams } from "./routers/dynamo-kv.ts";
import { GieV03DecisionTreeRouter, gieV03Params } from "./routers/gie-v03-decision-tree.ts";
import { LeastRequestRouter } from "./routers/least-request.ts";
import { PowerOfTwoRouter, powerOfTwoParams } from "./routers/power-of-two.ts";
import { PrebleE2Router, prebleParams } from "./routers/preble-e2.ts";
import { RandomRouter } from "./routers/random.ts";
import { RoundRobinRouter } from "./routers/round-robin.ts";
import { SglangCacheAwareRouter, sglangParams } from "./routers/sglang-cache-aware.ts";
import { VllmPrefixAwareRouter, vllmPrefixAwareParams } from "./routers/vllm-prefix-aware.ts";
import { VllmSessionRouter, vllmSessionParams } from "./routers/vllm-session.ts";
import type { Router, RouterInit } from "./types.ts";

export interface PolicyEntry {
  readonly name: string;
  readonly description: string;
  readonly source: string;
  create(init: RouterInit): Router;
  /** Builds with `gateway.params` overrides (see the header); `where` names the field in messages. */
  createWithParams?(init: RouterInit, params: Readonly<Record<string, unknown>>, where?: string): Router;
  /** For EPP presets: the EndpointPickerConfig it runs. */
  readonly epp?: EppConfig;
  /** Accepted `gateway.params` keys for routers (EPP presets: `<plugin>.weight` / `<plugin>.<param>`). */
  readonly paramKeys?: readonly string[];
}

function plain(name: string, description: string, source: string, make: () => Router): PolicyEntry {
  return {
    name,
    description,
    source,
    create: make,
    createWithParams: (_init, params, where = "gateway.params") => {
      const keys = Object.keys(params);
      if (keys.length > 0) throw new InputError(`${where}: "${keys[0]}": policy ${name} takes no parameters`);
      return make();
    },
    paramKeys: [],
  };
}

function routerEntry<S extends z.ZodType>(
  name: string,
  description: string,
  source: string,
  schema: S,
  make: (init: RouterInit, params: z.output<S>) => Router,
): PolicyEntry {
  const shape = (schema as unknown as { shape: Record<string, unknown> }).shape;
  const accepted = Object.keys(shape).map((k) => `${name}.${k}`);
  return {
    name,
    description,
    source,
    create: (init) => make(init, schema.parse({})),
    createWithParams: (init, params, where = "gateway.params") => {
      const raw: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(params)) {
        if (!key.startsWith(`${name}.`) || !(key.slice(name.length + 1) in shape)) {
          throw new InputError(
            `${where}: unknown parameter "${key}" for policy ${name}; accepted: ${accepted.join(", ")}`,
          );
        }
        raw[key.slice(name.length + 1)] = value;
      }
      const r = schema.safeParse(raw);
      if (!r.success) {
        const issue = r.error.issues[0]!;
        throw new InputError(
          `${where}: "${name}.${issue.path.join(".")}": ${schemaIssueText(issue, raw).replace(/^Invalid input: /, "")}`,
        );
      }
      return make(init, r.data);
    },
    paramKeys: accepted,
  };
}

function eppEntry(name: string, description: string, source: string, raw: Record<string, unknown>): PolicyEntry {
  const cfg = normalizeEppConfig(raw, `preset ${name}`);
  return {
    name,
    description,
    source,
    epp: cfg,
    create: (init) => createRouterFromEpp(cfg, init, { name }),
    createWithParams: (init, params, where) =>
      createRouterFromEpp(applyEppOverrides(cfg, params, where), init, { name }),
  };
}

const routers: PolicyEntry[] = [
  plain(
    "round-robin",
    "cycle through replicas in order; blind to load and cache",
    "Envoy/BLIS/Vidur round-robin",
    () => new RoundRobinRouter(),
  ),
  plain("random", "uniformly random replica (seeded)", "GIE random-picker, Vidur random", () => new RandomRouter()),
  plain(
    "least-request",
    "fewest in-flight requests from this gateway (fresh), random tie-break",
    "Envoy LEAST_REQUEST, Vidur lor",
    () => new LeastRequestRouter(),
  ),
  routerEntry(
    "power-of-two",
    "two random replicas, the one with fewer in-flight requests wins",
    "Mitzenmacher 2001; SGLang power_of_two, Ray Serve",
    powerOfTwoParams,
    (init, p) => new PowerOfTwoRouter(p, init.traceDecisions === true),
  ),
  routerEntry(
    "gie-v0.3-decision-tree",
    "GIE v0.3 hard-coded filter tree (criticality split, drops non-critical when no pod has capacity)",
    "GIE v0.3.0 pkg/epp/scheduling/{filter.go,scheduler.go}",
    gieV03Params,
    (_init, p) => new GieV03DecisionTreeRouter(p),
  ),
];

const comparedRouters: PolicyEntry[] = [
  routerEntry(
    "dynamo-kv",
    "NVIDIA Dynamo KV router: argmin overlap_weight·prefill_blocks + decode_blocks (KV events)",
    "ai-dynamo/dynamo docs/router/kv_cache_routing.md, lib/kv-router/src/scheduling",
    dynamoKvParams,
    (init, p) => new DynamoKvRouter(init, p),
  ),
  routerEntry(
    "sglang-cache-aware",
    "SGLang router cache_aware: prefix tree match > 0.3 → holder, else smallest tree; least load when imbalanced",
    "sgl-project/sglang sgl-router/src/policies/cache_aware.rs",
    sglangParams,
    (init, p) => new SglangCacheAwareRouter(init, p),
  ),
  routerEntry(
    "aibrix-prefix-cache",
    "AIBrix prefix-cache: longest block match among pods not above mean+σ in-flight; imbalance gate 8",
    "vllm-project/aibrix pkg/plugins/gateway/algorithms/prefix_cache.go",
    aibrixParams,
    (init, p) => new AibrixPrefixCacheRouter(init, p),
  ),
  routerEntry(
    "vllm-session",
    "vLLM production-stack session router: consistent hash of the session, else lowest QPS",
    "vllm-project/production-stack src/vllm_router/routers/routing_logic.py",
    vllmSessionParams,
    (init, p) => new VllmSessionRouter(init, p),
  ),
  routerEntry(
    "vllm-prefix-aware",
    "vLLM production-stack prefixaware: random among endpoints with the longest 128-char-chunk match",
    "vllm-project/production-stack routing_logic.py, prefix/hashtrie.py",
    vllmPrefixAwareParams,
    (init, p) => new VllmPrefixAwareRouter(init, p),
  ),
  routerEntry(
    "consistent-hash",
    "consistent hash of the session id onto a ring (160 virtual nodes); load- and cache-blind",
    "SGLang router consistent_hash; Envoy ring hash",
    consistentHashParams,
    (_init, p) => new ConsistentHashRouter(p),
  ),
  routerEntry(
    "preble-e2",
    "Preble E2: exploit the GPU holding the prefix when cached > missed, else explore by load + eviction cost",
    "Preble (ICLR 2025), WukLab/preble global_scheduler_with_time.py",
    prebleParams,
    (init, p) => new PrebleE2Router(init, p),
  ),
];

const entries: PolicyEntry[] = [
  ...routers,
  ...EPP_PRESETS.map((p) => eppEntry(p.name, p.description, p.source, p.config)),
  ...comparedRouters,
];

export const POLICIES: ReadonlyMap<string, PolicyEntry> = new Map(entries.map((e) => [e.name, e]));

export function policyNames(): string[] {
  return [...POLICIES.keys()];
}
