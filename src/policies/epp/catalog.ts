/**
 * The one registry of EndpointPickerConfig plugin types: every type the real loaders register (llm-d/llm-d-router
 * `cmd/epp/runner/runner.go` L570–L728 at `ebab6879`, GIE release-1.5 `cmd/epp/runner/runner.go`) and every type
 * of the config corpus `../shared/data/epp-configs/`, each with its kind (what the loader lets other sections refer
 * to it as) and its status:
 * - `simulated`: a parameter schema (strict: unknown parameters are errors) and a factory;
 * - `no-op`: loads and runs, but cannot change a routing decision in gatelab (parsers, reporters, header handlers,
 *   data sources whose data no simulated plugin reads); the run prints a note saying so;
 * - `not-simulated`: real, recognised, refused when the config is run: "recognised, not simulated: <why>";
 * - `test-only`: stand-ins for the loader tests' mock types (`pkg/epp/config/loader/configloader_test.go`
 *   L1111–L1231), so the loader fixtures are validated as the real loader does; refused when run.
 * Adding a scorer: its class (with its parameter schema) in one file, and one `def(...)` line below.
 */
import { z } from "zod";
import { programAwareParams, softReflectiveParams } from "../flow-control/policies.ts";
import { ProbabilisticAdmitter, probabilisticAdmitterParams } from "./admitter.ts";
import { type AffinityFilterParams, affinityFilterParams, PrefixCacheAffinityFilter } from "./affinity-filter.ts";
import { BurstPrefixProducer, burstParams } from "./burst.ts";
import {
  EndpointAttributeFilter,
  EndpointAttributeScorer,
  endpointAttributeFilterParams,
  endpointAttributeScorerParams,
} from "./endpoint-attribute.ts";
import {
  ByLabelFilter,
  byLabelParams,
  DecisionTreeFilter,
  decisionTreeParams,
  LabelSelectorFilter,
  LeastKvCacheFilter,
  LeastQueueFilter,
  LoraAffinityFilter,
  LowQueueFilter,
  labelSelectorParams,
  loraAffinityFilterParams,
  lowQueueParams,
  RoleFilter,
  type TreeNode,
  treeRefs,
} from "./filters.ts";
import type { BuildEnv, Decider, Filter, InflightTokens, Plugin, PrefixMatchProvider } from "./framework.ts";
import { InflightLoadProducer, inflightParams, TokenLoadScorer, tokenLoadParams } from "./inflight.ts";
import {
  LatencyScorer,
  LatencySloAdmitter,
  latencyProducer,
  latencyScorerParams,
  latencySloAdmitterParams,
  PredictedLatencyProducer,
  predictedLatencyParams,
  SloHeadroomTierFilter,
  sloHeadroomTierParams,
} from "./latency-predictor.ts";
import { GiePredictedLatencyScorer, gieLatencyScorerParams } from "./latency-scorer-gie15.ts";
import { anything, none, pickerParams } from "./params.ts";
import { MaxScorePicker, RandomPicker, WeightedRandomPicker } from "./pickers.ts";
import { PrecisePrefixCacheScorer, PrecisePrefixProducer, preciseParams } from "./precise-prefix.ts";
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
  | "parser"
  | "data-source"
  | "extractor"
  | "fairness"
  | "ordering"
  | "usage-limit"
  | "admitter"
  | "request-control"
  | "discovery"
  /** A bare plugin with no scheduling role (the loader tests' `test-plugin`). */
  | "plugin";

export type PluginStatus = "simulated" | "no-op" | "not-simulated" | "test-only";

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
  readonly status: PluginStatus;
  /**
   * no-op: why it cannot change routing; not-simulated / test-only: why it is refused; simulated: what gatelab does
   * differently (printed in the run's notes).
   */
  readonly why?: string;
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
    status: "simulated",
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

/**
 * Simulated outside the routing pipeline, so no pipeline instance: by the admission layer (it reads the loaded
 * config), or as a data-layer plugin whose data simulated plugins read through `BuildEnv`.
 */
const simulatedOutsidePipeline = (type: string, kind: PluginKind, summary: string): PluginTypeInfo => ({
  type,
  kind,
  status: "simulated",
  summary,
  params: anything,
  paramKeys: undefined,
});
const admission = simulatedOutsidePipeline;
const dataLayer = simulatedOutsidePipeline;

/** What the DCGM GPU-utilization signal is in gatelab (endpoint-attribute.ts). */
const GPU_UTIL_WHY =
  "GPU utilization is the share of each DCGM poll interval the replica had requests running (integrated at each metrics scrape; a vLLM engine runs forward passes back to back while it has work)";

/** Accepted with any parameters; runs, with a note, because it cannot change a routing decision. */
const noop = (type: string, kind: PluginKind, why: string): PluginTypeInfo => ({
  type,
  kind,
  status: "no-op",
  why,
  summary: `no-op: ${why}`,
  params: anything,
  paramKeys: undefined,
});

/** Recognised (it loads), refused when run: "recognised, not simulated: <why>". */
const refused = (type: string, kind: PluginKind, why: string): PluginTypeInfo => ({
  type,
  kind,
  status: "not-simulated",
  why,
  summary: `not simulated: ${why}`,
  params: anything,
  paramKeys: undefined,
});

const TEST_ONLY_WHY =
  "a mock type registered only by the loader tests (llm-d-router pkg/epp/config/loader/configloader_test.go L1111–L1231); it has no behaviour to simulate";

/** A loader-test mock: validated like the real mock (its parameter struct, its plugin references), refused when run. */
function testOnly(
  type: string,
  kind: PluginKind,
  params: z.ZodType = anything,
  refs?: (p: unknown) => PluginRef[],
): PluginTypeInfo {
  return {
    type,
    kind,
    status: "test-only",
    why: TEST_ONLY_WHY,
    summary: "test-only mock of the loader tests",
    params,
    paramKeys: undefined,
    ...(refs !== undefined ? { refs } : {}),
  };
}

const anyRef = (name: string, path: (string | number)[]): PluginRef => ({ path, name, kinds: ALL_KINDS });
const ALL_KINDS: readonly PluginKind[] = [
  "filter",
  "scorer",
  "picker",
  "profile-handler",
  "decider",
  "producer",
  "detector",
  "parser",
  "data-source",
  "extractor",
  "fairness",
  "ordering",
  "usage-limit",
  "admitter",
  "request-control",
  "discovery",
  "plugin",
];

/** The mocks' Go structs decode unknown JSON fields silently (json.Decoder without DisallowUnknownFields). */
const loose = <T extends z.core.$ZodLooseShape>(shape: T) => z.looseObject(shape);
const dependencyParams = loose({ dependency: z.string().optional(), pointedTo: z.string().nullish() });
const nestedDependencyParams = loose({
  nested: loose({ dependency: z.string().optional() }).optional(),
  nestedPtr: loose({ dependency: z.string().optional() }).nullish(),
  extras: z.array(z.string()).nullish(),
  pointedTo: z.string().nullish(),
});

/** A simulated type whose model differs from the real plugin in a way the run output must state. */
const caveat = (info: PluginTypeInfo, why: string): PluginTypeInfo => ({ ...info, why });

const FILTER_KINDS: readonly PluginKind[] = ["filter", "detector"];

const latencyRefs = (name: string | undefined): PluginRef[] =>
  name !== undefined ? [{ path: ["latencyPredictionInfoProducerName"], name, kinds: ["producer"] }] : [];

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
    (n, p, env) => {
      if (p.mode === "cache_tracking") {
        const tpc = (p.indexerConfig?.tokenProcessorConfig ?? {}) as Record<string, unknown>;
        const blockSize = typeof tpc.blockSize === "number" ? tpc.blockSize : undefined;
        return new PrecisePrefixCacheScorer(
          n,
          preciseParams.parse({
            ...(blockSize !== undefined ? { tokenProcessorConfig: { blockSize } } : {}),
            normalization: "minmax",
          }),
          env.init,
        );
      }
      const provider =
        p.prefixMatchInfoProducerName !== undefined
          ? (env.plugin(p.prefixMatchInfoProducerName) as unknown as PrefixMatchProvider)
          : env.prefixProducer();
      return new PrefixCacheScorer(n, p, provider);
    },
    (p) =>
      p.prefixMatchInfoProducerName !== undefined
        ? [{ path: ["prefixMatchInfoProducerName"], name: p.prefixMatchInfoProducerName, kinds: ["producer"] }]
        : [],
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
    // llm-d-router scorer/loadaware/load_aware.go L19–L51: an int; ≤ 0 falls back to 128 (logged, not an error).
    z.strictObject({
      threshold: z
        .number()
        .int()
        .default(128)
        .transform((t) => (t > 0 ? t : 128)),
    }),
    (n, p) => new LoadAwareScorer(n, p),
  ),
  def(
    "active-request-scorer",
    "scorer",
    "router-local in-flight requests: 1 when idle, else (max−count)/max·maxBusyScore",
    // llm-d-router scorer/activerequest/active_request.go L23–L112: idleThreshold an int (negative → 0),
    // maxBusyScore outside [0, 1] → 1 (logged), requestTimeout deprecated and ignored.
    z.strictObject({
      idleThreshold: z
        .number()
        .int()
        .default(0)
        .transform((t) => Math.max(0, t)),
      maxBusyScore: z
        .number()
        .default(1)
        .transform((m) => (m >= 0 && m <= 1 ? m : 1)),
      requestTimeout: z.unknown().optional(),
      inFlightLoadProducerName: z.string().optional(),
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
      const ref = p.prefixMatchInfoProducerName ?? p.prefixPluginName ?? p.prefixPluginType;
      const t = env.typeOf(ref) ?? p.prefixPluginType;
      const provider =
        t === "precise-prefix-cache-scorer" || t === "precise-prefix-cache-producer"
          ? (env.plugin(ref) as PrecisePrefixCacheScorer)
          : env.prefixProducer();
      return new NoHitLruScorer(n, p, provider, env.init.replicas);
    },
    (p) => [
      ...(p.prefixPluginName !== undefined
        ? [{ path: ["prefixPluginName"], name: p.prefixPluginName, kinds: ["scorer"] as PluginKind[] }]
        : []),
      ...(p.prefixMatchInfoProducerName !== undefined
        ? [
            {
              path: ["prefixMatchInfoProducerName"],
              name: p.prefixMatchInfoProducerName,
              kinds: ["producer"] as PluginKind[],
            },
          ]
        : []),
    ],
  ),
  def(
    "precise-prefix-cache-producer",
    "producer",
    "KV-event block index (delayed); publishes the longest held prefix per pod for prefix-cache-scorer",
    preciseParams,
    (n, p, env) => new PrecisePrefixProducer(n, p, env.init),
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
        p.ttftSource === "latencyPredictor" && p.maxTTFTPenaltyMs > 0
          ? latencyProducer(env, p.latencyPredictionInfoProducerName)
          : undefined,
      ),
    (p) =>
      (p.saturationDetectorRef !== undefined
        ? [{ path: ["saturationDetectorRef"], name: p.saturationDetectorRef, kinds: ["detector"] as PluginKind[] }]
        : ([] as PluginRef[])
      ).concat(latencyRefs(p.latencyPredictionInfoProducerName)),
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
    "P/D role filter on the pool label llm-d.ai/role (pods without it pass)",
    none,
    (n, _p, env) => new RoleFilter(n, "decode-filter", env.init.labels),
  ),
  def(
    "prefill-filter",
    "filter",
    "P/D role filter on the pool label llm-d.ai/role",
    none,
    (n, _p, env) => new RoleFilter(n, "prefill-filter", env.init.labels),
  ),
  def(
    "encode-filter",
    "filter",
    "P/D role filter on the pool label llm-d.ai/role",
    none,
    (n, _p, env) => new RoleFilter(n, "encode-filter", env.init.labels),
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
    "deprecated; one profile, as single; its endpoints are the pools' data-parallel ranks (X-Data-Parallel-Endpoint)",
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
    (n, p, env) => new ApproxPrefixProducer(n, resolvePrefixSettings(p, env.init, env.variant), env.init),
  ),
  def(
    "inflight-load-producer",
    "producer",
    "router-local in-flight requests and tokens per endpoint",
    inflightParams,
    (n, p, env) => new InflightLoadProducer(n, p, env.init, env.prefixProducer()),
  ),
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
  // ---- flow control (the admission layer runs them: src/policies/flow-control/)
  // llm-d-router pkg/epp/framework/plugins/flowcontrol/ (src/policies/flow-control/policies.ts has the semantics).
  admission(
    "global-strict-fairness-policy",
    "fairness",
    "flow control: the best head by the ordering policy across all flows of the band",
  ),
  admission(
    "round-robin-fairness-policy",
    "fairness",
    "flow control: flows (fairness id = tenant) in id order, the next non-empty one after the last picked",
  ),
  caveat(
    def(
      "program-aware-fairness",
      "fairness",
      "flow control: least attained service per program (tenant): 0.8·(1 − norm service) + 0.2·norm head wait; service = prompt + 2·completion tokens, half-life 60 s",
      programAwareParams,
    ),
    "the x-llm-d-inference-fairness-id header is the request's tenant; ties go to the smallest fairness id (the real one scans a Go map: unspecified order); its Prometheus gauges are not exported",
  ),
  admission("fcfs-ordering-policy", "ordering", "flow control: first come first served within a flow"),
  admission(
    "edf-ordering-policy",
    "ordering",
    "flow control: earliest enqueue + TTL first; every request has the default TTL, so FCFS order",
  ),
  caveat(
    admission(
      "slo-deadline-ordering-policy",
      "ordering",
      "flow control: earliest received + x-llm-d-slo-ttft-ms first; no header → last (FCFS among those)",
    ),
    "a request's x-llm-d-slo-ttft-ms header is its SLO class's slos.classes.<class>.ttft_ms (whole ms); without one it sends none",
  ),
  admission("static-usage-limit-policy", "usage-limit", "flow control: dispatch while saturation < threshold"),
  def(
    "soft-reflective-ceiling-policy",
    "usage-limit",
    "flow control: band i of n gated at saturation ≥ 1 − i·s/(n−1), then open one dispatch cycle in round(s/(1−s))",
    softReflectiveParams,
  ),
  refused("priority-holdback-policy", "usage-limit", "priority hold-back usage limit; not implemented"),
  refused("sheddable-eviction-filter", "plugin", "flow-control eviction is not simulated (enableEviction)"),
  refused("priority-then-time-eviction-ordering", "plugin", "flow-control eviction is not simulated (enableEviction)"),
  def(
    "probabilistic-admitter",
    "admitter",
    "sheddable requests refused with probability min(saturation^power·k, 1) before scheduling (429)",
    probabilisticAdmitterParams,
    (n, p) => new ProbabilisticAdmitter(n, p),
  ),
  // ---- latency predictor (latency-predictor.ts; the predictor is trained online on the simulated replicas)
  caveat(
    def(
      "predicted-latency-producer",
      "producer",
      "TTFT/TPOT per endpoint from a Bayesian-ridge predictor trained online on observed latencies; SLO headroom",
      predictedLatencyParams,
      (n, p, env) =>
        new PredictedLatencyProducer(
          n,
          p,
          env.init,
          p.prefixMatchInfoProducerName !== undefined
            ? (env.plugin(p.prefixMatchInfoProducerName) as unknown as PrefixMatchProvider)
            : env.prefixProducer(),
          p.inFlightLoadProducerName !== undefined
            ? (env.plugin(p.inFlightLoadProducerName) as unknown as InflightTokens)
            : env.inflightProducer(),
        ),
      (p) => [
        ...(p.prefixMatchInfoProducerName !== undefined
          ? [
              {
                path: ["prefixMatchInfoProducerName"],
                name: p.prefixMatchInfoProducerName,
                kinds: ["producer"] as PluginKind[],
              },
            ]
          : []),
        ...(p.inFlightLoadProducerName !== undefined
          ? [
              {
                path: ["inFlightLoadProducerName"],
                name: p.inFlightLoadProducerName,
                kinds: ["producer"] as PluginKind[],
              },
            ]
          : []),
      ],
    ),
    "the predictor is Bayesian ridge (the charts deploy XGBoost), trained every 10 s of simulated time with no sidecar latency, flush or model-sync delay; SLO headers come from the scenario's slos.classes ttft_ms / tpot_ms",
  ),
  def(
    "latency-scorer",
    "scorer",
    "SLO headroom tiers from the latency predictor; least (or most) headroom within the best tier; composite fallback",
    latencyScorerParams,
    (n, p, env) =>
      new LatencyScorer(
        n,
        p,
        latencyProducer(env, p.latencyPredictionInfoProducerName),
        p.prefixMatchInfoProducerName !== undefined
          ? (env.plugin(p.prefixMatchInfoProducerName) as unknown as PrefixMatchProvider)
          : env.prefixProducer(),
        env.init.replicas,
      ),
    (p) => latencyRefs(p.latencyPredictionInfoProducerName),
  ),
  def(
    "slo-headroom-tier-filter",
    "filter",
    "keeps endpoints predicted within the SLO (TTFT and TPOT headroom ≥ 0); the others with probability 0.01",
    sloHeadroomTierParams,
    (n, p, env) => new SloHeadroomTierFilter(n, p, latencyProducer(env, p.latencyPredictionInfoProducerName)),
    (p) => latencyRefs(p.latencyPredictionInfoProducerName),
  ),
  def(
    "latency-slo-admitter",
    "admitter",
    "refuses a sheddable request with an SLO no endpoint is predicted to meet (none idle or cold) (429)",
    latencySloAdmitterParams,
    (n, p, env) => new LatencySloAdmitter(n, latencyProducer(env, p.latencyPredictionInfoProducerName), env.init),
    (p) => latencyRefs(p.latencyPredictionInfoProducerName),
  ),
  caveat(
    def(
      "predicted-latency-scorer",
      "scorer",
      "GIE 1.5 single-plugin form: predicts (prepareDataPlugins gate), admits, and scores 1 the endpoint it picks by headroom tiers",
      gieLatencyScorerParams,
      (n, p, env) =>
        new GiePredictedLatencyScorer(n, p, env.init, env.prefixProducer(), env.inflightProducer(), env.featureGates),
    ),
    "the predictor is Bayesian ridge (the charts deploy XGBoost), trained every 10 s of simulated time with no sidecar delays; random draws use the routing RNG (upstream: wall-clock seeded); SLO headers come from the scenario's slos.classes ttft_ms / tpot_ms",
  ),
  // ---- labels, headers, topology, multimodal, multi-cluster
  def(
    "label-selector-filter",
    "filter",
    "keeps the pods a Kubernetes label selector (matchLabels, matchExpressions) matches, on the pools' labels",
    labelSelectorParams,
    (n, p, env) => new LabelSelectorFilter(n, p, env.init.labels),
  ),
  def(
    "by-label",
    "filter",
    "deprecated: keeps pods whose label is one of validValues (allowsNoLabel: unlabelled pass)",
    byLabelParams,
    (n, p, env) => new ByLabelFilter(n, p, env.init.labels),
  ),
  refused(
    "context-length-aware",
    "filter",
    "needs pod labels (llm-d.ai/context-length-range), which gatelab pools do not carry",
  ),
  def(
    "endpoint-attribute-filter",
    "filter",
    "keeps endpoints whose scalar attribute passes a threshold (onMissing Pass/Fail, fallbackOnEmpty); GPUUtilization from dcgm-extractor",
    endpointAttributeFilterParams,
    (n, p, env) => new EndpointAttributeFilter(n, p, env.gpuUtilization()),
  ),
  def(
    "endpoint-attribute-scorer",
    "scorer",
    "linear lower/higher-is-better on a scalar attribute, fixed or adaptive range, missing → 0; GPUUtilization from dcgm-extractor",
    endpointAttributeScorerParams,
    (n, p, env) => new EndpointAttributeScorer(n, p, env.gpuUtilization()),
  ),
  // Without a peer topology on the request the filter keeps every endpoint and the scorer gives 0 everywhere
  // (llm-d-router pkg/epp/framework/plugins/scheduling/filter/topologyaffinity/filter.go L81–L85,
  // scorer/topologyaffinity/scorer.go L105–L114); gatelab pools carry no node topology.
  noop("topology-affinity-filter", "filter", "no node topology in gatelab: the filter keeps every endpoint"),
  noop("topology-affinity-scorer", "scorer", "no node topology in gatelab: the scorer gives 0 to every endpoint"),
  noop("topology-extractor", "extractor", "extracts node topology, which gatelab pools do not carry"),
  refused("header-label-affinity-scorer", "scorer", "scores on request headers, which gatelab requests do not carry"),
  refused("header-profile-handler", "profile-handler", "picks the profile from a request header"),
  refused(
    "header-based-testing-filter",
    "filter",
    // GIE release-1.5 pkg/epp/framework/plugins/scheduling/test/filter/request_header_based_filter.go L67–L71.
    "conformance-test filter keeping the pods whose IP the test-epp-endpoint-selection header names, and none without the header; gatelab requests carry no such header and pods have no IPs, so it would refuse every request",
  ),
  refused(
    "session-affinity-filter",
    "filter",
    "keeps the pod named in the session cookie header; use session-affinity-scorer",
  ),
  refused(
    "utilization-filter",
    "filter",
    "filters endpoints on utilization signals not modelled separately from the saturation detectors",
  ),
  // Text-only requests carry no multimodal items: the scorer gives 0 to every endpoint (llm-d-router
  // pkg/epp/framework/plugins/scheduling/scorer/mmcacheaffinity/scorer.go L96–L121).
  noop("mm-embeddings-cache-producer", "producer", "multimodal embedding cache; gatelab requests are text-only"),
  noop("mm-embeddings-cache-scorer", "scorer", "text-only requests have no multimodal items: 0 for every endpoint"),
  caveat(
    def(
      "burst-prefix-cache-producer",
      "producer",
      "co-locates prompt-sharing requests of one window on one replica (up to maxPerReplica); full match there",
      burstParams,
      (n, p, env) => new BurstPrefixProducer(n, p, env.init),
    ),
    "requests are placed on arrival, not held for the window and placed jointly: no hold latency, the first member of a group is routed by the other scorers, balanceBy tokens balances requests",
  ),
  refused(
    "disaggregatedset-rollout-screener",
    "request-control",
    "screens requests during a disaggregated-set rollout; rollouts are not simulated",
  ),
  refused("multicluster-file-discovery", "discovery", "multi-cluster endpoint discovery is not simulated"),
  refused("multicluster-metrics-data-source", "data-source", "multi-cluster is not simulated"),
  refused("multicluster-metrics-extractor", "extractor", "multi-cluster is not simulated"),
  refused("multicluster-queue-scorer", "scorer", "multi-cluster is not simulated"),
  refused("multicluster-kv-cache-utilization-scorer", "scorer", "multi-cluster is not simulated"),
  refused("multicluster-prefix-cache-scorer", "scorer", "multi-cluster is not simulated"),
  refused("multicluster-approx-prefix-cache-producer", "producer", "multi-cluster is not simulated"),
  refused("multicluster-session-affinity-filter", "filter", "multi-cluster is not simulated"),
  refused("p2p-kv-cache-source", "data-source", "peer-to-peer KV cache data source is not simulated"),
  refused(
    "custom-scorer",
    "scorer",
    "a placeholder in the Helm charts' READMEs for a user's own scorer; no such plugin ships",
  ),
  // ---- no-ops: they cannot change a routing decision in gatelab
  noop("token-producer", "producer", "tokenizer; gatelab requests carry token counts already"),
  noop("session-id-producer", "producer", "reads the session id header; gatelab requests carry their session"),
  noop("openai-parser", "parser", "request parser; gatelab requests arrive parsed"),
  noop("anthropic-parser", "parser", "request parser; gatelab requests arrive parsed"),
  noop("vllmhttp-parser", "parser", "request parser; gatelab requests arrive parsed"),
  noop("vllmgrpc-parser", "parser", "request parser (gRPC); gatelab requests arrive parsed"),
  noop("sglanghttp-parser", "parser", "request parser; gatelab requests arrive parsed"),
  noop("vertexai-parser", "parser", "request parser; gatelab requests arrive parsed"),
  noop("passthrough-parser", "parser", "forwards the body uninterpreted; gatelab requests arrive parsed"),
  noop("metrics-data-source", "data-source", "scrapes /metrics; gatelab scrapes every gateway.scrape_interval_ms"),
  noop("core-metrics-extractor", "extractor", "maps engine metrics to the signals the scorers read (built in)"),
  noop("endpoint-notification-source", "data-source", "endpoint add/remove notifications; pools are static"),
  noop("notification-source", "data-source", "Kubernetes object notifications; pools are static"),
  noop("models-data-source", "data-source", "lists served models (/v1/models); no simulated plugin reads it"),
  noop("models-data-extractor", "extractor", "extracts served models; no simulated plugin reads it"),
  dataLayer("dcgm-data-source", "data-source", "polls DCGM GPU metrics every `interval` for dcgm-extractor"),
  caveat(
    dataLayer("dcgm-extractor", "extractor", "GPUUtilization = DCGM_FI_DEV_GPU_UTIL ÷ 100 per endpoint"),
    GPU_UTIL_WHY,
  ),
  noop("file-discovery", "discovery", "endpoints from a file; gatelab endpoints are the scenario's pools"),
  noop("request-attribute-reporter", "request-control", "reports request attributes as response headers/metrics"),
  noop("agent-identity", "request-control", "sets an agent-identity request header"),
  noop(
    "prefill-header-handler",
    "request-control",
    "deprecated: sets the prefill-host header for the P/D sidecar (replaced by disagg-profile-handler)",
  ),
  noop(
    "disagg-headers-handler",
    "request-control",
    "deprecated: sets the prefill/encode-host headers for the sidecar (replaced by disagg-profile-handler)",
  ),
  noop(
    "destination-endpoint-served-verifier",
    "request-control",
    "conformance check that the endpoint served the request",
  ),
  // ---- the loader tests' mocks (llm-d-router pkg/epp/config/loader/configloader_test.go L1111–L1231;
  // cmd/epp/runner/test_runner.go; test/integration/epp)
  testOnly("test-plugin", "plugin"),
  testOnly("test-scorer", "scorer", loose({ blockSize: z.number().int().optional() })),
  testOnly("test-picker", "picker"),
  testOnly("test-profile-handler", "profile-handler"),
  testOnly("test-source", "data-source"),
  testOnly("test-extractor", "extractor"),
  testOnly("test-order-filter", "filter"),
  testOnly("test-one", "plugin"),
  testOnly("test-two", "plugin"),
  testOnly("test-alpha-plugin", "plugin"),
  testOnly("mock-metrics-source", "data-source"),
  testOnly("test-with-dependencies", "profile-handler", dependencyParams, (p) => {
    const d = p as z.output<typeof dependencyParams>;
    const out: PluginRef[] = [];
    if (d.dependency) out.push(anyRef(d.dependency, ["dependency"]));
    if (d.pointedTo) out.push(anyRef(d.pointedTo, ["pointedTo"]));
    return out;
  }),
  testOnly("test-with-nested-dependencies", "profile-handler", nestedDependencyParams, (p) => {
    const d = p as z.output<typeof nestedDependencyParams>;
    const out: PluginRef[] = [];
    if (d.nested?.dependency) out.push(anyRef(d.nested.dependency, ["nested", "dependency"]));
    if (d.nestedPtr?.dependency) out.push(anyRef(d.nestedPtr.dependency, ["nestedPtr", "dependency"]));
    (d.extras ?? []).forEach((e, i) => {
      if (e) out.push(anyRef(e, ["extras", i]));
    });
    if (d.pointedTo) out.push(anyRef(d.pointedTo, ["pointedTo"]));
    return out;
  }),
];

export const PLUGIN_TYPES: ReadonlyMap<string, PluginTypeInfo> = new Map(TYPES.map((t) => [t.type, t]));

/** Older or alternative type names → canonical type. */
export const PLUGIN_ALIASES: ReadonlyMap<string, string> = new Map([
  ["by-label-selector", "label-selector-filter"],
  ["kv-cache-scorer", "kv-cache-utilization-scorer"],
  ["pd-profile-handler", "disagg-profile-handler"],
  ["tokenizer", "token-producer"],
]);

/** Edit distance (Levenshtein), for did-you-mean suggestions. */
function distance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** Up to three known type names closest to `type` (within a third of its length), closest first. */
export function didYouMean(type: string, names: readonly string[] = acceptedTypes()): string[] {
  const limit = Math.max(2, Math.floor(type.length / 3));
  return names
    .map((n) => ({ n, d: distance(type, n) }))
    .filter((x) => x.d <= limit)
    .sort((x, y) => x.d - y.d || (x.n < y.n ? -1 : 1))
    .slice(0, 3)
    .map((x) => x.n);
}

/** Counts of the registry by status (docs, `gatelab policies --plugins`). */
export function registryCounts(): Record<PluginStatus, number> {
  const out: Record<PluginStatus, number> = { simulated: 0, "no-op": 0, "not-simulated": 0, "test-only": 0 };
  for (const t of PLUGIN_TYPES.values()) out[t.status]++;
  return out;
}

export function canonicalType(type: string): string {
  return PLUGIN_ALIASES.get(type) ?? type;
}

/** Every accepted type name (canonical and aliases), sorted, for error messages. */
export function acceptedTypes(): string[] {
  return [...PLUGIN_TYPES.keys(), ...PLUGIN_ALIASES.keys()].sort();
}

/**
 * What a plugin does in a profile: filters (detectors act as filters there), scorers, one picker; anything else is
 * ignored there, as the real `SchedulerProfile.AddPlugins` does (llm-d-router pkg/epp/scheduling/
 * scheduler_profile.go L85–L104).
 */
export function profileRole(kind: PluginKind): "filter" | "scorer" | "picker" | undefined {
  if (kind === "filter" || kind === "detector") return "filter";
  if (kind === "scorer" || kind === "picker") return kind;
  return undefined;
}
