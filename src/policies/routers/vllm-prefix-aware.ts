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
import { addHolder, NO_CANDIDATES } from "../common.ts";
import type { RouteResult, Router, RouterInit, RoutingContext } from "../types.ts";

export const vllmPrefixAwareParams = z.strictObject({ chunkSizeTokens: z.number().int().positive().default(32) });
export type VllmPrefixAwareParams = z.output<typeof vllmPrefixAwareParams>;

export class VllmPrefixAwareRouter implements Router {
  readonly name = "vllm-prefix-aware";
  private readonly chunk: number;
  private readonly trace: boolean;
  private readonly trie = new Map<number, number[]>();
  private readonly isCand: Uint8Array;
  private lastReq = -1;
  private lastHashes: Float64Array = new Float64Array(0);

  constructor(init: RouterInit, params: VllmPrefixAwareParams = vllmPrefixAwareParams.parse({})) {
    this.chunk = params.chunkSizeTokens;
    this.trace = init.traceDecisions === true;
    this.isCand = new Uint8Array(init.replicas);
  }

  route(req: Request, ctx: RoutingContext): RouteResult {
    const eps = ctx.endpoints;
    if (eps.length === 0) return NO_CANDIDATES;
    const hashes = ctx.promptHashes(this.chunk);
    this.lastReq = req.id;
    this.lastHashes = hashes;
    const isCand = this.isCand;
    for (const ep of eps) isCand[ep.index] = 1;
    let holders: number[] = [];
    for (let b = 0; b < hashes.length; b++) {
      const l = this.trie.get(hashes[b]!);
      if (l === undefined) break;
      const avail = l.filter((r) => isCand[r] === 1);
      if (avail.length === 0) break;
      holders = avail;
    }
    for (const ep of eps) isCand[ep.index] = 0;
    let pick: number;
    if (holders.length > 0) {
      holders.sort((a, b) => a - b);
      pick = holders[ctx.rng.int(holders.length)]!;
    } else pick = eps[ctx.rng.int(eps.length)]!.index;
    if (!this.trace) return { replica: pick };
    const scores = new Map<number, number>();
    for (const ep of eps) {
      let k = 0;
      while (k < hashes.length && this.trie.get(hashes[k]!)?.includes(ep.index)) k++;
      scores.set(ep.index, k);
    }
    return { replica: pick, scores };
  }

  onDispatch(req: Request, replica: number): void {
    const hashes = req.id === this.lastReq ? this.lastHashes : blockHashes(req.prompt, this.chunk);
    for (const h of hashes) {
      let l = this.trie.get(h);
      if (l === undefined) {
        l = [];
        this.trie.set(h, l);
      }
      addHolder(l, replica);
    }
  }
}
