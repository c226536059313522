/**
 * vllm-prefix-aware: vLLM production-stack router, `--routing-logic prefixaware`.
 *
 * Source: vllm-project/production-stack `src/vllm_router/routers/routing_logic.py` (PrefixAwareRouter),
 * `src/vllm_router/prefix/hashtrie.py` (reference/policies.md §5.2): a trie over 128-character chunks of the prompt
 * (xxh64 per chunk); the longest match restricted to the available endpoints; pick uniformly at random among the
 * endpoints holding that longest match (among all endpoints when nothing matches); insert the prompt for the chosen
 * endpoint. No load awareness, no eviction.
 * gatelab: chunks of `chunkSizeTokens` tokens (default 32 = 128 characters at 4 characters per token), identified by
 * the chained chunk hashes (a chained hash names the path from the root, so a map hash → endpoints is the trie);
 * trailing partial chunk ignored. The index grows without bound, as the real one.
 * Trace: `scores` = matched chunks per candidate.
 */
import { z } from "zod";
import { blockHashes } from "../../sim/hash.ts";
import type { Request } from "../../sim/request.ts";
import { NO_CANDIDATES, picked } from "../common.ts";
import { HolderIndex } from "../indexes.ts";
import type { RouteResult, Router, RouterInit, RoutingContext } from "../types.ts";

export const vllmPrefixAwareParams = z.strictObject({ chunkSizeTokens: z.number().int().positive().default(32) });
export type VllmPrefixAwareParams = z.output<typeof vllmPrefixAwareParams>;

export class VllmPrefixAwareRouter implements Router {
  readonly name = "vllm-prefix-aware";
  private readonly chunk: number;
  private readonly trace: boolean;
  /** The trie's nodes: chunk hash → endpoints holding it. */
  private readonly trie: HolderIndex;
  private readonly isCand: Uint8Array;
  /** Scratch replica lists (holders of a chunk; the available holders of the deepest chunk; of the current one). */
  private readonly l: Int32Array;
  private best: Int32Array;
  private cur: Int32Array;
  private lastReq = -1;
  private lastHashes: Float64Array = new Float64Array(0);

  constructor(init: RouterInit, params: VllmPrefixAwareParams = vllmPrefixAwareParams.parse({})) {
    this.chunk = params.chunkSizeTokens;
    this.trace = init.traceDecisions === true;
    this.isCand = new Uint8Array(init.replicas);
    this.trie = new HolderIndex(init.replicas);
    const lists = Math.max(32, init.replicas + 31);
    this.l = new Int32Array(lists);
    this.best = new Int32Array(lists);
    this.cur = new Int32Array(lists);
  }

  route(req: Request, ctx: RoutingContext): RouteResult {
    const eps = ctx.endpoints;
    if (eps.length === 0) return NO_CANDIDATES;
    const hashes = ctx.promptHashes(this.chunk);
    this.lastReq = req.id;
    this.lastHashes = hashes;
    const isCand = this.isCand;
    for (const ep of eps) isCand[ep.index] = 1;
    // Deepest chunk some available endpoint holds; its available holders (ascending).
    const l = this.l;
    let holders = this.best;
    let cur = this.cur;
    let nHolders = 0;
    for (let b = 0; b < hashes.length; b++) {
      const n = this.trie.holdersInto(hashes[b]!, l);
      if (n === 0) break;
      let c = 0;
      for (let j = 0; j < n; j++) if (isCand[l[j]!] === 1) cur[c++] = l[j]!;
      if (c === 0) break;
      const t = holders;
      holders = cur;
      cur = t;
      nHolders = c;
    }
    this.best = holders;
    this.cur = cur;
    for (const ep of eps) isCand[ep.index] = 0;
    let pick: number;
    if (nHolders > 0) pick = holders[ctx.rng.int(nHolders)]!;
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
    const hashes = req.id === this.lastReq ? this.lastHashes : blockHashes(req.prompt, this.chunk);
    this.trie.addAll(hashes, hashes.length, replica);
  }
}
