import type { Segment } from "./hash.ts";

/** SLO class names used by default; scenarios may define more. */
export type SloClassName = string;

/**
 * Criticality as the Endpoint Picker's InferenceObjective (`critical`, `standard`, `sheddable`): the flow-control
 * priority band a request belongs to. Numeric priority follows the EPP: < 0 is sheddable.
 */
export type Criticality = "critical" | "standard" | "sheddable";

/**
 * One request as the workload produces it: what a client sends to the gateway. Immutable after creation; the engine
 * keeps per-request runtime state in its own columnar tables, keyed by `id`.
 */
export interface Request {
  /** Dense id: 0, 1, 2, … in creation order (the engine uses it as a row index). */
  readonly id: number;
  /** First arrival at the gateway, seconds from the start of the run. */
  readonly arrival: number;
  /** Prompt content as segments (system prompt, documents, history, tools, the new message). */
  readonly prompt: readonly Segment[];
  /** Prompt length in tokens (= sum of segment tokens). */
  readonly inputTokens: number;
  /** Output tokens the model will generate (known to the simulator, not to the router). */
  readonly outputTokens: number;
  /**
   * Identity of the generated text, so that a later turn that quotes this answer in its history can hit the blocks
   * this request cached while decoding (vLLM caches generated full blocks too). Absent: generated blocks are unique.
   */
  readonly outputContentId?: number;
  /** Model name requested (must be served by some pool). Absent: the first pool's model. */
  readonly model?: string;
  /** LoRA adapter name, if any. */
  readonly adapter?: string;
  /**
   * vLLM's per-request `cache_salt`: mixed into the first KV block's hash, so only requests with the same salt share
   * cached prefixes (multi-tenant isolation); see `requestHashSeed`.
   */
  readonly cacheSalt?: string;
  readonly tenant?: string;
  readonly sloClass?: SloClassName;
  /** EPP-style priority: 0 standard, > 0 critical, < 0 sheddable. */
  readonly priority?: number;
  /** Session id (multi-turn chat, agent): session-affinity routers bind on it. */
  readonly session?: string;
  /** Round index within its session (0 for the first turn). */
  readonly round?: number;
  /** Which workload component produced it (for per-class reports). */
  readonly source?: string;
}

export { OUTCOME_NAMES, Outcome } from "./outcomes.ts";

/** Minimal stream of requests, pulled lazily in arrival order. */
export interface RequestSource {
  /** Next request in non-decreasing arrival order, or undefined when the stream ends. */
  next(): Request | undefined;
  /**
   * Closed-loop feedback: called once when a request finishes (any outcome). May return follow-up requests (the next
   * turn of a session), each arriving at or after `now`. Their ids must continue the dense sequence.
   */
  onFinish?(req: Request, now: number, completed: boolean): readonly Request[] | undefined;
}
