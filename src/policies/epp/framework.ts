/**
 * The Endpoint Picker's scheduling framework as gatelab models it: plugins (filters, scorers, pickers, profile
 * handlers, deciders, data producers, saturation detectors) and the per-request cycle state they share.
 *
 * Source: GIE v1.0 `pkg/epp/scheduling/framework/{plugins.go,scheduler_profile.go,weighted_scorer.go}`, llm-d-router
 * HEAD `pkg/epp/scheduling/*` (docs/reference.md#endpoint-picker-pipeline). Facts carried over: filters run in config order on
 * the post-filter list; scorers see the same (post-filter) candidate list; each score is clamped to [0, 1] and
 * multiplied by its weight (weights not normalised); one picker per profile; data producers run before scheduling
 * and PreRequest plugins run after the pick (`onDispatch` here).
 */
import type { Request } from "../../sim/request.ts";
import { EndpointLists } from "../common.ts";
import type { EndpointView, KvEvent, KvView, RouterInit, RoutingContext } from "../types.ts";
import type { EppVariantName } from "./variants.ts";

/**
 * State of one scheduling cycle (one `route` call): the EPP's `CycleState`. Producers cache their per-request
 * results keyed by `id`, so a value computed for a filter is reused by the scorers of the same cycle. The router
 * reuses one instance for every cycle (`reset`), so a plugin must not keep a cycle beyond the call it got it in.
 */
export class Cycle {
  id: number;
  req: Request;
  ctx: RoutingContext;
  /** Replica picked by the primary profile (-1 until known). */
  primary = -1;
  /** Replica picked by a profile named `prefill` (P/D configs), -1 when none ran or it failed. */
  prefill = -1;
  /** Endpoint lists handed out by `buffer()` (reused from cycle to cycle). */
  private readonly buffers: EndpointLists[] = [];
  private used = 0;

  constructor(id: number, req: Request, ctx: RoutingContext) {
    this.id = id;
    this.req = req;
    this.ctx = ctx;
  }

  /** Starts cycle `id` for `req` (the buffers of the previous cycle become free). */
  reset(id: number, req: Request, ctx: RoutingContext): void {
    this.id = id;
    this.req = req;
    this.ctx = ctx;
    this.primary = -1;
    this.prefill = -1;
    this.used = 0;
  }

  /**
   * An endpoint list of length `n` for a filter's result, to fill by index; valid until the end of this cycle and
   * distinct from every other buffer of the cycle (so a filter may return it, and a later filter or tree branch may
   * still read its input). The lists are reused by later cycles: no allocation per request once warm.
   */
  buffer(n: number): EndpointView[] {
    let b = this.buffers[this.used];
    if (b === undefined) this.buffers.push((b = new EndpointLists()));
    this.used++;
    return b.get(n);
  }
}

/** Common part of every plugin: identity and the request-lifecycle hooks (PreRequest / ResponseBody). */
export interface Plugin {
  /** Name in the config (defaults to the type). */
  readonly name: string;
  /** Canonical plugin type (aliases resolved). */
  readonly type: string;
  /**
   * PreRequest: the request was sent to `replica`. `cycle` is the cycle that routed it, or undefined when the engine
   * dispatches a request this router did not route last (plugins then recompute what they need from `req`).
   */
  onDispatch?(req: Request, replica: number, now: number, cycle: Cycle | undefined): void;
  /** First response chunk (ResponseBody, first call). */
  onFirstToken?(req: Request, replica: number, now: number): void;
  /** End of stream (or failure). */
  onComplete?(req: Request, replica: number, now: number): void;
  /** Replica KV events (BlockStored / BlockRemoved) after the configured delay. */
  readonly wantsKvEvents?: boolean;
  onKvEvent?(ev: KvEvent, now: number): void;
  /** See `Router.prefetchKvEvents`. */
  prefetchKvEvents?(hashes: Float64Array, from: number, to: number): number;
  /** See `Router.attachKvView`. */
  attachKvView?(view: KvView): boolean;
}

export interface Filter extends Plugin {
  /** Returns the kept endpoints (may be `eps` itself). */
  filter(cycle: Cycle, eps: readonly EndpointView[]): readonly EndpointView[];
}

export interface Scorer extends Plugin {
  /** Writes the raw score of `eps[i]` into `out[i]` for every i < eps.length (clamping is the framework's job). */
  score(cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void;
  /**
   * Optional fast path: `totals[i] += clamp01(s_i) × weight` for the score s_i that `score` would write, the same
   * operations in the same order as the framework's accumulation (so decisions are bit-identical), without the
   * scratch array and its extra passes (they dominate with 1,024 endpoints). Used when no decision trace is kept.
   */
  addWeighted?(cycle: Cycle, eps: readonly EndpointView[], totals: Float64Array, weight: number): void;
  /**
   * The score is a function of one column of the candidates' scraped metrics (`EndpointColumns`) and nothing else:
   * the profile may keep the weighted sum of such scorers between decisions (`ColumnBase`).
   */
  readonly column?: ColumnTerm;
  /** True when `addWeighted` with this weight would leave every total as it is for this cycle (e.g. no prefix match). */
  skips?(cycle: Cycle, weight: number): boolean;
}

/**
 * A score computed from one column of `EndpointColumns`: `min-max-low` = `(max − v)/(max − min)` over the candidates
 * (all equal → 1), `one-minus` = `1 − v`.
 */
export type ColumnTerm =
  | { readonly kind: "min-max-low"; readonly field: "waiting" | "running" }
  | { readonly kind: "one-minus"; readonly field: "kvCacheUsage" };

export interface Picker extends Plugin {
  /** Index into `eps` of the pick, given the weighted totals `scores[i]` (i < eps.length); -1 when none. */
  pick(cycle: Cycle, eps: readonly EndpointView[], scores: Float64Array): number;
  /**
   * `pick` when the caller already knows, of `scores[0 … n − 1]` (no NaN among them), the maximum, how many indices
   * hold it (`ties`) and, with one holder, which (`top`): the same pick and the same draws, without the scan.
   */
  pickTop?(cycle: Cycle, n: number, scores: Float64Array, max: number, top: number, ties: number): number;
}

/** Decides whether a request is disaggregated (P/D deciders). */
export interface Decider extends Plugin {
  decide(cycle: Cycle, decodeTarget: EndpointView): boolean;
}

/** Prefix-match information of the current request (the EPP's `PrefixCacheMatchInfo`). */
export interface PrefixMatch {
  /** Matched blocks per replica index (meaningful for the current candidates only). */
  readonly matchBlocks: Int32Array;
  /** Blocks of the request considered (0 → every score is 0). */
  readonly totalBlocks: number;
  /** Block size in tokens. */
  readonly blockSize: number;
  /** True when every entry of `matchBlocks` is 0 (no candidate holds the first block); absent: unknown. */
  readonly noMatch?: boolean;
}

/** A plugin that can tell, for the current request, how many prefix blocks each endpoint holds. */
export interface PrefixMatchProvider {
  match(cycle: Cycle): PrefixMatch;
}

/** The `inflight-load-producer`'s view: router-local token load per endpoint. */
export interface InflightTokens {
  /** Tokens in flight on `replica` (as the producer counts them). */
  tokens(replica: number): number;
  /** The same counts as an array by replica index (read-only for plugins; no call per endpoint). */
  readonly loads: Float64Array;
  /** Tokens this request would add on `replica` (HEAD lookahead: uncached input). */
  uncached(cycle: Cycle, replica: number): number;
}

/** What a plugin factory may ask for while building (shared producers, other plugins by name). */
export interface BuildEnv {
  readonly init: RouterInit;
  /** The router semantics the config runs with (`variants.ts`). */
  readonly variant: EppVariantName;
  /** The config's feature gates. */
  readonly featureGates: readonly string[];
  /** Names of the scheduling profiles, in config order. */
  readonly profileNames: readonly string[];
  /** Canonical type of the plugin named `name`, or undefined when there is none. */
  typeOf(name: string): string | undefined;
  /** Plugin instance by config name (built on demand); throws if unknown (validated earlier). */
  plugin(name: string): Plugin;
  /** The router's approximate prefix producer (explicit or auto-created). */
  prefixProducer(): PrefixMatchProvider & Plugin;
  /** The router's in-flight load producer (explicit or auto-created). */
  inflightProducer(): InflightTokens & Plugin;
  /**
   * The `predicted-latency-producer` named `name`, else the config's one, else one auto-created with default
   * parameters (llm-d-router registers it as the default producer of its data: `cmd/epp/runner/runner.go` L667).
   */
  latencyProducer(name?: string): Plugin;
  /**
   * The router's DCGM GPU-utilization poller, when `dataLayer.sources` wires a `dcgm-extractor` under a
   * `dcgm-data-source` (`endpoint-attribute.ts`); undefined otherwise (the attribute is then always missing).
   */
  gpuUtilization(): GpuUtilizationSource | undefined;
}

/** Per-endpoint GPU utilization in [0, 1] as of the last DCGM poll; NaN while the endpoint has none. */
export interface GpuUtilizationSource {
  value(ep: EndpointView): number;
}

export function isFilter(p: Plugin): p is Filter {
  return typeof (p as Partial<Filter>).filter === "function";
}
export function isScorer(p: Plugin): p is Scorer {
  return typeof (p as Partial<Scorer>).score === "function";
}
export function isPicker(p: Plugin): p is Picker {
  return typeof (p as Partial<Picker>).pick === "function";
}
export function isDecider(p: Plugin): p is Decider {
  return typeof (p as Partial<Decider>).decide === "function";
}
