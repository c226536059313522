/**
 * The catalogue of EndpointPickerConfig plugin types gatelab accepts: real type names and aliases (reference/
 * policies.md §2.9 "Plugin type catalogue"), each with its parameter schema (strict: unknown parameters are errors)
 * and its factory. Three groups:
 * - simulated: filters, scorers, pickers, profile handlers, deciders, data producers, saturation detectors;
 * - config-only: types that shape parts gatelab models elsewhere or not at all (flow-control policies, data layer,
 *   parser, tokenizer, admitters): accepted with any parameters, no effect on routing (the admission layer reads
 *   `flowControl` / `saturationDetector` / admitters from the loaded config);
 * - recognised but not simulated (latency predictor, pod labels): a clear error.
 */
import { z } from "zod";
import { type AffinityFilterParams, affinityFilterParams, PrefixCacheAffinityFilter } from "./affinity-filter.ts";
import {
  DecisionTreeFilter,
  decisionTreeParams,
  LeastKvCacheFilter,
  LeastQueueFilter,
  LoraAffinityFilter,
  LowQueueFilter,
  loraAffinityFilterParams,
  lowQueueParams,
  RoleFilter,
  type TreeNode,
  treeRefs,
} from "./filters.ts";
import type { BuildEnv, Decider, Filter, Plugin } from "./framework.ts";
import { InflightLoadProducer, inflightParams, TokenLoadScorer, tokenLoadParams } from "./inflight.ts";
import { anything, none, nonNeg, pickerParams, unit } from "./params.ts";
import { MaxScorePicker, RandomPicker, WeightedRandomPicker } from "./pickers.ts";
import { PrecisePrefixCacheScorer, preciseParams } from "./precise-prefix.ts";
import {
  ApproxPrefixProducer,
  PrefixCacheScorer,
  prefixProducerParams,
  prefixScorerParams,
  resolvePrefixSettings,
} from "./prefix.ts";
import {
  ConstantDecider,
  DisaggProfileHandler,
  dataParallelParams,
  disaggParams,
  PrefixBasedPdDecider,
  prefixDeciderParams,
  SingleProfileHandler,
} from "./profiles.ts";
import {
  ConcurrencyDetector,
  concurrencyParams,
  type EndpointSaturation,
  UtilizationDetector,
  utilizationParams,
} from "./saturation.ts";
import {
  ActiveRequestScorer,
  KvCacheUtilizationScorer,
  LoadAwareScorer,
  LoraAffinityScorer,
  QueueScorer,
  RunningRequestsSizeScorer,
} from "./scorers.ts";
import { NoHitLruScorer, noHitLruParams, SessionAffinityScorer, sessionAffinityParams } from "./session.ts";

export type PluginKind =
  | "filter"
  | "scorer"
  | "picker"
  | "profile-handler"
  | "decider"
  | "producer"
  | "detector"
  | "config";

/** A reference from one plugin's parameters to another plugin (validated at load time). */
export interface PluginRef {
  /** Path inside `parameters`. */
  readonly path: readonly (string | number)[];
  readonly name: string;
  /** Kinds the referenced plugin may have. */
  readonly kinds: readonly PluginKind[];
}

export interface PluginTypeInfo {
  readonly type: string;
  readonly kind: PluginKind;
  /** One line for `gatelab policies --plugins` and docs. */
  readonly summary: string;
  /** Validates and defaults `parameters`. */
  readonly params: z.ZodType;
  /** Accepted parameter names (undefined: any, the type is config-only). */
  readonly paramKeys: readonly string[] | undefined;
  /** Plugin references inside the (parsed) parameters. */
  refs?(params: unknown): PluginRef[];
  /** Builds the instance (undefined: config-only, no routing effect). */
  build?(name: string, params: unknown, env: BuildEnv): Plugin;
}

function keysOf(schema: z.ZodType): readonly string[] {
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
  return shape === undefined ? [] : Object.keys(shape);
}

function def<S extends z.ZodType>(
  type: string,
  kind: PluginKind,
  summary: string,
  params: S,
  build?: (name: string, params: z.output<S>, env: BuildEnv) => Plugin,
  refs?: (params: z.output<S>) => PluginRef[],
): PluginTypeInfo {
  const info: PluginTypeInfo = {
    type,
    kind,
    summary,
    params,
    paramKeys: params === (anything as z.ZodType) ? undefined : keysOf(params),
  };
  return {
    ...info,
    ...(build !== undefined ? { build: (n: string, p: unknown, e: BuildEnv) => build(n, p as z.output<S>, e) } : {}),
    ...(refs !== undefined ? { refs: (p: unknown) => refs(p as z.output<S>) } : {}),
  };
}

const configOnly = (type: string, summary: string): PluginTypeInfo => def(type, "config", summary, anything);

const FILTER_KINDS: readonly PluginKind[] = ["filter", "detector"];

const TYPES: PluginTypeInfo[] = [
  // ---- scorers
  def(
    "queue-scorer",
    "scorer",
    "min-max of waiting requests: (max−q)/(max−min), all equal → 1",
    none,
    (n) => new QueueScorer(n),
  ),
  def("kv-cache-utilization-scorer", "scorer", "1 − KV-cache usage", none, (n) => new KvCacheUtilizationScorer(n)),
  def(
    "running-requests-size-scorer",
    "scorer",
    "min-max of running requests, all equal → 1",
    none,
    (n) => new RunningRequestsSizeScorer(n),
  ),
  def(
    "lora-affinity-scorer",
    "scorer",
    "1 adapter running, 0.8 free slot, 0.6 adapter waiting, else 0",
    none,
    (n) => new LoraAffinityScorer(n),
  ),
  def(
    "prefix-cache-scorer",
    "scorer",
    "matched blocks / request blocks from the router's approximate prefix index",
    prefixScorerParams,
    (n, p, env) => new PrefixCacheScorer(n, p, env.prefixProducer()),
  ),
  def(
    "token-load-scorer",
    "scorer",
    "1 − min(in-flight tokens + this request's uncached tokens, 4194304)/4194304",
    tokenLoadParams,
    (n, p, env) => new TokenLoadScorer(n, p, env.inflightProducer()),
  ),
  def(
    "load-aware-scorer",
    "scorer",
    "0.5 when nothing waits, else 0.5·(1 − min(waiting, 128)/128)",
    z.strictObject({ threshold: z.number().positive().default(128) }),
    (n, p) => new LoadAwareScorer(n, p),
  ),
  def(
    "active-request-scorer",
    "scorer",
    "router-local in-flight requests: 1 when idle, else (max−count)/max·maxBusyScore",
    z.strictObject({
      idleThreshold: nonNeg.default(0),
      maxBusyScore: unit.default(1),
      requestTimeout: z.unknown().optional(),
    }),
    (n, p) => new ActiveRequestScorer(n, p),
  ),
  def(
    "session-affinity-scorer",
    "scorer",
    "1 for the pod bound to the request's session, else 0",
    sessionAffinityParams,
    (n, p) => new SessionAffinityScorer(n, p),
  ),
  def(
    "no-hit-lru-scorer",
    "scorer",
    "on a cold request (no prefix hit anywhere) prefer pods least recently given a cold request; else 0.5",
    noHitLruParams,
    (n, p, env) => {
      const ref = p.prefixPluginName ?? p.prefixPluginType;
      const t = env.typeOf(ref) ?? p.prefixPluginType;
      const provider =
        t === "precise-prefix-cache-scorer" ? (env.plugin(ref) as PrecisePrefixCacheScorer) : env.prefixProducer();
      return new NoHitLruScorer(n, p, provider, env.init.replicas);
    },
    (p) =>
      p.prefixPluginName !== undefined
        ? [{ path: ["prefixPluginName"], name: p.prefixPluginName, kinds: ["scorer"] }]
        : [],
  ),
  def(
    "precise-prefix-cache-scorer",
    "scorer",
    "longest cached prefix per pod from replica KV events (delayed), / request blocks",
    preciseParams,
    (n, p, env) => new PrecisePrefixCacheScorer(n, p, env.init),
  ),
  // ---- filters
  def(
    "prefix-cache-affinity-filter",
    "filter",
    "keep pods whose prefix match ≥ affinityThreshold unless that costs > maxTTFTPenaltyMs (or they saturate)",
    affinityFilterParams,
    (n, p: AffinityFilterParams, env) =>
      new PrefixCacheAffinityFilter(
        n,
        p,
        env.prefixProducer(),
        env.inflightProducer(),
        p.saturationDetectorRef !== undefined
          ? (env.plugin(p.saturationDetectorRef) as unknown as EndpointSaturation)
          : undefined,
      ),
    (p) =>
      p.saturationDetectorRef !== undefined
        ? [{ path: ["saturationDetectorRef"], name: p.saturationDetectorRef, kinds: ["detector"] }]
        : [],
  ),
  def(
    "decision-tree-filter",
    "filter",
    "legacy GIE decision tree: run `current`, then the success (filtered list) or failure (unfiltered) branch",
    decisionTreeParams,
    (n, p: TreeNode, env) => new DecisionTreeFilter(n, p, (name) => env.plugin(name) as Filter),
    (p: TreeNode) => treeRefs(p).map((name) => ({ path: [], name, kinds: FILTER_KINDS })),
  ),
  def(
    "low-queue-filter",
    "filter",
    "keep waiting ≤ threshold (128)",
    lowQueueParams,
    (n, p) => new LowQueueFilter(n, p),
  ),
  def(
    "lora-affinity-filter",
    "filter",
    "adapter active/waiting pods with probability threshold (0.999), else pods with a free adapter slot",
    loraAffinityFilterParams,
    (n, p) => new LoraAffinityFilter(n, p),
  ),
  def("least-queue-filter", "filter", "keep waiting ≤ min + ⌊(max−min)/N⌋", none, (n) => new LeastQueueFilter(n)),
  def("least-kv-cache-filter", "filter", "keep KV usage ≤ min + (max−min)/N", none, (n) => new LeastKvCacheFilter(n)),
  def(
    "decode-filter",
    "filter",
    "P/D role filter: pods without a role label pass (all, in gatelab)",
    none,
    (n) => new RoleFilter(n, "decode-filter"),
  ),
  def(
    "prefill-filter",
    "filter",
    "P/D role filter: needs the prefill role label (none, in gatelab)",
    none,
    (n) => new RoleFilter(n, "prefill-filter"),
  ),
  def(
    "encode-filter",
    "filter",
    "P/D role filter: needs the encode role label (none, in gatelab)",
    none,
    (n) => new RoleFilter(n, "encode-filter"),
  ),
  // ---- pickers
  def(
    "max-score-picker",
    "picker",
    "highest total score, seeded random tie-break",
    pickerParams,
    (n) => new MaxScorePicker(n),
  ),
  def("random-picker", "picker", "uniformly random candidate", pickerParams, (n) => new RandomPicker(n)),
  def(
    "weighted-random-picker",
    "picker",
    "random with probability ∝ total score (A-Res)",
    pickerParams,
    (n) => new WeightedRandomPicker(n),
  ),
  // ---- profile handlers
  def(
    "single-profile-handler",
    "profile-handler",
    "runs the one profile",
    none,
    (n, _p, env) => new SingleProfileHandler(n, "single-profile-handler", env.profileNames[0]!),
  ),
  def(
    "disagg-profile-handler",
    "profile-handler",
    "P/D: decode profile (primary), then prefill/encode when their deciders approve",
    disaggParams,
    (n, p, env) =>
      new DisaggProfileHandler(
        n,
        p,
        p.deciders?.prefill !== undefined ? (env.plugin(p.deciders.prefill) as Decider) : undefined,
        p.deciders?.encode !== undefined ? (env.plugin(p.deciders.encode) as Decider) : undefined,
      ),
    (p) => {
      const out: PluginRef[] = [];
      if (p.deciders?.prefill !== undefined)
        out.push({ path: ["deciders", "prefill"], name: p.deciders.prefill, kinds: ["decider"] });
      if (p.deciders?.encode !== undefined)
        out.push({ path: ["deciders", "encode"], name: p.deciders.encode, kinds: ["decider"] });
      return out;
    },
  ),
  def(
    "data-parallel-profile-handler",
    "profile-handler",
    "deprecated; one profile, as single",
    dataParallelParams,
    (n, _p, env) => new SingleProfileHandler(n, "data-parallel-profile-handler", env.profileNames[0]!),
  ),
  // ---- deciders
  def(
    "prefix-based-pd-decider",
    "decider",
    "disaggregate when the uncached prompt on the decode pod ≥ nonCachedTokens (0 = never)",
    prefixDeciderParams,
    (n, p, env) => new PrefixBasedPdDecider(n, p, env.prefixProducer()),
  ),
  def(
    "always-disagg-pd-decider",
    "decider",
    "always disaggregate",
    none,
    (n) => new ConstantDecider(n, "always-disagg-pd-decider", true),
  ),
  def(
    "always-disagg-multimodal-decider",
    "decider",
    "disaggregate multimodal requests (never, in gatelab: text only)",
    none,
    (n) => new ConstantDecider(n, "always-disagg-multimodal-decider", false),
  ),
  // ---- data producers
  def(
    "approx-prefix-cache-producer",
    "producer",
    "the router-side approximate prefix index (block size, max blocks, LRU per server)",
    prefixProducerParams,
    (n, p, env) => new ApproxPrefixProducer(n, resolvePrefixSettings(p, env.init), env.init),
  ),
  def(
    "inflight-load-producer",
    "producer",
    "router-local in-flight requests and tokens per endpoint",
    inflightParams,
    (n, p, env) => new InflightLoadProducer(n, p, env.init, env.prefixProducer()),
  ),
  configOnly("token-producer", "tokenizer backend (gatelab requests carry token counts already)"),
  // ---- detectors
  def(
    "utilization-detector",
    "detector",
    "saturated when stale (>200ms) or waiting ≥ 5 or KV ≥ 0.8; as a filter keeps the unsaturated (fail open)",
    utilizationParams,
    (n, p) => new UtilizationDetector(n, p),
  ),
  def(
    "concurrency-detector",
    "detector",
    "router-local in-flight vs maxConcurrency (requests or tokens); as a filter drops full endpoints",
    concurrencyParams,
    (n, p) => new ConcurrencyDetector(n, p),
  ),
  // ---- config-only
  configOnly(
    "probabilistic-admitter",
    "sheds sheddable traffic with probability min(sat^power·k, 1) (admission layer)",
  ),
  configOnly("global-strict-fairness-policy", "flow control: one global order per band (admission layer)"),
  configOnly("round-robin-fairness-policy", "flow control: round-robin over flows (admission layer)"),
  configOnly("fcfs-ordering-policy", "flow control: first come first served (admission layer)"),
  configOnly("edf-ordering-policy", "flow control: earliest deadline first (admission layer)"),
  configOnly("slo-deadline-ordering-policy", "flow control: SLO deadline order (admission layer)"),
  configOnly("static-usage-limit-policy", "flow control: static saturation ceiling (admission layer)"),
  configOnly("metrics-data-source", "data layer: scrapes /metrics (gatelab scrapes every scrape_interval_ms)"),
  configOnly("core-metrics-extractor", "data layer: maps engine metrics to signals"),
  configOnly("endpoint-notification-source", "data layer: endpoint notifications"),
  configOnly("openai-parser", "request parser (gatelab requests are already parsed)"),
];

export const PLUGIN_TYPES: ReadonlyMap<string, PluginTypeInfo> = new Map(TYPES.map((t) => [t.type, t]));

/** Older or alternative type names → canonical type. */
export const PLUGIN_ALIASES: ReadonlyMap<string, string> = new Map([
  ["kv-cache-scorer", "kv-cache-utilization-scorer"],
  ["pd-profile-handler", "disagg-profile-handler"],
  ["tokenizer", "token-producer"],
]);

/** Real plugin types gatelab recognises but does not simulate, with the reason. */
export const NOT_SIMULATED: ReadonlyMap<string, string> = new Map([
  ["latency-scorer", "needs the online-trained latency predictor"],
  ["predicted-latency-scorer", "needs the online-trained latency predictor"],
  ["predicted-latency-producer", "needs the online-trained latency predictor"],
  ["slo-headroom-tier-filter", "needs the online-trained latency predictor"],
  ["latency-slo-admitter", "needs the online-trained latency predictor"],
  ["context-length-aware", "needs pod labels (llm-d.ai/context-length-range), which gatelab pools do not carry"],
  ["label-selector-filter", "needs pod labels, which gatelab pools do not carry"],
  ["by-label-selector", "needs pod labels, which gatelab pools do not carry"],
  ["by-label", "needs pod labels, which gatelab pools do not carry"],
]);

export function canonicalType(type: string): string {
  return PLUGIN_ALIASES.get(type) ?? type;
}

/** Every accepted type name (canonical and aliases), sorted, for error messages. */
export function acceptedTypes(): string[] {
  return [...PLUGIN_TYPES.keys(), ...PLUGIN_ALIASES.keys()].sort();
}

/** Kinds a profile may reference: filters (detectors act as filters there), scorers, one picker. */
export function profileRole(kind: PluginKind): "filter" | "scorer" | "picker" | undefined {
  if (kind === "filter" || kind === "detector") return "filter";
  if (kind === "scorer" || kind === "picker") return kind;
  return undefined;
}
