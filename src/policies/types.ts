import type { Request } from "../sim/request.ts";
import type { Rng } from "../sim/rng.ts";

/**
 * What the gateway knows about one replica: the metrics it scraped (as a real gateway scrapes vLLM's `/metrics`), and
 * their age. Values are stale between scrapes. Routers get these and never a replica object.
 */
export interface EndpointView {
  /** Index of the replica in the cluster (stable for the run). */
  readonly index: number;
  /** `pool-name/ordinal`, e.g. `main/0`. */
  readonly name: string;
  readonly pool: string;
  /** Model served (base model name). */
  readonly model: string;
  /** `vllm:num_requests_waiting` at the last scrape. */
  readonly waiting: number;
  /** `vllm:num_requests_running` at the last scrape. */
  readonly running: number;
  /** `vllm:kv_cache_usage_perc` at the last scrape, in [0, 1]. */
  readonly kvCacheUsage: number;
  /** `vllm:lora_requests_info{running_lora_adapters}` at the last scrape. */
  readonly runningAdapters: ReadonlySet<string>;
  /** `vllm:lora_requests_info{waiting_lora_adapters}` at the last scrape. */
  readonly waitingAdapters: ReadonlySet<string>;
  /** Adapters resident on the GPU (loaded), from the same scrape. */
  readonly residentAdapters: ReadonlySet<string>;
  /** `vllm:lora_requests_info{max_lora}`: GPU adapter slots (0 when LoRA is off). */
  readonly maxLora: number;
  /** `vllm:cache_config_info{block_size}`. */
  readonly blockSize: number;
  /** `vllm:cache_config_info{num_gpu_blocks}`. */
  readonly numGpuBlocks: number;
  /** `max_num_seqs` of the engine (static config). */
  readonly maxNumSeqs: number;
  /** Simulated time of the last scrape (seconds). */
  readonly scrapeTime: number;
  /**
   * Seconds the replica had requests running (its GPU executing forward passes) up to the last scrape, integrated
   * at each scrape from the state seen at the previous one; feeds the DCGM GPU-utilization attribute.
   */
  readonly gpuBusyTime?: number;
}

/** Router-local counters the gateway keeps itself (fresh, updated at dispatch / first token / completion). */
export interface LocalLoad {
  /** Requests dispatched to each replica and not yet completed. */
  readonly inFlight: Int32Array;
  /** Prompt tokens dispatched to each replica whose prefill has not finished (released at first token). */
  readonly inFlightPrefillTokens: Float64Array;
  /**
   * Prompt tokens of the requests in flight on each replica: added at dispatch, released at completion (the engine
   * knows no output length in advance, so none is counted; `concurrency-detector` in token mode reads it).
   */
  readonly inFlightTokens: Float64Array;
}

export interface RoutingContext {
  readonly now: number;
  /** Candidate endpoints (already narrowed to the pool serving the request's model). */
  readonly endpoints: readonly EndpointView[];
  /** Fresh router-local counters, indexed by replica index. */
  readonly local: LocalLoad;
  /** The routing RNG stream (tie-breaks, random pickers). */
  readonly rng: Rng;
  /** The request's full-block prompt hashes at the router's block size (see `promptHashes`). */
  promptHashes(blockSize: number): Float64Array;
  /**
   * At least the first `min(count, full blocks)` of `promptHashes(blockSize)` (the array may be shorter than the full
   * one, or be it): for a caller that reads no further. Absent: call `promptHashes`.
   */
  promptHashPrefix?(blockSize: number, count: number): Float64Array;
  /**
   * The candidates' scraped metrics as columns, position i holding `endpoints[i]`'s (absent: read the views). Loops
   * over every candidate at each decision read these instead of one object per endpoint (`EndpointColumns`).
   */
  readonly columns?: EndpointColumns | undefined;
}

/**
 * `EndpointView` fields as typed arrays, one entry per candidate in `RoutingContext.endpoints` order: the same values
 * as the views (written together at each scrape). At 1,024 candidates a scorer's pass over the views reads 1,024
 * objects (and, for a fractional field, the number each points to); over a column it reads 8 KB in order.
 */
export interface EndpointColumns {
  /** `EndpointView.index`. */
  readonly index: Int32Array;
  /** `EndpointView.waiting`. */
  readonly waiting: Float64Array;
  /** `EndpointView.running`. */
  readonly running: Float64Array;
  /** `EndpointView.kvCacheUsage`. */
  readonly kvCacheUsage: Float64Array;
  /**
   * Change log (absent: none kept): the position each scrape that changed a value wrote, as a ring. Change k (counted
   * from 0 over the run) is at `changes[k % changes.length]`, and `changeCount` counts them all, so a reader that has
   * read the first c changes finds the positions changed since in c … changeCount − 1, or must read every position
   * when more than `changes.length` came since (`ColumnBase`).
   */
  readonly changes?: Int32Array;
  readonly changeCount?: number;
}

/** Why a router did not pick an endpoint. */
export interface RoutingRefusal {
  readonly refused: true;
  /** HTTP-like status the client sees: 503 (no endpoint), 429 (shed / saturated). */
  readonly status: 429 | 503;
  readonly reason: string;
}

/** A routing decision: the chosen replica index, with optional explanation for the decision trace. */
export interface RoutingDecision {
  readonly refused?: false;
  readonly replica: number;
  /**
   * P/D disaggregation: the replica that runs the request's prefill (its KV then moves to `replica`, which decodes).
   * Absent or < 0: the request prefills where it decodes.
   */
  readonly prefill?: number;
  /** Per-candidate scores (replica index → total score) when the router scores; for `--trace-decisions`. */
  readonly scores?: ReadonlyMap<number, number>;
  /** Per-scorer breakdown: scorer name → (replica index → clamped score). */
  readonly breakdown?: ReadonlyMap<string, ReadonlyMap<number, number>>;
}

export type RouteResult = RoutingDecision | RoutingRefusal;

/** Replica-side KV events (BlockStored / BlockRemoved), as llm-d's precise scorer and Dynamo receive them. */
export interface KvEvent {
  readonly replica: number;
  readonly kind: "stored" | "removed";
  readonly hash: number;
}

/**
 * What each replica's KV cache held as of the KV events delivered to the router so far: the same answers as an
 * index fed by those events (stores and evictions alternate per replica and hash), read from the caches and the
 * events still on their way. Offered by the engine when every endpoint is one replica.
 */
export interface KvView {
  /** Longest run of leading `hashes[0..n)` that `replica` held. */
  heldPrefix(replica: number, hashes: Float64Array, n: number): number;
  /** Loads the table slots `heldPrefix` will probe first for each of `replicas[0..m)` (returns what it read). */
  prefetch(hashes: Float64Array, replicas: Int32Array, m: number): number;
}

/**
 * A routing policy. The engine calls `route` once per dispatch attempt and the hooks as the request progresses
 * (the EPP's PreRequest and ResponseBody plugin points).
 */
export interface Router {
  readonly name: string;
  route(req: Request, ctx: RoutingContext): RouteResult;
  /** PreRequest: the request was sent to `replica` (update prefix index, session bindings). */
  onDispatch?(req: Request, replica: number, now: number): void;
  /** First response chunk from `replica`. */
  onFirstToken?(req: Request, replica: number, now: number): void;
  /** Response finished (or failed) on `replica`. */
  onComplete?(req: Request, replica: number, now: number): void;
  /** Whether this router consumes replica KV events (only precise-prefix routers do; it costs time to produce). */
  readonly wantsKvEvents?: boolean;
  onKvEvent?(ev: KvEvent, now: number): void;
  /**
   * The hashes of events about to be delivered (`hashes[from..to)`): a router may load the index slots they will
   * probe, so that the cache misses overlap; returns a value made of what it read (the engine keeps it). Optional.
   */
  prefetchKvEvents?(hashes: Float64Array, from: number, to: number): number;
  /**
   * The engine offers a view of what each replica's KV cache held as of the KV events delivered so far (`KvView`);
   * a router that will read it instead of keeping its own index of those events returns true. Optional.
   */
  attachKvView?(view: KvView): boolean;
  /** What the run should tell the user about this router (plugins that run as no-ops, loader deprecations). */
  readonly notes?: readonly string[];
  /**
   * The router addresses data-parallel ranks as endpoints (llm-d's `data-parallel-profile-handler`: the pick's
   * host:port goes in X-Data-Parallel-Endpoint and the pod's sidecar forwards to that rank). Absent: pools with
   * `data_parallel_size` > 1 show one endpoint per pod unless they declare `data_parallel_endpoints: ranks`.
   */
  readonly dataParallelRanks?: boolean;
}

/** Static facts about the cluster a router may need at construction. */
export interface RouterInit {
  readonly replicas: number;
  readonly blockSize: number;
  /** KV blocks per replica, for routers that size their indexes from `num_gpu_blocks`. */
  readonly numGpuBlocks: readonly number[];
  /** Pod labels per replica index (the scenario's `pools[].labels`; absent: none). */
  readonly labels?: readonly Readonly<Record<string, string>>[];
  /**
   * Per-request latency targets by SLO class, as a client states them in the router's SLO headers
   * (`x-llm-d-slo-ttft-ms`, `x-llm-d-slo-tpot-ms`; 0: header absent): the scenario's `slos.classes[c].ttft_ms` and
   * `tpot_ms`. Read by the latency-predictor plugins only.
   */
  readonly requestSlos?: ReadonlyMap<string, { readonly ttftMs: number; readonly tpotMs: number }>;
  /**
   * Fill `RoutingDecision.scores` / `breakdown` (for `--trace-decisions`). Off by default so that the hot path
   * allocates no maps.
   */
  readonly traceDecisions?: boolean;
  /**
   * Every request is dispatched at most once (no client retries): a router may then keep the hashes of a request's
   * own content (`Segment.unique`) out of its lookup tables, since nothing will look them up. Absent: a request may
   * come back (retried), and every hash is indexed.
   */
  readonly singleDispatch?: boolean;
}
