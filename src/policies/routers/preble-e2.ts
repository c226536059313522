/**
 * preble-e2: Preble's E2 global scheduler (exploit cached prefixes, explore when the miss dominates).
 *
 * Source: Srivatsa et al., "Preble: Efficient Distributed Prompt Scheduling for LLM Serving" (ICLR 2025); reference
 * code WukLab/preble @ 8e7906a3 `preble/global_scheduler_with_time.py` (docs/reference.md#other-routers).
 * ```
 * match the request against the global prefix tree: cached = longest prefix some GPU holds, missed = the rest
 * if missed < cached:                          EXPLOIT
 *    GPUs holding the matched prefix; several → the one with the least load cost
 * else:                                        EXPLORE
 *    argmin over all GPUs of load_cost(g) + eviction_cost(g)
 * load_cost(g)     = prefill time of the work assigned to g in the last `windowSecs` (180 s)
 *                  + active requests on g · decode length · TPOT
 * eviction_cost(g) = prefill time of the blocks g would have to evict to fit the request's new blocks
 * ```
 * gatelab's simplifications (explained in docs/gateway.md): the tree is over blocks of the engine's block size
 * (chained block hashes name tree paths); each GPU's content is the router's LRU view capped at its `num_gpu_blocks`;
 * the window term sums, per GPU, the prefill time of the uncached tokens of the requests routed to it (Preble's
 * Σ missRate·count·prefillTime/|gpus| per tree node); prefill time is linear, `prefillSecondsPerToken` (default
 * 1/15928 s, llm-d's default peak prefill throughput of 15,928 tokens/s, where Preble uses a profiled
 * linear+quadratic fit); decode length is Preble's default of 45 tokens (`decodeTokens`; the router never sees the
 * true output length); `tpotSeconds` 0.02 is a gatelab default to set from the cost model in use. Preble's
 * rebalancing (moving hot nodes when load(heaviest) ≥ 1.5 × load(lightest)) and its per-GPU fair local scheduler
 * are not modelled. Ties → uniformly random (seeded).
 * Trace: `scores` = load cost (+ eviction cost when exploring), lower wins; `breakdown` = cached blocks held per GPU.
 */
import { z } from "zod";
import { promptBlockHashes } from "../../sim/hash.ts";
import type { Request } from "../../sim/request.ts";
import { NO_CANDIDATES, picked } from "../common.ts";
import { LruHolderIndex } from "../indexes/lru-holder-index.ts";
import type { RouteResult, Router, RouterInit, RoutingContext } from "../types.ts";

export const prebleParams = z.strictObject({
  windowSecs: z.number().positive().default(180),
  prefillSecondsPerToken: z
    .number()
    .positive()
    .default(1 / 15_928),
  tpotSeconds: z.number().min(0).default(0.02),
  decodeTokens: z.number().min(0).default(45),
  blockSizeTokens: z.number().int().positive().optional(),
});
export type PrebleParams = z.output<typeof prebleParams>;

export class PrebleE2Router implements Router {
  readonly name = "preble-e2";
  private readonly p: PrebleParams;
  private readonly bs: number;
  private readonly caps: readonly number[];
  private readonly trace: boolean;
  /** Per GPU, the blocks it holds in recency order (one table for all GPUs). */
  private readonly lru: LruHolderIndex;
  private readonly gpus: number;
  private reps: Int32Array;
  /**
   * Per GPU, the prefill work routed to it in the window: a ring of (time, prefill seconds) [head, tail), counters
   * masked with the ring length − 1, and the running sum.
   */
  private readonly winT: Float64Array[];
  private readonly winC: Float64Array[];
  private readonly winHead: Int32Array;
  private readonly winTail: Int32Array;
  private readonly winSum: Float64Array;
  private readonly held: Int32Array;
  private lastReq = -1;
  private lastHashes: Float64Array = new Float64Array(0);
  /** Scratch: the candidate GPUs (all, or the holders of the matched prefix when exploiting) and their costs. */
  private cand: Int32Array;
  private costs = new Float64Array(16);

  constructor(init: RouterInit, params: PrebleParams = prebleParams.parse({})) {
    this.p = params;
    this.bs = params.blockSizeTokens ?? init.blockSize;
    this.caps = init.numGpuBlocks;
    this.trace = init.traceDecisions === true;
    const n = init.replicas;
    this.lru = new LruHolderIndex(n);
    this.gpus = n;
    this.reps = new Int32Array(Math.max(1, n));
    this.winT = Array.from({ length: n }, () => new Float64Array(16));
    this.winC = Array.from({ length: n }, () => new Float64Array(16));
    this.winHead = new Int32Array(n);
    this.winTail = new Int32Array(n);
    this.cand = new Int32Array(Math.max(1, n));
    this.winSum = new Float64Array(n);
    this.held = new Int32Array(n);
  }

  private windowLoad(g: number, now: number): number {
    const t = this.winT[g]!;
    const c = this.winC[g]!;
    const mask = t.length - 1;
    let h = this.winHead[g]!;
    const tail = this.winTail[g]!;
    while (h < tail && t[h & mask]! <= now - this.p.windowSecs) {
      this.winSum[g]! -= c[h & mask]!;
      h++;
    }
    if (h === tail) {
      this.winSum[g] = 0;
      h = 0;
      this.winTail[g] = 0;
    }
    this.winHead[g] = h;
    return this.winSum[g]!;
  }

  /** Records `cost` seconds of prefill routed to `g` at `now`. */
  private windowAdd(g: number, now: number, cost: number): void {
    let t = this.winT[g]!;
    let c = this.winC[g]!;
    const h = this.winHead[g]!;
    let tail = this.winTail[g]!;
    if (tail - h === t.length) {
      const len = t.length;
      const t2 = new Float64Array(len * 2);
      const c2 = new Float64Array(len * 2);
      for (let k = 0; k < len; k++) {
        t2[k] = t[(h + k) & (len - 1)]!;
        c2[k] = c[(h + k) & (len - 1)]!;
      }
      this.winT[g] = t = t2;
      this.winC[g] = c = c2;
      this.winHead[g] = 0;
      tail = len;
    } else if (tail >= 0x40000000) {
      // Rebase the counters (by a multiple of the ring length) so that they stay small integers.
      const base = h - (h & (t.length - 1));
      this.winHead[g] = h - base;
      tail -= base;
    }
    t[tail & (t.length - 1)] = now;
    c[tail & (t.length - 1)] = cost;
    this.winTail[g] = tail + 1;
    this.winSum[g]! += cost;
  }

  private loadCost(g: number, ctx: RoutingContext): number {
    return this.windowLoad(g, ctx.now) + ctx.local.inFlight[g]! * this.p.decodeTokens * this.p.tpotSeconds;
  }

  route(req: Request, ctx: RoutingContext): RouteResult {
    const eps = ctx.endpoints;
    if (eps.length === 0) return NO_CANDIDATES;
    const hashes = ctx.promptHashes(this.bs);
    this.lastReq = req.id;
    this.lastHashes = hashes;
    const n = hashes.length;
    // Per-GPU held prefix (consecutive from block 0) and the longest prefix any candidate holds.
    if (this.reps.length < eps.length) this.reps = new Int32Array(eps.length);
    for (let i = 0; i < eps.length; i++) {
      this.reps[i] = eps[i]!.index;
      this.held[eps[i]!.index] = 0;
    }
    this.lru.prefixRuns(hashes, n, this.reps, eps.length, this.held);
    let matched = 0;
    for (const ep of eps) matched = Math.max(matched, this.held[ep.index]!);
    const cached = matched * this.bs;
    const missed = req.inputTokens - cached;
    const exploit = matched > 0 && missed < cached;
    if (this.cand.length < eps.length) this.cand = new Int32Array(eps.length);
    const cand = this.cand;
    let nc = 0;
    for (const ep of eps) if (!exploit || this.held[ep.index] === matched) cand[nc++] = ep.index;
    if (this.costs.length < nc) this.costs = new Float64Array(Math.max(nc, this.costs.length * 2));
    const costs = this.costs;
    for (let k = 0; k < nc; k++) {
      const g = cand[k]!;
      if (exploit) costs[k] = this.loadCost(g, ctx);
      else {
        const cap = this.caps[g] ?? 0;
        const need = cap > 0 ? this.lru.size(g) + (n - this.held[g]!) - cap : 0;
        costs[k] = this.loadCost(g, ctx) + (need > 0 ? need * this.bs * this.p.prefillSecondsPerToken : 0);
      }
    }
    // Least cost, ties uniformly at random (reservoir over the tied candidates, as `argminRandomTie`).
    let i = -1;
    let best = Number.POSITIVE_INFINITY;
    let ties = 0;
    for (let k = 0; k < nc; k++) {
      const c = costs[k]!;
      if (c < best) {
        best = c;
        i = k;
        ties = 1;
      } else if (c === best) {
        ties++;
        if (ctx.rng.int(ties) === 0) i = k;
      }
    }
    const pick = cand[i]!;
    if (!this.trace) return picked(pick);
    const scores = new Map<number, number>();
    for (let k = 0; k < nc; k++) scores.set(cand[k]!, costs[k]!);
    const heldMap = new Map<number, number>();
    for (const ep of eps) heldMap.set(ep.index, this.held[ep.index]!);
    return { replica: pick, scores, breakdown: new Map([["held_blocks", heldMap]]) };
  }

  onDispatch(req: Request, replica: number, now: number): void {
    if (!(replica >= 0 && replica < this.gpus)) return;
    const l = this.lru;
    const hashes = req.id === this.lastReq ? this.lastHashes : promptBlockHashes(req, this.bs);
    let k = 0;
    while (k < hashes.length && l.holds(hashes[k]!, replica)) k++;
    const uncached = Math.max(0, req.inputTokens - k * this.bs);
    const c = uncached * this.p.prefillSecondsPerToken;
    this.windowAdd(replica, now, c);
    const cap = this.caps[replica] ?? 0;
    for (let b = hashes.length - 1; b >= 0; b--) l.touch(hashes[b]!, replica);
    while (cap > 0 && l.size(replica) > cap) l.evict(replica);
  }
}
