/**
 * vllm-prefix-aware: vLLM production-stack router, `--routing-logic prefixaware`.
 *
 * Source: vllm-project/production-stack `src/vllm_router/routers/routing_logic.py` (PrefixAwareRouter),
 * `src/vllm_router/prefix/hashtrie.py` (docs/reference.md#other-routers): a trie over 128-character chunks of the prompt
 * (xxh64 per chunk); the longest match restricted to the available endpoints; pick uniformly at random among the
 * endpoints holding that longest match (among all endpoints when nothing matches); insert the prompt for the chosen
 * endpoint. No load awareness, no eviction.
 * gatelab: chunks of `chunkSizeTokens` tokens (default 32 = 128 characters at 4 characters per token), identified by
 * the chained chunk hashes (a chained hash names the path from the root, so a map hash → endpoints is the trie);
 * trailing partial chunk ignored. The index grows without bound, as the real one.
 * Trace: `scores` = matched chunks per candidate.
 */
import { z } from "zod";
import { promptBlockHashes } from "../../sim/hash.ts";
import type { Request } from "../../sim/request.ts";
import { NO_CANDIDATES, picked } from "../common.ts";
import { DeepestHolders } from "../indexes/deepest-holders.ts";
import { HolderIndex } from "../indexes/holder-index.ts";
import type { RouteResult, Router, RouterInit, RoutingContext } from "../types.ts";

export const vllmPrefixAwareParams = z.strictObject({ chunkSizeTokens: z.number().int().positive().default(32) });
export type VllmPrefixAwareParams = z.output<typeof vllmPrefixAwareParams>;

export class VllmPrefixAwareRouter implements Router {
  readonly name = "vllm-prefix-aware";
  private readonly chunk: number;
  private readonly trace: boolean;
  /** The trie's nodes: chunk hash → endpoints holding it. */
  private readonly trie: HolderIndex;
  /** The available holders of the deepest chunk. */
  private readonly deepest: DeepestHolders;
  private lastReq = -1;
  private lastHashes: Float64Array = new Float64Array(0);

  constructor(init: RouterInit, params: VllmPrefixAwareParams = vllmPrefixAwareParams.parse({})) {
    this.chunk = params.chunkSizeTokens;
    this.trace = init.traceDecisions === true;
    this.trie = new HolderIndex(init.replicas);
    this.deepest = new DeepestHolders(init.replicas);
  }

  route(req: Request, ctx: RoutingContext): RouteResult {
    const eps = ctx.endpoints;
    if (eps.length === 0) return NO_CANDIDATES;
    const hashes = ctx.promptHashes(this.chunk);
    this.lastReq = req.id;
    this.lastHashes = hashes;
    // Deepest chunk some available endpoint holds; its available holders (ascending).
    const deepest = this.deepest;
    deepest.walk(this.trie, hashes, eps);
    let pick: number;
    if (deepest.count > 0) pick = deepest.list[ctx.rng.int(deepest.count)]!;
    else pick = eps[ctx.rng.int(eps.length)]!.index;
    if (!this.trace) return picked(pick);
    const scores = new Map<number, number>();
    for (const ep of eps) {
      let k = 0;
      while (k < hashes.length && this.trie.holds(hashes[k]!, ep.index)) k++;
      scores.set(ep.index, k);
    }
    return { replica: pick, scores };
  }

  onDispatch(req: Request, replica: number): void {
    const hashes = req.id === this.lastReq ? this.lastHashes : promptBlockHashes(req, this.chunk);
    this.trie.addAll(hashes, hashes.length, replica);
  }
}
