/**
 * sglang-cache-aware: SGLang router's `cache_aware` policy (its default).
 *
 * Source: sgl-project/sglang `sgl-router/src/policies/cache_aware.rs`, `tree.rs`; CLI defaults in `CliArgs::default`
 * (docs/reference.md#other-routers). Defaults: `cacheThreshold` 0.3, `balanceAbsThreshold` 64, `balanceRelThreshold` 1.5,
 * `evictionIntervalSecs` 120, `maxTreeSize` 67,108,864 (2^26 characters per worker).
 * ```
 * load_w = router-side in-flight requests on w (++ at dispatch, −− at completion)
 * imbalanced = (max load − min load > balanceAbsThreshold) and (max load > balanceRelThreshold · min load)
 * if imbalanced: w = least-loaded worker
 * else:
 *   (matched, tenant) = tree.prefixMatch(text)     # one radix tree shared by all workers ("tenants")
 *   match_rate = matched / len(text)
 *   w = tenant if match_rate > cacheThreshold else the worker with the smallest tree
 * insert(text, w)                                     # at dispatch here; SGLang inserts when it routes
 * every evictionInterval: a worker whose tree exceeds maxTreeSize loses its least-recently-used leaves
 * ```
 * Approximation: SGLang's tree is over characters; here it is over blocks of `blockSizeTokens` tokens (default 16
 * ≈ 64 characters at 4 characters per token), identified by the chained block hashes: a chained hash names the whole
 * path from the root, so a map hash → tenants is the tree's node set. A match is therefore counted in whole blocks
 * (up to one block short of the character-level match) and sizes are blocks × blockSize × 4 characters.
 * `prefixMatch` returns the first tenant stored on the deepest node reached, which is arbitrary among several holders;
 * it is modelled as a uniformly random holder (docs/reference.md#other-routers). Ties for least load / smallest tree → the
 * first candidate (Rust `min_by_key`). Eviction runs lazily at the first route after each interval; per-tenant
 * recency is refreshed leaf-first so that leaves are evicted before their ancestors.
 * Trace: `scores` = matched blocks per candidate; `breakdown` = load, tree blocks.
 */
import { z } from "zod";
import { promptBlockHashes } from "../../sim/hash.ts";
import type { Request } from "../../sim/request.ts";
import { NO_CANDIDATES, picked } from "../common.ts";
import { DeepestHolders } from "../indexes/deepest-holders.ts";
import { LruHolderIndex } from "../indexes/lru-holder-index.ts";
import type { EndpointView, RouteResult, Router, RouterInit, RoutingContext } from "../types.ts";

export const sglangParams = z.strictObject({
  cacheThreshold: z.number().min(0).max(1).default(0.3),
  balanceAbsThreshold: z.number().min(0).default(64),
  balanceRelThreshold: z.number().min(0).default(1.5),
  // At least 1 ms: a sanity bound (a period of 10⁻¹² s never let simulated time move on), far below SGLang's 120 s.
  evictionIntervalSecs: z
    .number()
    .min(1e-3, { error: "expected at least 0.001 s between evictions (SGLang's default is 120 s)" })
    .default(120),
  maxTreeSize: z.number().int().positive().default(67_108_864),
  blockSizeTokens: z.number().int().positive().default(16),
});
export type SglangParams = z.output<typeof sglangParams>;

const CHARS_PER_TOKEN = 4;

export class SglangCacheAwareRouter implements Router {
  readonly name = "sglang-cache-aware";
  private readonly p: SglangParams;
  private readonly trace: boolean;
  /** The tree: block hash → workers ("tenants") holding it, and per worker its blocks in recency order. */
  private readonly tree: LruHolderIndex;
  private readonly workers: number;
  private readonly maxBlocks: number;
  private nextEviction: number;
  private lastReq = -1;
  private lastHashes: Float64Array = new Float64Array(0);
  /** Holders of the deepest matched block among the candidates. */
  private readonly deepest: DeepestHolders;

  constructor(init: RouterInit, params: SglangParams = sglangParams.parse({})) {
    this.p = params;
    this.trace = init.traceDecisions === true;
    this.tree = new LruHolderIndex(init.replicas);
    this.workers = init.replicas;
    this.maxBlocks = Math.max(1, Math.floor(params.maxTreeSize / (params.blockSizeTokens * CHARS_PER_TOKEN)));
    this.nextEviction = params.evictionIntervalSecs;
    this.deepest = new DeepestHolders(init.replicas);
  }

  /** Blocks in `replica`'s part of the tree (tests). */
  treeBlocks(replica: number): number {
    return this.tree.size(replica);
  }

  private evict(now: number): void {
    while (now >= this.nextEviction) {
      this.nextEviction += this.p.evictionIntervalSecs;
      for (let w = 0; w < this.workers; w++) while (this.tree.size(w) > this.maxBlocks) this.tree.evict(w);
    }
  }

  route(req: Request, ctx: RoutingContext): RouteResult {
    const eps = ctx.endpoints;
    if (eps.length === 0) return NO_CANDIDATES;
    this.evict(ctx.now);
    const inFlight = ctx.local.inFlight;
    let minLoad = Number.POSITIVE_INFINITY;
    let maxLoad = Number.NEGATIVE_INFINITY;
    let least: EndpointView = eps[0]!;
    for (const ep of eps) {
      const l = inFlight[ep.index]!;
      if (l < minLoad) {
        minLoad = l;
        least = ep;
      }
      maxLoad = Math.max(maxLoad, l);
    }
    const hashes = ctx.promptHashes(this.p.blockSizeTokens);
    this.lastReq = req.id;
    this.lastHashes = hashes;
    let pick: number;
    const imbalanced = maxLoad - minLoad > this.p.balanceAbsThreshold && maxLoad > this.p.balanceRelThreshold * minLoad;
    if (imbalanced) pick = least.index;
    else {
      // Walk the tree: deepest block some candidate holds; its holders among the candidates.
      const deepest = this.deepest;
      const matched = deepest.walk(this.tree, hashes, eps);
      const rate = req.inputTokens > 0 ? (matched * this.p.blockSizeTokens) / req.inputTokens : 0;
      if (matched > 0 && rate > this.p.cacheThreshold) {
        // `list` is ascending (the index lists holders in replica order).
        pick = deepest.list[ctx.rng.int(deepest.count)]!;
      } else {
        let best = eps[0]!;
        for (const ep of eps) if (this.tree.size(ep.index) < this.tree.size(best.index)) best = ep;
        pick = best.index;
      }
    }
    if (!this.trace) return picked(pick);
    const scores = new Map<number, number>();
    const load = new Map<number, number>();
    const tree = new Map<number, number>();
    for (const ep of eps) {
      let k = 0;
      while (k < hashes.length && this.tree.holds(hashes[k]!, ep.index)) k++;
      scores.set(ep.index, k);
      load.set(ep.index, inFlight[ep.index]!);
      tree.set(ep.index, this.tree.size(ep.index));
    }
    return {
      replica: pick,
      scores,
      breakdown: new Map([
        ["load", load],
        ["tree_blocks", tree],
      ]),
    };
  }

  onDispatch(req: Request, replica: number): void {
    if (!(replica >= 0 && replica < this.workers)) return;
    const hashes = req.id === this.lastReq ? this.lastHashes : promptBlockHashes(req, this.p.blockSizeTokens);
    // Leaf first: the ancestors end up more recent than their leaves, so leaves are evicted first.
    for (let b = hashes.length - 1; b >= 0; b--) this.tree.touch(hashes[b]!, replica);
  }
}
