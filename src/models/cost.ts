/**
 * Step-time (cost) model interface. A cost model maps the shape of one engine step to seconds, and gives the fixed
 * per-request overheads that sit outside the GPU step (API server, tokenisation, detokenisation, streaming).
 *
 * The replica fills one reusable `BatchShape` per step (no allocation on the hot path) and calls `stepTime`.
 */
export interface BatchShape {
  /** Prefill requests in this step (requests computing prompt tokens, including chunks and recompute). */
  prefillRequests: number;
  /** New prompt tokens computed this step (cache misses only), Σ t_i. */
  prefillTokens: number;
  /**
   * Σ over prefill requests of t_i · (s_i + t_i / 2), where t_i is the chunk computed and s_i the context already in
   * the KV cache before the chunk. The attention FLOPs of a chunk are proportional to it.
   */
  prefillAttnWork: number;
  /** Σ over prefill requests of (context before chunk + chunk): the full KV length each prefill attends to. */
  prefillContext: number;
  /** Σ t_i² over prefill requests (Vidur's attention-prefill key uses sqrt(Σ chunk²)). */
  prefillTokensSq: number;
  /** Decoding requests in this step (each computes one token). */
  decodeRequests: number;
  /** Σ over decoding requests of the context length (tokens already in the KV cache). */
  decodeContext: number;
  /** Distinct LoRA adapters among the requests of this step. */
  distinctAdapters: number;
  /** Largest LoRA rank among the adapters of this step (0 if none). */
  maxAdapterRank: number;
}

export function emptyBatch(): BatchShape {
  return {
    prefillRequests: 0,
    prefillTokens: 0,
    prefillAttnWork: 0,
    prefillContext: 0,
    prefillTokensSq: 0,
    decodeRequests: 0,
    decodeContext: 0,
    distinctAdapters: 0,
    maxAdapterRank: 0,
  };
}

export function resetBatch(b: BatchShape): void {
  b.prefillRequests = 0;
  b.prefillTokens = 0;
  b.prefillAttnWork = 0;
  b.prefillContext = 0;
  b.prefillTokensSq = 0;
  b.decodeRequests = 0;
  b.decodeContext = 0;
  b.distinctAdapters = 0;
  b.maxAdapterRank = 0;
}

/**
 * Per-request overheads outside the GPU step, in seconds (BLIS's α terms):
 * - `preQueue` + `preQueuePerInputToken`·input: from dispatch to entering the replica's waiting queue (API server,
 *   tokenisation). Delays the request at the replica.
 * - `perOutputToken`: added to every output token's client-visible time, cumulatively (detokenise and stream). It does
 *   not delay the engine.
 * - `postDecode`: added once after the last token (response completion).
 */
export interface RequestOverheads {
  readonly preQueue: number;
  readonly preQueuePerInputToken: number;
  readonly perOutputToken: number;
  readonly postDecode: number;
}

export const ZERO_OVERHEADS: RequestOverheads = {
  preQueue: 0,
  preQueuePerInputToken: 0,
  perOutputToken: 0,
  postDecode: 0,
};

export interface CostModel {
  /** Short name (`linear`, `physics`, `kernel`). */
  readonly kind: string;
  /** Human-readable provenance of the coefficients. */
  readonly source: string;
  /** Seconds for one engine step of this shape. Must be > 0 for a non-empty batch. */
  stepTime(batch: BatchShape): number;
  readonly overheads: RequestOverheads;
}
